""""original": BP-based memristor training, the paper's main baseline.

Every nonzero proposed change is requested from the device every step
(``device.update``), and each write lands with the device's own write error.
"""

from __future__ import annotations

import numpy as np

from .base import UpdateRule


class OriginalRule(UpdateRule):
    name = "original"
    flops_per_weight = 2

    def apply(self, name, tile, delta_w):
        scale = np.float32(1.0 / tile.r_wg_per_us)
        if self.dense:  # zeros stay untouched
            return tile.update(None, delta_w * scale, checked=True)
        flat = delta_w.reshape(-1)
        index = self.xp.flatnonzero(flat)
        return tile.update(index, flat[index] * scale, checked=True)
