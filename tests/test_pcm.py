"""The PCM backend's physics and the time axis of the other backends, against their stated laws."""

from __future__ import annotations

import math

import numpy as np
import pytest
from imc_memristor import PRESETS as RRAM
from imc_memristor import MemristorDevice
from imc_mram import PRESETS as MRAM
from imc_mram import MramDevice
from imc_pcm import PRESETS, PcmDevice

from imc.compute import Compute
from imc.nn import AnalogConfig, AnalogMatrix

JOSHI = PRESETS["pcm-joshi"]


def make(spec=JOSHI, shape=(40, 50), seed=0, cls=PcmDevice):
    return cls(spec=spec, shape=shape, compute=Compute.create("cpu", seed=seed))


def test_any_reset_pulse_takes_the_cell_to_the_low_state():
    dev = make()
    rng = np.random.default_rng(1)
    dev.program(rng.uniform(0, 25, dev.shape).astype(np.float32))
    counts = rng.integers(1, 5, dev.shape)
    dev.pulse(counts, -np.ones(dev.shape, dtype=np.int8))
    g = dev.peek()
    # half-normal with sigma 0.1 uS: 2000 cells stay below 6 sigma
    assert g.min() >= 0 and g.max() < 6 * JOSHI.reset_noise_us
    assert abs(g.mean() - JOSHI.reset_mean_us) < 5 * JOSHI.reset_std_us / math.sqrt(g.size)
    assert (dev.counters.pulses - JOSHI.program_pulses == counts).all()  # every RESET pulse is counted


def test_set_is_gradual_and_saturating():
    dev = make(spec=JOSHI.evolve(write_noise_us=0.0, step_d2d=0.0))
    dev.program(np.zeros(dev.shape, np.float32))
    steps, g_prev = [], dev.peek().mean()
    for _ in range(40):
        dev.pulse(np.ones(dev.shape), np.ones(dev.shape, dtype=np.int8))
        g = dev.peek().mean()
        steps.append(g - g_prev)
        g_prev = g
    assert all(a >= b - 1e-6 for a, b in zip(steps, steps[1:]))  # steps shrink as G rises
    assert steps[0] > 3 * steps[19]  # label 1.75: the last step is ~ a quarter of the first
    assert dev.peek().max() <= JOSHI.g_max_us
    declared = dev.declared_step_us(np.array([0.0, 12.5, 24.0], np.float32), 1)
    assert declared[0] > declared[1] > declared[2] > 0


def test_a_decrease_is_reset_then_set_back_to_the_target():
    spec = JOSHI.evolve(write_noise_us=0.0, step_d2d=0.0, reset_noise_us=0.0, program_noise_us=0.0)
    dev = make(spec=spec)
    dev.program(np.full(dev.shape, 20.0, np.float32))
    dev.update(np.full(dev.shape, -8.0, np.float32))
    g = dev.peek()
    # the nominal SET ladder from 0 lands within half a SET step of 12 uS
    assert np.abs(g - 12.0).max() <= 0.5 * float(dev.declared_step_us(np.array([12.0], np.float32), 1)[0]) + 0.2
    pulses = dev.counters.pulses - spec.program_pulses
    assert (pulses > 1).all()  # one RESET plus the SETs
    # a decrease too small to be worth a RESET leaves the cell alone
    before = dev.peek()
    dev.update(np.full(dev.shape, -0.01, np.float32))
    assert np.array_equal(before, dev.peek())


