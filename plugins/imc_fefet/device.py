"""FeFET (HfZrO2) cell physics: multi-level partial polarisation switching.

Each pulse moves a cell along a NeuroSim-style nonlinear curve (:mod:`imc.curves`) inside
its own window, ``pmax = range / step_us`` pulses crossing it (32 by default). Potentiation
saturates toward G_max; depression *accelerates* toward G_min (docs/device-sources.md: Jerry'17's
NeuroSim labels 1.75 / 1.46, where NL_LTD > 0 means depression steps grow as G falls).
In imc.curves' convention (positive = saturating in the direction of motion) that is
``nonlinearity_up = 1.75`` and ``nonlinearity_down = -1.46``: the first up step is
1 / 0.24 = 4.2x the last, the last down step (at G_min) 1 / 0.31 = 3.2x the first.

Noise, per pulse and accumulating in the stored state:

- cycle-to-cycle: additive Gaussian, ``write_noise_us`` per pulse (``* sqrt(n)`` for n pulses);
- few-domain devices (``domains > 0``, the "fefet-scaled" preset): each pulse switches a
  Binomial(domains, domain_switch_prob) number of domains, so its effect is
  ``K / (domains * p)`` nominal pulses, K ~ Binomial(n * domains, p). Relative step spread
  sqrt((1 - p) / (domains * p)) (docs/device-sources.md).

Device-to-device: lognormal step scale (``step_d2d``), window bounds (``bounds_d2d``),
optional stuck cells. Read noise (1 % of G) is the core's.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from imc import curves
from imc.device import UP
from imc.errors import SpecError
from imc.spec import DeviceSpec, float_field, probability
from imc.variation import VariedDevice

MAX_DOMAINS = 1000  # the few-domain model sums over 0..domains switched domains; beyond this use 0 (continuous)


def _domains(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DOMAINS:
        raise SpecError(f"{attribute.name} must be a whole number in [0, {MAX_DOMAINS}] (0 = continuous switching, "
                         f"the limit of many domains), got {value!r}")


def _open_probability(instance, attribute, value):
    probability(instance, attribute, value)
    if value == 0:
        raise SpecError(f"{attribute.name} must be > 0 (a domain that never switches cannot be written)")


@attrs.frozen(kw_only=True)
class FefetSpec(DeviceSpec):
    """DeviceSpec plus the ferroelectric domain model.

    ``domains``: ferroelectric domains per cell; 0 = many (continuous switching), > 0 makes
    each pulse's effect binomially random. ``domain_switch_prob``: probability that one
    domain switches in one pulse (in (0, 1]).
    """

    domains: int = attrs.field(default=0, validator=_domains, metadata={"doc": "domains per cell (0 = continuous)"})
    domain_switch_prob: float = float_field(0.5, _open_probability, doc="probability that one domain switches per pulse")

    @property
    def pmax(self) -> float:
        """Nominal pulses that cross the window."""
        return self.range_us / self.step_us

    @property
    def levels(self) -> int:
        """Pulse-driven levels across the window (pmax)."""
        return round(self.pmax)

    @property
    def domain_rel_std(self) -> float:
        """Relative std of one pulse's effect from domain counting (0 when continuous)."""
        if self.domains == 0:
            return 0.0
        p = self.domain_switch_prob
        return math.sqrt((1 - p) / (self.domains * p))


class FefetDevice(VariedDevice):
    """An array of FeFETs; see the module docstring for the physics."""

    internal_path = True  # first-party: the library may drive the hooks without re-validation

    @property
    def _a(self):
        return curves.a_from_label(self.spec.nonlinearity_up), curves.a_from_label(self.spec.nonlinearity_down)

    def _effective_pulses(self, counts):
        """Nominal pulses each cell's ``counts`` pulses amount to (binomial with few domains)."""
        s = self.spec
        n = counts.astype(np.float32)
        if s.domains == 0:
            return n
        switched = self.compute.binomial(counts * s.domains, s.domain_switch_prob, counts.shape)
        return (switched / np.float32(s.domains * s.domain_switch_prob)).astype(np.float32)

    # -- physics ---------------------------------------------------------------------

    def _pulse(self, g, idx, counts, signs):
        s, xp = self.spec, self.xp
        lo, hi, stuck = self._gather(idx)
        width = hi - lo
        eff = self._effective_pulses(counts) * self.cell["step_scale"].reshape(-1)[idx]
        a_up, a_down = self._a
        u = curves.advance((g - lo) / width, eff / np.float32(s.pmax), a_up, a_down, signs)
        noise = self.compute.normal(g.shape) * np.float32(s.write_noise_us) * xp.sqrt(counts.astype(np.float32))
        return self._pin(lo + u * width + noise, lo, hi, stuck)

    def max_update_pulses(self) -> int:
        """More pulses than this cannot move a cell further (update() caps its counts here)."""
        return math.ceil(2 * self.spec.pmax)

    def declared_step_us(self, g, direction: int):
        """Mean |dG| of one pulse from ``g`` on the nominal curve (clipped at the window)."""
        s, xp = self.spec, self.xp
        g = xp.asarray(g, dtype=np.float32)
        a_up, a_down = self._a
        u = xp.clip((g - np.float32(s.g_min_us)) / np.float32(s.range_us), 0, 1)
        moved = curves.advance(u, np.float32(1 / s.pmax), a_up, a_down, xp.full(u.shape, direction, dtype=np.int8))
        return (xp.abs(moved - u) * np.float32(s.range_us)).astype(np.float32)

    def declared_write_noise_us(self, g, direction: int = UP):
        """Std of one pulse's error from ``g`` in ``direction``: cycle-to-cycle plus, with
        few domains, the binomial spread of the move.

        The binomial part is exact on the nominal curve: the spread of the noiseless move
        over K ~ Binomial(N_d, p) switched domains (so the curve's convexity is included),
        scaled by the device-to-device factors E[scale^2] (lognormal step scale) and
        E[(width / range)^2] (window spread), since a cell's move is proportional to both."""
        s, xp = self.spec, self.xp
        c2c = np.float32(s.write_noise_us)
        if s.domains == 0:
            return xp.full(xp.shape(g), c2c, dtype=np.float32)
        g = xp.asarray(g, dtype=np.float32)
        a_up, a_down = self._a
        u = xp.clip((g - np.float32(s.g_min_us)) / np.float32(s.range_us), 0, 1)
        signs = xp.full(u.shape, direction, dtype=np.int8)
        n, p = s.domains, s.domain_switch_prob
        mean = xp.zeros(u.shape, dtype=np.float64)
        square = xp.zeros(u.shape, dtype=np.float64)
        for k in range(n + 1):
            weight = math.comb(n, k) * p**k * (1 - p) ** (n - k)
            moved = curves.advance(u, np.float32(k / (n * p) / s.pmax), a_up, a_down, signs) - u
            mean += weight * moved
            square += weight * moved * moved
        spread = xp.sqrt(xp.maximum(square - mean * mean, 0.0)) * s.range_us
        width_rel_var = (s.bounds_d2d**2) * (s.g_max_us**2 + s.g_min_us**2) / s.range_us**2
        domain = spread * math.sqrt(math.exp(s.step_d2d**2) * (1 + width_rel_var))
        return xp.sqrt(domain * domain + c2c * c2c).astype(np.float32)
