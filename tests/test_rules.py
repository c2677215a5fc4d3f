"""Update rules: EaPU's statistical promises, the baselines' semantics, the registry."""

import math

import numpy as np
import pytest

import imc
import imc.models
from imc.nn import AnalogConfig, AnalogMatrix, Sequential
from imc.registry import make_plugin_manager
from imc.rules import RuleInfo, UpdateRule, available_rules, make_rule, rules

SIGMA = 2.0  # eapu-paper write noise, uS
R = 1 / 80.0
MAGNITUDES_US = np.array([0.1, 0.4, 1.0, 1.6, 1.99, 2.0, 3.0, 6.0])


def tile(shape=(400, 160), seed=0, **overrides):
    cfg = AnalogConfig(preset="eapu-paper", overrides=overrides)
    return AnalogMatrix(np.zeros(shape, np.float32), cfg, imc.Compute.create("cpu", seed))


def attached(name, seed=1, **params):
    rule = make_rule(name, **params)
    rule.attach(Sequential(), imc.Compute.create("cpu", seed))
    return rule


def proposal(shape, seed=2):
    """dG (uS) cycling through MAGNITUDES_US with random signs, some zeros; returned as dW."""
    rng = np.random.default_rng(seed)
    n = shape[0] * shape[1]
    mags = np.resize(np.append(MAGNITUDES_US, 0.0), n)
    dg = (mags * rng.choice([-1.0, 1.0], n)).astype(np.float32).reshape(shape)
    return dg, (dg * np.float32(R)).astype(np.float32)


def g_of(t):
    return t.devices[0].peek().reshape(-1)


def test_eapu_is_unbiased_per_magnitude():
    t = tile()
    dg, dw = proposal(t.shape)
    before = g_of(t)
    attached("eapu").apply("w", t, dw)
    change = (g_of(t) - before).astype(np.float64)
    flat = np.abs(dg.reshape(-1))
    sign = np.sign(dg.reshape(-1))
    for m in MAGNITUDES_US:
        sel = np.isclose(flat, m)
        x = change[sel] * sign[sel]  # realised change in the proposed direction
        p = min(1.0, m / SIGMA)
        th = SIGMA
        var = SIGMA**2 if p >= 1 else p * (th**2 + SIGMA**2) - (p * th) ** 2
        se = math.sqrt(var / sel.sum())
        assert abs(x.mean() - m) < 4 * se, (m, x.mean(), se)


def test_eapu_write_count_matches_expectation_and_unselected_cells_are_untouched():
    t = tile()
    dg, dw = proposal(t.shape)
    before = g_of(t)
    writes_before = t.devices[0].counters.writes.reshape(-1).copy()
    stats = attached("eapu").apply("w", t, dw)
    p = np.minimum(1.0, np.abs(dg.reshape(-1)) / SIGMA)
    expected, sd = p.sum(), math.sqrt((p * (1 - p)).sum())
    assert abs(stats.cells - expected) < 4 * sd + 1
    written = t.devices[0].counters.writes.reshape(-1) - writes_before
    assert written.sum() == stats.cells and written.max() == 1
    untouched = written == 0
    np.testing.assert_array_equal(g_of(t)[untouched], before[untouched])  # bit-identical
    assert np.all(untouched[dg.reshape(-1) == 0])  # zero proposals are never written
    assert np.all(~untouched[np.abs(dg.reshape(-1)) >= SIGMA])  # at or above dG_th: always written


def test_eapu_writes_the_fixed_step_or_the_proposal_exactly_on_a_noise_free_device():
    t = tile(write_noise_us=0.0)
    dg, dw = proposal(t.shape)
    before = g_of(t)
    rule = attached("eapu", threshold_us=2.0)
    rule.apply("w", t, dw)
    change = g_of(t) - before
    flat = dg.reshape(-1)
    written = change != 0
    small = written & (np.abs(flat) < 2.0)
    big = written & (np.abs(flat) >= 2.0)
    np.testing.assert_allclose(change[small], 2.0 * np.sign(flat[small]), atol=1e-4)
    np.testing.assert_allclose(change[big], flat[big], atol=1e-4)


