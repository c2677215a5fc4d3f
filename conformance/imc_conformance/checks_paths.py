"""Checks of paths the other checks take rarely: drift split over several calls, writes next to
a bound of the window, stuck cells under every write form, verify reads, and the declared
switching law (which no other check calls).

A defect on such a path leaves the common paths intact, so only a check that drives the
path itself sees it: a drift law measured from the start of each ``drift()`` call instead of
each cell's last write, write noise dropped (or clipped away) next to the window's ends, a
write-verify that moves stuck cells.
"""

from __future__ import annotations

import math

import numpy as np

from imc.device import settle
from imc.spec import BOUNDS, DRIFT, FAULTS, NATIVE_PROBABILISTIC, SWITCHING_LAW

from .probes import declared, host, mid_targets, on_device, stuck_cells, windows
from .registry import check, fail
from .stats import float32_tolerance, mean_and_se, sigmas, z_for

SHAPE = (48, 64)
SPLITS_S = ((5e4, 5e4), (30.0, 3e6))  # (a, b): drift(a) then drift(b) against drift(a + b)
NEAR_STEPS = 3.0  # a cell "next to a bound" starts at most this many declared steps from it
NEAR_ROUNDS = 6
NOISE_SLACK = 0.25  # of the declared write noise (std) a nonlinear curve's edge may blur
VERIFY_SHAPE = (24, 40)


def _rng(target, key):
    return np.random.default_rng(target.device_seed(6000 + key))


@check("drift_composes", requires=DRIFT)
def drift_composes(target):
    """drift(a) then drift(b) gives, in distribution, what drift(a + b) gives: the law depends on each
    cell's age (time since its last write), not on how the time is split into calls."""
    spec = target.spec
    z = z_for(2 * len(SPLITS_S))
    notes = []
    for a, b in SPLITS_S:
        split, whole = target.make(key=150, shape=SHAPE), target.make(key=150, shape=SHAPE)
        for dev in (split, whole):
            dev.program(on_device(dev, mid_targets(dev)))
        g0_split = host(split, split.peek()).astype(np.float64)
        g0_whole = host(whole, whole.peek()).astype(np.float64)
        split.drift(a)
        split.drift(b)
        whole.drift(a + b)
        d_split = host(split, split.peek()).astype(np.float64) - g0_split
        d_whole = host(whole, whole.peek()).astype(np.float64) - g0_whole
        ftol = 4 * float32_tolerance(max(abs(spec.g_min_us), abs(spec.g_max_us)))
        diff, se = mean_and_se(d_split - d_whole)
        m_split, m_whole = float(d_split.mean()), float(d_whole.mean())
        if abs(diff) > z * se + ftol:
            fail(f"drift({a:g} s) then drift({b:g} s) moves cells by {m_split:+.4g} uS on average but drift({a + b:g} s) "
                 f"by {m_whole:+.4g} uS ({sigmas(diff, se)}): relaxation must compose, so the law must depend on "
                 "each cell's age (the age_s _drift is given: time since its last write) and on the elapsed "
                 "seconds, not on how time is split into drift() calls; fix _drift")
        scale = float(max(np.abs(d_split).max(), np.abs(d_whole).max()))
        sq, se2 = mean_and_se(d_split**2 - d_whole**2)
        if abs(sq) > z * se2 + 2 * ftol * scale + ftol**2:
            fail(f"drift({a:g} s) then drift({b:g} s) spreads cells by {math.sqrt(float((d_split**2).mean())):.4g} uS "
                 f"(RMS move) but drift({a + b:g} s) by {math.sqrt(float((d_whole**2).mean())):.4g} uS "
                 f"({sigmas(sq, se2)}): relaxation must compose in distribution, so the spread must follow each "
                 "cell's age (the age_s _drift is given), not the number of drift() calls; fix _drift")
        notes.append(f"{a:g}+{b:g} s: {m_split:+.3g} vs {m_whole:+.3g} uS")
    return "; ".join(notes)