def test_power_law_drift_from_the_last_write_and_it_composes():
    dev = make(spec=JOSHI.evolve(program_noise_us=0.0))
    dev.program(np.full(dev.shape, 10.0, np.float32))
    g0, nu = dev.peek().astype(np.float64), dev.cell["nu"].astype(np.float64)
    dev.drift(15.0)  # inside t0 = 20 s: nothing moves
    assert np.array_equal(dev.peek(), g0.astype(np.float32))
    dev.drift(3600.0 - 15.0)
    np.testing.assert_allclose(dev.peek(), g0 * (3600.0 / 20.0) ** -nu, rtol=2e-6)
    other = make(spec=JOSHI.evolve(program_noise_us=0.0))
    other.program(np.full(other.shape, 10.0, np.float32))
    other.drift(3600.0)
    np.testing.assert_allclose(dev.peek(), other.peek(), rtol=2e-6)
    # nu: per-cell, around the declared mean with the declared spread
    assert abs(nu.mean() - JOSHI.drift_nu_mean) < 5 * JOSHI.drift_nu_std / math.sqrt(nu.size)
    assert abs(nu.std() - JOSHI.drift_nu_std) < 0.15 * JOSHI.drift_nu_std
    # a cell written later is younger: it drifts from its own write
    dev.program(np.full(dev.shape, 10.0, np.float32), mask=np.eye(*dev.shape, dtype=bool))
    g_young = dev.peek()
    dev.drift(86400.0)
    ratio = dev.peek() / g_young
    young, old = np.eye(*dev.shape, dtype=bool), ~np.eye(*dev.shape, dtype=bool)
    np.testing.assert_allclose(ratio[young], (86400.0 / 20.0) ** -nu[young], rtol=2e-6)
    np.testing.assert_allclose(ratio[old], ((3600.0 + 86400.0) / 3600.0) ** -nu[old], rtol=2e-6)


def test_read_noise_grows_with_age_as_1_over_f_noise():
    dev = make()
    dev.program(np.full(dev.shape, 10.0, np.float32))
    assert dev._read_noise_rel() == JOSHI.read_noise_rel  # fresh cells: the declared figure
    dev.drift(3.1536e7)
    tr = JOSHI.read_time_s
    growth = math.sqrt(math.log((3.1536e7 + tr) / (2 * tr)) / math.log((1.0 + tr) / (2 * tr)))
    np.testing.assert_allclose(dev._read_noise_rel(), JOSHI.read_noise_rel * growth, rtol=1e-5)
    g = dev.peek().astype(np.float64)
    reads = np.stack([dev.read() for _ in range(20)]).astype(np.float64)
    measured = ((reads - g) / g).std()
    expected = JOSHI.read_noise_rel * growth
    assert abs(measured - expected) < 0.05 * expected  # 40 000 samples: SE ~ 0.4 %


def test_verify_reads_use_each_cells_own_read_noise_after_drift():
    """read_cells and read_masked (write-verify's reads) after drift, with cells of two ages:
    each cell's noise is its own age's 1/f figure (they crashed on per-cell noise before)."""
    dev = make(shape=(40, 50))
    dev.program(np.full(dev.shape, 10.0, np.float32))
    dev.drift(3.1536e7)
    young = (np.arange(2000) % 2 == 0).reshape(dev.shape)  # re-written now: fresh; the odd cells are a year old
    dev.program(np.full(dev.shape, 10.0, np.float32), mask=young)
    rel = np.asarray(dev._read_noise_rel(), dtype=np.float64).reshape(-1)
    g = dev.peek().astype(np.float64).reshape(-1)
    cells = np.arange(2000)
    mask = np.zeros(2000, bool)
    mask[::3] = True
    by_index = np.stack([dev.read_cells(cells) for _ in range(20)]).astype(np.float64)
    by_mask = np.stack([dev.read_masked(mask) for _ in range(20)]).astype(np.float64)
    for reads in (by_index, by_mask):
        z = (reads - g) / (g * rel)  # standard normal if each cell got its own std
        for group in (cells % 2 == 0, cells % 2 == 1):
            sd = z[:, group].std()
            assert abs(sd - 1) < 5 * np.sqrt(0.5 / z[:, group].size) + 1e-3, sd  # SE of a std ~ sqrt(1 / 2n)


def _pcm_matrix(weights, **kw):
    cfg = AnalogConfig(backend="pcm", preset="pcm-joshi", **kw)
    return AnalogMatrix(weights, cfg, Compute.create("cpu", seed=3))


