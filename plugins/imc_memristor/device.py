"""Memristor (RRAM 1T1R) cell physics: Gaussian analog writes or a bounded pulsed curve.

Two regimes share one class, chosen by the spec's capabilities:

- ``analog-write`` (the EaPU paper's simulated device): any requested change is written
  in one event that lands with additive Gaussian error ``write_noise_us``; no bounds.
- pulsed: whole pulses move the cell along a NeuroSim-style nonlinear curve inside its own
  (device-to-device) window, each pulse adding cycle-to-cycle noise that accumulates
  (``write_noise_us * sqrt(pulses)``); cells may be stuck at a bound.

Relaxation after programming (capability "drift", bounded regime): the conductance of a
filamentary cell creeps down and spreads out logarithmically in the time since its last
write (the CMO/HfOx law): between ages ``a`` and ``b`` (s, read as at least 1 s) the mean
moves by ``-relax_mean_per_ln * range * (ln b - ln a)`` and an independent Gaussian step
of variance ``(relax_std_per_ln * range)^2 * (ln^2 b - ln^2 a)`` is added, so relaxing for
a then b is distributed as relaxing for a + b. Cells stay in their window; stuck cells stay.
"""

from __future__ import annotations

import functools

import attrs
import numpy as np

from imc import curves
from imc.spec import ANALOG_WRITE, BOUNDS, DeviceSpec, float_field, non_negative
from imc.variation import VariedDevice

# NeuRRAM write-verify error vs position in the window (Wan et al., Nature 2022; docs/device-sources.md
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
    relax_mean_per_ln: float = float_field(
        0.0, non_negative, doc="mean conductance loss per e-fold of time since the write, fraction of the range"
    )
    relax_std_per_ln: float = float_field(
        0.0, non_negative, doc="growth of the relaxation spread per e-fold of time since the write, fraction of the range"
    )


class MemristorDevice(VariedDevice):
    """A crossbar of memristors; see the module docstring for the two regimes."""

    internal_path = True  # first-party: the library may drive the hooks without re-validation

    @property
    def _bounded(self) -> bool:
        return self.spec.has(BOUNDS)

    def _finish(self, new, idx):
        """Clip to each cell's window and keep stuck cells where they are."""
        if not self._bounded:
            return new.astype(np.float32)
        lo, hi, stuck = self._gather(idx)
        return self._pin(new, lo, hi, stuck)

    @functools.cached_property
    def _a(self):  # computed once: the spec is frozen
        return curves.a_from_label(self.spec.nonlinearity_up), curves.a_from_label(self.spec.nonlinearity_down)

    # -- physics -------------------------------------------------------------------
    def window_at(self, idx):
        if not self._bounded:
            return np.float32(-np.inf), np.float32(np.inf)
        return super().window_at(idx)

    def _pulse(self, g, idx, counts, signs):
        s, xp = self.spec, self.xp
        n = counts.astype(np.float32)
        eff = n * self.cell["step_scale"].reshape(-1)[idx] * (1 + signs * np.float32(s.asymmetry))
        noise = self.compute.normal(g.shape) * np.float32(s.write_noise_us) * xp.sqrt(n)
        if not self._bounded:
            return g + signs * eff * np.float32(s.step_us) + noise
        lo, hi, stuck = self._gather(idx)
        width = hi - lo
        pmax = np.float32(s.range_us / s.step_us)  # pulses that cross the nominal window
        a_up, a_down = self._a
        u = curves.advance((g - lo) / width, eff / pmax, a_up, a_down, signs)
        return self._pin(lo + u * width + noise, lo, hi, stuck)

    def _update(self, g, idx, delta_us):
        if not self.spec.has(ANALOG_WRITE):
            return super()._update(g, idx, delta_us)
        noise = self.compute.normal(g.shape) * np.float32(self.spec.write_noise_us)
        return self._finish(g + delta_us + noise, idx), 1  # one write event per cell

    def _program(self, g, idx, targets_us):
        s, xp = self.spec, self.xp
        sigma = xp.full(targets_us.shape, s.program_noise_us, dtype=np.float32)
        if s.program_noise_model == "neurram":
            u = xp.clip((targets_us - s.g_min_us) / s.range_us, 0, 1)
            profile = xp.asarray(np.interp(self.compute.to_numpy(u), _NEURRAM_U, _NEURRAM_SIGMA), dtype=np.float32)
            sigma = sigma * profile
        return self._finish(targets_us + sigma * self.compute.normal(targets_us.shape), idx)

    def _declared_step_toward(self, g, signs):
        return self.declared_step_us(g, signs)  # takes a per-cell direction: one curve evaluation

    def declared_step_us(self, g, direction):
        """Nominal |dG| of one pulse from ``g``; ``direction`` +1/-1, or an array of them per cell."""
        s, xp = self.spec, self.xp
        if np.ndim(direction) == 0:
            base = np.float32(s.step_us * (1 + direction * s.asymmetry))
        else:
            base = np.float32(s.step_us) * (1 + direction.astype(np.float32) * np.float32(s.asymmetry))
        if not self._bounded:
            return xp.zeros(xp.shape(g), dtype=np.float32) + base
        a_up, a_down = self._a
        u = (xp.asarray(g, dtype=np.float32) - s.g_min_us) / np.float32(s.range_us)
        return (base * curves.slope(u, a_up, a_down, direction)).astype(np.float32)

    def _drift(self, g, age_s, seconds):
        """CMO-style logarithmic relaxation from each cell's last write (see the module docstring)."""
        s, xp = self.spec, self.xp
        if not self._bounded:
            raise NotImplementedError(f"{s.name}: relaxation is modelled for the bounded (pulsed) regime only")
        ln_a = xp.log(xp.maximum(age_s, 1.0))
        ln_b = xp.log(xp.maximum(age_s + seconds, 1.0))
        shift = -np.float64(s.relax_mean_per_ln * s.range_us) * (ln_b - ln_a)
        spread = np.float64(s.relax_std_per_ln * s.range_us) * xp.sqrt(xp.maximum(ln_b * ln_b - ln_a * ln_a, 0.0))
        new = g + (shift + spread * self.compute.normal(g.shape)).astype(np.float32)
        return self._pin(new, self.cell["g_lo"], self.cell["g_hi"], self.cell["stuck"])
