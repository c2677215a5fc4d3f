"""Statistics over the whole state space: steps per conductance bin from bound to bound, pulse
trains against single pulses, long trains to the bounds, probabilistic switching at many p.

Tolerances come from the sample (standard errors over cells) at a per-check false-alarm
budget shared by all its comparisons (:func:`imc_conformance.stats.z_for`).

The step check bins each write by where the cell sat in its own window and averages over cells,
every cell once: a declared step is judged as the mean over cells at the same place in their own
windows (for a window spread this is what a nominal-cell law gives exactly; a per-pulse pool of
samples would weight slow cells more). It runs as many rounds as it takes for z standard errors
of a bin to fall to about :data:`SAMPLING` of a step (a write noise 4.7 x the step, as
rram-realistic's, needs about 4000 rounds of 4096 cells, run as ~500 rounds of an array 8 x as
wide; the 6 rounds of before allowed about 0.7 of a step), and leaves out bins where more than
3 % of the cells sit within 3 noise stds of a bound (keeping only the cells far from it would
select wide windows). Beyond the sampling error a bin may differ from the declaration by
``MODEL_SLACK`` = 0.08 of a step (0.25 before). Every first-party preset needs at most 0.027
over base seeds 0-6 and 10-39 (soft-bounds, whose declaration is the mean over cells at the same
G, reads 0.94-1.08 x; rram-realistic, rram-stress, fefet, mram, pcm and the table presets
0.96-1.06 x),
and a declaration 15 % off either way fails on rram-realistic and rram-stress (the mutants
``DeclaresSweepPooledStep``, 0.85 x, and ``DeclaresStepTooHigh``, 1.15 x).
"""

from __future__ import annotations

import math

import numpy as np

from imc import curves
from imc.spec import ABRUPT_RESET, BOUNDS, FAULTS, NATIVE_PROBABILISTIC

from .probes import declared, host, mid_targets, on_device, windows
from .registry import check, fail
from .stats import clustered_fraction, float32_tolerance, mean_and_se, sigmas, z_for

BINS = 8
ROUNDS = 6  # at least; more where the write noise dwarfs the step (see _step_rounds)
MAX_ROUNDS = 4000  # of the default array; above ROUNDS_PER_ARRAY they run on an array up to MAX_WIDER x as wide
ROUNDS_PER_ARRAY = 250
MAX_WIDER = 8
FLUSH = 16  # rounds per accumulation
SAMPLING = 0.04  # aim: z standard errors of a bin's mean step within this fraction of a declared step
MODEL_SLACK = 0.08  # of a declared step, per bin (see the module docstring)
NOISE_MARGIN = 3.0  # write-noise stds between a sample and either bound (clipping bias below 0.001 std)
CLEAR_SHARE = 0.97  # a bin is judged when this share of its samples is that far from both bounds
SPREAD_RATIO = 2.2  # a train's cycle-to-cycle variance vs n single pulses' (noise taken once per
# train on a strongly nonlinear curve differs by up to ~1.7 x; a train noise of one pulse is n x off)


def _rng(target, key):
    return np.random.default_rng(target.device_seed(5000 + key))


def _targetable(dev):
    """Per-cell (low, high) a program target may take: the cell's window cut to the spec window."""
    s = dev.spec
    lo, hi = windows(dev)
    lo_t = np.clip(np.where(np.isfinite(lo), lo, s.g_min_us), s.g_min_us, s.g_max_us)
    hi_t = np.clip(np.where(np.isfinite(hi), hi, s.g_max_us), s.g_min_us, s.g_max_us)
    return lo, hi, lo_t, np.maximum(hi_t, lo_t)


