"""FeFET backend: NeuroSim curve and its sign convention, binomial domains, declared vs
measured statistics, bounds, levels, counters and energy, bad input, state round trip."""

import math

import numpy as np
import pytest
from device_state import assert_same_state, snapshot

import imc
from imc import curves
from imc.characterize import characterize

NO_D2D = {"step_d2d": 0.0, "bounds_d2d": 0.0}




def noiseless_train(preset="fefet", pulses=32, direction=1, **overrides):
    dev = imc.backend("fefet", (1, 4), preset=preset, seed=0, write_noise_us=0.0, program_noise_us=0.0, **NO_D2D,
                      **overrides)
    start = dev.spec.g_min_us if direction > 0 else dev.spec.g_max_us
    dev.program(np.full(dev.shape, start, dtype=np.float32))
    trace = [dev.peek()[0, 0]]
    for _ in range(pulses):
        dev.pulse(np.ones(dev.shape), direction)
        trace.append(dev.peek()[0, 0])
    return dev, np.array(trace, dtype=np.float64)


def test_presets_are_registered_with_the_documented_numbers():
    info = imc.get_registry().get("fefet").info
    assert set(info.presets) == {"fefet", "fefet-highk", "fefet-scaled"} and info.default_preset == "fefet"
    spec = info.spec()
    assert (spec.g_min_us, spec.g_max_us) == (0.04, 1.8)
    assert spec.levels == 32 and spec.endurance_cycles == 1e5
    assert spec.energy_per_pulse_j == pytest.approx(5e-15)
    assert info.spec("fefet-highk").endurance_cycles == 1e10
    scaled = info.spec("fefet-scaled")
    assert scaled.domains == 20 and scaled.domain_rel_std == pytest.approx(math.sqrt(0.5 / 10))


def test_noiseless_train_crosses_the_window_in_32_pulses_with_the_neurosim_shape():
    # NL 1.75 up: saturating, last / first step = exp(-31 / (32 A)) with A = 0.70 (0.24 in the
    # continuous limit); NL 1.46 down with NL_LTD > 0 (the NeuroSim manual): steps GROW toward G_min,
    # i.e. -1.46 in imc.curves' convention, last / first = exp(+31 / (32 * 0.85)).
    dev, up = noiseless_train(direction=1)
    steps = np.diff(up)
    assert np.all(steps > 0) and np.all(np.diff(steps) < 0)
    assert steps[-1] / steps[0] == pytest.approx(math.exp(-31 / 32 / 0.70), rel=2e-3)
    assert up[-1] == pytest.approx(1.8, abs=1e-5) and up[-2] < 1.8 - 1e-3
    _, down = noiseless_train(direction=-1)
    steps = -np.diff(down)
    assert np.all(steps > 0) and np.all(np.diff(steps) > 0)
    assert steps[-1] / steps[0] == pytest.approx(math.exp(31 / 32 / 0.85), rel=2e-3)
    assert down[-1] == pytest.approx(0.04, abs=1e-5)
    assert dev.spec.nonlinearity_up == 1.75 and dev.spec.nonlinearity_down == -1.46
    assert curves.a_from_label(dev.spec.nonlinearity_down) < 0  # accelerating


