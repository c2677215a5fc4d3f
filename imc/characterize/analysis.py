"""Pulse-response statistics shared by device characterisation and fitting.

Input is a list of :class:`Sweep` (one cell's conductance after each pulse of one
direction). Output is per-conductance-bin statistics of the step and the write noise:

- **step**: the mean change per pulse in the sweep's direction (positive = moved the way
  it was pushed), its standard error clustered by cell (a cell's own step scale makes its
  steps correlated);
- **write noise** (cycle-to-cycle, per pulse): von Neumann's successive-difference
  estimator, which cancels each cell's own mean step (device-to-device spread) and slow
  trends. With accumulating noise e_k (std sigma) and a mean step mu(G) of slope
  s = dmu/d(position along the motion), D_k = dG_{k+1} - dG_k has
  E[D^2] = (s mu)^2 + sigma^2 (1 + (1 - s)^2), which is solved for sigma.

A cell that sits at a bound (the sweep's extreme repeated) is not being written: steps
that start there are dropped. States are exact (simulation) or as measured (CSV).
"""

from __future__ import annotations

import attrs
import numpy as np


@attrs.frozen(eq=False)
class Sweep:
    """Conductances (uS) of one cell after each pulse of one direction (+1 up, -1 down)."""

    cell: object
    direction: int
    pulses: np.ndarray  # strictly increasing pulse numbers
    g_us: np.ndarray


@attrs.frozen(eq=False)
class Records:
    """Flat per-step and per-step-pair records of many sweeps (numpy float64)."""

    step_g: np.ndarray  # state before the step, uS
    step: np.ndarray  # change per pulse in the sweep's direction, uS
    step_cell: np.ndarray  # cluster code
    step_dir: np.ndarray
    pair_g: np.ndarray  # state between the two steps of a pair, uS
    pair_d: np.ndarray  # difference of the two steps, uS
    pair_cell: np.ndarray
    pair_dir: np.ndarray


@attrs.frozen
class BinStats:
    """Statistics of one direction in one conductance bin (uS)."""

    direction: int
    g_lo_us: float
    g_hi_us: float
    g_mean_us: float  # mean state of the steps in the bin
    n_steps: int
    n_cells: int
    step_us: float
    step_se_us: float
    n_pairs: int
    noise_us: float
    noise_se_us: float


def records(sweeps: list[Sweep]) -> Records:
    """Steps and successive step pairs of every sweep, without steps from a bound."""
    codes = {}
    parts = {k: [] for k in attrs.fields_dict(Records)}
    for sw in sweeps:
        g = np.asarray(sw.g_us, dtype=np.float64)
        p = np.asarray(sw.pulses, dtype=np.float64)
        if g.size < 2:
            continue
        code = codes.setdefault(sw.cell, len(codes))
        gap = np.diff(p)
        dg = np.diff(g) * sw.direction / gap
        extreme = g.max() if sw.direction > 0 else g.min()
        at_extreme = g == extreme
        at_bound = at_extreme if at_extreme.sum() >= 2 else np.zeros_like(at_extreme)
        valid = ~at_bound[:-1]
        parts["step_g"].append(g[:-1][valid])
        parts["step"].append(dg[valid])
        n = int(valid.sum())
        parts["step_cell"].append(np.full(n, code))
        parts["step_dir"].append(np.full(n, sw.direction))
        ok = valid[:-1] & valid[1:] & (gap[:-1] == 1) & (gap[1:] == 1)
        parts["pair_g"].append(g[1:-1][ok])
        parts["pair_d"].append((dg[1:] - dg[:-1])[ok])
        m = int(ok.sum())
        parts["pair_cell"].append(np.full(m, code))
        parts["pair_dir"].append(np.full(m, sw.direction))
    empty = {"step_cell": np.int64, "pair_cell": np.int64, "step_dir": np.int64, "pair_dir": np.int64}
    return Records(**{
        k: np.concatenate(v) if v else np.zeros(0, dtype=empty.get(k, np.float64)) for k, v in parts.items()
    })


def bin_index(g, edges) -> np.ndarray:
    """Bin of each state; states beyond the edges count in the first / last bin."""
    nb = len(edges) - 1
    return np.clip(np.searchsorted(edges, g, side="right") - 1, 0, nb - 1)