def _step_rounds(dev, lo_t, hi_t, z: float, groups: int) -> int:
    """Rounds of one pulse per cell so that ``z`` standard errors of a bin's mean step come to about
    :data:`SAMPLING` of a declared step: a write noise several times the step (rram-realistic: 4.7 x)
    needs hundreds of rounds, a quiet device the minimum."""
    mid = ((lo_t + hi_t) / 2).astype(np.float32)
    spread = []
    for d in (1, -1):
        step, noise = declared(dev, mid, d)
        ok = step > 0
        if ok.any():
            spread.append(float(np.median(noise[ok] / step[ok])))
    relative = math.hypot(max(spread, default=0.0), dev.spec.step_d2d)  # a residual's std, in steps
    per_round = 0.5 * dev.g.size / groups  # about half the samples land far enough from a bound
    return int(min(max(math.ceil((z * relative / SAMPLING) ** 2 / per_round), ROUNDS), MAX_ROUNDS))


@check("steps_across_window")
def steps_across_window(target):
    """One pulse from every part of the window, bound to bound, moves by the declared step (per
    conductance bin and direction); the declared noise is there; declared nonlinearity shows."""
    spec = target.spec
    dev = target.make(key=130)
    rng = _rng(target, 130)
    lo, hi, lo_t, hi_t = _targetable(dev)
    width = np.where(np.isfinite(hi - lo), hi - lo, spec.range_us)
    base = np.where(np.isfinite(lo), lo, spec.g_min_us)
    groups = [(b, d) for b in range(BINS) for d in (1, -1)]
    z = z_for(3 * len(groups))
    rounds = _step_rounds(dev, lo_t, hi_t, z, len(groups))
    wider = min(math.ceil(rounds / ROUNDS_PER_ARRAY), MAX_WIDER)
    if wider > 1:  # the same samples from a wider array in fewer rounds (each round's cost is mostly per call)
        rounds = math.ceil(rounds / wider)
        dev = target.make(key=130, shape=(dev.shape[0], dev.shape[1] * wider))
        lo, hi, lo_t, hi_t = _targetable(dev)
        width = np.where(np.isfinite(hi - lo), hi - lo, spec.range_us)
        base = np.where(np.isfinite(lo), lo, spec.g_min_us)
    cells = dev.shape
    n_cells = cells[0] * cells[1]
    # running sums per (group, cell): the cell is the cluster of the standard errors (its own step scale
    # and window make its residuals correlated); 0 count, 1 residual, 2 residual^2, 3 declared step, 4 noise^2,
    # 5 samples near a bound included (so a bin where many are near one is left out rather than half-judged)
    sums = np.zeros((6, len(groups) * n_cells))
    ever_moved = np.zeros(cells, bool)
    cell_id = np.arange(n_cells).reshape(cells)
    pending = []
    for r in range(rounds):
        which = (cell_id * 5 + r * 3 + rng.integers(0, BINS, cells)) % BINS
        u = (which + rng.uniform(0.1, 0.9, cells)) / BINS
        dev.program(on_device(dev, (lo_t + u * (hi_t - lo_t)).astype(np.float32)))
        g0 = host(dev, dev.peek()).astype(np.float64)
        direction = np.where((cell_id + r) % 2 == 0, 1, -1)
        up, up_noise = declared(dev, g0.astype(np.float32), 1)
        dn, dn_noise = declared(dev, g0.astype(np.float32), -1)
        step = np.where(direction > 0, up, dn)
        noise = np.where(direction > 0, up_noise, dn_noise)
        dev.pulse(on_device(dev, np.ones(cells)), on_device(dev, direction, np.int8))
        g1 = host(dev, dev.peek()).astype(np.float64)
        moved = direction * (g1 - g0)
        ever_moved |= g1 != g0
        room = np.where(direction > 0, hi - g0, g0 - lo)
        behind = np.where(direction > 0, g0 - lo, hi - g0)  # the bound behind clips noise back into the window
        ok = (room >= step + NOISE_MARGIN * noise) & (behind >= NOISE_MARGIN * noise) & (step > 0)
        if ok.mean() < 0.25:  # coarse levels (see writes.py): only the bound ahead matters, by one step
            ok = (room >= step) & (step > 0)
        position = np.clip(((g0 - base) / width * BINS).astype(int), 0, BINS - 1)
        group = position * 2 + (direction < 0)
        every = group * n_cells + cell_id
        res = (moved - step)[ok]
        pending.append((every.reshape(-1), every[ok], res, step[ok], noise[ok] ** 2))
        if len(pending) == FLUSH or r == rounds - 1:  # one bincount per column for many rounds
            drawn, slot, res, step, var = (np.concatenate(column) for column in zip(*pending))
            pending.clear()
            sums[5] += np.bincount(drawn, minlength=sums.shape[1])
            for row, value in enumerate((None, res, res * res, step, var)):
                sums[row] += np.bincount(slot, weights=value, minlength=sums.shape[1])
    sums = sums.reshape(6, len(groups), n_cells)
    if spec.has(FAULTS):  # cells that never moved are judged by faults_match_declaration
        sums = sums * ever_moved.reshape(-1)
    ftol = float32_tolerance(max(abs(spec.g_min_us), abs(spec.g_max_us)))
    ratios = {}
    needed = {}  # per bin: the part of the deviation, in declared steps, beyond the sampling error
    judged = 0
    for k, (b, d) in enumerate(groups):
        count, res_sum, sq_sum, step_sum, var_sum, drawn = sums[:, k]
        n = float(count.sum())
        if n < 40 or n < CLEAR_SHARE * float(drawn.sum()):
            # too few, or too many of the bin's cells near a bound: keeping only those far from it would
            # select cells by their own window (wide ones), and a spread of windows would bias the mean
            continue
        if spec.bounds_d2d > 0 and b == (BINS - 1 if d > 0 else 0):
            # the eighth next to the bound ahead, by the cell's own window: with a spread of windows these
            # are the cells nearest their own bound, while declared_step_us(g) is the population's mean at
            # g (most cells at that g are farther from theirs); long_trains_reach_bounds judges this end
            continue
        judged += 1
        word = "up" if d > 0 else "down"
        step_mean = float((step_sum[count > 0] / count[count > 0]).mean())
        bias, se = _clustered(res_sum, count, n)
        where = f"{word} pulses from {b / BINS:.0%}-{(b + 1) / BINS:.0%} of each cell's own window"
        if step_mean > 0:
            ratios[(b, d)] = (step_mean + bias) / step_mean
            needed[(b, d)] = max(0.0, (abs(bias) - z * se - ftol) / step_mean)
        if abs(bias) > z * se + MODEL_SLACK * step_mean + ftol:
            fail(f"{where} move {step_mean + bias:.4g} uS on average but declared_step_us says {step_mean:.4g} uS "
                 f"({(step_mean + bias) / step_mean if step_mean else math.inf:.2f} x, {sigmas(bias, se)} "
                 f"over {int(n)} writes of {int((count > 0).sum())} cells; allowed {MODEL_SLACK:.0%} of a step "
                 f"beyond the sampling error): make declared_step_us follow the physics across the whole window "
                 "(nonlinearity, asymmetry), as the mean over cells at the same place in their own windows")
        var = float(var_sum.sum()) / n
        if var > 0:
            ms, se2 = _clustered(sq_sum, count, n)
            if ms < (1 - MODEL_SLACK) ** 2 * var - z * se2:
                fail(f"{where} scatter by {math.sqrt(ms):.4g} uS around the declared step but "
                     f"declared_write_noise_us says {math.sqrt(var):.4g} uS: the declared noise is not there "
                     "in this part of the window")
    if judged < 2:
        fail(f"only {judged} conductance bins had 40 cells far enough from their bounds to measure a step: "
             "the declared step or write noise is too large for the window")
    worst = max(ratios, key=lambda k: abs(ratios[k] - 1)) if ratios else None
    where = f"; worst {ratios[worst]:.2f} x declared ({'up' if worst[1] > 0 else 'down'}, bin {worst[0]})" if worst else ""
    if needed:
        where += f"; at most {max(needed.values()):.3f} of a step beyond the sampling error (allowed {MODEL_SLACK:g})"
    return f"{judged} bins x directions judged over {rounds} rounds{where}"