@check("write_noise_near_bounds", requires=BOUNDS)
def write_noise_near_bounds(target):
    """Cells next to a bound of their own window (within a few declared steps), pulsed away from it,
    scatter around the declared step by the declared write noise: noise is not dropped there."""
    spec = target.spec
    dev = target.make(key=151)
    rng = _rng(target, 151)
    lo, hi = windows(dev)
    lo_t = np.clip(np.where(np.isfinite(lo), lo, spec.g_min_us), spec.g_min_us, spec.g_max_us)
    hi_t = np.maximum(np.clip(np.where(np.isfinite(hi), hi, spec.g_max_us), spec.g_min_us, spec.g_max_us), lo_t)
    step_lo = declared(dev, lo_t.astype(np.float32), 1)[0]
    step_hi = declared(dev, hi_t.astype(np.float32), -1)[0]
    parity = (np.arange(lo.size).reshape(dev.shape) + np.arange(dev.shape[0])[:, None]) % 2
    res = {1: [], -1: []}
    var = {1: [], -1: []}
    for r in range(NEAR_ROUNDS):
        near_low = (parity + r) % 2 == 0
        u = rng.uniform(0.2, NEAR_STEPS - 0.5, dev.shape)
        targets = np.clip(np.where(near_low, lo_t + u * step_lo, hi_t - u * step_hi), lo_t, hi_t)
        dev.program(on_device(dev, targets.astype(np.float32)))
        g0 = host(dev, dev.peek()).astype(np.float64)
        direction = np.where(near_low, 1, -1)
        up, up_noise = declared(dev, g0.astype(np.float32), 1)
        dn, dn_noise = declared(dev, g0.astype(np.float32), -1)
        step = np.where(direction > 0, up, dn)
        noise = np.where(direction > 0, up_noise, dn_noise)
        dev.pulse(on_device(dev, np.ones(dev.shape), np.int64), on_device(dev, direction, np.int8))
        g1 = host(dev, dev.peek()).astype(np.float64)
        behind = np.where(direction > 0, g0 - lo, hi - g0)
        ahead = np.where(direction > 0, hi - g0, g0 - lo)
        near = (behind <= NEAR_STEPS * np.where(direction > 0, step_lo, step_hi)) & (behind >= 0)
        ok = near & (step > 0) & (noise > 0) & (ahead >= step + 4 * noise)
        if spec.has(FAULTS):  # stuck cells are judged by stuck_cells_stay_stuck
            ok &= g1 != g0
        for d in (1, -1):
            sel = ok & (direction == d)
            res[d].append((direction * (g1 - g0) - step)[sel])
            var[d].append((noise**2)[sel])
    z = z_for(2)
    notes = []
    for d, word, bound in ((1, "up", "lower"), (-1, "down", "upper")):
        r, v = np.concatenate(res[d]), np.concatenate(var[d])
        if r.size < 200:
            notes.append(f"{word}: {r.size} cells next to the {bound} bound, too few to judge")
            continue
        ms, se2 = mean_and_se(r * r)
        declared_var = float(v.mean())
        if ms < (1 - NOISE_SLACK) ** 2 * declared_var - z * se2:
            fail(f"one {word} pulse from within {NEAR_STEPS:g} declared steps of the {bound} bound scatters by "
                 f"{math.sqrt(ms):.4g} uS around the declared step but declared_write_noise_us says "
                 f"{math.sqrt(declared_var):.4g} uS ({sigmas(declared_var - ms, se2)} short over {r.size} cells): the "
                 "declared noise is missing next to the window's ends; add the noise before clipping in _pulse "
                 "(or declare less noise there)")
        notes.append(f"{word} from the {bound} bound: {math.sqrt(ms / declared_var):.2f} x declared noise")
    return "; ".join(notes)