def clustered_mean(values, clusters) -> tuple[float, float]:
    """Mean and its standard error with observations correlated within clusters."""
    values = np.asarray(values, dtype=np.float64)
    n = values.size
    if n == 0:
        return float("nan"), float("nan")
    mean = float(values.mean())
    _, inverse = np.unique(clusters, return_inverse=True)
    c = int(inverse.max()) + 1
    if c < 2:  # one cell: nothing to cluster on, use the i.i.d. error
        se = float(values.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
        return mean, se
    resid = np.bincount(inverse, weights=values - mean, minlength=c)
    return mean, float(np.sqrt(c / (c - 1) * (resid**2).sum()) / n)


def bin_statistics(rec: Records, edges, direction: int, min_count: int = 2) -> list[BinStats]:
    """Per-bin step and write-noise statistics of one direction (bins from ``edges``, uS)."""
    edges = np.asarray(edges, dtype=np.float64)
    nb = edges.size - 1
    sel = rec.step_dir == direction
    sg, sv, sc = rec.step_g[sel], rec.step[sel], rec.step_cell[sel]
    psel = rec.pair_dir == direction
    pg, pd, pc = rec.pair_g[psel], rec.pair_d[psel], rec.pair_cell[psel]
    sbin = bin_index(sg, edges)
    pbin = bin_index(pg, edges)
    step = np.full(nb, np.nan)
    step_se = np.full(nb, np.nan)
    g_mean = np.full(nb, np.nan)
    for b in range(nb):
        m = sbin == b
        if m.sum() >= min_count:
            step[b], step_se[b] = clustered_mean(sv[m], sc[m])
            g_mean[b] = sg[m].mean()
    # slope of the mean step along the direction of motion, for the noise estimator
    slope = np.zeros(nb)
    ok = np.isfinite(step)
    if ok.sum() >= 2:
        slope[ok] = direction * np.gradient(step[ok], g_mean[ok])
    out = []
    for b in range(nb):
        m = sbin == b
        pm = pbin == b
        noise = noise_se = np.nan
        if pm.sum() >= min_count and np.isfinite(step[b]):
            d2, d2_se = clustered_mean(pd[pm] ** 2, pc[pm])
            s = float(np.clip(slope[b], -0.9, 0.9))
            denom = 1 + (1 - s) ** 2
            var = max((d2 - (s * step[b]) ** 2) / denom, 0.0)
            noise = float(np.sqrt(var))
            noise_se = float(d2_se / denom / (2 * noise)) if noise > 0 else float(np.sqrt(d2_se / denom))
        out.append(
            BinStats(
                direction=direction,
                g_lo_us=float(edges[b]),
                g_hi_us=float(edges[b + 1]),
                g_mean_us=float(g_mean[b]),
                n_steps=int(m.sum()),
                n_cells=int(np.unique(sc[m]).size),
                step_us=float(step[b]),
                step_se_us=float(step_se[b]),
                n_pairs=int(pm.sum()),
                noise_us=noise,
                noise_se_us=float(noise_se),
            )
        )
    return out


def pulses_across(sweeps: list[Sweep], fraction: float = 0.99) -> dict[int, float]:
    """Median pulses a sweep needs to cover ``fraction`` of its swing, per direction."""
    out = {}
    for direction in (1, -1):
        counts = []
        for sw in sweeps:
            if sw.direction != direction or len(sw.g_us) < 2:
                continue
            g = np.asarray(sw.g_us, dtype=np.float64) * direction
            swing = g.max() - g[0]
            if swing <= 0:
                continue
            k = int(np.argmax(g - g[0] >= fraction * swing))
            counts.append(float(sw.pulses[k] - sw.pulses[0]))
        out[direction] = float(np.median(counts)) if counts else float("nan")
    return out


def distinct_states(sweeps: list[Sweep], resolution_us: float) -> float:
    """Median number of distinct conductances a cell visits (at ``resolution_us``)."""
    per_cell: dict[object, set] = {}
    for sw in sweeps:
        keys = np.rint(np.asarray(sw.g_us, dtype=np.float64) / resolution_us).astype(np.int64)
        per_cell.setdefault(sw.cell, set()).update(keys.tolist())
    return float(np.median([len(v) for v in per_cell.values()])) if per_cell else float("nan")