def _clustered(sums, counts, n: float) -> tuple[float, float]:
    """Mean over cells of each cell's own mean (per-cell sums and counts), and its standard error:
    every cell counts once, however often the sampling put it in the bin."""
    keep = counts > 0
    c = int(keep.sum())
    if c < 2:
        return (float(sums.sum()) / n if n else math.nan), math.inf
    per_cell = sums[keep] / counts[keep]
    return float(per_cell.mean()), float(per_cell.std(ddof=1)) / math.sqrt(c)


@check("nonlinearity_as_declared")
def nonlinearity_as_declared(target):
    """Where the spec declares a nonlinear curve (nonlinearity_up / _down), pulse trains near the bound
    they move toward shrink (saturating, > 0) or grow (accelerating, < 0) as the curve says."""
    spec = target.spec
    labels = {1: spec.nonlinearity_up, -1: spec.nonlinearity_down}
    if not any(labels.values()):
        return "linear curve declared (nonlinearity 0)"
    dev = target.make(key=134)
    lo, hi, lo_t, hi_t = _targetable(dev)
    a_up, a_down = curves.a_from_label(spec.nonlinearity_up), curves.a_from_label(spec.nonlinearity_down)
    pmax = spec.range_us / spec.step_us
    k = max(1, math.ceil(0.1 * pmax))  # a train over about a tenth of the window: noise averages out
    parity = (np.arange(dev.g.size).reshape(dev.shape) + np.arange(dev.shape[0])[:, None]) % 2 == 0
    z = z_for(2)
    notes = []
    for d, word in ((1, "up"), (-1, "down")):
        if labels[d] == 0:
            continue
        behind, ahead = (0.2, 0.6) if d > 0 else (0.8, 0.4)  # trains end ~0.3 of the window from the bound
        start = np.array([behind, ahead])
        moved_nominal = np.abs(np.asarray(curves.advance(start, np.float64(k / pmax), a_up, a_down,
                                                         np.full(2, d, dtype=np.int8)), dtype=np.float64) - start)
        implied = float(moved_nominal[1] / moved_nominal[0])
        if abs(1 - implied) < 0.3:
            continue
        usable = (hi_t - lo_t) > 0.5 * (hi - lo)  # cells whose window the spec window does not cut
        far, near = [], []
        for r in range(4):
            first = parity if r % 2 == 0 else ~parity
            u = np.where(first, behind, ahead)
            dev.program(on_device(dev, (lo_t + u * (hi_t - lo_t)).astype(np.float32)))
            g0 = host(dev, dev.peek()).astype(np.float64)
            dev.pulse(on_device(dev, np.full(dev.shape, k), np.int64), d)
            moved = d * (host(dev, dev.peek()).astype(np.float64) - g0)
            far.append(moved[first & usable])
            near.append(moved[~first & usable])
        m_b, se_b = mean_and_se(np.concatenate(far))
        m_a, se_a = mean_and_se(np.concatenate(near))
        se = math.hypot(se_a, se_b)
        halfway = (1 + implied) / 2 * m_b
        measured = m_a / m_b if m_b > 0 else math.inf
        shrinks = implied < 1
        if (shrinks and m_a > halfway + z * se) or (not shrinks and m_a < halfway - z * se):
            fail(f"the spec declares nonlinearity_{word} = {labels[d]:g}, so {k}-pulse trains {word} should "
                 f"{'shrink' if shrinks else 'grow'} toward the bound they move to (~{implied:.2f} x the move far from "
                 f"it), but they measure {measured:.2f} x ({m_a:.4g} vs {m_b:.4g} uS, {sigmas(m_a - halfway, se)} "
                 f"past halfway): make _pulse follow the declared curve or declare "
                 f"nonlinearity_{word} = 0")
        notes.append(f"{word}: {measured:.2f} x (declared curve {implied:.2f} x)")
    return "; ".join(notes) or "nonlinearity too weak to judge"


