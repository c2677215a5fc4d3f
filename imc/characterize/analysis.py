"""Pulse-response statistics shared by device characterisation and fitting.

Input is a list of :class:`Sweep` (one cell's conductance after each pulse of one
direction). Output is per-conductance-bin statistics of the step and the write noise:

- **step**: the mean change per pulse in the sweep's direction (positive = moved the way
  it was pushed), its standard error clustered by cell (a cell's own step scale makes its
  steps correlated);
- **noise, split in two** (per pulse): the *accumulating* write noise w (std ``noise_us``:
  it moves the state and every later pulse starts from where it left it) and the
  *non-accumulating* noise e (std ``offset_us``: read / measurement noise, or relaxation
  back towards the state; each measured value carries a fresh one that the next pulse does
  not inherit). Model: measured M_k = G_k + e_k with G_k = G_{k-1} + mu(G_{k-1}) + w_k. The
  step residual r_k = dM_k - mu(M_{k-1}) (mu from the binned mean steps) is
  w_k + e_k - q e_{k-1} with q = 1 + s, s = dmu/d(position along the motion), so
  var(r) = sw^2 + (1 + q^2) se^2, cov(r_k, r_{k+1}) = -q se^2 and cov(r_k, r_{k+j}) = 0 for
  j >= 2. Residuals are taken about each sweep's own mean, and the mean covariance at lags
  2-4 is the baseline both others are measured from: a per-sweep step bias (device-to-device
  step scale, cycle-to-cycle drift) adds about the same amount at every short lag and cancels. Standard
  errors: delete-one-sweep jackknife. Assumptions: w and e independent, Gaussian-like,
  i.i.d. per pulse; e of one std over the bin; whole-pulse gaps (other gaps are skipped).

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
    step_sweep: np.ndarray  # which sweep the step belongs to (jackknife cluster)
    step_next: np.ndarray  # bool: the next record is the next single-pulse step of this sweep
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
    noise_us: float  # accumulating write noise per pulse
    noise_se_us: float
    offset_us: float  # non-accumulating noise (read / measurement / relaxation)
    offset_se_us: float


def records(sweeps: list[Sweep]) -> Records:
    """Steps and successive step pairs of every sweep, without steps from a bound."""
    codes = {}
    parts = {k: [] for k in attrs.fields_dict(Records)}
    for number, sw in enumerate(sweeps):
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
        parts["step_sweep"].append(np.full(n, number))
        single = gap == 1
        nxt = np.zeros(valid.size, dtype=bool)
        nxt[:-1] = valid[1:] & single[:-1] & single[1:]
        parts["step_next"].append(nxt[valid])
        ok = valid[:-1] & valid[1:] & (gap[:-1] == 1) & (gap[1:] == 1)
        parts["pair_g"].append(g[1:-1][ok])
        parts["pair_d"].append((dg[1:] - dg[:-1])[ok])
        m = int(ok.sum())
        parts["pair_cell"].append(np.full(m, code))
        parts["pair_dir"].append(np.full(m, sw.direction))
    empty = {"step_cell": np.int64, "pair_cell": np.int64, "step_dir": np.int64, "pair_dir": np.int64,
             "step_sweep": np.int64, "step_next": bool}
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


@attrs.frozen(eq=False)
class Products:
    """Residual products of one direction: squares (lag 0) and lag-1 / lag-2 cross
    products, each with the state it is binned by (uS) and its jackknife cluster."""

    lag: tuple  # per lag 0 ... BASE[-1]: (values uS^2, state uS, cluster)

    def select(self, lo: float, hi: float, last: bool = False) -> Products:
        """The products whose state lies in [lo, hi) ([lo, hi] when ``last``)."""
        out = []
        for v, g, c in self.lag:
            m = (g >= lo) & ((g <= hi) if last else (g < hi))
            out.append((v[m], g[m], c[m]))
        return Products(tuple(out))

    def __add__(self, other: Products) -> Products:
        return Products(tuple(tuple(np.concatenate([a, b]) for a, b in zip(x, y)) for x, y in zip(self.lag, other.lag)))


BASELINE_LAGS = (2, 3, 4)  # the model gives these no covariance: their mean is the baseline
BLOCK = 32  # steps per jackknife block when a bin holds too few sweeps to cluster on
MIN_SWEEPS = 8


def residual_products(rec: Records, direction: int, grid_us, step_us) -> Products:
    """Products of the step residuals about the mean-step table (``grid_us``, ``step_us``),
    each sweep's residuals taken about their own mean (see the module docstring)."""
    sel = np.flatnonzero(rec.step_dir == direction)
    g, sweep, nxt = rec.step_g[sel], rec.step_sweep[sel], rec.step_next[sel]
    r = rec.step[sel] - np.interp(g, grid_us, step_us)
    lags = range(BASELINE_LAGS[-1] + 1)
    if r.size == 0:
        empty = (np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64))
        return Products(tuple(empty for _ in lags))
    _, inverse, counts = np.unique(sweep, return_inverse=True, return_counts=True)
    r = r - (np.bincount(inverse, weights=r) / counts)[inverse]
    if np.unique(sweep).size >= MIN_SWEEPS:
        cluster = sweep
    else:
        position = np.arange(r.size) - np.concatenate([[0], np.cumsum(counts)])[inverse]
        cluster = sweep * 1_000_000 + position // BLOCK
    out, start = [(r * r, g, cluster)], np.arange(r.size)
    for lag in lags[1:]:
        start = start[nxt[start + lag - 1]] if start.size else start  # the last step of a sweep has no next
        out.append((r[start] * r[start + lag], g[start + (lag + 1) // 2], cluster[start]))
    return Products(tuple(out))


def _split(m0, m1, *base, q=1.0):
    """(accumulating, non-accumulating) variances from the lag means (see the module docstring)."""
    m2 = sum(base) / len(base)
    off = (m2 - m1) / q
    return m0 - m2 - (1 + q * q) * off, off


def split_noise(products: Products, q: float = 1.0) -> tuple[float, float, float, float]:
    """(noise, noise s.e., offset, offset s.e.) in uS from residual products; ``q`` is
    1 + the slope of the mean step along the motion. Standard errors: delete-one-cluster
    jackknife on the variances, then the delta method (sqrt)."""
    values = [v for v, _, _ in products.lag]
    groups = [c for _, _, c in products.lag]
    if min(v.size for v in values) < 2:
        return (float("nan"),) * 4
    q = float(np.clip(q, 0.1, 1.9))
    var_w, var_e = _split(*(float(v.mean()) for v in values), q=q)
    clusters, inverse = np.unique(np.concatenate(groups), return_inverse=True)
    k = clusters.size
    se_w = se_e = float("nan")
    if k >= 2:
        parts = np.split(inverse, np.cumsum([c.size for c in groups[:-1]]))
        loo = []
        for v, idx in zip(values, parts):
            total = np.bincount(idx, weights=v, minlength=k)
            count = np.bincount(idx, minlength=k)
            with np.errstate(invalid="ignore", divide="ignore"):
                loo.append((v.sum() - total) / (v.size - count))
        jw, je = _split(*loo, q=q)
        fine = np.isfinite(jw) & np.isfinite(je)
        n = int(fine.sum())
        if n >= 2:
            se_w = float(np.sqrt((n - 1) / n * ((jw[fine] - jw[fine].mean()) ** 2).sum()))
            se_e = float(np.sqrt((n - 1) / n * ((je[fine] - je[fine].mean()) ** 2).sum()))

    def root(var, se):
        value = float(np.sqrt(max(var, 0.0)))
        return value, (se / (2 * value) if value > 0 and se < 2 * var else float(np.sqrt(se)))

    noise, noise_se = root(var_w, se_w)
    offset, offset_se = root(var_e, se_e)
    return noise, noise_se, offset, offset_se


def bin_statistics(rec: Records, edges, direction: int, min_count: int = 2) -> list[BinStats]:
    """Per-bin step and noise statistics of one direction (bins from ``edges``, uS)."""
    edges = np.asarray(edges, dtype=np.float64)
    nb = edges.size - 1
    sel = rec.step_dir == direction
    sg, sv, sc = rec.step_g[sel], rec.step[sel], rec.step_cell[sel]
    sbin = bin_index(sg, edges)
    pbin = bin_index(rec.pair_g[rec.pair_dir == direction], edges)
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
    products = residual_products(rec, direction, g_mean[ok], step[ok]) if ok.any() else None
    out = []
    for b in range(nb):
        m = sbin == b
        noise = noise_se = offset = offset_se = float("nan")
        if products is not None and np.isfinite(step[b]):
            lo = -np.inf if b == 0 else edges[b]
            hi = np.inf if b == nb - 1 else edges[b + 1]
            noise, noise_se, offset, offset_se = split_noise(products.select(lo, hi), 1 + slope[b])
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
                n_pairs=int((pbin == b).sum()),
                noise_us=noise,
                noise_se_us=noise_se,
                offset_us=offset,
                offset_se_us=offset_se,
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