def test_declared_step_is_the_noiseless_pulse():
    dev, up = noiseless_train(direction=1)
    declared = dev.declared_step_us(up[:-1].astype(np.float32), 1)
    np.testing.assert_allclose(declared, np.diff(up), rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("preset", ["fefet", "fefet-scaled"])
def test_characterisation_matches_declared_step_and_noise(preset):
    # interior bins (away from the clipping at the window ends); 4 clustered standard errors
    ch = characterize("fefet", preset, cells=256, seed=3, **NO_D2D)
    interior = [r for r in ch.bins if 0.2 <= (r["g_mean_us"] - 0.04) / 1.76 <= 0.8]
    assert len(interior) >= 10
    for r in interior:
        assert abs(r["step_us"] - r["declared_step_us"]) <= 4 * r["step_se_us"], r
        assert abs(r["noise_us"] - r["declared_noise_us"]) <= 4 * r["noise_se_us"], r
    assert ch.summary["levels_declared"] == 32 and abs(ch.summary["levels_measured"] - 32) <= 1.5


def test_device_variation_keeps_noise_and_slows_the_measured_population():
    # With the preset's d2d spread the declaration is the nominal cell. The noise estimate
    # (lag covariances about each sweep's mean) cancels each cell's own step, so it still matches; a pulse
    # train samples a state in proportion to the time a cell spends there, so slow
    # (small-step) cells weigh more and the measured mean step sits somewhat below nominal.
    ch = characterize("fefet", cells=256, seed=4)
    interior = [r for r in ch.bins if 0.2 <= (r["g_mean_us"] - 0.04) / 1.76 <= 0.8]
    for r in interior:
        assert abs(r["noise_us"] - r["declared_noise_us"]) <= 4 * r["noise_se_us"] + 0.05 * r["declared_noise_us"], r
        assert 0.8 < r["step_us"] / r["declared_step_us"] < 1.0, r


def test_scaled_device_pulse_effect_is_binomial():
    n = 4000
    dev = imc.backend("fefet", (40, 100), preset="fefet-scaled", seed=5, write_noise_us=0.0, **NO_D2D)
    mid = np.full(dev.shape, 0.9, dtype=np.float32)
    dev.program(mid)
    g0 = dev.peek()
    dev.pulse(np.ones(dev.shape), 1)
    step = (dev.peek() - g0).ravel().astype(np.float64)
    rel = math.sqrt((1 - 0.5) / (20 * 0.5))
    declared = float(dev.declared_step_us(g0, 1).mean())
    assert abs(step.mean() - declared) < 4 * rel * declared / math.sqrt(n)
    assert abs(step.std(ddof=1) / declared - rel) < 4 * rel / math.sqrt(2 * (n - 1))
    assert len(np.unique(np.round(step / declared * 10))) <= 21  # K / (N_d p) in tenths: whole domains
    one = g0[:1, :1]
    noise = float(dev.declared_write_noise_us(one, 1)[0, 0])  # exact binomial spread on the curve
    assert noise == pytest.approx(rel * float(dev.declared_step_us(one, 1)[0, 0]), rel=0.05)
    assert abs(step.std(ddof=1) - noise) < 4 * noise / math.sqrt(2 * (n - 1))


def test_states_stay_in_each_cells_window_and_stuck_cells_stay_put():
    dev = imc.backend("fefet", (30, 30), seed=6, stuck_low_prob=0.05, stuck_high_prob=0.05)
    rng = np.random.default_rng(0)
    for _ in range(60):
        counts = rng.integers(0, 4, dev.shape)
        dev.pulse(counts, np.where(rng.random(dev.shape) < 0.5, 1, -1))
    g, lo, hi, stuck = dev.peek(), dev.cell["g_lo"], dev.cell["g_hi"], dev.cell["stuck"]
    assert np.all(g >= lo) and np.all(g <= hi)
    assert np.all(g[stuck < 0] == lo[stuck < 0]) and np.all(g[stuck > 0] == hi[stuck > 0])
    assert (stuck != 0).sum() > 0


def test_counters_and_energy_add_up():
    dev = imc.backend("fefet", (10, 10), seed=7)
    counts = np.arange(100).reshape(10, 10) % 4
    dev.pulse(counts, 1)
    dev.pulse(counts, -1)
    np.testing.assert_array_equal(dev.counters.pulses, 2 * counts)
    np.testing.assert_array_equal(dev.counters.writes, 2 * (counts > 0))
    assert dev.counters.energy_j["write"] == pytest.approx(2 * counts.sum() * 5e-15)
    dev.forward(np.ones((3, 10), dtype=np.float32))
    assert dev.counters.energy_j["read"] == pytest.approx(3 * 100 * 0.2e-15)


def test_update_rounds_to_the_nearest_whole_pulse():
    """The protocol's rule for pulsed devices: under half a step writes nothing, above it a pulse."""
    dev = imc.backend("fefet", (50, 100), seed=8, write_noise_us=0.0, **NO_D2D)
    dev.program(np.full(dev.shape, 0.9, dtype=np.float32))
    g0 = dev.peek()
    programmed = dev.counters.pulses.copy()
    step = float(dev.declared_step_us(g0[:1, :1], 1)[0, 0])
    dev.update(np.full(dev.shape, 0.3 * step, dtype=np.float32))
    np.testing.assert_array_equal(dev.peek(), g0)
    np.testing.assert_array_equal(dev.counters.pulses, programmed)
    dev.update(np.full(dev.shape, 1.3 * step, dtype=np.float32))
    assert set(np.unique(dev.counters.pulses - programmed)) == {1}
    moved = (dev.peek() - g0).ravel().astype(np.float64)
    np.testing.assert_allclose(moved, step, rtol=0.1)  # cells sit at slightly different states (program noise)


def test_bad_input_raises_and_leaves_the_device_unchanged():
    dev = imc.backend("fefet", (4, 5), seed=9)
    before = snapshot(dev)
    with pytest.raises(ValueError, match="counts must be >= 0"):
        dev.pulse(np.full(dev.shape, -1), 1)
    with pytest.raises(ValueError, match="signs"):
        dev.pulse(np.ones(dev.shape), 2)
    with pytest.raises(ValueError, match="outside the window"):
        dev.program(np.full(dev.shape, 5.0))
    with pytest.raises(ValueError, match="NaN"):
        dev.update(np.full(dev.shape, np.nan))
    assert_same_state(before, dev)


@pytest.mark.parametrize(
    "field, value, message",
    [("domain_switch_prob", 1.5, "domain_switch_prob is a probability"),
     ("domain_switch_prob", 0.0, "domain_switch_prob must be > 0"),
     ("domains", -2, "domains must be a whole number"),
     ("write_noise_us", -0.1, "write_noise_us must be >= 0")],
)
def test_impossible_parameters_name_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        imc.backend("fefet", (2, 2), **{field: value})


def test_state_round_trip_continues_identically():
    a = imc.backend("fefet", (6, 7), preset="fefet-scaled", seed=10)
    a.pulse(np.ones(a.shape), 1)
    b = imc.backend("fefet", (6, 7), preset="fefet-scaled", seed=99)
    b.load_state(a.state())
    for dev in (a, b):
        dev.pulse(np.full(dev.shape, 2), -1)
        dev.update(np.full(dev.shape, 0.05, dtype=np.float32))
    np.testing.assert_array_equal(a.peek(), b.peek())
    np.testing.assert_array_equal(a.counters.pulses, b.counters.pulses)


@pytest.mark.gpu
@pytest.mark.parametrize("preset", ["fefet", "fefet-scaled"])
def test_cupy_statistics_match_numpy(preset):
    n = 20000
    results = {}
    for name in ("cpu", "gpu"):
        dev = imc.backend("fefet", (100, 200), preset=preset, compute=name, seed=12, **NO_D2D)
        xp = dev.xp
        dev.program(xp.full(dev.shape, 0.9, dtype=np.float32))
        g0 = dev.peek()
        dev.pulse(xp.ones(dev.shape), 1)
        step = dev.compute.to_numpy(dev.peek() - g0).astype(np.float64).ravel()
        results[name] = (step.mean(), step.std(ddof=1))
    (m_cpu, s_cpu), (m_gpu, s_gpu) = results["cpu"], results["gpu"]
    assert abs(m_cpu - m_gpu) < 4 * math.sqrt(2 / n) * s_cpu
    assert abs(s_cpu - s_gpu) < 4 * s_cpu / math.sqrt(n)
