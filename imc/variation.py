"""Device-to-device variation drawn from the spec's generic fields, for backends to inherit.

:class:`VariedDevice` gives every cell, at creation: a lognormal step scale with mean 1
(spread ``step_d2d``), its own window (``g_min_us`` and ``g_max_us`` each times
``1 + bounds_d2d * xi``, kept at least 10 % of the nominal range wide and above 0 uS), and
a stuck state (low with ``stuck_low_prob``, high with ``stuck_high_prob``). Cells start in
the middle of their window. A backend gathers the selected cells' window with ``_gather``
and keeps its results physical with ``_pin`` (inside the window, stuck cells at their bound).
"""

from __future__ import annotations

from typing import cast

import numpy as np

from .arraytypes import Array, Float32Array, Int8Array, Int64Array
from .device import Device


class VariedDevice(Device):
    """A :class:`Device` whose cells carry their own step scale, window and stuck state.

    ``self.cell``: "step_scale" float32 (lognormal, mean 1), "g_lo"/"g_hi" float32 uS, "stuck"
    int8 (-1 stuck low, +1 stuck high, 0 free), each of the device's shape (rows, cols)."""

    cell_fields = ("step_scale", "g_lo", "g_hi", "stuck")

    def _init_cells(self) -> None:
        s, xp, c = self.spec, self.xp, self.compute
        shape = self.shape
        d = np.float32(s.step_d2d)
        # lognormal with mean 1, so a spread never makes a step negative
        self.cell["step_scale"] = xp.exp(c.normal(shape) * d - d * d / 2).astype(np.float32)
        lo, hi = self._draw_window()
        self.cell["g_lo"], self.cell["g_hi"] = lo.astype(np.float32), hi.astype(np.float32)
        u = c.uniform(shape)
        stuck = xp.zeros(shape, dtype=np.int8)
        stuck[u < s.stuck_low_prob] = -1
        stuck[(u >= s.stuck_low_prob) & (u < s.stuck_low_prob + s.stuck_high_prob)] = 1
        self.cell["stuck"] = stuck
        self.g = self._pin((lo + hi) / 2, self.cell["g_lo"], self.cell["g_hi"], stuck)

    def _draw_window(self) -> tuple[Float32Array, Float32Array]:
        """(low, high) per cell: each bound times ``1 + bounds_d2d * xi``, at least 10 % of the range wide, above 0 uS.

        A backend whose bounds spread differently overrides this (same draws, in this order)."""
        s, xp, c, shape = self.spec, self.xp, self.compute, self.shape
        lo = xp.full(shape, s.g_min_us, dtype=np.float32)
        hi = xp.full(shape, s.g_max_us, dtype=np.float32)
        if s.bounds_d2d > 0:
            b = np.float32(s.bounds_d2d)
            lo = xp.maximum(lo * (1 + b * c.normal(shape)), np.float32(0))
            hi = xp.maximum(hi * (1 + b * c.normal(shape)), lo + np.float32(0.1 * s.range_us))
        return lo, hi

    def _gather(self, idx: Int64Array) -> tuple[Float32Array, Float32Array, Int8Array]:
        """(low, high, stuck) of cells ``idx``: float32 uS, float32 uS, int8, each the length of ``idx``."""
        return cast(tuple[Float32Array, Float32Array, Int8Array], tuple(self.cell[k].reshape(-1)[idx] for k in ("g_lo", "g_hi", "stuck")))

    def _pin(self, g: Array, lo: Array, hi: Array, stuck: Int8Array) -> Float32Array:
        """``g`` clipped to each cell's window, stuck cells at their bound (float32)."""
        xp = self.xp
        return xp.where(stuck < 0, lo, xp.where(stuck > 0, hi, xp.clip(g, lo, hi))).astype(np.float32)

    def _program(self, g: Float32Array, idx: Int64Array, targets_us: Float32Array) -> Float32Array:
        """Write-verify: the target plus the declared programming error, kept physical."""
        lo, hi, stuck = self._gather(idx)
        noisy = targets_us + self.compute.normal(targets_us.shape) * np.float32(self.spec.program_noise_us)
        return self._pin(noisy, lo, hi, stuck)

    def window_at(self, idx: Int64Array) -> tuple[Float32Array, Float32Array]:
        """Each selected cell's own (low, high) window, float32 uS (the length of ``idx``)."""
        lo, hi, _ = self._gather(idx)
        return lo, hi
