"""MRAM backend: N + 1 levels, the thermal switching law and its population average,
native probabilistic pulses, declared vs measured statistics, counters, bad input, state."""

import math

import numpy as np
import pytest
from device_state import assert_same_state, snapshot
from imc_mram import population_law

import imc
from imc.characterize import characterize
from imc.spec import NATIVE_PROBABILISTIC

NO_D2D = {"ic0_d2d": 0.0, "delta_d2d": 0.0, "r_p_d2d": 0.0, "tmr_d2d": 0.0}




def levels_of(dev):
    g_p, g_ap = dev.cell["g_p"], dev.cell["g_ap"]
    return (dev.peek() - dev.spec.n_mtj * g_ap) / (g_p - g_ap)


def test_presets_and_derived_window():
    info = imc.get_registry().get("mram").info
    assert set(info.presets) == {"stt", "sot", "stt-binary"} and info.default_preset == "stt"
    spec = info.spec()
    g_p, g_ap = 1e3 / 3.5, 1e3 / 3.5 / 2.3
    assert spec.g_max_us == pytest.approx(4 * g_p) and spec.g_min_us == pytest.approx(4 * g_ap)
    assert spec.levels == 5 and spec.step_us == pytest.approx(0.5 * (g_p - g_ap))
    assert spec.has(NATIVE_PROBABILISTIC) and spec.endurance_cycles == 1e12
    assert spec.energy_per_pulse_j == pytest.approx(1e-12) and spec.read_noise_rel == 0.005
    assert info.spec("stt-binary").levels == 2
    # derived fields follow an override of the physics
    assert info.spec(n_mtj=8).g_max_us == pytest.approx(8 * g_p)


def test_conductance_takes_only_the_n_plus_one_levels_inside_each_window():
    dev = imc.backend("mram", (30, 40), seed=1)
    rng = np.random.default_rng(1)
    for _ in range(40):
        dev.pulse(rng.integers(0, 3, dev.shape), np.where(rng.random(dev.shape) < 0.5, 1, -1))
        k = levels_of(dev)
        np.testing.assert_allclose(k, np.rint(k), atol=2e-4)
        assert k.min() >= -1e-4 and k.max() <= 4 + 1e-4
    lo, hi = dev.window_at(np.arange(dev.g.size))
    g = dev.peek().ravel()
    assert np.all(g >= lo - 1e-3) and np.all(g <= hi + 1e-3)
    assert len(np.unique(np.rint(levels_of(dev)))) == 5


def test_nominal_law_is_the_thermal_formula_with_the_current_asymmetry():
    dev = imc.backend("mram", (2, 2), **NO_D2D)
    s = dev.spec
    for direction, ic0 in ((1, 150.0 * 0.7), (-1, 150.0)):
        currents = np.array([0.85, 0.9, 0.95, 1.0]) * ic0
        tau = s.tau0_s * np.exp(s.delta * (1 - currents / ic0))
        expected = 1 - np.exp(-s.pulse_width_s / tau)
        np.testing.assert_allclose(dev.switching_probability(currents, direction), expected, atol=2e-4)
    up, down = (float(dev.current_for_probability(np.array([0.5]), d)[0]) for d in (1, -1))
    assert up / down == pytest.approx(0.7, rel=1e-4)


def test_population_law_matches_a_monte_carlo_over_the_spread():
    spec = imc.get_registry().spec("mram")
    rng = np.random.default_rng(2)
    n = 200_000
    sd_i, sd_d = math.sqrt(math.log1p(0.05**2)), math.sqrt(math.log1p(0.05**2))
    scale = np.exp(rng.standard_normal(n) * sd_i - sd_i**2 / 2)
    delta = spec.delta * np.exp(rng.standard_normal(n) * sd_d - sd_d**2 / 2)
    grid, p_bar = population_law(spec)
    for i in (0.9, 0.93, 0.95, 0.98):
        p = -np.expm1(-10.0 * np.exp(-delta * (1 - i / scale)))
        assert abs(np.interp(i, grid, p_bar) - p.mean()) < 4 * p.std() / math.sqrt(n) + 1e-4


