"""Checks of reading: read noise as declared, products that agree with the conductances, edge cases."""

from __future__ import annotations

import math

import numpy as np

from imc.spec import BOUNDS, READ_NOISE

from .probes import host, mid_targets, on_device, windows
from .registry import check, fail
from .stats import Z, float32_tolerance, mean_and_se, sigmas, z_for

SHAPE = (24, 40)  # non-square: forward and transposed products have different widths
REPEATS = 8
ONE_CELL_WRITES = 4  # cells written alone in products_match_conductances
SQUARE = (16, 16)  # a square array, where forward and backward inputs have the same width


def _rng(target, key):
    return np.random.default_rng(target.device_seed(2000 + key))


def _programmed(target, key, shape, spread: bool = False):
    """A device programmed to mid-window, or (``spread``) to random states across the window."""
    dev = target.make(key=key, shape=shape)
    if not spread:
        dev.program(on_device(dev, mid_targets(dev)))
        return dev
    s = target.spec
    rng = _rng(target, 900 + key)
    dev.program(on_device(dev, rng.uniform(s.g_min_us + 0.05 * s.range_us, s.g_max_us - 0.05 * s.range_us, shape)))
    return dev


def _z_scores(measured, expected, std):
    keep = std > 0
    return (measured[keep] - expected[keep]) / std[keep], (measured[~keep] - expected[~keep])


def _judge_z(z, what):
    """z should be standard normal: mean 0 and mean square 1 within Z standard errors."""
    mean, se = mean_and_se(z)
    if abs(mean) > Z * se:
        fail(f"{what} is biased: mean {mean:+.3f} declared standard deviations ({sigmas(mean, se)}; allowed {Z:g})")
    ms, se2 = mean_and_se(z * z)
    if abs(ms - 1) > Z * se2:
        fail(
            f"{what} scatters by {math.sqrt(ms):.3f} x its declared standard deviation "
            f"(variance ratio {ms:.3f}, {sigmas(ms - 1, se2)} over {z.size} values; allowed {Z:g})"
        )
    return math.sqrt(ms)


@check("read_noise_as_declared")
def read_noise_as_declared(target):
    """read() and products (batches and single vectors) scatter by exactly the declared read noise (none if
    'read-noise' is absent)."""
    spec = target.spec
    dev = _programmed(target, 70, (64, 64), spread=True)  # relative noise differs from absolute noise
    rng = _rng(target, 70)
    g = host(dev, dev.peek()).astype(np.float64)
    reads = np.stack([host(dev, dev.read()).astype(np.float64) for _ in range(REPEATS)])
    x = rng.standard_normal((REPEATS * 8, g.shape[0]))
    y = host(dev, dev.forward(on_device(dev, x))).astype(np.float64)
    d = rng.standard_normal((REPEATS * 8, g.shape[1]))
    yt = host(dev, dev.backward(on_device(dev, d))).astype(np.float64)
    if not spec.has(READ_NOISE) or spec.read_noise_rel == 0:
        if (reads != g[None]).any():
            fail(f"the device declares no read noise but read() differs from the stored conductances "
                 f"(by up to {float(np.abs(reads - g).max()):.3g} uS)")
        return "no read noise declared; reads are exact"
    rel = spec.read_noise_rel
    z_read, exact = _z_scores(reads, np.broadcast_to(g, reads.shape), rel * np.abs(np.broadcast_to(g, reads.shape)))
    if exact.size and (exact != 0).any():
        fail("cells at 0 uS must read exactly 0 (noise is relative to G)")
    s_read = _judge_z(z_read, "read()")
    s_fwd = _judge_z(_z_scores(y, x @ g, rel * np.sqrt((x * x) @ (g * g)))[0], "forward products")
    s_bwd = _judge_z(_z_scores(yt, d @ g.T, rel * np.sqrt((d * d) @ (g.T * g.T)))[0], "transposed products")
    x1 = rng.standard_normal((REPEATS * 8, g.shape[0]))  # one vector per call (a 1-D input)
    y1 = np.stack([host(dev, dev.forward(on_device(dev, v))).astype(np.float64) for v in x1])
    s_one = _judge_z(_z_scores(y1, x1 @ g, rel * np.sqrt((x1 * x1) @ (g * g)))[0], "forward of one vector (1-D input)")
    return (f"read noise {s_read:.3f}, forward {s_fwd:.3f}, transposed {s_bwd:.3f}, one vector {s_one:.3f} "
            "x declared")


