""""ideal": noiseless digital training, the upper bound.

On attach every analog matrix switches to exact mode: its weights become a float32 array
(starting from what the array held after programming), products are digital matmuls,
and every proposed change is applied exactly. No device is read or written.
"""

from __future__ import annotations

from ..nn.analog import WriteStats
from .base import UpdateRule


class IdealRule(UpdateRule):
    name = "ideal"
    flops_per_weight = 1

    def attach(self, model, compute) -> None:
        super().attach(model, compute)
        for tile in model.tiles():
            if tile.exact is None:
                tile.set_exact()

    def apply(self, name, tile, delta_w):
        tile.add_exact(delta_w)
        return WriteStats()