def test_switching_probability_matches_characterisation():
    ch = characterize("mram", cells=1024, seed=3)
    assert len(ch.switching) == 18
    for row in ch.switching:
        assert abs(row["declared_p"] - row["requested_p"]) < 1e-3
        assert abs(row["measured_p"] - row["declared_p"]) <= 4 * row["se"], row
    s = ch.summary
    assert s["quantized"] and s["levels_measured"] == 5 == s["levels_declared"]
    assert s["pulses_counted"] == s["pulses_expected"]
    for key, value in s["energy_expected_j"].items():
        assert s["energy_j"][key] == pytest.approx(value), key


def test_one_plain_pulse_has_the_declared_mean_and_spread():
    n = 10_000
    dev = imc.backend("mram", (100, 100), seed=4)
    dev.program(np.full(dev.shape, (dev.spec.g_min_us + dev.spec.g_max_us) / 2, dtype=np.float32))
    g0 = dev.peek()
    dev.pulse(np.ones(dev.shape), -1)
    step = (g0 - dev.peek()).ravel().astype(np.float64)
    declared = float(dev.declared_step_us(g0, -1).mean())
    sigma = float(dev.declared_write_noise_us(g0, -1).mean())
    assert sigma == pytest.approx(dev.spec.level_us * 0.5)
    assert abs(step.mean() - declared) < 4 * sigma / math.sqrt(n)
    assert abs(step.std(ddof=1) - sigma) < 4 * sigma / math.sqrt(2 * (n - 1)) + 0.03 * sigma  # + level d2d


def test_pulse_probabilistic_realises_each_requested_probability():
    dev = imc.backend("mram", (60, 100), seed=5)
    dev.program(np.full(dev.shape, (dev.spec.g_min_us + dev.spec.g_max_us) / 2, dtype=np.float32))
    p = np.repeat(np.array([0.0, 0.1, 0.4, 0.7, 1.0, 0.25]), 1000).reshape(dev.shape).astype(np.float32)
    before = snapshot(dev)
    g0 = dev.peek()
    pulses0 = dev.counters.pulses.copy()
    dev.pulse_probabilistic(p, 1)
    switched = dev.peek() != g0
    for value in (0.1, 0.4, 0.7, 1.0, 0.25):
        m = switched[p == value]
        assert abs(m.mean() - value) <= 4 * math.sqrt(max(value * (1 - value), 1e-4) / m.size) + 1e-3
    untouched = p == 0
    assert not switched[untouched].any()
    np.testing.assert_array_equal(dev.counters.pulses - pulses0, (~untouched).astype(np.int64))
    assert dev.counters.energy_j["write"] == pytest.approx((~untouched).sum() * 1e-12)
    k = levels_of(dev)
    np.testing.assert_allclose(k[switched], 3, atol=1e-3)  # one junction flipped, from level 2
    np.testing.assert_array_equal(before["g_us"][untouched], dev.peek()[untouched])


def test_sparse_probabilistic_pulses_touch_only_their_cells():
    dev = imc.backend("mram", (10, 10), seed=6)
    g0 = dev.peek()
    index = np.array([3, 17, 42])
    dev.pulse_probabilistic(np.array([1.0, 1.0, 1.0], dtype=np.float32), np.array([1, -1, 1]), index=index)
    changed = np.flatnonzero(dev.peek().ravel() != g0.ravel())
    assert set(changed) <= set(index.tolist())
    assert dev.counters.pulses.sum() == 3


def test_repeated_pulses_stop_at_the_top_level():
    dev = imc.backend("mram", (20, 20), seed=7, pulse_switch_prob=1.0, **NO_D2D)
    dev.program(np.full(dev.shape, dev.spec.g_min_us, dtype=np.float32))
    dev.pulse(np.full(dev.shape, 3), 1)
    np.testing.assert_allclose(levels_of(dev), 3, atol=1e-3)
    dev.pulse(np.full(dev.shape, 5), 1)
    np.testing.assert_allclose(levels_of(dev), 4, atol=1e-3)
    # a cell at its top level cannot move up: update() sends it no pulse
    pulses = dev.counters.pulses.copy()
    dev.update(np.full(dev.shape, 50.0, dtype=np.float32))
    np.testing.assert_array_equal(dev.counters.pulses, pulses)