@check("products_match_conductances")
def products_match_conductances(target):
    """forward(x) = x @ G and backward(d) = d @ G.T with the right shapes, for batches and single vectors,
    on a non-square and a square array, and right after a write of one cell."""
    spec = target.spec
    dev = _programmed(target, 71, SHAPE, spread=True)  # non-uniform, so a transposition shows
    rng = _rng(target, 71)
    rows, cols = SHAPE
    g = host(dev, dev.peek()).astype(np.float64)
    noisy = spec.has(READ_NOISE) and spec.read_noise_rel > 0
    for when in ("after programming", "after a write"):
        if when == "after a write":  # a product must see the conductances as they are now (no stale cache)
            delta = rng.choice([-1, 1], SHAPE) * rng.integers(1, 4, SHAPE) * spec.step_us
            dev.update(on_device(dev, delta.astype(np.float32)))
            g = host(dev, dev.peek()).astype(np.float64)
        for name, op, width, mat in (("forward", dev.forward, rows, g), ("backward", dev.backward, cols, g.T)):
            out_width = mat.shape[1]
            for shape in ((5, width), (1, width), (width,)):
                x = rng.standard_normal(shape)
                y = host(dev, op(on_device(dev, x)))
                want_shape = shape[:-1] + (out_width,)
                if y.shape != want_shape:
                    fail(f"{name} of an input of shape {shape} returned shape {y.shape}, expected {want_shape}")
                expected = x @ mat
                scale = np.abs(x) @ np.abs(mat)
                tol = float32_tolerance(1.0) * 4 * scale
                if noisy:
                    tol = tol + (Z + 1.5) * spec.read_noise_rel * np.sqrt((x * x) @ (mat * mat))
                bad = np.abs(y - expected) > tol
                if bad.any():
                    worst = float((np.abs(y - expected) / np.maximum(scale, 1e-30)).max())
                    fail(
                        f"{name} {when} disagrees with the stored conductances for input shape {shape}: "
                        f"{int(bad.sum())} outputs off (worst by {worst:.3g} of |x| @ |G|)"
                        + (" beyond the declared read noise" if noisy else "")
                        + f": {name} must compute with the current conductances"
                        + (" transposed (d @ G.T)" if name == "backward" else " (x @ G)")
                    )
    _products_follow_one_cell_writes(target, dev, rng)
    _square_products_keep_orientation(target, rng)


def _square_products_keep_orientation(target, rng):
    """On a square array the input width cannot tell forward from backward: forward is x @ G,
    backward d @ G.T, whatever the shape."""
    spec = target.spec
    n = SQUARE[0]
    dev = _programmed(target, 76, SQUARE, spread=True)
    g = host(dev, dev.peek()).astype(np.float64)
    noisy = spec.has(READ_NOISE) and spec.read_noise_rel > 0
    z = z_for(2 * 8 * n)
    for name, op, mat, other in (("forward", dev.forward, g, "x @ G.T"), ("backward", dev.backward, g.T, "d @ G")):
        x = rng.standard_normal((8, n))
        y = host(dev, op(on_device(dev, x))).astype(np.float64)
        expected = x @ mat
        tol = float32_tolerance(1.0) * 4 * (np.abs(x) @ np.abs(mat))
        if noisy:
            tol = tol + z * spec.read_noise_rel * np.sqrt((x * x) @ (mat * mat))
        off = np.abs(y - expected) > tol
        if off.any():
            fail(f"on a square {n} x {n} array, {name} disagrees with the stored conductances in {int(off.sum())} of "
                 f"{y.size} outputs (worst by {float(np.abs(y - expected).max()):.3g} uS): {name} must compute "
                 f"{'x @ G' if name == 'forward' else 'd @ G.T'}, not {other}; choose the orientation by the method, "
                 "never by the input's width")