def test_pair_mapping_only_sets_and_programs_one_sided():
    w = np.array([[0.5, -0.5], [0.0, 0.25]], np.float32)
    m = _pcm_matrix(w)
    plus, minus = m.tiles[0].devices
    assert m.mapping == "pair" and m.set_only
    assert minus.peek()[0, 0] < 1.0 and plus.peek()[0, 1] < 1.0  # the other device of a pair stays low
    gp, gm = plus.peek(), minus.peek()
    m.update(np.array([0, 1]), np.array([-2.0, 2.0], np.float32))  # decrease w00, increase w01
    assert minus.peek()[0, 0] > gm[0, 0] and plus.peek()[0, 0] == gp[0, 0]
    assert plus.peek()[0, 1] > gp[0, 1] and minus.peek()[0, 1] == gm[0, 1]
    assert m.step_us() == pytest.approx(float(plus.declared_step_us(np.array([m.g_ref_us]), 1)[0]))


def test_saturated_pairs_are_refreshed_to_the_weight_they_held():
    m = _pcm_matrix(np.zeros((8, 8), np.float32))
    plus, minus = m.tiles[0].devices
    plus.program(np.full(plus.shape, 22.0, np.float32))  # both devices of every pair high
    minus.program(np.full(minus.shape, 19.0, np.float32))
    held = m.peek_weights()
    m.update(np.arange(64), np.full(64, 2.0, np.float32))  # G+ passes 90 % of the window
    assert m.refreshes >= 32  # most pairs pass the limit (write noise keeps a few below it)
    assert plus.peek().max() < 0.9 * 25.0 and minus.peek().max() < 0.9 * 25.0
    refreshed = np.minimum(plus.peek(), minus.peek()) < 1.0  # one-sided again
    assert int(refreshed.sum()) == m.refreshes
    # the weight survives the refresh up to the write and the write-verify error (~1.5 uS)
    moved = ((m.peek_weights() - held) / np.float32(m.r_wg_per_us))[refreshed]
    assert 0 < moved.mean() < 4.0 and np.abs(moved).max() < 8.0


def test_reference_mapping_is_refused_for_an_abrupt_reset_device():
    with pytest.raises(ValueError, match="resets abruptly.*mapping = 'pair'"):
        _pcm_matrix(np.zeros((2, 2), np.float32), mapping="reference")


def test_rram_relaxation_follows_the_logarithmic_law():
    spec = RRAM["rram-realistic"].evolve(stuck_low_prob=0.0, stuck_high_prob=0.0, bounds_d2d=0.0, program_noise_us=0.0)
    dev = make(spec=spec, shape=(100, 100), cls=MemristorDevice)
    dev.program(np.full(dev.shape, 11.0, np.float32))
    dev.drift(86400.0)
    shift = dev.peek().astype(np.float64) - 11.0
    ln = math.log(86400.0)
    mean, std = -spec.relax_mean_per_ln * spec.range_us * ln, spec.relax_std_per_ln * spec.range_us * ln
    assert abs(shift.mean() - mean) < 5 * std / 100
    assert abs(shift.std() - std) < 0.05 * std


def test_mram_retention_flips_at_the_thermal_rate():
    spec = MRAM["stt"].evolve(delta=20.0, delta_d2d=0.0)  # tau = 1 ns e^20 = 0.485 s
    dev = make(spec=spec, shape=(100, 100), cls=MramDevice)
    dev.program(np.full(dev.shape, spec.g_min_us, np.float32))
    before = dev.cell["parallel"].copy()
    dev.drift(0.2)
    flipped = np.unpackbits((before ^ dev.cell["parallel"]).astype(np.uint8)[..., None], axis=-1)[..., -spec.n_mtj:]
    p = -math.expm1(-0.2 / (spec.tau0_s * math.exp(20.0)))
    n = flipped.size
    assert abs(flipped.mean() - p) < 5 * math.sqrt(p * (1 - p) / n)
    lo, hi = dev.window_at(np.arange(dev.g.size))
    assert ((dev.peek().ravel() >= lo - 1e-3) & (dev.peek().ravel() <= hi + 1e-3)).all()


def test_cli_refuses_the_reference_mapping_on_pcm_in_one_line(tmp_path, capsys):
    from imc.cli import main

    out = tmp_path / "run"
    code = main(["train", "--set", "backend.name=pcm", "--set", "backend.overrides={}", "--set", "backend.mapping=reference",
                 "--set", "epochs=1", "--quiet", "--output", str(out)])
    assert code == 2 and not out.exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "resets abruptly" in err[0] and "mapping = 'pair'" in err[0]
