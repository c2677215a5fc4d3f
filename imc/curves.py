"""Pulse-response curves for backend authors: where n pulses take a cell, in closed form.

A curve works in normalised coordinates: ``u`` in [0, 1] is the position of the
conductance in the cell's window, ``x`` in [0, 1] the position along the ``pmax`` pulses
that cross the window. The NeuroSim-style exponential curve

    u(x) = (1 - exp(-x / a)) / (1 - exp(-1 / a))

covers linear (a -> infinity), saturating (a > 0: steps shrink towards the bound the cell
is heading to) and accelerating (a < 0) responses. Depression uses the mirror image
(u -> 1 - u) with its own ``a``. Labels follow NeuroSim's nonlinearity numbers (0 =
linear) with one sign convention for both directions: positive = saturating.
Sources: NeuroSim V3 manual Eq. 1-3 and its A-vs-NL table (docs/device-sources.md).
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from .arraytypes import Array
from .compute import namespace_of

# NeuroSim nonlinearity label -> normalised A (docs/device-sources.md, from Nonlinearity-NormA.htm)
_NL_LABELS = np.array([0.04, 0.5, 0.63, 1.0, 1.46, 1.75, 2.4, 4.88])
_A_NORM = np.array([31.6, 2.52, 2.00, 1.25, 0.85, 0.70, 0.50, 0.20])
LINEAR_A = 1e3  # |a| above this is treated as exactly linear


def a_from_label(label: float) -> float:
    """Normalised A for a nonlinearity label (log-log interpolation of NeuroSim's table).

    0 means linear (returns inf); the sign is kept (positive = saturating).
    """
    if label == 0:
        return float("inf")
    mag = abs(label)
    if mag < _NL_LABELS[0]:  # below the table: A ~ 1.26 / NL, the table's own trend
        a = 1.26 / mag
    else:
        a = float(np.exp(np.interp(np.log(mag), np.log(_NL_LABELS), np.log(_A_NORM))))
    return a if label > 0 else -a


def _curve(x: Array, a: float) -> Array:
    if not np.isfinite(a) or abs(a) > LINEAR_A:
        return x
    return cast(Array, (1 - np.exp(-x / a)) / (1 - np.exp(-1 / a)))


def _inverse(u: Array, a: float) -> Array:
    if not np.isfinite(a) or abs(a) > LINEAR_A:
        return u
    return cast(Array, -a * np.log1p(-u * (1 - np.exp(-1 / a))))


def _slope(u: Array, a: float) -> Array:
    """du/dx at position u (1 for a linear curve)."""
    if not np.isfinite(a) or abs(a) > LINEAR_A:
        return np.ones_like(u)
    k = 1 - np.exp(-1 / a)
    return cast(Array, (1 - u * k) / (a * k))


def _unit(xp: Any, v: Array) -> Array:
    """v clipped to [0, 1] (two ufuncs: cheaper than clip's dispatch on small arrays)."""
    return cast(Array, xp.minimum(xp.maximum(v, 0), 1))


def is_nonlinear(a: float) -> bool:
    """True when the curve of ``a`` is evaluated as an exponential (not treated as linear)."""
    return bool(np.isfinite(a)) and abs(a) <= LINEAR_A



def advance(u: Array, pulses: Array | float | np.floating[Any], a_up: float, a_down: float, direction: Array | int) -> Array:
    """Position after ``pulses`` (>= 0, may be fractional) in ``direction`` (+1/-1), clipped to [0, 1].

    Works elementwise on numpy or cupy arrays (``direction`` may be an array of +1/-1).
    ``u`` and the result are positions in the window, 0..1 (dimensionless).
    """
    xp = namespace_of(u)
    u = _unit(xp, u)
    up = direction > 0
    if np.ndim(direction) == 0:  # one direction: one branch
        if up:
            return _curve(_unit(xp, _inverse(u, a_up) + pulses), a_up)
        return 1 - _curve(_unit(xp, _inverse(1 - u, a_down) + pulses), a_down)
    if is_nonlinear(a_up) and is_nonlinear(a_down):
        # both directions through one exponential curve with a per-cell a: each cell pays once
        a = xp.where(up, np.float32(a_up), np.float32(a_down))
        k = xp.where(up, np.float32(1 - np.exp(-1 / a_up)), np.float32(1 - np.exp(-1 / a_down)))
        v = xp.where(up, u, 1 - u)  # position measured in the direction of motion
        x = _unit(xp, -a * xp.log1p(-v * k) + pulses)
        c = -xp.expm1(-x / a) / k
        return xp.where(up, c, 1 - c)
    x_up = _unit(xp, _inverse(u, a_up) + pulses)
    x_dn = _unit(xp, _inverse(1 - u, a_down) + pulses)
    return xp.where(up, _curve(x_up, a_up), 1 - _curve(x_dn, a_down))


def position(u: Array, a: float) -> Array:
    """Where along the pulse axis (x in [0, 1]) the curve of ``a`` reaches ``u`` (its inverse)."""
    xp = namespace_of(u)
    return _inverse(xp.clip(u, 0, 1), a)


def level(x: Array, a: float) -> Array:
    """The curve itself: position ``u`` reached after ``x`` (in [0, 1]) of the pulse axis."""
    xp = namespace_of(x)
    return _curve(xp.clip(x, 0, 1), a)


def slope(u: Array, a_up: float, a_down: float, direction: Array | int) -> Array:
    """Nominal du per unit x (one full-range pulse train) at u in ``direction``."""
    xp = namespace_of(u)
    u = _unit(xp, u)
    if np.ndim(direction) == 0:  # one direction: one branch
        return _slope(u, a_up) if direction > 0 else _slope(1 - u, a_down)
    up = direction > 0
    if is_nonlinear(a_up) and is_nonlinear(a_down):  # per-cell a: each cell pays once
        a = xp.where(up, np.float32(a_up), np.float32(a_down))
        k = xp.where(up, np.float32(1 - np.exp(-1 / a_up)), np.float32(1 - np.exp(-1 / a_down)))
        return cast(Array, (1 - xp.where(up, u, 1 - u) * k) / (a * k))
    return xp.where(up, _slope(u, a_up), _slope(1 - u, a_down))