@check("pulse_trains_match_single_pulses")
def pulse_trains_match_single_pulses(target):
    """pulse(count=n) moves like n calls of pulse(count=1): the same mean and the same cycle-to-cycle spread."""
    spec = target.spec
    long_n = int(min(max(math.ceil(0.15 * spec.range_us / spec.step_us), 6), 32))
    notes = []
    z = z_for(8)
    for n in (3, long_n):
        train, single = target.make(key=131), target.make(key=131)
        shape = train.shape
        parity = (np.arange(shape[0] * shape[1]).reshape(shape) + np.arange(shape[0])[:, None]) % 2
        moved = {"train": [], "single": []}
        directions = []
        for r in range(4):
            direction = np.where((parity + r) % 2 == 0, 1, -1)
            directions.append(direction)
            for name, dev in (("train", train), ("single", single)):
                dev.program(on_device(dev, mid_targets(dev)))
                g0 = host(dev, dev.peek()).astype(np.float64)
                signs = on_device(dev, direction, np.int8)
                if name == "train":
                    dev.pulse(on_device(dev, np.full(shape, n), np.int64), signs)
                else:
                    ones = on_device(dev, np.ones(shape), np.int64)
                    for _ in range(n):
                        dev.pulse(ones, signs)
                moved[name].append(direction * (host(dev, dev.peek()).astype(np.float64) - g0))
        a, b = np.stack(moved["train"]), np.stack(moved["single"])
        dirs = np.stack(directions)
        ftol = float32_tolerance(max(abs(spec.g_min_us), abs(spec.g_max_us))) * n
        for d, word in ((1, "up"), (-1, "down")):
            mask = dirs == d  # two rounds per cell in each direction
            ma = (a * mask).sum(axis=0) / 2
            mb = (b * mask).sum(axis=0) / 2
            diff, se = mean_and_se(ma - mb)
            scale = float(np.abs(mb).mean())
            if abs(diff) > z * se + 0.05 * scale + ftol:
                fail(f"pulse(count={n}) {word} moves {float(ma.mean()):.4g} uS on average but {n} single pulses move "
                     f"{float(mb.mean()):.4g} uS ({float(ma.mean()) / max(float(mb.mean()), 1e-300):.2f} x, "
                     f"{sigmas(diff, se)}): a train of n pulses must apply all n "
                     "pulses along the curve (fix _pulse for counts > 1)")
            xa = np.where(mask, a, 0.0)
            xb = np.where(mask, b, 0.0)
            wa = ((xa - ma) ** 2 * mask).sum(axis=0)  # within-cell scatter (one degree of freedom)
            wb = ((xb - mb) ** 2 * mask).sum(axis=0)
            va, vb = float(wa.mean()), float(wb.mean())
            dv, sev = mean_and_se(wa - wb)
            ratio = va / vb if vb > 0 else math.inf
            if vb > 0 and (va > SPREAD_RATIO * vb + z * sev or va < vb / SPREAD_RATIO - z * sev):
                fail(f"pulse(count={n}) {word}: repeated trains of one cell scatter by {math.sqrt(va):.4g} uS but {n} "
                     f"single pulses by {math.sqrt(vb):.4g} uS (variance {ratio:.2f} x): the noise of a train must "
                     "be that of its n pulses (independent per pulse: sqrt(n) x write_noise_us on a linear device); "
                     "fix _pulse for counts > 1")
        notes.append(f"n={n}: train {float(np.abs(a).mean()):.3g} vs single {float(np.abs(b).mean()):.3g} uS")
    return "; ".join(notes)


