""""write-verify": BP-based training with closed-loop program-and-verify of every change.

This is how hardware demonstrations of backpropagation on memristor arrays write their
updates (the paper's "BP-based memristor training" with the writes made accurate): the
periphery keeps each weight's pending change ``chi`` (uS, one digital word per weight) and
adds every proposed change ``dG = dW / R_wg`` to it, so nothing requested is lost. A cell
whose ``|chi|`` exceeds the tolerance is programmed closed-loop:

1. verify read (the cell, or both cells of a pair): ``g0``; target ``t = g0 + chi``;
2. while ``|t - g| > tolerance`` and fewer than ``max_iterations`` rounds: write the
   remaining error (``round(|err| / step)`` pulses, at least one, on a pulsed device; one
   write of ``err`` on an "analog-write" device), then verify-read ``g`` again;
3. ``chi`` keeps what is left as measured (``t - g``, within the tolerance); a cell that
   did not converge (stuck, or at its bound) gives up its pending change.

Every pulse is counted as a write (with the device's own noise and SET/RESET energy) and
every verify read as a read of that cell ("verify" energy). The tolerance defaults to the
finest placement one write allows: ``max(step / 2, switch / 2, sigma)`` with the declared
step and write noise ``sigma`` at mid-window (one junction flip as ``switch`` on MRAM).
Below half a step a pulse cannot bring a cell closer; below sigma each round lands
outside the tolerance more often than not (rram-realistic: sigma = 0.67 uS against a
0.14 uS step), so most cells would exhaust ``max_iterations`` and give up.
"""

from __future__ import annotations

import numpy as np

from imc.spec import ANALOG_WRITE

from .base import UpdateRule, check_number

#: most pulses one verify round may give a cell
MAX_PULSES_PER_ROUND = 31


class WriteVerifyRule(UpdateRule):
    name = "write-verify"
    flops_per_weight = 3  # accumulate, compare, subtract
    words_per_weight = 1  # the pending change chi

    def __init__(self, tolerance_us: float | None = None, max_iterations: int = 20):
        super().__init__()
        self.tolerance_us = None if tolerance_us is None else check_number("tolerance_us", tolerance_us)
        if isinstance(max_iterations, bool) or not isinstance(max_iterations, int) or max_iterations < 1:
            raise ValueError(f"max_iterations must be a whole number >= 1 (write-verify rounds), got {max_iterations!r}")
        self.max_iterations = max_iterations

    def params(self) -> dict:
        return {"tolerance_us": self.tolerance_us, "max_iterations": self.max_iterations}

    def tolerance(self, tile) -> float:
        """Verify tolerance in uS for this matrix."""
        if self.tolerance_us is not None:
            return self.tolerance_us
        return max(0.5 * tile.step_us(), 0.5 * tile.switch_us(), tile.write_noise_us())

    def apply(self, name, tile, delta_w):
        xp = self.xp
        chi = self.accumulator(name, tile)
        inv_r = np.float32(1.0 / tile.r_wg_per_us)
        chi += delta_w * inv_r
        if self.dense:
            return self._apply_dense(tile, chi, inv_r)
        flat = chi.reshape(-1)
        tol = np.float32(self.tolerance(tile))
        index = xp.flatnonzero(xp.abs(flat) > tol)
        from ..nn.analog import WriteStats

        stats = WriteStats()
        if index.size == 0:
            return stats
        g = tile.read_at(index) * inv_r  # weight-equivalent conductance difference, uS
        target = g + flat[index]
        step = np.float32(tile.step_us())
        analog = tile.spec.has(ANALOG_WRITE)
        active = xp.arange(index.size)
        for _ in range(self.max_iterations):
            err = target[active] - g[active]
            need = xp.abs(err) > tol
            active, err = active[need], err[need]
            if active.size == 0:
                break
            cells = index[active]
            if analog:
                stats += tile.update(cells, err)
            else:
                n = xp.clip(xp.rint(xp.abs(err) / step), 1, MAX_PULSES_PER_ROUND).astype(xp.int64)
                stats += tile.pulse(cells, n, xp.where(err > 0, 1, -1).astype(xp.int8))
            g[active] = tile.read_at(cells) * inv_r
        left = target - g
        left[xp.abs(left) > tol] = 0  # did not converge: give the change up
        flat[index] = left
        return stats

    def _apply_dense(self, tile, chi, inv_r):
        """The same closed loop on whole matrices (a GPU: no host synchronisation): every round
        is run, cells already within the tolerance get 0 pulses and are not read again."""
        from ..nn.analog import WriteStats

        xp = self.xp
        tol = np.float32(self.tolerance(tile))
        step = np.float32(tile.step_us())
        analog = tile.spec.has(ANALOG_WRITE)
        selected = xp.abs(chi) > tol
        g = tile.read_masked(selected) * inv_r
        target = g + chi
        active = selected
        stats = WriteStats()
        for _ in range(self.max_iterations):
            err = target - g
            active = active & (xp.abs(err) > tol)
            if analog:
                stats += tile.update(None, xp.where(active, err, np.float32(0)), checked=True)
            else:
                n = xp.where(active, xp.clip(xp.rint(xp.abs(err) / step), 1, MAX_PULSES_PER_ROUND), 0).astype(xp.int64)
                stats += tile.pulse(None, n, xp.where(err > 0, 1, -1).astype(xp.int8), checked=True)
            g = xp.where(active, tile.read_masked(active) * inv_r, g)
        left = target - g
        left = xp.where(xp.abs(left) > tol, np.float32(0), left)  # did not converge: give the change up
        chi[...] = xp.where(selected, left, chi)
        return stats
