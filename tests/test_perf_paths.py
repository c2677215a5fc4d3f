"""Fast paths added for performance (issue 7) keep the statistics of the code they replace."""

import math

import numpy as np
import pytest

import imc
from imc.nn import AnalogConfig, AnalogMatrix, Sequential
from imc.rules import eapu as eapu_module
from imc.rules import make_rule

SIGMA = 2.0  # eapu-paper write noise = dG_th, uS
R = 1 / 80.0


def rule(seed=1):
    r = make_rule("eapu")
    r.attach(Sequential(), imc.Compute.create("cpu", seed))
    return r


def magnitudes(n, ps, seed=3):
    """|d| cycling through probabilities ``ps`` (of a limit 1.0) with random signs."""
    rng = np.random.default_rng(seed)
    p = np.resize(np.asarray(ps, dtype=np.float32), n)
    return (p * rng.choice(np.float32([-1, 1]), n)).astype(np.float32), p


@pytest.mark.parametrize("ps", [
    [0.0, 0.001, 0.01, 0.02, 0.03125, 0.05, 0.3, 0.99, 1.0, 2.5],  # thinned path
    [0.0, 0.2, 0.5, 0.9, 1.5],  # mostly p > q: the dense fallback
])
def test_thinned_decision_selects_each_cell_with_probability_p(ps):
    n = 1 << 19
    assert n >= eapu_module.SPARSE_MIN
    d, p = magnitudes(n, ps)
    hits = np.zeros(n, dtype=np.int64)
    r = rule()
    for _ in range(4):
        idx = r._decide(d, np.float32(1.0))
        assert np.all(np.diff(idx) > 0) and idx.min() >= 0 and idx.max() < n
        hits[idx] += 1
    for level in ps:
        sel = p == np.float32(level)
        expect = min(1.0, level)
        freq = hits[sel].mean() / 4
        se = math.sqrt(max(expect * (1 - expect), 1e-12) / (4 * sel.sum()))
        assert abs(freq - expect) <= 4 * se + 1e-12, (level, freq, expect)


def test_thinned_decision_is_independent_between_neighbours():
    n = 1 << 18
    d = np.full(n, 0.02, dtype=np.float32)  # p = 0.02 < q: every selection comes from thinning
    idx = rule()._decide(d, np.float32(1.0))
    mask = np.zeros(n, dtype=bool)
    mask[idx] = True
    both = (mask[1:] & mask[:-1]).mean()
    assert abs(both - 0.02**2) < 4 * math.sqrt(0.02**2 / n)


def test_small_matrices_keep_the_dense_stream_bit_for_bit():
    d, _ = magnitudes(4096, [0.0, 0.01, 0.3, 1.2])
    limit = np.float32(SIGMA) * np.float32(R)
    c = imc.Compute.create("cpu", 1)
    u = c.uniform(d.shape)
    u *= limit
    expected = np.flatnonzero(np.abs(d) > u)
    np.testing.assert_array_equal(rule()._decide(d, limit), expected)


def test_candidates_have_rate_q_and_cover_the_range():
    r = rule()
    n, q = 1 << 20, eapu_module.CANDIDATE_RATE
    pos = r._candidates(n, q)
    assert np.all(np.diff(pos) > 0) and pos[0] >= 0 and pos[-1] < n
    assert abs(pos.size - n * q) < 5 * math.sqrt(n * q)
    assert pos[-1] > n - 20 / q  # the tail is covered too


def test_eapu_on_a_large_tile_is_unbiased_and_leaves_unselected_cells_untouched():
    shape = (512, 256)
    cfg = AnalogConfig(preset="eapu-paper")
    t = AnalogMatrix(np.zeros(shape, np.float32), cfg, imc.Compute.create("cpu", 0))
    mags = np.array([0.01, 0.05, 0.2, 1.0, 3.0])
    rng = np.random.default_rng(5)
    dg = (np.resize(mags, shape[0] * shape[1]) * rng.choice([-1.0, 1.0], shape[0] * shape[1])).astype(np.float32)
    before = t.devices[0].peek().reshape(-1)
    rule().apply("w", t, (dg * np.float32(R)).reshape(shape))
    change = t.devices[0].peek().reshape(-1).astype(np.float64) - before
    written = t.devices[0].counters.writes.reshape(-1) > 1  # programming counted once
    assert np.all(change[~written] == 0)
    for m in mags:
        sel = np.isclose(np.abs(dg), m)
        x = change[sel] * np.sign(dg[sel])
        p = min(1.0, m / SIGMA)
        var = SIGMA**2 if p >= 1 else p * (SIGMA**2 + SIGMA**2) - (p * SIGMA) ** 2
        assert abs(x.mean() - m) < 4 * math.sqrt(var / sel.sum()), (m, x.mean())


