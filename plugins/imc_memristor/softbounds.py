"""Soft-bounds cells: the step of a pulse shrinks linearly to zero at the bound it moves towards.

The law of aihwkit's ``SoftBoundsDevice`` (its ``LinearStep`` update with slope 1 and
multiplicative cycle-to-cycle noise), written in conductances. With ``G_ref`` the middle of
the nominal window (weight 0 in the "reference" mapping) and a cell's own bounds
``lo <= G_ref <= hi``, one pulse changes a cell by

    up:   dG = +s_up   * (hi - G) / (hi - G_ref)   * (1 + step_c2c * xi)
    down: dG = -s_down * (G - lo) / (G_ref - lo)   * (1 + step_c2c * xi)

and the result is clipped to [lo, hi]. ``s_up = step_us * (1 + asymmetry) * k`` and
``s_down = step_us * (1 - asymmetry) * k`` are the cell's steps at ``G_ref``, with ``k`` its
lognormal step scale (mean 1, spread ``step_d2d``). A cell's half-window (the distance of
both bounds from ``G_ref``) is the nominal one times ``h = 1 + bounds_d2d * xi`` (at least
0.1): aihwkit's ``w_max_dtod`` / ``w_min_dtod``, relative to the distance from weight 0,
except that aihwkit draws the two bounds independently and imc draws one factor for both.
Either way weight 0 is every cell's symmetry point (equal up and down steps); one factor
keeps each cell's middle at ``G_ref``, so a state-only declaration of the mean step holds
for cells in the middle of their own windows too (with independent bounds the cells there
step 7 % more than any declaration in G alone can say, at 30 % spread). Cells start at
``G_ref`` (weight 0), as aihwkit's weights do.

The distance to the bound a cell moves towards shrinks by the factor
``1 - kappa (1 + step_c2c xi)`` per pulse (``kappa = s / (bound - G_ref)``), so ``n`` pulses
are drawn in one go with the exact mean and variance of that product:
mean ``m^n`` and variance ``q^n - m^(2n)``, ``m = 1 - kappa``, ``q = m^2 + (kappa step_c2c)^2``
(Gaussian; exact for one pulse). ``write_noise_us`` is derived: ``step_c2c * step_us``, the
declared noise at ``G_ref`` (any value given is replaced).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import ClassVar

import attrs
import numpy as np

from imc.spec import DeviceSpec, float_field, non_negative
from imc.variation import VariedDevice


@attrs.frozen(kw_only=True)
class SoftBoundsSpec(DeviceSpec):
    """DeviceSpec plus the relative cycle-to-cycle spread of a pulse (``write_noise_us`` is derived)."""

    step_c2c: float = float_field(
        0.3, non_negative, doc="cycle-to-cycle std of one pulse's change, relative to its mean (aihwkit dw_min_std)"
    )
    derived_fields: ClassVar[Mapping[str, str]] = {"write_noise_us": "step_c2c x step_us: set step_c2c"}

    def __attrs_post_init__(self):
        object.__setattr__(self, "write_noise_us", self.step_c2c * self.step_us)
        super().__attrs_post_init__()

    @property
    def g_ref_us(self) -> float:
        """The middle of the nominal window: weight 0, where the declared step is ``step_us``."""
        return (self.g_min_us + self.g_max_us) / 2


class SoftBoundsDevice(VariedDevice):
    """A crossbar of soft-bounds cells; see the module docstring."""

    internal_path = True  # first-party: the library may drive the hooks without re-validation

    def _draw_window(self):
        s, xp, c, shape = self.spec, self.xp, self.compute, self.shape
        half = np.float32(s.range_us / 2)
        ref = np.float32(s.g_ref_us)
        lo = xp.full(shape, ref - half, dtype=np.float32)
        hi = xp.full(shape, ref + half, dtype=np.float32)
        if s.bounds_d2d > 0:
            h = half * xp.maximum(1 + np.float32(s.bounds_d2d) * c.normal(shape), np.float32(0.1))
            lo, hi = xp.maximum(ref - h, np.float32(0)), ref + h
        return lo, hi

    def _init_cells(self) -> None:
        super()._init_cells()
        ref = self.xp.full(self.shape, self.spec.g_ref_us, dtype=np.float32)
        self.g = self._pin(ref, self.cell["g_lo"], self.cell["g_hi"], self.cell["stuck"])

    def max_update_pulses(self) -> int:
        """Pulses a constant step would need to cross the nominal window; near a bound more move little."""
        return math.ceil(self.spec.range_us / self.spec.step_us)

    # -- physics -------------------------------------------------------------------
    def _pulse(self, g, idx, counts, signs):
        s, xp = self.spec, self.xp
        lo, hi, stuck = self._gather(idx)
        ref = np.float32(s.g_ref_us)
        up = signs > 0
        scale = self.cell["step_scale"].reshape(-1)[idx]
        step = scale * np.float32(s.step_us) * (1 + signs * np.float32(s.asymmetry))
        span = xp.where(up, hi - ref, ref - lo)  # >= 10 % of the half-window by construction
        gap = xp.where(up, hi - g, g - lo)
        kappa = xp.minimum(step / span, np.float32(1))
        n = counts.astype(np.float32)
        m = 1 - kappa
        q = m * m + (kappa * np.float32(s.step_c2c)) ** 2
        mean = m**n
        spread = xp.sqrt(xp.maximum(q**n - mean * mean, np.float32(0)))
        left = gap * (mean + spread * self.compute.normal(g.shape))
        return self._pin(xp.where(up, hi - left, lo + left), lo, hi, stuck)

    def declared_step_us(self, g, direction: int):
        """Mean one-pulse move from ``g`` over the population of cells (0 beyond every bound).

        A cell's step at ``g`` is ``s (1 - u / h)`` with ``u`` the distance from ``G_ref``
        towards the bound in half-windows and ``h`` that bound's own spread factor; the
        declaration averages it over ``h`` and the step scale (mean 1): ``step_us`` at G_ref.
        """
        return self._declared(g, direction, 1)

    def declared_write_noise_us(self, g, direction: int = 1):
        """Cycle-to-cycle std of one pulse at ``g``: ``step_c2c`` times the population RMS step there."""
        rms_scale = np.float32(math.exp(self.spec.step_d2d**2 / 2))  # sqrt(E[k^2]) of the lognormal scale
        return (self._declared(g, direction, 2) * np.float32(self.spec.step_c2c) * rms_scale).astype(np.float32)

    def _declared(self, g, direction: int, which: int):
        s, xp = self.spec, self.xp
        g = xp.asarray(g, dtype=np.float32)
        u = (g - np.float32(s.g_ref_us)) * np.float32(direction / (s.range_us / 2))
        grid, mean, rms = _bound_tables(s.bounds_d2d)
        table = mean if which == 1 else rms
        frac = xp.interp(u, xp.asarray(grid), xp.asarray(table)).astype(np.float32)
        return np.float32(s.step_us * (1 + direction * s.asymmetry)) * frac


@functools.lru_cache(maxsize=16)
def _bound_tables(spread: float):
    """(u, E[max(0, 1 - u/h)], sqrt(E[max(0, 1 - u/h)^2])) for h = max(1 + spread xi, 0.1), xi ~ N(0, 1).

    ``u`` covers every state a cell can hold (its bounds lie within 8 standard deviations);
    the expectation is a midpoint rule over xi in [-8, 8], accurate to well below 0.1 %.
    """
    u = np.linspace(-1 - 8 * spread, 1 + 8 * spread, 1025)
    if spread == 0:
        h, w = np.ones(1), np.ones(1)
    else:
        xi = np.linspace(-8, 8, 2001)
        w = np.exp(-xi * xi / 2)
        w /= w.sum()
        h = np.maximum(1 + spread * xi, 0.1)
    f = np.maximum(1 - u[:, None] / h[None, :], 0)
    return u.astype(np.float32), (f @ w).astype(np.float32), np.sqrt((f * f) @ w).astype(np.float32)


def memristor_device(*, spec, shape, compute):
    """The memristor backend's factory: soft-bounds specs get :class:`SoftBoundsDevice`."""
    from .device import MemristorDevice

    cls = SoftBoundsDevice if isinstance(spec, SoftBoundsSpec) else MemristorDevice
    return cls(spec=spec, shape=shape, compute=compute)