def _products_follow_one_cell_writes(target, dev, rng):
    """After a write of ONE cell (program with a one-cell mask, then update with an index of size 1),
    products through that cell's row and column see its new conductance (no cache patched for
    batches only). Unit inputs pick the cell's row and column out of G, exactly or within the
    declared read noise."""
    spec = target.spec
    rows, cols = dev.shape
    lo, hi = windows(dev)
    noisy = spec.has(READ_NOISE) and spec.read_noise_rel > 0
    z = z_for(2 * ONE_CELL_WRITES * (rows + cols))
    for _ in range(ONE_CELL_WRITES):
        cell = int(rng.integers(0, rows * cols))
        r, c = divmod(cell, cols)
        g_cell = float(host(dev, dev.peek())[r, c])
        far = hi[r, c] if hi[r, c] - g_cell > g_cell - lo[r, c] else lo[r, c]
        far = float(np.clip(np.where(np.isfinite(far), far, spec.g_max_us), spec.g_min_us, spec.g_max_us))
        mask = np.zeros(dev.shape, bool)
        mask[r, c] = True
        targets = np.where(mask, far, (spec.g_min_us + spec.g_max_us) / 2).astype(np.float32)
        back = np.array([(-1 if far > g_cell else 1) * 0.5 * spec.range_us])  # most of the way back
        for what, write, args in (
            ("program with a mask of one cell", dev.program, (on_device(dev, targets), on_device(dev, mask, bool))),
            ("update with an index of one cell", dev.update, (on_device(dev, back), on_device(dev, np.array([cell]), np.int64))),
        ):
            write(*args)
            g = host(dev, dev.peek()).astype(np.float64)
            for name, op, width, i, expected in (("forward", dev.forward, rows, r, g[r]), ("backward", dev.backward, cols, c, g[:, c])):
                unit = np.zeros(width, np.float32)
                unit[i] = 1
                y = host(dev, op(on_device(dev, unit))).astype(np.float64)
                tol = float32_tolerance(float(np.abs(expected).max()))
                if noisy:
                    tol = tol + z * spec.read_noise_rel * np.abs(expected)
                off = np.abs(y - expected) > tol
                if off.any():
                    fail(f"after {what} (cell {cell}), {name} of a unit input disagrees with the stored conductances "
                         f"in {int(off.sum())} outputs (worst by {float(np.abs(y - expected).max()):.3g} uS"
                         + (" beyond the declared read noise" if noisy else "")
                         + f"): {name} must compute with the current conductances, also after a write of one cell")


