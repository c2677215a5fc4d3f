"""Ledger: update ratio, writes, wear, energy by category, lifetime, state."""

import json

import numpy as np
import pytest
from sklearn.datasets import load_digits

import imc
from imc import models
from imc.ledger import EnergyConstants, Ledger
from imc.nn import AnalogConfig, CrossEntropyLoss
from imc.optim import make_optimizer
from imc.rules import make_rule
from imc.train import Trainer


@pytest.fixture(scope="module")
def data():
    d = load_digits()
    return (d.data[:320] / 16).astype(np.float32), d.target[:320].astype(np.int64)


ANALOG = AnalogConfig(preset="eapu-paper", adc_bits=6)


def run(rule, data, epochs=2, constants=None, analog=ANALOG):
    c = imc.Compute.create("cpu", 0)
    m = models.build("mlp", analog=analog, compute=c, hidden=16)
    t = Trainer(m, CrossEntropyLoss(), make_optimizer("sgd", lr=0.05, momentum=0.9), make_rule(rule), c,
                batch_size=32, seed=0, energy=constants)
    summary = t.fit(data, data, epochs=epochs)
    return t, summary["ledger"]


def test_ratio_writes_and_wear_agree_with_the_devices(data):
    t, led = run("eapu", data)
    devices = [d for tile in t.model.tiles() for d in tile.devices]
    total_writes = sum(int(d.counters.writes.sum()) for d in devices)
    n = led["weights"]
    assert n == 64 * 16 + 16 * 10
    # every cell was programmed once at load; the rest are training writes
    assert led["write_events"] == total_writes - n
    assert led["pulses"] == sum(int(d.counters.pulses.sum()) for d in devices) - n
    ratios = np.array(t.ledger.step_cells) / n
    assert led["update_ratio_mean"] == pytest.approx(ratios.mean())
    assert led["update_ratio_mean_after_first_epoch"] == pytest.approx(ratios[10:].mean())
    wear = led["wear"]
    assert sum(wear["histogram"]["counts"]) == n
    assert wear["max_writes"] == max(int(d.counters.writes.max()) for d in devices)
    assert wear["mean_pulses"] == pytest.approx(sum(int(d.counters.pulses.sum()) for d in devices) / n)
    written = sum(int((d.counters.writes > 1).sum()) for d in devices)  # beyond the initial programming
    assert wear["cells_written_distinct"] == led["cells_written_distinct"] == written > 0
    life = led["lifetime"]
    assert life["trainings_worst_cell"] == pytest.approx(1e7 / wear["max_pulses"])
    assert life["trainings_mean_cell"] == pytest.approx(1e7 / wear["mean_pulses"])
    assert life["epochs_worst_cell"] == pytest.approx(1e7 / (wear["max_pulses"] / 2))


def test_energy_by_category(data):
    t, led = run("original", data)
    e = led["energy_by_category_j"]
    devices = [d for tile in t.model.tiles() for d in tile.devices]
    spec = devices[0].spec
    assert e["array_write"] == pytest.approx(led["pulses"] * spec.energy_per_pulse_j)
    # loading the weights: program_pulses (1) pulse and verify read per cell
    assert e["array_program"] == pytest.approx(led["weights"] * (spec.energy_per_pulse_j + spec.energy_per_read_j))
    train_reads = sum(d.counters.energy_j["read"] for d in devices) - led["inference_energy_by_category_j"]["array_read"]
    assert e["array_read"] == pytest.approx(train_reads)
    # 6-bit ADCs: FoM * 2^6 per conversion; DACs at the default 8 bits
    conv = sum(tile.conversions["adc"] for tile in t.model.tiles())
    assert e["adc"] + led["inference_energy_by_category_j"]["adc"] == pytest.approx(conv * 10e-15 * 64)
    assert e["digital_compute"] > 0 and e["digital_update"] > 0 and e["memory"] > 0
    # boundaries nest: array within chip within system, each the sum of its categories
    b = led["energy_by_boundary_j"]
    assert b["array"] == pytest.approx(e["array_write"] + e["array_verify"] + e["array_read"] + e["array_program"])
    assert b["chip"] == pytest.approx(b["array"] + e["dac"] + e["adc"] + e["write_drivers"])
    assert b["system"] == pytest.approx(b["chip"] + e["digital_compute"] + e["digital_update"] + e["memory"])
    # every pulse (training and the initial programming) goes through a write driver
    assert e["write_drivers"] == pytest.approx((led["pulses"] + led["weights"]) * EnergyConstants().driver_j_per_pulse)
    assert led["gpu_energy_flop_bound_j"] > 0
    assert led["gpu_flop_bound_over_system"] == pytest.approx(led["gpu_energy_flop_bound_j"] / b["system"])
    c = EnergyConstants()
    kernels = c.gpu_kernels_per_tensor * len(t.model.parameters()) + c.gpu_kernels_fixed
    assert led["gpu_energy_power_time_j"] == pytest.approx(led["steps"] * kernels * c.gpu_launch_s * c.gpu_board_power_w)
    json.dumps(led)
    assert led["digital_state_words"] == {"optimizer": led["weights"] + led["digital_parameters"], "rule": 0}
    # constants are overridable
    _, led2 = run("original", data, constants=EnergyConstants(adc_fom_j_per_step=0.0, digital_j_per_flop=0.0))
    assert led2["energy_by_category_j"]["adc"] == 0 and led2["energy_by_category_j"]["digital_compute"] == 0