def test_eapu_threshold_is_k_times_declared_noise():
    t = tile((4, 4))
    assert attached("eapu").threshold(t) == pytest.approx(SIGMA)
    assert attached("eapu", k=1.5).threshold(t) == pytest.approx(1.5 * SIGMA)
    assert attached("eapu", threshold_us=0.7).threshold(t) == pytest.approx(0.7)
    quiet = tile((4, 4), write_noise_us=0.0)  # no declared noise: the declared step instead
    assert attached("eapu", k=2.0).threshold(quiet) == pytest.approx(2 * quiet.step_us())
    with pytest.raises(ValueError, match="k must be > 0"):
        make_rule("eapu", k=0)


def test_eapu_uses_the_sparse_index_form():
    t = tile((50, 40))
    calls = []
    original = t.devices[0]._write_internal  # first-party device: the rule writes through the internal path
    t.devices[0]._write_internal = lambda op, idx, *a: (calls.append(idx), original(op, idx, *a))[1]
    _, dw = proposal(t.shape)
    attached("eapu").apply("w", t, dw * np.float32(0.01))
    assert calls and calls[0] is not None and calls[0].ndim == 1


def test_eapu_native_probabilistic_on_mram_is_unbiased():
    cfg = AnalogConfig(backend="mram", mapping="reference", r_wg_per_us=1.0)
    t = AnalogMatrix(np.zeros((200, 100), np.float32), cfg, imc.Compute.create("cpu", 3))
    level = t.switch_us()
    before = t.peek_weights().astype(np.float64)
    dw = np.full(t.shape, 0.3 * level, np.float32)  # p = 0.3 of one junction flip, upwards
    stats = attached("eapu", native=True).apply("w", t, dw)
    change = t.peek_weights() - before
    assert stats.cells == t.size  # every cell got one (probabilistic) pulse
    switched = change > 0
    # population probability 0.3; per-cell levels spread a few percent around the nominal flip
    assert abs(switched.mean() - 0.3) < 4 * math.sqrt(0.3 * 0.7 / t.size)
    assert abs(change.mean() - 0.3 * level) < 0.05 * 0.3 * level + 4 * level * math.sqrt(0.21 / t.size)
    with pytest.raises(ValueError, match="native-probabilistic"):
        attached("eapu", native=True).apply("w", tile((2, 2)), np.ones((2, 2), np.float32))


def test_eapu_native_is_refused_when_bound_to_a_model_on_a_non_native_device():
    """A library caller learns it when the trainer binds the rule, not at the first update."""
    from imc.nn import Linear

    model = Sequential(Linear(4, 3, compute=imc.Compute.create("cpu", 0), analog=AnalogConfig(preset="eapu-paper")))
    with pytest.raises(ValueError, match="native-probabilistic device; eapu-paper is not"):
        make_rule("eapu", native=True).attach(model, imc.Compute.create("cpu", 1))
    mram = Sequential(Linear(4, 3, compute=imc.Compute.create("cpu", 0),
                             analog=AnalogConfig(backend="mram", mapping="reference")))
    make_rule("eapu", native=True).attach(mram, imc.Compute.create("cpu", 1))  # native switching: accepted


def test_original_writes_every_nonzero_change():
    t = tile((60, 50))
    dg, dw = proposal(t.shape)
    before = g_of(t)
    stats = attached("original").apply("w", t, dw)
    nonzero = dg.reshape(-1) != 0
    assert stats.cells == nonzero.sum()
    change = (g_of(t) - before).astype(np.float64)
    np.testing.assert_array_equal(change[~nonzero], 0)
    err = change[nonzero] - dg.reshape(-1)[nonzero]
    assert abs(err.mean()) < 4 * SIGMA / math.sqrt(err.size)
    assert abs(err.std() - SIGMA) < 4 * SIGMA / math.sqrt(2 * err.size)


