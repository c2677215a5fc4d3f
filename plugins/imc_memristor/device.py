"""Memristor (RRAM 1T1R) cell physics: Gaussian analog writes or a bounded pulsed curve.

Two regimes share one class, chosen by the spec's capabilities:

- ``analog-write`` (the EaPU paper's simulated device): any requested change is written
  in one event that lands with additive Gaussian error ``write_noise_us``; no bounds.
- pulsed: whole pulses move the cell along a NeuroSim-style nonlinear curve inside its own
  (device-to-device) window, each pulse adding cycle-to-cycle noise that accumulates
  (``write_noise_us * sqrt(pulses)``); cells may be stuck at a bound.
"""

from __future__ import annotations

import functools

import attrs
import numpy as np

from imc import curves
from imc.device import Device
from imc.spec import ANALOG_WRITE, BOUNDS, DeviceSpec

# NeuRRAM write-verify error vs position in the window (Wan et al., Nature 2022; DEVICES.md
# RRAM table), normalised to its mid-window value so program_noise_us sets the scale.
_NEURRAM_U = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
_NEURRAM_SIGMA = np.array([0.35, 2.26, 2.02, 1.53, 1.10]) / 2.02


@attrs.frozen(kw_only=True)
class MemristorSpec(DeviceSpec):
    """DeviceSpec plus the shape of the write-verify error.

    ``program_noise_model``: "constant" (``program_noise_us`` everywhere) or "neurram"
    (the NeuRRAM profile, ``program_noise_us`` at mid-window).
    """

    program_noise_model: str = attrs.field(
        default="constant", validator=attrs.validators.in_(("constant", "neurram"))
    )


class MemristorDevice(Device):
    """A crossbar of memristors; see the module docstring for the two regimes."""

    cell_fields = ("step_scale", "g_lo", "g_hi", "stuck")

    def _init_cells(self) -> None:
        s, xp, c = self.spec, self.xp, self.compute
        shape = self.shape
        d = np.float32(s.step_d2d)
        # lognormal with mean 1, so a spread never makes a step negative
        self.cell["step_scale"] = xp.exp(c.normal(shape) * d - d * d / 2).astype(np.float32)
        lo = xp.full(shape, s.g_min_us, dtype=np.float32)
        hi = xp.full(shape, s.g_max_us, dtype=np.float32)
        if s.bounds_d2d > 0:
            b = np.float32(s.bounds_d2d)
            lo = xp.maximum(lo * (1 + b * c.normal(shape)), np.float32(0))
            hi = hi * (1 + b * c.normal(shape))
            hi = xp.maximum(hi, lo + np.float32(0.1 * s.range_us))
        self.cell["g_lo"], self.cell["g_hi"] = lo, hi
        u = c.uniform(shape)
        stuck = xp.zeros(shape, dtype=np.int8)
        stuck[u < s.stuck_low_prob] = -1
        stuck[(u >= s.stuck_low_prob) & (u < s.stuck_low_prob + s.stuck_high_prob)] = 1
        self.cell["stuck"] = stuck
        self.g = self._pin_stuck((lo + hi) / 2, lo, hi, stuck)

    # -- helpers -------------------------------------------------------------------
    @property
    def _bounded(self) -> bool:
        return self.spec.has(BOUNDS)

    def _gather(self, idx):
        cell = self.cell
        return (cell["g_lo"].reshape(-1)[idx], cell["g_hi"].reshape(-1)[idx], cell["stuck"].reshape(-1)[idx])

    def _pin_stuck(self, g, lo, hi, stuck):
        return self.xp.where(stuck < 0, lo, self.xp.where(stuck > 0, hi, g)).astype(np.float32)

    def _finish(self, new, idx):
        """Clip to each cell's window and keep stuck cells where they are."""
        if not self._bounded:
            return new.astype(np.float32)
        lo, hi, stuck = self._gather(idx)
        return self._pin_stuck(self.xp.clip(new, lo, hi), lo, hi, stuck)

    @functools.cached_property
    def _a(self):  # computed once: the spec is frozen
        return curves.a_from_label(self.spec.nonlinearity_up), curves.a_from_label(self.spec.nonlinearity_down)

    # -- physics -------------------------------------------------------------------
    def window_at(self, idx):
        if not self._bounded:
            return np.float32(-np.inf), np.float32(np.inf)
        lo, hi, _ = self._gather(idx)
        return lo, hi

    def _pulse(self, g, idx, counts, signs):
        s, xp = self.spec, self.xp
        n = counts.astype(np.float32)
        eff = n * self.cell["step_scale"].reshape(-1)[idx] * (1 + signs * np.float32(s.asymmetry))
        noise = self.compute.normal(g.shape) * np.float32(s.write_noise_us) * xp.sqrt(n)
        if not self._bounded:
            return g + signs * eff * np.float32(s.step_us) + noise
        lo, hi, _ = self._gather(idx)
        width = hi - lo
        pmax = np.float32(s.range_us / s.step_us)  # pulses that cross the nominal window
        a_up, a_down = self._a
        u = curves.advance((g - lo) / width, eff / pmax, a_up, a_down, signs)
        return self._finish(lo + u * width + noise, idx)

    def _update(self, g, idx, delta_us):
        if not self.spec.has(ANALOG_WRITE):
            return super()._update(g, idx, delta_us)
        noise = self.compute.normal(g.shape) * np.float32(self.spec.write_noise_us)
        return self._finish(g + delta_us + noise, idx), self.xp.ones(g.shape, dtype=self.xp.int64)

    def _program(self, g, idx, targets_us):
        s, xp = self.spec, self.xp
        sigma = xp.full(targets_us.shape, s.program_noise_us, dtype=np.float32)
        if s.program_noise_model == "neurram":
            u = xp.clip((targets_us - s.g_min_us) / s.range_us, 0, 1)
            profile = xp.asarray(np.interp(self.compute.to_numpy(u), _NEURRAM_U, _NEURRAM_SIGMA), dtype=np.float32)
            sigma = sigma * profile
        return self._finish(targets_us + sigma * self.compute.normal(targets_us.shape), idx)

    def declared_step_us(self, g, direction: int):
        s, xp = self.spec, self.xp
        base = np.float32(s.step_us * (1 + direction * s.asymmetry))
        if not self._bounded:
            return xp.full(xp.shape(g), base, dtype=np.float32)
        a_up, a_down = self._a
        u = (xp.asarray(g, dtype=np.float32) - s.g_min_us) / np.float32(s.range_us)
        return (base * curves.slope(u, a_up, a_down, direction)).astype(np.float32)