@check("edge_cases_stay_finite")
def edge_cases_stay_finite(target):
    """Zero inputs, tiny and huge requests, window-edge targets and long pulse trains give finite results."""
    spec = target.spec
    dev = _programmed(target, 72, SHAPE)
    rows, cols = SHAPE
    zero_x, zero_d = np.zeros((3, rows)), np.zeros((3, cols))
    for name, op, x in (("forward", dev.forward, zero_x), ("backward", dev.backward, zero_d)):
        y = host(dev, op(on_device(dev, x)))
        if not np.isfinite(y).all():
            fail(f"{name} of an all-zero input returned NaN or inf")
        if (y != 0).any():
            fail(f"{name} of an all-zero input returned non-zero outputs (max {float(np.abs(y).max()):.3g})")
    ones = np.ones(SHAPE)
    many = math.ceil(2 * spec.range_us / spec.step_us)
    ops = (
        ("update(1e-30 uS)", lambda: dev.update(on_device(dev, ones * 1e-30))),
        ("update(step / 1000)", lambda: dev.update(on_device(dev, ones * spec.step_us / 1000))),
        ("update(-10 x window)", lambda: dev.update(on_device(dev, ones * -10 * spec.range_us))),
        ("update(+10 x window)", lambda: dev.update(on_device(dev, ones * 10 * spec.range_us))),
        ("program(g_min_us)", lambda: dev.program(on_device(dev, ones * spec.g_min_us))),
        (f"{many} pulses down from g_min_us", lambda: dev.pulse(on_device(dev, ones * many, np.int64), -1)),
        ("program(g_max_us)", lambda: dev.program(on_device(dev, ones * spec.g_max_us))),
        (f"{many} pulses up from g_max_us", lambda: dev.pulse(on_device(dev, ones * many, np.int64), 1)),
        ("empty sparse update", lambda: dev.update(on_device(dev, np.zeros(0)), index=on_device(dev, np.zeros(0), np.int64))),
    )
    for what, op in ops:
        try:
            op()
        except FloatingPointError as exc:
            fail(f"{what}: {exc}")
        g = host(dev, dev.peek())
        if not np.isfinite(g).all():
            fail(f"{what} left non-finite conductances")
        for name, out in (("read()", dev.read()), ("forward", dev.forward(on_device(dev, np.ones((2, rows)))))):
            if not np.isfinite(host(dev, out)).all():
                fail(f"after {what}, {name} returned NaN or inf")
    if spec.has(BOUNDS):
        return "finite at the window edges"
    return "finite (unbounded device)"


@check("reads_leave_state_unchanged")
def reads_leave_state_unchanged(target):
    """read(), peek(), forward and backward change nothing stored: conductances, per-cell parameters and
    write counters stay bit-identical (no read disturb is part of the protocol)."""
    dev = _programmed(target, 73, SHAPE, spread=True)
    rng = _rng(target, 73)
    rows, cols = SHAPE

    def stored():
        state = dev.state()
        return {k: np.array(v, copy=True) for k, v in state.items() if k not in ("totals", "energy_j", "rng_state")}

    before = stored()
    for name, op in (
        ("read()", dev.read),
        ("peek()", dev.peek),
        ("forward", lambda: dev.forward(on_device(dev, rng.standard_normal((4, rows)) * 3))),
        ("backward", lambda: dev.backward(on_device(dev, rng.standard_normal((4, cols)) * 3))),
        ("forward of one vector", lambda: dev.forward(on_device(dev, rng.standard_normal(rows)))),
    ):
        for _ in range(3):
            op()
        after = stored()
        changed = [k for k in before if not np.array_equal(before[k], after[k])]
        if changed:
            g0, g1 = before["g_us"].astype(np.float64), after["g_us"].astype(np.float64)
            fail(f"{name} changed the stored {', '.join(changed)} (largest conductance change "
                 f"{float(np.abs(g1 - g0).max()):.3g} uS): reads and products must not write; draw read noise "
                 "into the returned copy only")


def _common_mode(z):
    """N x mean over groups of (mean of z over the N members)^2: ~1 for independent noise, ~N for shared."""
    m = z.mean(axis=-1)
    return float(z.shape[-1] * np.mean(m * m))