def test_mixed_precision_accumulates_and_applies_whole_pulses():
    t = tile((1, 3), write_noise_us=0.0)
    rule = attached("mixed-precision")
    dw = (np.array([[0.7, -0.7, 0.0]]) * R).astype(np.float32)
    assert rule.apply("w", t, dw).cells == 0
    assert rule.apply("w", t, dw).cells == 0
    stats = rule.apply("w", t, dw)  # |chi| = 2.1 >= step 2
    assert stats.cells == 2 and stats.pulses == 2
    np.testing.assert_allclose(g_of(t) - 80, [2.0, -2.0, 0.0], atol=1e-5)
    np.testing.assert_allclose(rule.arrays["chi.w"], [[0.1, -0.1, 0.0]], atol=1e-5)
    state = rule.state()
    rule.arrays["chi.w"][:] = 5
    rule.load_state(state)
    np.testing.assert_allclose(rule.arrays["chi.w"], [[0.1, -0.1, 0.0]], atol=1e-5)


def test_manhattan_one_pulse_per_cell_in_the_direction_of_the_change():
    t = tile((1, 4), write_noise_us=0.0)
    dw = np.array([[1e-6, -1e-6, 0.0, 0.3]], np.float32)
    stats = attached("manhattan").apply("w", t, dw)
    assert stats.cells == 3 and stats.pulses == 3
    np.testing.assert_allclose(g_of(t) - 80, [2.0, -2.0, 0.0, 2.0], atol=1e-5)
    stats = attached("manhattan", threshold_us=1.0).apply("w", t, dw)
    assert stats.cells == 1