@pytest.mark.parametrize("backend,preset", [
    ("memristor", "eapu-paper"), ("memristor", "rram-realistic"), ("mram", None), ("fefet", None),
])
@pytest.mark.parametrize("op", ["update", "pulse", "pulse_probabilistic"])
def test_write_stats_equal_the_per_cell_counter_changes(backend, preset, op):
    cfg = AnalogConfig(backend=backend, preset=preset, max_tile_rows=24, max_tile_cols=20)
    rng = np.random.default_rng(0)
    t = AnalogMatrix((rng.random((40, 30), dtype=np.float32) - 0.5) * np.float32(0.5), cfg, imc.Compute.create("cpu", 0))
    if op == "pulse_probabilistic" and not t.native_probabilistic:
        pytest.skip("needs a native-probabilistic device")
    index = np.sort(rng.choice(t.size, 300, replace=False))
    signs = rng.choice([-1, 1], index.size)
    before = [(d.counters.writes.copy(), d.counters.pulses.copy()) for d in t.devices]
    if op == "update":
        stats = t.update(index, (signs * rng.random(index.size) * 3 * t.step_us()).astype(np.float32))
    elif op == "pulse":
        stats = t.pulse(index, rng.integers(0, 3, index.size), signs)
    else:
        stats = t.pulse_probabilistic(index, rng.random(index.size).astype(np.float32), signs)
    cells = sum(int(((d.counters.writes - w) > 0).sum()) for d, (w, _) in zip(t.devices, before))
    pulses = sum(int((d.counters.pulses - p).sum()) for d, (_, p) in zip(t.devices, before))
    assert (stats.cells, stats.pulses) == (cells, pulses)
    assert stats.cells > 0


@pytest.mark.parametrize("n", [eapu_module.BYTES_MIN, 40000])
def test_byte_decision_selects_each_cell_with_probability_p(n):
    """Matrices of BYTES_MIN..SPARSE_MIN weights decide from a random byte plus a refinement:
    the same selection probabilities as the float draw (levels across byte boundaries, 0, 1, > 1)."""
    assert eapu_module.BYTES_MIN <= n < eapu_module.SPARSE_MIN
    ps = [0.0, 0.0005, 1 / 256, 0.01, 0.25, 0.5 + 1 / 512, 0.99, 1.0, 3.0]
    d, p = magnitudes(n, ps)
    limit = np.float32(0.02)
    d = (d * limit).astype(np.float32)
    reps, hits, r = 40, np.zeros(n, dtype=np.int64), rule()
    for _ in range(reps):
        idx = r._decide(d, limit)
        assert np.all(np.diff(idx) > 0) and idx.min() >= 0 and idx.max() < n
        hits[idx] += 1
    for level in ps:
        sel = p == np.float32(level)
        expect = min(1.0, level)
        freq = hits[sel].mean() / reps
        se = math.sqrt(max(expect * (1 - expect), 1e-12) / (reps * sel.sum()))
        assert abs(freq - expect) <= 4 * se + 1e-9, (level, freq, expect)


def test_byte_decision_is_independent_between_neighbours_and_steps():
    n = eapu_module.BYTES_MIN * 4
    d = np.full(n, np.float32(0.3 * 0.02), dtype=np.float32)  # p = 0.3 everywhere
    r = rule()
    a = np.zeros(n, dtype=bool)
    b = np.zeros(n, dtype=bool)
    a[r._decide(d, np.float32(0.02))] = True
    b[r._decide(d, np.float32(0.02))] = True
    for both in ((a[1:] & a[:-1]).mean(), (a & b).mean()):  # neighbours; the same cell in two steps
        assert abs(both - 0.09) < 4 * math.sqrt(0.09 * 0.91 / n)
