"""Energy accounting: SET/RESET energies a third-party backend declares, verdicts on dead runs."""

import attrs
import numpy as np
import pytest
from sklearn.datasets import load_digits

import imc
from imc import models
from imc.device import Device
from imc.ledger import BOUNDARIES, boundary_totals
from imc.nn import AnalogConfig, CrossEntropyLoss
from imc.optim import make_optimizer
from imc.registry import Registry, make_plugin_manager
from imc.rules import make_rule
from imc.spec import BOUNDS, DeviceSpec
from imc.train import Trainer
from imc.verdicts import MIN_CELLS_WRITTEN, chance_threshold, judge

E_SET, E_RESET = 2e-12, 7e-12


@attrs.frozen(kw_only=True)
class StepSpec(DeviceSpec):
    """A third party's own spec subclass (one extra field of its physics)."""

    saturation: float = 1.0


class StepCell(Device):
    """A third party's linear pulsed cell that also keeps its own tally of SET and RESET pulses."""

    def _init_cells(self):
        self.tally = {"set": 0, "reset": 0}

    def _pulse(self, g, idx, counts, signs):
        counts = np.asarray(counts)
        self.tally["set"] += int(counts[np.asarray(signs) > 0].sum())
        self.tally["reset"] += int(counts[np.asarray(signs) < 0].sum())
        step = np.float32(self.spec.step_us)
        return np.clip(g + signs * counts * step, self.spec.g_min_us, self.spec.g_max_us).astype(np.float32)


SPEC = StepSpec(name="sr", g_min_us=0.0, g_max_us=40.0, step_us=0.2, write_noise_us=0.05, energy_per_pulse_j=1e-12,
                energy_set_j=E_SET, energy_reset_j=E_RESET, program_pulses=3, capabilities={BOUNDS})


class ThirdParty:
    @imc.hookimpl
    def imc_backends(self):
        return [imc.BackendInfo(name="setreset", factory=StepCell, presets={"sr": SPEC}, default_preset="sr")]


@pytest.fixture
def third_party(monkeypatch):
    registry = Registry(make_plugin_manager(autoload=False, plugins=[ThirdParty()]))
    monkeypatch.setattr("imc.registry.get_registry", lambda: registry)
    return registry


def test_device_costs_set_and_reset_pulses_apart(third_party):
    dev = third_party.create("setreset", (4, 5))
    before = dev.counters.energy_j["write"]
    counts = np.arange(20).reshape(4, 5) % 4
    signs = np.where(np.arange(20).reshape(4, 5) % 2 == 0, 1, -1)
    dev.pulse(counts, signs)
    up, down = int(counts[signs > 0].sum()), int(counts[signs < 0].sum())
    assert dev.counters.energy_j["write"] - before == pytest.approx(up * E_SET + down * E_RESET)
    before = dev.counters.energy_j["write"]
    dev.update(np.full((4, 5), -0.4, np.float32))  # two RESET pulses per cell
    assert dev.counters.energy_j["write"] - before == pytest.approx(20 * 2 * E_RESET)
    # the spec falls back to energy_per_pulse_j for a direction it does not declare
    assert SPEC.evolve(energy_reset_j=None).pulse_energy_j(-1) == 1e-12


def test_the_ledger_books_a_third_party_backends_set_and_reset_energies(third_party):
    d = load_digits()
    x, y = (d.data[:256] / 16).astype(np.float32), d.target[:256].astype(np.int64)
    compute = imc.Compute.create("cpu", 0)
    model = models.build("mlp", analog=AnalogConfig(backend="setreset", mapping="pair"), compute=compute, hidden=16)
    devices = [dev for tile in model.tiles() for dev in tile.devices]
    assert all(isinstance(dev, StepCell) for dev in devices)
    for dev in devices:  # count only the training's pulses
        dev.tally = {"set": 0, "reset": 0}
    trainer = Trainer(model, CrossEntropyLoss(), make_optimizer("sgd", lr=0.05, momentum=0.9), make_rule("analog-sgd"),
                      compute, batch_size=32, seed=0)
    led = trainer.fit((x, y), (x, y), epochs=2)["ledger"]
    sets = sum(dev.tally["set"] for dev in devices)
    resets = sum(dev.tally["reset"] for dev in devices)
    assert sets > 0 and resets > 0 and sets + resets == led["pulses"]
    e = led["energy_by_category_j"]
    assert e["array_write"] == pytest.approx(sets * E_SET + resets * E_RESET)
    assert e["array_write"] != pytest.approx(led["pulses"] * SPEC.energy_per_pulse_j)
    assert led["energy_by_boundary_j"]["array"] >= e["array_write"]