@check("long_trains_reach_bounds", requires=BOUNDS)
def long_trains_reach_bounds(target):
    """Long pulse trains take cells to their own window's ends (window_at), neither short of them nor past."""
    spec = target.spec
    dev = target.make(key=132)
    lo, hi = windows(dev)
    width = hi - lo
    pmax = spec.range_us / spec.step_us
    k = max(1, math.ceil(pmax / 16))  # pulses per train; trains repeated until 4 x the window is crossed
    trains = min(math.ceil(4 * pmax / k), 64)
    ftol = float32_tolerance(max(abs(spec.g_min_us), abs(spec.g_max_us)))
    notes = []
    for direction, word, bound in ((1, "up", hi), (-1, "down", lo)):
        counts = on_device(dev, np.full(dev.shape, k), np.int64)
        for _ in range(trains):
            dev.pulse(counts, direction)
            g = host(dev, dev.peek()).astype(np.float64)
            if ((g > hi + ftol) | (g < lo - ftol)).any():
                fail(f"pulse trains {word} took {int(((g > hi + ftol) | (g < lo - ftol)).sum())} cells outside "
                     "their own window (window_at)")
        noise = declared(dev, g.astype(np.float32), -direction)[1]
        gap = np.abs(bound - g) / np.maximum(width, 1e-30)
        allowed = 0.05 + 0.5 * math.sqrt(k) * float(np.median(noise / np.maximum(width, 1e-30)))
        median = float(np.median(gap))
        if median > allowed:
            fail(f"after {trains} trains of {k} pulses {word} the median cell stops {median:.1%} of its window short "
                 f"of its {'upper' if direction > 0 else 'lower'} bound (allowed {allowed:.1%}): the physics "
                 "saturates before the window window_at declares; make them agree")
        notes.append(f"{word}: median gap {median:.2%}")
    for direction, bound in ((1, hi), (-1, lo)):  # one huge request: the cap must not stop short
        dev.program(on_device(dev, mid_targets(dev)))
        dev.update(on_device(dev, np.full(dev.shape, direction * 10 * spec.range_us, np.float32)))
        g = host(dev, dev.peek()).astype(np.float64)
        median = float(np.median(np.abs(bound - g) / np.maximum(width, 1e-30)))
        noise = declared(dev, g.astype(np.float32), -direction)[1]
        cap = dev.max_update_pulses()
        # 15 %: soft bounds approach their bound only asymptotically, and a cap of about one window's
        # worth of nominal steps leaves them ~7 % short; a cap that really stops short leaves far more
        allowed = 0.15 + 0.5 * math.sqrt(cap or pmax) * float(np.median(noise / np.maximum(width, 1e-30)))
        if median > allowed:
            fail(f"update({'+' if direction > 0 else '-'}10 x window) from mid-window leaves the median cell "
                 f"{median:.1%} of its window short of its {'upper' if direction > 0 else 'lower'} bound (allowed "
                 f"{allowed:.1%}): max_update_pulses() = {cap} caps below what crossing the window takes")
    return "; ".join(notes)