@check("stuck_cells_stay_stuck", requires=FAULTS)
def stuck_cells_stay_stuck(target):
    """Cells no pulse train moves (stuck) stay at their bound under every write form: program (whole
    array and masked), update, sparse pulses, probabilistic pulses and drift where declared."""
    spec = target.spec
    dev = target.make(key=152)
    lo, hi = windows(dev)
    stuck = stuck_cells(dev)  # found by pulses only, before any program (which might move them)
    quarter = math.ceil(0.25 * spec.range_us / spec.step_us)  # pulses per train: a quarter window
    if not stuck.any():
        return "no stuck cells drawn in this array"
    held = host(dev, dev.peek())[stuck]
    index = np.flatnonzero(stuck)
    g_now = host(dev, dev.peek())
    far = np.where(np.abs(g_now - lo) <= np.abs(g_now - hi), hi, lo)  # the other end of each cell's window
    far = np.clip(np.where(np.isfinite(far), far, spec.g_max_us), spec.g_min_us, spec.g_max_us).astype(np.float32)
    ones = np.ones(index.size)
    forms = [
        ("program() of every cell to mid-window", "_program", lambda: dev.program(on_device(dev, mid_targets(dev)))),
        ("program(mask) of the stuck cells to the other end of their window", "_program",
         lambda: dev.program(on_device(dev, far), mask=on_device(dev, stuck, bool))),
        ("update(+- the window) of every cell", "_update",
         lambda: dev.update(on_device(dev, np.where(far > g_now, 1.0, -1.0) * spec.range_us))),
        ("a sparse pulse train of the stuck cells away from their bound", "_pulse",
         lambda: dev.pulse(on_device(dev, ones * quarter, np.int64),
                           on_device(dev, np.where(far.reshape(-1)[index] > g_now.reshape(-1)[index], 1, -1), np.int8),
                           index=on_device(dev, index, np.int64))),
    ]
    if spec.has(NATIVE_PROBABILISTIC):
        forms.append(("pulse_probabilistic(p = 1) of the stuck cells", "pulse_probabilistic",
                      lambda: dev.pulse_probabilistic(on_device(dev, ones), on_device(dev, np.where(
                          far.reshape(-1)[index] > g_now.reshape(-1)[index], 1, -1), np.int8),
                          index=on_device(dev, index, np.int64))))
    if spec.has(DRIFT):
        forms.append(("drift(1e6 s)", "_drift", lambda: dev.drift(1e6)))
    for what, method, write in forms:
        write()
        now = host(dev, dev.peek())[stuck]
        off = now != held
        if off.any():
            fail(f"{what} moved {int(off.sum())} of {int(stuck.sum())} stuck cells (cells no pulse train moves) by "
                 f"up to {float(np.abs(now.astype(np.float64) - held).max()):.3g} uS: a stuck cell stays at its "
                 f"bound under every write form; fix {method}")
    return f"{int(stuck.sum())} stuck cells held through {len(forms)} write forms"


