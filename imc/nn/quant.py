"""DAC/ADC quantisation of the vectors that enter and leave an analog array.

A converter with ``bits`` resolution represents a signed value on ``2**(bits-1) - 1``
levels per polarity. The full scale is set per vector (each input row or each output
row of a batch) from its largest magnitude, i.e. an ideally auto-ranged converter.
Gradients pass straight through (the quantiser is treated as identity in backward).
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from ..arraytypes import Array


def levels(bits: int) -> int:
    """Levels per polarity of a signed ``bits``-bit converter (>= 1)."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or bits < 2:
        raise ValueError(f"converter bits must be an integer >= 2, got {bits!r}")
    return cast(int, 2 ** (int(bits) - 1) - 1)


def quantize_rows(xp: Any, x: Array, bits: int | None) -> Array:
    """Quantise each row of the 2-D array ``x`` to ``bits`` (None = no quantisation)."""
    if bits is None:
        return x
    n = x.dtype.type(levels(bits))
    scale = xp.max(xp.abs(x), axis=1, keepdims=True)
    scale = xp.where(scale > 0, scale, x.dtype.type(1)) / n
    return cast(Array, xp.rint(x / scale) * scale)


class RowQuantizer:
    """:func:`quantize_rows` of float32 rows for one array module and resolution, with its
    constants made once on that module (0-d arrays: cheaper than scalars in small products).

    The same arithmetic in the same order, so the result is bit-identical to
    ``quantize_rows(xp, x, bits)``; ``overwrite=True`` may reuse ``x``'s memory for the result."""

    __slots__ = ("xp", "bits", "_levels", "_zero", "_one")

    def __init__(self, xp: Any, bits: int) -> None:
        self.xp, self.bits = xp, bits
        self._levels = xp.asarray(np.float32(levels(bits)))
        self._zero = xp.asarray(np.float32(0))
        self._one = xp.asarray(np.float32(1))

    def __call__(self, x: Array, overwrite: bool = False) -> Array:
        """``x`` float32 (rows, n): each row on ``bits`` levels per polarity of its largest magnitude."""
        xp = self.xp
        scale = xp.abs(x).max(axis=1, keepdims=True)
        scale = xp.where(scale > self._zero, scale, self._one)
        scale /= self._levels
        q = xp.divide(x, scale, out=x) if overwrite else x / scale
        xp.rint(q, out=q)
        q *= scale
        return cast(Array, q)
