""""manhattan": sign-based updates, one pulse in the direction of -grad per cell per step.

Cells whose proposed change is at most ``threshold_us`` (uS, default 0) are skipped.
"""

from __future__ import annotations

import numpy as np

from .base import UpdateRule, check_number


class ManhattanRule(UpdateRule):
    name = "manhattan"
    flops_per_weight = 2

    def __init__(self, threshold_us: float = 0.0):
        super().__init__()
        self.threshold_us = check_number("threshold_us", threshold_us, positive=False)
        if self.threshold_us < 0:
            raise ValueError(f"threshold_us must be >= 0, got {threshold_us!r}")

    def params(self) -> dict:
        return {"threshold_us": self.threshold_us}

    def apply(self, name, tile, delta_w):
        xp = self.xp
        limit = np.float32(self.threshold_us * tile.r_wg_per_us)
        if self.dense:
            counts = (xp.abs(delta_w) > limit).astype(xp.int64)
            return tile.pulse(None, counts, xp.where(delta_w > 0, 1, -1).astype(xp.int8), checked=True)
        flat = delta_w.reshape(-1)
        index = xp.flatnonzero(xp.abs(flat) > limit)
        signs = xp.where(flat[index] > 0, 1, -1).astype(xp.int8)
        return tile.pulse(index, xp.ones(index.shape, dtype=xp.int64), signs, checked=True)