@check("read_noise_independent", requires=READ_NOISE)
def read_noise_independent(target):
    """Declared read noise is fresh on every read and product and independent across cells and outputs."""
    spec = target.spec
    if spec.read_noise_rel == 0:
        return "read_noise_rel is 0"
    dev = _programmed(target, 74, (64, 64), spread=True)
    rng = _rng(target, 74)
    g = host(dev, dev.peek()).astype(np.float64)
    rel = spec.read_noise_rel
    reads = np.stack([host(dev, dev.read()).astype(np.float64) for _ in range(REPEATS)])
    keep = np.abs(g) > 0
    z = ((reads - g) / np.where(keep, rel * np.abs(g), 1.0))[:, keep]
    x = rng.standard_normal(g.shape[0])
    xs = np.repeat(x[None], REPEATS, axis=0)
    y = host(dev, dev.forward(on_device(dev, xs))).astype(np.float64)
    zy = (y - x @ g) / (rel * np.sqrt((x * x) @ (g * g)))
    d = rng.standard_normal(g.shape[1])
    ds = np.repeat(d[None], REPEATS, axis=0)
    yt = host(dev, dev.backward(on_device(dev, ds))).astype(np.float64)
    zt = (yt - d @ g.T) / (rel * np.sqrt((d * d) @ (g.T * g.T)))
    z_lim = z_for(7)
    # the same batch in a second call: its noise must be new (no buffer drawn once and reused)
    again = host(dev, dev.forward(on_device(dev, xs))).astype(np.float64)
    cross = ((again - x @ g) / (rel * np.sqrt((x * x) @ (g * g))) - zy) / math.sqrt(2)
    between_calls = float(np.mean(cross * cross))
    if between_calls < 1 - z_lim * math.sqrt(2 / cross.size) - 0.05:
        fail(f"a second forward call with the same inputs gives the same noise again (variance between the calls "
             f"{between_calls:.3f} of the declared): draw fresh read noise on every call")
    for what, values in (("read()", z), ("forward of one repeated vector", zy), ("backward of one repeated vector", zt)):
        k = values.shape[1]
        repeat = float(np.var(values, axis=0, ddof=1).mean())
        # the mean of (REPEATS - 1) chi-square/(REPEATS - 1) over k cells: sd sqrt(2 / ((REPEATS - 1) k))
        if repeat < 1 - z_lim * math.sqrt(2 / ((REPEATS - 1) * k)) - 0.05:
            fail(f"repeating {what} gives the same noise again (variance between repeats {repeat:.3f} of the declared): "
                 "draw fresh read noise on every call")
        shared = _common_mode(values)
        # under independence the statistic is chi-square with REPEATS degrees of freedom over REPEATS:
        # its upper quantile at the check's budget (Wilson-Hilferty), not a normal approximation
        allowed = (1 - 2 / (9 * REPEATS) + z_lim * math.sqrt(2 / (9 * REPEATS))) ** 3
        if shared > allowed:
            fail(f"the read noise of {what} is shared across {k} cells/outputs (common-mode statistic {shared:.1f}, "
                 f"independent noise gives ~1, allowed {allowed:.1f}): draw independent noise per cell")


@check("outputs_are_float32")
def outputs_are_float32(target):
    """read(), peek(), forward, backward and the verify reads (read_cells, read_masked) return float32
    arrays (the compute dtype) on the device's namespace."""
    dev = _programmed(target, 75, SHAPE)
    rows, cols = SHAPE
    for name, out, shape in (
        ("read()", dev.read(), SHAPE),
        ("peek()", dev.peek(), SHAPE),
        ("forward", dev.forward(on_device(dev, np.ones((2, rows)))), (2, cols)),
        ("backward", dev.backward(on_device(dev, np.ones((2, cols)))), (2, rows)),
        ("forward of one vector", dev.forward(on_device(dev, np.ones(rows))), (cols,)),
        ("read_cells (verify read)", dev.read_cells(on_device(dev, np.arange(0, rows * cols, 7), np.int64)),
         (len(range(0, rows * cols, 7)),)),
        ("read_masked (verify read)", dev.read_masked(on_device(dev, np.arange(rows * cols) % 3 == 0, bool)),
         (rows * cols,)),
    ):
        if not isinstance(out, dev.xp.ndarray):
            fail(f"{name} returned a {type(out).__name__}, not an array of the device's namespace ({dev.xp.__name__})")
        if out.dtype != np.float32:
            fail(f"{name} returned dtype {out.dtype}; return float32, the compute dtype (cast with .astype(np.float32))")
        if tuple(out.shape) != shape:
            fail(f"{name} returned shape {tuple(out.shape)}, expected {shape}")