@check("verify_reads_counted")
def verify_reads_counted(target):
    """Verify reads (read_cells at an index, read_masked with a mask) count one read of each selected
    cell, book its energy under 'verify' (no pulses, writes or products), return float32 of the right
    shape, and draw their noise from the device's seeded generator."""
    spec = target.spec
    rng = _rng(target, 153)
    rows, cols = VERIFY_SHAPE
    cells = rows * cols
    index = rng.permutation(cells)[: cells // 4]
    mask = rng.random(cells) < 0.3
    calls = (
        ("read_cells", int(index.size), (int(index.size),), lambda dev: dev.read_cells(on_device(dev, index, np.int64))),
        ("read_masked", int(mask.sum()), (cells,), lambda dev: dev.read_masked(on_device(dev, mask, bool))),
    )
    phases = ["at time 0"] + (["after drift, cells of two ages"] if spec.has(DRIFT) else [])
    runs = []
    for _ in range(2):
        dev = target.make(key=153, shape=VERIFY_SHAPE)
        dev.program(on_device(dev, mid_targets(dev)))
        outputs = []
        for phase, (method, n, shape, call) in [(p, c) for p in phases for c in calls]:
            if phase != phases[0] and method == calls[0][0]:  # a read noise that depends on each cell's age
                dev.drift(1e6)
                dev.program(on_device(dev, mid_targets(dev)), on_device(dev, (np.arange(cells) % 2 == 0).reshape(rows, cols), bool))
            before = _tally(dev)
            try:
                out = call(dev)
            except (ValueError, IndexError, TypeError) as exc:
                fail(f"{method} {phase} raised {type(exc).__name__}: {exc}: a per-cell read noise must be taken "
                     f"at the cells read: fix {method}")
            after = _tally(dev)
            reads = after["cell_reads"] - before["cell_reads"]
            energy = {k: after["energy"].get(k, 0.0) - before["energy"].get(k, 0.0) for k in after["energy"]}
            others = {k: v for k, v in energy.items() if k != "verify" and v != 0}
            want_j = n * spec.energy_per_read_j
            if (reads != n or after["products"] != before["products"] or others
                    or not math.isclose(energy.get("verify", 0.0), want_j, rel_tol=1e-9, abs_tol=1e-30)):
                fail(f"{method} of {n} cells must count {n} cell reads and book {want_j:.4g} J under "
                     f"energy_j['verify'] and nothing else; it counted {reads} reads, "
                     f"{after['products'] - before['products']} products, {energy.get('verify', 0.0):.4g} J as "
                     f"'verify'" + (f" and {others} elsewhere" if others else "") + f": fix {method}")
            if (after["pulses"] != before["pulses"]).any() or (after["writes"] != before["writes"]).any():
                fail(f"{method} counted pulses or writes; a verify read is not a write: fix {method}")
            if not isinstance(out, dev.xp.ndarray) or out.dtype != np.float32 or tuple(out.shape) != shape:
                fail(f"{method} returned {type(out).__name__} of dtype {getattr(out, 'dtype', '?')} and shape "
                     f"{tuple(getattr(out, 'shape', ()))}; expected float32 of shape {shape} on the device's namespace")
            outputs.append(host(dev, out))
        runs.append(outputs)
    labels = [(phase, method) for phase in phases for method, *_ in calls]
    for (phase, method), a, b in zip(labels, *runs):
        if not np.array_equal(a, b):
            fail(f"two devices built with the same seed return different {method} values {phase} "
                 f"({int((a != b).sum())} of {a.size} differ): {method} draws its read noise from a generator "
                 "other than its Compute's (np.random.*, a global or fixed-seed generator)")
    return (f"{int(index.size)} + {int(mask.sum())} verify reads counted as 'verify', reproducible under the seed"
            + (" (also after drift)" if len(phases) > 1 else ""))


def _tally(dev) -> dict:
    settle(dev.xp, [dev.counters])  # totals a GPU keeps pending come to the host
    c = dev.counters
    return {"cell_reads": int(c.cell_reads), "products": int(c.products), "energy": dict(c.energy_j),
            "pulses": host(dev, c.pulses), "writes": host(dev, c.writes)}


LAW_P = np.linspace(0.02, 0.98, 49)  # probabilities at which the declared law is inverted
LAW_TOLERANCE = 0.01  # of probability: a tabulated law interpolates far finer; a 10 % current error moves p by ~0.1


@check("switching_law_consistent", requires=SWITCHING_LAW)
def switching_law_consistent(target):
    """The declared switching law is a law: switching_probability(I) lies in [0, 1] and does not fall as
    the current rises, and current_for_probability inverts it (p -> I -> p), in both directions."""
    dev = target.make(key=154, shape=(4, 4))
    notes = []
    for direction, word in ((1, "up"), (-1, "down")):
        currents = host(dev, dev.current_for_probability(on_device(dev, LAW_P), direction)).astype(np.float64)
        if not np.isfinite(currents).all() or (currents < 0).any():
            fail(f"current_for_probability(p, {direction:+d}) returned non-finite or negative currents: fix it")
        back = host(dev, dev.switching_probability(on_device(dev, currents), direction)).astype(np.float64)
        off = np.abs(back - LAW_P)
        if off.max() > LAW_TOLERANCE:
            k = int(off.argmax())
            fail(f"{word}: current_for_probability({LAW_P[k]:.2f}) = {currents[k]:.4g} uA, but switching_probability of "
                 f"that current is {back[k]:.4f} (off by {back[k] - LAW_P[k]:+.4f}; allowed {LAW_TOLERANCE:g}): the two "
                 "must be inverses of one law; fix current_for_probability or switching_probability")
        grid = np.linspace(float(currents.min()), float(currents.max()), 400)
        p = host(dev, dev.switching_probability(on_device(dev, grid), direction)).astype(np.float64)
        if (p < 0).any() or (p > 1).any() or not np.isfinite(p).all():
            fail(f"{word}: switching_probability returned values outside [0, 1] (min {float(np.nanmin(p)):.4g}, "
                 f"max {float(np.nanmax(p)):.4g}): fix switching_probability")
        if (np.diff(p) < -1e-6).any():
            k = int(np.argmin(np.diff(p)))
            fail(f"{word}: switching_probability falls from {p[k]:.4f} to {p[k + 1]:.4f} as the current rises from "
                 f"{grid[k]:.4g} to {grid[k + 1]:.4g} uA: a switching law never falls with current; fix switching_probability")
        notes.append(f"{word}: p -> I -> p within {off.max():.1e}")
    return "; ".join(notes)
