"""ECRAM cell physics: a three-terminal cell whose channel conductance moves by ion intercalation.

- Each pulse moves the conductance by a nearly constant step (linear, nearly symmetric:
  the property ECRAM is built for), scaled per cell by a device-to-device factor, with
  cycle-to-cycle noise ``write_noise_us`` per pulse (accumulating as sqrt(pulses)).
- The channel saturates at the ends of the window (clipped: capability ``bounds``).
- Retention: the stored state relaxes exponentially towards the rest conductance
  ``g_rest_us`` with time constant ``retention_tau_s`` (capability ``drift``).
- Read noise on reads and products comes from imc's core (capability ``read-noise``).

Everything is written with ``self.xp`` and ``self.compute``, so it runs on numpy or cupy.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from imc.device import Device
from imc.spec import DeviceSpec, float_field


def _positive(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, float) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{attribute.name} must be a positive finite number, got {value!r}")


@attrs.frozen(kw_only=True)
class EcramSpec(DeviceSpec):
    """DeviceSpec plus the cell's retention (units in the field names)."""

    g_rest_us: float = float_field(1.0, doc="conductance the state relaxes to when left alone, uS")
    retention_tau_s: float = float_field(1e6, _positive, doc="time constant of the relaxation, s")

    def __attrs_post_init__(self):
        super().__attrs_post_init__()
        if not self.g_min_us <= self.g_rest_us <= self.g_max_us:
            raise ValueError(f"g_rest_us ({self.g_rest_us}) must lie in the window [{self.g_min_us}, {self.g_max_us}]")


class EcramDevice(Device):
    """An array of ECRAM cells; see the module docstring for the physics."""

    cell_fields = ("step_scale",)

    def _init_cells(self) -> None:
        d = np.float32(self.spec.step_d2d)
        # lognormal with mean 1: the step varies from cell to cell but is never negative
        self.cell["step_scale"] = self.xp.exp(self.compute.normal(self.shape) * d - d * d / 2).astype(np.float32)

    def _pulse(self, g, idx, counts, signs):
        s, xp = self.spec, self.xp
        n = counts.astype(np.float32)
        step = np.float32(s.step_us) * (1 + signs * np.float32(s.asymmetry)) * self.cell["step_scale"].reshape(-1)[idx]
        noise = self.compute.normal(g.shape) * np.float32(s.write_noise_us) * xp.sqrt(n)
        return xp.clip(g + signs * n * step + noise, np.float32(s.g_min_us), np.float32(s.g_max_us))

    def _drift(self, g, age_s, seconds):
        """Relax towards ``g_rest_us`` for ``seconds`` (s); the core validates the time and advances the clock.

        Exponential relaxation forgets when the cell was written, so ``age_s`` is not needed."""
        keep = np.float32(math.exp(-seconds / self.spec.retention_tau_s))
        rest = np.float32(self.spec.g_rest_us)
        return (rest + (g - rest) * keep).astype(np.float32)