@check("device_variation_as_declared")
def device_variation_as_declared(target):
    """A declared device-to-device spread is there: windows spread by about bounds_d2d, mean steps of
    cells by about step_d2d (at least half of each), up and down (up only for an abrupt RESET)."""
    from .writes import measure_single_steps

    spec = target.spec
    notes = []
    if spec.bounds_d2d > 0:
        dev = target.make(key=135)
        lo, hi = windows(dev)
        width = (hi - lo)[np.isfinite(hi - lo)]
        rel = float(np.std(width) / np.mean(width)) if width.size else 0.0
        if rel < 0.5 * spec.bounds_d2d:
            fail(f"the spec declares bounds_d2d = {spec.bounds_d2d:g} (window widths spread by ~{spec.bounds_d2d:.0%}) "
                 f"but the windows window_at reports spread by {rel:.1%}: draw per-cell windows in _init_cells and "
                 "report them in window_at, or declare bounds_d2d = 0")
        notes.append(f"window spread {rel:.1%} vs declared {spec.bounds_d2d:.0%}")
    if spec.step_d2d > 0:
        s = measure_single_steps(target, 136, "pulse", rounds=16)
        measured = []
        # a declared spread must show in both directions, except the RESET of an abrupt-reset cell (PCM),
        # which melts the cell to its low state whatever its SET step scale
        for d, word in ((1, "up"), (-1, "down"))[: 1 if spec.has(ABRUPT_RESET) else 2]:
            ok = s.usable & (s.step > 0) & (s.direction == d)
            ratio = np.where(ok, s.moved / np.where(s.step > 0, s.step, 1.0), np.nan)
            k = np.sum(np.isfinite(ratio), axis=0)
            keep = k >= 6
            if keep.sum() < 100:
                continue
            r = ratio[:, keep]
            kk = k[keep]
            mean = np.nanmean(r, axis=0)
            within = np.nansum((r - mean) ** 2, axis=0) / (kk - 1)
            grand_d = float(mean.mean())
            terms = (mean - grand_d) ** 2 - within / kk  # unbiased per-cell parts of the between-cell variance
            between_d, se_d = mean_and_se(terms)
            measured.append((word, between_d, se_d, grand_d))
        if not measured:
            return "; ".join(notes + ["too few cells written repeatedly to measure the step spread"])
        z = z_for(len(measured))
        for word, between, se, grand in measured:
            declared_var = math.expm1(spec.step_d2d**2) * grand**2
            if between < 0.5 * declared_var - z * se:
                fail(f"the spec declares step_d2d = {spec.step_d2d:g} (cells' mean steps spread by ~{spec.step_d2d:.0%}) "
                     f"but their {word} steps spread by {math.sqrt(max(between, 0)) / max(grand, 1e-30):.1%} "
                     f"({sigmas(0.5 * declared_var - between, se)} below half the declared variance): scale each "
                     "cell's step in _pulse (both directions) by a per-cell factor drawn in _init_cells, or declare "
                     "step_d2d = 0")
            notes.append(f"{word} step spread {math.sqrt(max(between, 0)) / max(grand, 1e-30):.1%} vs declared "
                         f"{spec.step_d2d:.0%}")
    return "; ".join(notes) or "no device-to-device spread declared"