def test_eapu_writes_far_less_than_original(data):
    _, eapu = run("eapu", data)
    _, orig = run("original", data)
    assert orig["update_ratio_mean"] > 0.5
    assert eapu["write_events"] * 5 < orig["write_events"]
    assert eapu["energy_by_category_j"]["array_write"] * 5 < orig["energy_by_category_j"]["array_write"]
    assert eapu["lifetime"]["trainings_worst_cell"] > orig["lifetime"]["trainings_worst_cell"]
    assert eapu["lifetime"]["trainings_mean_cell"] > orig["lifetime"]["trainings_mean_cell"]


def test_mixed_precision_accumulator_is_counted_as_digital_state(data):
    _, led = run("mixed-precision", data, epochs=1)
    assert led["digital_state_words"]["rule"] == led["weights"]


def test_ideal_has_no_array_cost(data):
    _, led = run("ideal", data)
    e = led["energy_by_category_j"]
    assert led["write_events"] == 0 and e["array_write"] == e["array_read"] == e["array_program"] == 0
    assert e["adc"] == e["dac"] == e["write_drivers"] == 0 and e["digital_compute"] > 0
    assert led["energy_by_boundary_j"]["array"] == led["energy_by_boundary_j"]["chip"] == 0
    assert led["wear"]["cells"] == 0 and led["lifetime"]["trainings_worst_cell"] is None  # infinite


def test_state_round_trip(data):
    t, _ = run("eapu", data, epochs=1)
    state = t.ledger.state()
    fresh = Ledger(t.model, t.optimizer, t.rule)
    fresh.load_state(state)
    assert fresh.summary() == t.ledger.summary()
    with pytest.raises(KeyError, match="missing"):
        fresh.load_state({"step_cells": np.zeros(1)})


class _NoScan(list):
    """A history list that refuses to be scanned: the per-step path must not walk it."""

    def __iter__(self):
        raise AssertionError("the per-step ledger path scanned the whole step history")


def test_per_step_bookkeeping_does_not_scan_the_history(data):
    t, _ = run("eapu", data, epochs=1)
    led = t.ledger
    cells, pulses = list(led.step_cells), list(led.step_pulses)
    assert led.cells_total == sum(cells) and led.pulses_total == sum(pulses)
    assert led.epoch_update_ratio(0) == pytest.approx(np.mean(cells) / led.n_weights)
    assert led.epoch_update_ratio(5) == 0.0  # an epoch with no steps
    led.step_cells, led.step_pulses, led.epoch_of_step = _NoScan(cells), _NoScan(pulses), _NoScan(led.epoch_of_step)
    led.record_step(1, 7, 9)
    m = led.step_metrics()
    assert m["write_events"] == sum(cells) + 7 and m["pulses"] == sum(pulses) + 9 and m["write_events_step"] == 7
    assert led.epoch_update_ratio(1) == pytest.approx(7 / led.n_weights)


def test_running_totals_survive_a_state_round_trip(data):
    t, _ = run("eapu", data, epochs=2)
    fresh = Ledger(t.model, t.optimizer, t.rule)
    fresh.load_state(t.ledger.state())
    assert (fresh.cells_total, fresh.pulses_total) == (t.ledger.cells_total, t.ledger.pulses_total)
    for epoch in (0, 1):
        assert fresh.epoch_update_ratio(epoch) == t.ledger.epoch_update_ratio(epoch)
    assert [h["update_ratio_epoch"] for h in t.history] == [t.ledger.epoch_update_ratio(e) for e in (0, 1)]
