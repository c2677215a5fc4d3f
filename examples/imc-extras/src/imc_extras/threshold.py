"""The "threshold" update rule: write a cell once its accumulated change reaches a threshold.

Each proposed weight change is added to a digital accumulator; cells whose accumulated
change reaches ``threshold`` device steps (the declared step at mid-window) are written
with that whole amount and their accumulator is cleared. Changes below the threshold are
kept, not dropped.
"""

from __future__ import annotations

import numpy as np

from imc.records import RuleInfo
from imc.rules import UpdateRule


class ThresholdRule(UpdateRule):
    name = "threshold"
    flops_per_weight = 3
    words_per_weight = 1  # the accumulator

    def __init__(self, threshold: float = 1.0):
        super().__init__()
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold > 0:
            raise ValueError(f"threshold must be > 0 device steps, got {threshold!r}")
        self.threshold = float(threshold)

    def apply(self, name, tile, delta_w):
        xp = self.xp
        acc = self.arrays.get(name)
        if acc is None:
            acc = self.arrays[name] = xp.zeros(tile.shape, dtype=np.float32)
        acc += delta_w
        limit = np.float32(self.threshold * tile.step_us() * tile.r_wg_per_us)
        flat = acc.reshape(-1)
        index = xp.flatnonzero(xp.abs(flat) >= limit)
        stats = tile.update(index, flat[index] * np.float32(1.0 / tile.r_wg_per_us))
        flat[index] = 0
        return stats


INFO = RuleInfo(name="threshold", factory=ThresholdRule, description="write when the accumulated change reaches a threshold")