def test_ideal_keeps_exact_weights_and_writes_nothing():
    c = imc.Compute.create("cpu", 0)
    model = imc.models.build("mlp", analog=AnalogConfig(preset="eapu-paper"), compute=c, hidden=8)
    t = model.tiles()[0]
    w0 = t.peek_weights()
    rule = make_rule("ideal")
    rule.attach(model, c)
    dw = np.full(t.shape, 1e-4, np.float32)
    assert rule.apply("0.weight", t, dw).cells == 0
    np.testing.assert_allclose(t.exact, w0 + dw, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(t.peek_weights(), t.exact)
    assert t.devices[0].counters.writes.sum() == t.size  # only the initial programming


def test_unknown_rule_lists_the_available_ones():
    with pytest.raises(KeyError, match="eapu.*ideal.*manhattan.*mixed-precision.*original"):
        make_rule("eapuu")
    assert set(available_rules()) >= {"ideal", "original", "eapu", "mixed-precision", "manhattan"}
    with pytest.raises(ValueError, match="unexpected keyword"):
        make_rule("original", k=2)


def test_plugins_add_rules_through_the_hook():
    class HalfRule(UpdateRule):
        name = "half"

        def apply(self, name, tile, delta_w):
            flat = delta_w.reshape(-1)
            index = np.flatnonzero(flat)
            return tile.update(index, flat[index] / np.float32(2 * tile.r_wg_per_us))

    class Plugin:
        @imc.hookimpl
        def imc_update_rules(self):
            return [RuleInfo(name="half", factory=HalfRule, description="half steps")]

    pm = make_plugin_manager(autoload=False, plugins=[Plugin()])
    assert "half" in available_rules(pm)
    rule = make_rule("half", pm=pm)
    rule.attach(Sequential(), imc.Compute.create("cpu", 0))
    t = tile((2, 2), write_noise_us=0.0)
    rule.apply("w", t, np.full((2, 2), 4 * R, np.float32))
    np.testing.assert_allclose(g_of(t) - 80, 2.0, atol=1e-5)

    class Clash:
        @imc.hookimpl
        def imc_update_rules(self):
            return [RuleInfo(name="eapu", factory=HalfRule)]

    from imc.registry import PluginLoadWarning

    with pytest.warns(PluginLoadWarning, match="update rule name 'eapu' is claimed by imc .*; imc's own 'eapu' is kept"):
        table = rules(make_plugin_manager(autoload=False, plugins=[Clash()]))
    assert table["eapu"].factory is not HalfRule  # the built-in rule is kept


def test_rule_random_stream_is_part_of_its_state():
    t1, t2 = tile((30, 30)), tile((30, 30))
    _, dw = proposal(t1.shape)
    r1 = attached("eapu", seed=5)
    state = r1.state()
    r1.apply("w", t1, dw)
    r2 = attached("eapu", seed=99)
    r2.load_state(state)
    r2.apply("w", t2, dw)
    np.testing.assert_array_equal(np.flatnonzero(g_of(t1) - 80), np.flatnonzero(g_of(t2) - 80))


def test_eapu_on_mram_never_asks_for_runaway_pulse_counts():
    """Core fix: Device.pulses_for gave ~|dG|/1e-12 pulses where the declared step is 0."""
    cfg = AnalogConfig(backend="mram")
    t = AnalogMatrix(np.zeros((40, 30), np.float32), cfg, imc.Compute.create("cpu", 0))
    rule = attached("eapu")
    rng = np.random.default_rng(0)
    for _ in range(20):  # drive cells to their bounds and beyond
        rule.apply("w", t, rng.choice([-1.0, 1.0], t.shape).astype(np.float32) * 0.5)
    worst = max(int(d.counters.pulses.max()) for d in t.devices)
    assert worst <= 20 * 10 + 4  # bounded by a handful of pulses per step


# ---------------------------------------------------------------------------- analog-sgd
@pytest.mark.parametrize("backend,preset", [("memristor", "eapu-paper"), ("memristor", "rram-realistic"), ("fefet", "fefet")])
def test_analog_sgd_pulse_count_expectation_equals_the_request(backend, preset):
    """E[count] = |dG| / step for sub-step and multi-step requests; the sign follows dG."""
    cfg = AnalogConfig(backend=backend, preset=preset, mapping="reference")
    t = AnalogMatrix(np.zeros((300, 200), np.float32), cfg, imc.Compute.create("cpu", 0))
    step = t.step_us()
    x = np.resize(np.array([0.05, 0.3, 0.5, 1.7, 2.0, 3.25]), t.size)  # requests in steps
    sign = np.where(np.arange(t.size) % 3 == 0, -1.0, 1.0)
    dg = (x * step * sign).astype(np.float32)
    rule = attached("analog-sgd")
    dev = t.devices[0]
    before = dev.counters.pulses.reshape(-1).copy()
    stats = rule.apply("w", t, (dg * np.float32(t.r_wg_per_us)).reshape(t.shape))
    pulses = dev.counters.pulses.reshape(-1) - before
    assert stats.pulses == pulses.sum() and stats.cells == (pulses > 0).sum()
    for m in np.unique(x):
        sel = np.isclose(x, m)
        frac = m - math.floor(m)
        assert set(np.unique(pulses[sel])) <= {math.floor(m), math.floor(m) + 1}
        se = math.sqrt(frac * (1 - frac) / sel.sum())
        assert abs(pulses[sel].mean() - m) < 5 * se + 1e-9, (m, pulses[sel].mean())


def test_analog_sgd_moves_cells_in_the_requested_direction_and_caps_pulses():
    t = tile(shape=(100, 100), write_noise_us=0.0)  # eapu-paper, noise-free: each pulse is one step of 2 uS
    dg = np.full(t.shape, 1000.0, np.float32)
    dg[::2] *= -1
    before = g_of(t).copy()
    attached("analog-sgd", max_pulses=5).apply("w", t, dg * np.float32(R))
    change = (g_of(t) - before).reshape(t.shape)
    np.testing.assert_allclose(change, np.sign(dg) * 5 * SIGMA, atol=1e-3)  # capped at 5 pulses of 2 uS


def test_analog_sgd_writes_where_original_writes_nothing_on_a_pulsed_device():
    """Requests of a fifth of a step: original's nearest-count rounding drops them all."""
    cfg = AnalogConfig(backend="fefet", preset="fefet")
    results = {}
    for name in ("original", "analog-sgd"):
        t = AnalogMatrix(np.zeros((64, 64), np.float32), cfg, imc.Compute.create("cpu", 0))
        dw = np.full(t.shape, 0.2 * t.step_us() * t.r_wg_per_us, np.float32)
        results[name] = attached(name).apply("w", t, dw).cells
    assert results["original"] == 0
    n = 64 * 64  # each cell written with probability 0.2
    assert abs(results["analog-sgd"] - 0.2 * n) < 5 * math.sqrt(0.16 * n)


def test_analog_sgd_rejects_a_bad_cap():
    with pytest.raises(ValueError, match="max_pulses"):
        make_rule("analog-sgd", max_pulses=0)


# ---------------------------------------------------------------------------- write-verify
def test_write_verify_programs_each_change_to_the_tolerance_and_counts_every_verify_read():
    t = tile(shape=(60, 50))  # eapu-paper: every write lands with sigma = 2 uS, no read noise
    rule = attached("write-verify", tolerance_us=0.5, max_iterations=200)
    dev = t.devices[0]
    rng = np.random.default_rng(3)
    dg = rng.choice([-1.0, 1.0], t.size) * rng.uniform(0.6, 8.0, t.size)
    dg[:500] = 0.3  # below the tolerance: kept pending, not written, not read
    before = g_of(t).copy()
    reads0, verify0 = dev.counters.cell_reads, dev.counters.energy_j["verify"]
    stats = rule.apply("w", t, (dg * R).astype(np.float32).reshape(t.shape))
    change = g_of(t) - before
    np.testing.assert_array_equal(change[:500], 0)
    assert np.all(np.abs(change[500:] - dg[500:]) <= 0.5 + 1e-4)  # every change within the tolerance
    reads = dev.counters.cell_reads - reads0
    assert reads >= (t.size - 500) + stats.cells  # one read before, one after every write
    assert dev.counters.energy_j["verify"] - verify0 == pytest.approx(reads * dev.spec.energy_per_read_j)
    assert stats.cells > (t.size - 500) * 1.5  # sigma = 4x the tolerance: several rounds on average
    chi = rule.arrays["chi.w"].reshape(-1)
    np.testing.assert_allclose(chi[:500], 0.3, rtol=1e-6)  # still pending
    assert np.all(np.abs(chi[500:]) <= 0.5 + 1e-4)  # what is left, as measured


def test_write_verify_accumulates_sub_tolerance_requests_until_they_are_written():
    t = tile(shape=(10, 10), write_noise_us=0.0)
    rule = attached("write-verify", tolerance_us=1.0)
    dw = np.full(t.shape, 0.6 * R, np.float32)
    assert rule.apply("w", t, dw).cells == 0
    before = g_of(t).copy()
    stats = rule.apply("w", t, dw)  # 1.2 uS pending now: one write each, exact
    assert stats.cells == t.size
    np.testing.assert_allclose(g_of(t) - before, 1.2, atol=1e-4)


@pytest.mark.parametrize("backend,preset", [("fefet", "fefet"), ("memristor", "rram-realistic"), ("mram", "stt")])
def test_write_verify_converges_on_pulsed_devices_with_default_tolerance(backend, preset):
    cfg = AnalogConfig(backend=backend, preset=preset)
    t = AnalogMatrix(np.zeros((40, 40), np.float32), cfg, imc.Compute.create("cpu", 0))
    rule = attached("write-verify")
    tol = rule.tolerance(t)
    dw = np.full(t.shape, 3 * tol * t.r_wg_per_us, np.float32)
    dw[::2] *= -1
    before = t.peek_weights().copy()
    stats = rule.apply("w", t, dw)
    assert stats.pulses >= t.size  # every cell needed at least one pulse
    moved = (t.peek_weights() - before) / t.r_wg_per_us
    # cells at their own (device-to-device) bound or stuck give the change up: ~7 % on rram-realistic
    gave_up = rule.arrays["chi.w"] == 0
    within = np.abs(moved - dw / t.r_wg_per_us) <= 2 * tol  # tolerance plus the verify reads' noise
    assert gave_up.mean() < 0.12 and within[~gave_up].mean() > 0.95, (gave_up.mean(), within[~gave_up].mean())


def test_write_verify_rejects_bad_parameters():
    with pytest.raises(ValueError, match="max_iterations"):
        make_rule("write-verify", max_iterations=0)
    with pytest.raises(ValueError, match="tolerance_us"):
        make_rule("write-verify", tolerance_us=-1.0)
