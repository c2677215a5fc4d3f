"""Small statistics for the checks: tolerances come from the sample size, never magic numbers.

Every comparison allows ``Z`` standard errors. With seeded inputs and Z = 5, an honest
backend fails a single comparison with probability below 1e-6, so the suite does not
flake, while a broken promise of a few per cent is caught by the large samples.
"""

from __future__ import annotations

import math

import numpy as np

Z = 5.0  # standard errors allowed in every statistical comparison


def mean_and_se(values) -> tuple[float, float]:
    """Sample mean and its standard error (sample std / sqrt(n))."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size < 2:
        return (float(v.mean()) if v.size else math.nan), math.inf
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size))


def binomial_bound(p: float, n: int) -> float:
    """Allowed |observed fraction - p| for n Bernoulli(p) trials (Z standard errors, >= 1 count)."""
    return Z * math.sqrt(max(p * (1 - p), 1.0 / n) / n) + 1.0 / n


def float32_tolerance(scale) -> float:
    """Rounding allowance for float32 arithmetic on values of magnitude ``scale``."""
    return 64 * float(np.finfo(np.float32).eps) * max(float(scale), 1e-30)


#: false-alarm budget of one check on one preset and base seed, shared by all its comparisons
FAMILY_ALPHA = 1e-7


def z_for(comparisons: int, alpha: float = FAMILY_ALPHA) -> float:
    """Two-sided z allowed per comparison so ``comparisons`` of them together raise a false alarm
    with probability below ``alpha`` (Bonferroni); never below :data:`Z`."""
    from statistics import NormalDist

    return max(Z, NormalDist().inv_cdf(1 - alpha / (2 * max(int(comparisons), 1))))


def clustered_fraction(hits, cells, p: float) -> tuple[float, float]:
    """Fraction of ``hits`` (bool samples) and its standard error when samples come in clusters
    (``cells``: the cell each sample is from), so a cell's own probability counts once.

    The sandwich estimate: per cluster the summed residual (hit - p); SE = sqrt(sum of their
    squares) / samples, never below the binomial SE of independent samples."""
    hits = np.asarray(hits, dtype=np.float64).ravel()
    cells = np.asarray(cells).ravel()
    n = hits.size
    if n == 0:
        return math.nan, math.inf
    _, inverse = np.unique(cells, return_inverse=True)
    residual = np.bincount(inverse, weights=hits - p)
    se = math.sqrt(float((residual**2).sum())) / n
    return float(hits.mean()), max(se, math.sqrt(max(p * (1 - p), 1 / n) / n))


def sigmas(deviation: float, se: float) -> str:
    """A deviation in plain terms: "12.3 standard errors", or "far beyond the sampling error"
    when the sample has (almost) no spread, so no meaningless huge numbers reach a message."""
    if not (se > 0 and math.isfinite(se)) or abs(deviation) / se > 1000:
        return "far beyond the sampling error"
    return f"{abs(deviation) / se:.1f} standard errors"