def test_boundaries_nest_and_cover_every_category():
    categories = {name: float(i + 1) for i, name in enumerate(n for names in BOUNDARIES.values() for n in names)}
    totals = boundary_totals(categories)
    assert totals["array"] == 1 + 2 + 3 + 4
    assert totals["array"] < totals["chip"] < totals["system"] == sum(categories.values())


# ---------------------------------------------------------------------------- verdicts
def _ledger(cells=1000, distinct=500, events=5000):
    return {"wear": {"cells": cells, "cells_written_distinct": distinct}, "write_events": events}


def test_chance_threshold_follows_the_test_set():
    y = np.repeat(np.arange(10), 45)  # 450 balanced samples
    p0, limit = chance_threshold(y)
    assert p0 == pytest.approx(0.1) and limit == pytest.approx(0.1 + 3 * np.sqrt(0.09 / 450))
    p0, _ = chance_threshold(np.array([0] * 70 + [1] * 30))  # majority class sets chance
    assert p0 == pytest.approx(0.7)


def test_judge_flags_dead_writes_chance_accuracy_and_useless_psnr():
    y = np.repeat(np.arange(10), 45)
    assert judge(metric="accuracy", value=0.9, baseline={}, y_test=y, ledger=_ledger()) == []
    few = int(MIN_CELLS_WRITTEN * 1000) - 1
    (w,) = judge(metric="accuracy", value=0.9, baseline={}, y_test=y, ledger=_ledger(distinct=few))
    assert "wrote almost nothing" in w and f"{few} of 1,000 cells" in w
    (w,) = judge(metric="accuracy", value=0.12, baseline={}, y_test=y, ledger=_ledger())
    assert "accuracy at chance" in w
    assert judge(metric="accuracy", value=0.16, baseline={}, y_test=y, ledger=_ledger()) == []
    assert len(judge(metric="accuracy", value=0.1, baseline={}, y_test=y, ledger=_ledger(distinct=0, events=0))) == 2
    (w,) = judge(metric="psnr", value=20.0, baseline={"noisy_psnr_db": 20.5}, y_test=(), ledger=_ledger())
    assert "no better than without a network" in w
    assert judge(metric="psnr", value=21.0, baseline={"noisy_psnr_db": 20.5}, y_test=(), ledger=_ledger()) == []
    # a digital run (no device cells) is never flagged for not writing
    assert judge(metric="accuracy", value=0.9, baseline={}, y_test=y, ledger=_ledger(cells=0, distinct=0)) == []


def test_a_dead_run_warns_on_the_console_and_in_summary_json(tmp_path, capsys):
    import json

    from imc.cli import main

    out = tmp_path / "run"
    args = ["train", "--quiet", "--output", str(out), "--set", "epochs=1", "--set", "rule.name=original",
            "--set", "backend.name=fefet", "--set", "backend.overrides={}"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert sum(line.startswith("WARNING: original on fefet") for line in printed.splitlines()) == 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["write_events"] == 0 and any("wrote almost nothing" in w for w in summary["warnings"])
    assert summary["device"]["mapping"] == "pair" and summary["device"]["spec"]["name"] == "fefet"
    assert summary["device"]["r_wg_per_us"] == pytest.approx(1 / (1.8 - 0.04))


def test_config_toml_records_the_resolved_mapping_and_still_loads(tmp_path):
    from imc.cli import main
    from imc.config import load_config, to_dict

    out = tmp_path / "run"
    assert main(["train", "--quiet", "--output", str(out), "--set", "epochs=1", "--set", "backend.name=fefet",
                 "--set", "backend.overrides={}", "--set", "energy.sram_j_per_word=7e-12"]) == 0
    text = (out / "config.toml").read_text()
    assert "#   backend.mapping = 'pair'" in text and "#   backend.r_wg_per_us = " in text
    cfg = load_config(out / "config.toml")
    assert cfg.backend.mapping == "" and cfg.energy.sram_j_per_word == 7e-12  # the config as given
    summary = __import__("json").loads((out / "summary.json").read_text())
    assert summary["ledger"]["constants"]["sram_j_per_word"] == 7e-12
    assert to_dict(cfg)["energy"]["sram_j_per_word"] == 7e-12
