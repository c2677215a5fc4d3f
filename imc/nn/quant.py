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