def test_update_rounds_to_the_nearest_whole_pulse():
    """Under half an expected step writes nothing; 1.3 steps is one plain pulse per cell."""
    n = 10_000
    dev = imc.backend("mram", (100, 100), seed=12)
    dev.program(np.full(dev.shape, (dev.spec.g_min_us + dev.spec.g_max_us) / 2, dtype=np.float32))
    g0, pulses0 = dev.peek(), dev.counters.pulses.copy()
    dev.update(np.full(dev.shape, 0.3 * dev.spec.step_us, dtype=np.float32))
    np.testing.assert_array_equal(dev.peek(), g0)
    np.testing.assert_array_equal(dev.counters.pulses, pulses0)
    request = 1.3 * dev.spec.step_us
    dev.update(np.full(dev.shape, request, dtype=np.float32))
    assert set(np.unique(dev.counters.pulses - pulses0)) == {1}
    moved = (dev.peek() - g0).ravel().astype(np.float64)
    p = dev.spec.pulse_switch_prob  # one plain pulse flips one junction with this probability
    spread = dev.spec.level_us * math.sqrt(p * (1 - p))
    assert abs(moved.mean() - dev.spec.step_us) < 4 * spread / math.sqrt(n) + 0.03 * dev.spec.step_us  # + level d2d


@pytest.mark.parametrize(
    "field, value, message",
    [("delta", 0.0, "delta must be > 0"), ("delta", -5.0, "delta must be > 0"),
     ("pulse_switch_prob", 1.2, "pulse_switch_prob is a probability"),
     ("pulse_switch_prob", -0.1, "pulse_switch_prob is a probability"),
     ("n_mtj", 0, "n_mtj must be a whole number"), ("tau0_s", -1e-9, "tau0_s must be > 0"),
     ("ic0_d2d", -0.1, "ic0_d2d must be >= 0")],
)
def test_impossible_parameters_name_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        imc.backend("mram", (2, 2), **{field: value})


def test_bad_probabilities_raise_and_leave_the_device_unchanged():
    dev = imc.backend("mram", (4, 5), seed=8)
    before = snapshot(dev)
    for bad in (1.5, -0.2):
        with pytest.raises(ValueError, match=r"probabilities must lie in \[0, 1\]"):
            dev.pulse_probabilistic(np.full(dev.shape, bad), 1)
    with pytest.raises(ValueError, match="NaN"):
        dev.pulse_probabilistic(np.full(dev.shape, np.nan), 1)
    with pytest.raises(ValueError, match="signs"):
        dev.pulse_probabilistic(np.full(dev.shape, 0.5), 0)
    with pytest.raises(ValueError, match="more than once"):
        dev.pulse_probabilistic(np.array([0.5, 0.5]), 1, index=np.array([2, 2]))
    assert_same_state(before, dev)


def test_state_round_trip_continues_identically():
    a = imc.backend("mram", (6, 7), seed=9)
    a.pulse(np.ones(a.shape), 1)
    b = imc.backend("mram", (6, 7), seed=10)
    b.load_state(a.state())
    for dev in (a, b):
        dev.pulse_probabilistic(np.full(dev.shape, 0.5, dtype=np.float32), -1)
        dev.pulse(np.full(dev.shape, 2), 1)
    np.testing.assert_array_equal(a.peek(), b.peek())
    np.testing.assert_array_equal(a.cell["parallel"], b.cell["parallel"])


@pytest.mark.gpu
def test_cupy_switching_statistics_match_numpy():
    n = 20_000
    fractions = {}
    for name in ("cpu", "gpu"):
        dev = imc.backend("mram", (100, 200), compute=name, seed=11)
        xp = dev.xp
        dev.program(xp.full(dev.shape, (dev.spec.g_min_us + dev.spec.g_max_us) / 2, dtype=np.float32))
        g0 = dev.peek()
        dev.pulse_probabilistic(xp.full(dev.shape, 0.3, dtype=np.float32), 1)
        fractions[name] = float(dev.compute.to_numpy((dev.peek() != g0).mean()))
    assert abs(fractions["cpu"] - fractions["gpu"]) < 4 * math.sqrt(2 * 0.3 * 0.7 / n)
    assert abs(fractions["gpu"] - 0.3) < 4 * math.sqrt(0.3 * 0.7 / n)
