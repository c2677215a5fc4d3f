""""analog-sgd": on-chip SGD with stochastic pulse trains, the field's standard baseline.

Every proposed change ``dG = dW / R_wg`` (uS) becomes a whole number of pulses whose
expectation equals the request: with ``x = |dG| / step`` (``step`` = the device's declared
step at mid-window, as aihwkit's ``dw_min``), the cell gets ``floor(x)`` pulses plus one
more with probability ``x - floor(x)``, in the direction of ``dG``. This is what aihwkit's
analog SGD realises with stochastic pulse trains (Gokmen & Vlasov 2016): the expected
number of coincidences of two stochastic bit streams is proportional to the requested
product, so a request far below one step is written now and then as a whole pulse instead
of being rounded away. ``max_pulses`` caps the count per cell and step (aihwkit's pulse
train length, default 31); above ``max_pulses`` steps the write saturates, as there.

It writes on every device: pulsed ones (one declared step per pulse), analog-write ones
(a pulse is a write of one declared step) and MRAM (plain pulses that switch with the
device's P_sw). Nothing is accumulated: the only digital state is one random number per
weight with a nonzero request. No verify reads.
"""

from __future__ import annotations

import numpy as np

from .base import UpdateRule

#: aihwkit's default pulse train length (desired_bl = 31): the most pulses per cell and step
DEFAULT_MAX_PULSES = 31


class AnalogSGDRule(UpdateRule):
    name = "analog-sgd"
    flops_per_weight = 4  # scale, floor, compare a uniform draw, add

    def __init__(self, max_pulses: int = DEFAULT_MAX_PULSES):
        super().__init__()
        if isinstance(max_pulses, bool) or not isinstance(max_pulses, int) or max_pulses < 1:
            raise ValueError(f"max_pulses must be a whole number >= 1 (pulses per cell and step), got {max_pulses!r}")
        self.max_pulses = max_pulses

    def params(self) -> dict:
        return {"max_pulses": self.max_pulses}

    def counts(self, delta_us, step_us: float):
        """Stochastic whole pulse counts for requests ``delta_us`` (1-D, uS): E[count] = |delta| / step."""
        xp = self.xp
        x = xp.minimum(xp.abs(delta_us) * np.float32(1.0 / step_us), np.float32(self.max_pulses))
        whole = xp.floor(x)
        extra = self.compute.uniform(x.shape) < (x - whole)
        return (whole + extra).astype(xp.int64)

    def apply(self, name, tile, delta_w):
        xp = self.xp
        if self.dense:  # GPU: whole matrices, 0 pulses = untouched (no host synchronisation)
            dg = delta_w * np.float32(1.0 / tile.r_wg_per_us)
            n = self.counts(dg, tile.step_us())
            return tile.pulse(None, n, xp.where(dg > 0, 1, -1).astype(xp.int8), checked=True)
        flat = delta_w.reshape(-1)
        index = xp.flatnonzero(flat)
        dg = flat[index] * np.float32(1.0 / tile.r_wg_per_us)
        n = self.counts(dg, tile.step_us())
        keep = n > 0
        index, n = index[keep], n[keep]
        signs = xp.where(dg[keep] > 0, 1, -1).astype(xp.int8)
        return tile.pulse(index, n, signs, checked=True)  # sorted unique indices, whole counts > 0, signs +-1
