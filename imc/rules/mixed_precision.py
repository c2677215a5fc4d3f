""""mixed-precision" (Nandakumar et al. 2018/2020): a digital accumulator per weight.

``chi`` (uS, full precision, one word per weight) collects every proposed change; when
``|chi|`` reaches the device's declared step, ``trunc(chi / step)`` whole pulses are
applied and their nominal change is subtracted from ``chi``. Deterministic.
"""

from __future__ import annotations

import numpy as np

from .base import UpdateRule


class MixedPrecisionRule(UpdateRule):
    name = "mixed-precision"
    flops_per_weight = 4
    words_per_weight = 1

    def apply(self, name, tile, delta_w):
        xp = self.xp
        chi = self.accumulator(name, tile)
        chi += delta_w * np.float32(1.0 / tile.r_wg_per_us)
        step = np.float32(tile.step_us())
        if self.dense:
            n = xp.trunc(chi / step)  # 0 where |chi| < step
            chi -= n * step
            signs = xp.where(n > 0, 1, -1).astype(xp.int8)
            return tile.pulse(None, xp.abs(n).astype(xp.int64), signs, checked=True)
        flat = chi.reshape(-1)
        index = xp.flatnonzero(xp.abs(flat) >= step)
        n = xp.trunc(flat[index] / step)
        flat[index] -= n * step
        signs = xp.where(n > 0, 1, -1).astype(xp.int8)
        return tile.pulse(index, xp.abs(n).astype(xp.int64), signs, checked=True)
