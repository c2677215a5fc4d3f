"""Measuring open-loop writes: many single-step writes from mid-window, with their residuals.

Every round programs the cells back to the middle of their own window, then asks each cell
for one declared step, up or down (a checkerboard that flips each round, so every cell is
measured in both directions). A write's residual is ``direction * dG - declared_step(g0)``.

Statistics are taken away from the bounds: a sample counts only when the cell started at
least one declared step plus ``NOISE_MARGIN`` declared noise standard deviations from both
ends of its own window, so clipping at a bound biases the mean by less than 1e-5 noise
standard deviations. The margin is kept that small on purpose: every cell excluded for a
narrow window skews the population (cells with wide windows take larger steps). Coarse
multi-level devices (a few levels per window, e.g. multi-MTJ MRAM) move by whole levels and
cannot overshoot a bound the way Gaussian noise does; when the Gaussian margin would leave
fewer than half the cells, a sample counts if the cell started at least one declared step
from the bound it moves towards.

Write noise is judged against two measured figures: the cycle-to-cycle scatter (the spread
of one cell's repeated writes, so device-to-device spread cancels) must not exceed the
declared noise, and the total scatter around the declared step (device-to-device spread
included) must not fall short of it. A backend may declare either figure honestly; an
understated or overstated noise fails. Cells that never move (stuck cells) are excluded when the backend
declares the ``faults`` capability, and their fraction is checked against the declared
stuck-cell rates instead; a backend that does not declare faults gets no such exclusion.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from imc.spec import FAULTS

from .probes import declared, host, mid_targets, on_device, windows
from .stats import Z, binomial_bound, float32_tolerance, sigmas

ROUNDS = 8
NOISE_MARGIN = 4.0  # noise standard deviations between a measured cell and its bounds


@attrs.frozen
class WriteSamples:
    """Per-round, per-cell arrays (rounds x cells) from :func:`measure_single_steps`."""

    residual: np.ndarray  # direction * dG - declared step, uS
    moved: np.ndarray  # direction * dG, uS
    step: np.ndarray  # declared step at the starting state, uS
    noise_var: np.ndarray  # declared write noise squared, uS^2
    direction: np.ndarray  # +1 / -1
    usable: np.ndarray  # far enough from the bounds, not stuck
    stuck: np.ndarray  # per cell: never moved in any usable round
    scale_us: float  # largest |g| seen, for float32 rounding allowances


def measure_single_steps(target, key: int, op: str, rounds: int = ROUNDS) -> WriteSamples:
    """Apply ``rounds`` single declared steps per cell with ``op`` ("update" or "pulse")."""
    dev = target.make(key)
    lo, hi = windows(dev)
    mid = mid_targets(dev)
    parity = (np.arange(mid.size).reshape(dev.shape) + np.arange(dev.shape[0])[:, None]) % 2
    shape = (rounds, mid.size)
    out = {k: np.zeros(shape) for k in ("residual", "moved", "step", "noise_var", "direction")}
    usable = np.zeros(shape, dtype=bool)
    scale = 0.0
    for r in range(rounds):
        dev.program(on_device(dev, mid))
        g0 = host(dev, dev.peek())
        direction = np.where((parity + r) % 2 == 0, 1, -1)
        up_step, up_noise = declared(dev, g0, 1)
        dn_step, dn_noise = declared(dev, g0, -1)
        step = np.where(direction > 0, up_step, dn_step)
        noise = np.where(direction > 0, up_noise, dn_noise)
        if op == "update":
            dev.update(on_device(dev, (direction * step).astype(np.float32)))
        else:
            dev.pulse(on_device(dev, np.ones(dev.shape), np.int64), on_device(dev, direction, np.int8))
        g1 = host(dev, dev.peek())
        moved = direction * (g1.astype(np.float64) - g0.astype(np.float64))
        margin = np.maximum(up_step, dn_step) + NOISE_MARGIN * np.maximum(up_noise, dn_noise)
        ok = (g0 - lo >= margin) & (hi - g0 >= margin) & (step > 0)
        if ok.mean() < 0.5:  # coarse levels: only the bound ahead matters, by one step
            room = np.where(direction > 0, hi - g0, g0 - lo)
            ok = (room >= step) & (step > 0)
        scale = max(scale, float(np.abs(g0).max()), float(np.abs(g1).max()))
        for name, value in (("residual", moved - step), ("moved", moved), ("step", step),
                            ("noise_var", noise**2), ("direction", direction)):
            out[name][r] = value.reshape(-1)
        usable[r] = ok.reshape(-1)
    never_moved = ~((out["moved"] != 0) & usable).any(axis=0) & usable.any(axis=0)
    stuck = never_moved if target.spec.has(FAULTS) else np.zeros_like(never_moved)
    return WriteSamples(usable=usable & ~stuck[None, :], stuck=stuck, scale_us=scale, **out)


def judge_single_steps(samples: WriteSamples, spec, what: str) -> str:
    """Fail unless direction, mean step and write noise match the declaration; return a note."""
    from .registry import fail

    s = samples
    n_cells = s.usable.shape[1]
    used_cells = int(s.usable.any(axis=0).sum())
    if used_cells < n_cells / 4:
        fail(
            f"{what}: only {used_cells} of {n_cells} cells start far enough from their bounds "
            f"(one step + {NOISE_MARGIN:g} noise std) to measure a step; the declared step or noise is too large for the window"
        )
    if spec.has(FAULTS):
        p = spec.stuck_low_prob + spec.stuck_high_prob
        frac = float(s.stuck.mean())
        if frac > p + binomial_bound(p, n_cells):
            fail(
                f"{what}: {frac:.2%} of cells never moved, more than the declared stuck fraction "
                f"{p:.2%} allows (+{binomial_bound(p, n_cells):.2%} for {n_cells} cells)"
            )
    ftol = float32_tolerance(s.scale_us)
    notes = []
    for direction, word in ((1, "up"), (-1, "down")):
        mask = s.usable & (s.direction == direction)
        k = mask.sum(axis=0)
        cells = k >= 1
        moved_cell = (s.moved * mask).sum(axis=0)[cells] / k[cells]
        res_cell = (s.residual * mask).sum(axis=0)[cells] / k[cells]
        step_mean = float(s.step[mask].mean())
        m_moved, se_moved = _cluster_mean(moved_cell)
        if m_moved + Z * se_moved + ftol < 0:
            fail(
                f"{what}: cells asked to move {word} moved the other way on average "
                f"({direction * m_moved:+.4g} uS per step, SE {se_moved:.2g})"
            )
        bias, se = _cluster_mean(res_cell)
        if abs(bias) > Z * se + ftol:
            fail(
                f"{what}: the mean {word} step is {step_mean + bias:.4g} uS but the device declares "
                f"{step_mean:.4g} uS (bias {bias / step_mean:+.1%}, {sigmas(bias, se)} "
                f"over {int(cells.sum())} cells; allowed {Z:g} SE): make declared_step_us (spec step_us, "
                "asymmetry) match what _pulse/_update do"
            )
        notes.append(f"{word} step {step_mean + bias:.4g} uS vs declared {step_mean:.4g} ({sigmas(bias, se)})")
        notes.append(_judge_noise(s, mask, k, word, what, ftol))
    return "; ".join(notes)


def _cluster_mean(cell_values) -> tuple[float, float]:
    """Mean over cells and its standard error from the spread between cells."""
    v = np.asarray(cell_values, dtype=np.float64)
    if v.size < 2:
        return float(v.mean()) if v.size else 0.0, math.inf
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size))


def _judge_noise(s: WriteSamples, mask, k, word: str, what: str, ftol: float) -> str:
    """Declared noise between the cycle-to-cycle scatter and the total scatter (see module doc)."""
    from .registry import fail

    cells = k >= 2
    if cells.sum() < 2:
        fail(f"{what}: too few cells written twice {word} to measure the write noise")
    kk = k[cells]
    res = np.where(mask, s.residual, 0.0)[:, cells]
    m = mask[:, cells]
    cell_mean = res.sum(axis=0) / kk
    within = (((res - cell_mean) * m) ** 2).sum(axis=0) / (kk - 1)
    total = (res * res * m).sum(axis=0) / kk
    declared_var = (s.noise_var[:, cells] * m).sum(axis=0) / kk
    c2c = math.sqrt(float(within.mean()))
    if float(declared_var.max()) == 0.0:
        if c2c > ftol:
            fail(f"{what}: the device declares no write noise but repeated {word} writes scatter by {c2c:.3g} uS")
        return f"{word} noise 0 as declared"
    has = declared_var > 0
    declared_std = math.sqrt(float(declared_var.mean()))
    low, se_low = _cluster_mean(within[has] / declared_var[has])
    if low - 1 > Z * se_low:
        fail(
            f"{what}: repeated {word} writes of one cell scatter by {math.sqrt(low):.3f} x the declared write noise "
            f"(cycle-to-cycle {c2c:.4g} uS vs declared {declared_std:.4g} uS; variance ratio {low:.3f}, "
            f"{sigmas(low - 1, se_low)} over {int(cells.sum())} cells; allowed {Z:g} SE): "
            "the write noise is understated (raise write_noise_us / declared_write_noise_us)"
        )
    high, se_high = _cluster_mean(total[has] / declared_var[has])
    if 1 - high > Z * se_high:
        fail(
            f"{what}: {word} writes scatter around the declared step by only {math.sqrt(max(high, 0)):.3f} x the "
            f"declared write noise (variance ratio {high:.3f}, {sigmas(1 - high, se_high)} over "
            f"{int(cells.sum())} cells; allowed {Z:g} SE): the write noise is overstated (lower write_noise_us / declared_write_noise_us)"
        )
    return (
        f"{word} noise: cycle-to-cycle {math.sqrt(low):.3f} ({(low - 1) / se_low:+.1f} SE), "
        f"total {math.sqrt(high):.3f} ({(high - 1) / se_high:+.1f} SE) x declared"
    )