PROBABILITIES = (0.05, 0.1, 0.2, 0.3, 1 / 3, 0.45, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)


@check("probabilistic_at_many_p", requires=NATIVE_PROBABILISTIC)
def probabilistic_at_many_p(target):
    """pulse_probabilistic(p) switches a movable cell with probability p, at dyadic and non-dyadic p alike."""
    dev = target.make(key=133)
    rng = _rng(target, 133)
    mid = mid_targets(dev)
    hits = {p: [] for p in PROBABILITIES}
    where = {p: [] for p in PROBABILITIES}
    cell_id = np.arange(dev.g.size).reshape(dev.shape)
    for _ in range(12):
        dev.program(on_device(dev, mid))
        g0 = host(dev, dev.peek())
        signs = rng.choice([-1, 1], dev.shape)
        movable = np.where(signs > 0, declared(dev, g0, 1)[0], declared(dev, g0, -1)[0]) > 0
        which = rng.integers(0, len(PROBABILITIES), dev.shape)
        probs = np.asarray(PROBABILITIES, np.float32)[which]
        dev.pulse_probabilistic(on_device(dev, probs), on_device(dev, signs, np.int8))
        changed = host(dev, dev.peek()) != g0
        for k, p in enumerate(PROBABILITIES):
            cells = (which == k) & movable
            hits[p].append(changed[cells])
            where[p].append(cell_id[cells])
    z = z_for(len(PROBABILITIES))
    notes = []
    for p in PROBABILITIES:
        h, c = np.concatenate(hits[p]), np.concatenate(where[p])
        if h.size < 100:
            continue
        frac, se = clustered_fraction(h, c, p)
        bound = z * se + 1 / h.size
        if abs(frac - p) > bound:
            fail(f"pulse_probabilistic(p = {p:.3g}) switched {frac:.3f} of {h.size} movable cells, expected {p:.3f} "
                 f"(off by {frac - p:+.3f}, {sigmas(frac - p, se)}; allowed +-{bound:.3f}): realise "
                 "every requested probability, not only dyadic ones")
        notes.append(f"{p:.2g}->{frac:.3f}")
    return "switched " + ", ".join(notes)
