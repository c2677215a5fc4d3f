"""Phase-change memory (GST-like mushroom cell) physics: gradual SET, abrupt RESET, power-law drift.

- SET (up pulses): partial crystallisation moves the cell up a saturating NeuroSim-style
  curve (:mod:`imc.curves`, ``nonlinearity_up``), ``pmax = range / step_us`` pulses across
  the window, each pulse with additive Gaussian cycle-to-cycle noise ``write_noise_us``
  (accumulating: ``* sqrt(n)``) and a lognormal device-to-device step scale.
- RESET (down pulses): melt-quench amorphisation takes the cell to its low state whatever
  the count: ``G = g_lo + reset_noise_us * |xi|``. So a down pulse's declared step is
  ``G - E[reset level]`` and a requested decrease is realised as RESET followed by the
  nominal number of SET pulses back up to the target, when that lands nearer the target
  than leaving the cell alone (``update``; pulses counted: 1 RESET + the SETs).
  Capability "abrupt-reset" tells the pair mapping to write increases only (see
  :mod:`imc.nn.analog`).
- Write-verify: the target plus Gaussian programming error whose std follows the
  measured profile over the window (``program_noise_model = "joshi"``: a quadratic in
  G / G_max peaking at ``program_noise_us``) or is constant.
- Drift: ``G(t) = G(t_w + t0) * ((t - t_w) / t0) ** -nu`` after a write at ``t_w``;
  nothing moves in the first ``t0`` seconds. ``nu`` is drawn per cell at creation,
  Normal(``drift_nu_mean``, ``drift_nu_std``) clipped at 0 (device-to-device spread).
  The law composes exactly: drifting a then b equals drifting a + b.
- Read noise (1/f): relative std ``read_noise_rel`` up to ``read_noise_ref_s`` after the
  write, growing afterwards as ``sqrt(ln((t + t_r) / (2 t_r)))`` with ``t_r = read_time_s``
  (the integral of a 1/f spectrum over the measurement bandwidth).

Sources and the numbers of the presets: docs/devices.md ("Phase-change memory").
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from imc import curves
from imc.device import UP
from imc.spec import READ_NOISE, DeviceSpec, float_field, non_negative, positive
from imc.variation import VariedDevice

# programming-error profile over x = G / G_max (a quadratic fitted to a 1-million-device
# doped-GST array; peak at x = 0.8375): sigma(x) = program_noise_us * profile(x) / peak
_PROG_POLY = (-1.1731, 1.9650, 0.2635)
_PROG_PEAK = -_PROG_POLY[1] ** 2 / (4 * _PROG_POLY[0]) + _PROG_POLY[2]


def _field(default, validator, doc):
    return float_field(default, validator, doc)  # numbers only: a bool or string is refused, not converted


@attrs.frozen(kw_only=True)
class PcmSpec(DeviceSpec):
    """DeviceSpec plus the RESET, drift and 1/f read-noise parameters of a PCM cell."""

    reset_noise_us: float = _field(0.1, non_negative, "std of the (half-normal) conductance a RESET leaves above g_min, uS")
    drift_nu_mean: float = _field(0.05, non_negative, "mean drift exponent nu of G(t) = G0 (t / t0)^-nu")
    drift_nu_std: float = _field(0.01, non_negative, "device-to-device std of nu")
    drift_t0_s: float = _field(20.0, positive, "drift reference time t0 after a write, s (no drift before it)")
    read_noise_ref_s: float = _field(1.0, positive, "age up to which reads see read_noise_rel; 1/f growth after it, s")
    program_noise_model: str = attrs.field(default="joshi", validator=attrs.validators.in_(("constant", "joshi")))

    @property
    def pmax(self) -> float:
        """Nominal SET pulses that cross the window."""
        return self.range_us / self.step_us

    @property
    def reset_mean_us(self) -> float:
        """Mean conductance right after a RESET, uS."""
        return self.g_min_us + self.reset_noise_us * math.sqrt(2 / math.pi)

    @property
    def reset_std_us(self) -> float:
        """Std of the conductance right after a RESET (half-normal), uS."""
        return self.reset_noise_us * math.sqrt(1 - 2 / math.pi)


class PcmDevice(VariedDevice):
    """An array of PCM cells; see the module docstring for the physics."""

    cell_fields = VariedDevice.cell_fields + ("nu",)
    internal_path = True  # first-party: the library may drive the hooks without re-validation

    def __init__(self, spec: PcmSpec, shape, compute):
        if not isinstance(spec, PcmSpec):
            raise TypeError(f"the pcm backend needs a PcmSpec, got {type(spec).__name__}")
        super().__init__(spec, shape, compute)

    def _init_cells(self) -> None:
        super()._init_cells()
        s = self.spec
        nu = np.float32(s.drift_nu_mean) + np.float32(s.drift_nu_std) * self.compute.normal(self.shape)
        self.cell["nu"] = self.xp.maximum(nu, np.float32(0)).astype(np.float32)

    @property
    def _a(self) -> float:
        return curves.a_from_label(self.spec.nonlinearity_up)

    # -- writes -------------------------------------------------------------------------
    def _set(self, g, idx, counts):
        """Conductances after ``counts`` SET pulses (counts may be 0: then only clipped)."""
        s, xp = self.spec, self.xp
        lo, hi, stuck = self._gather(idx)
        width = hi - lo
        n = counts.astype(np.float32)
        eff = n * self.cell["step_scale"].reshape(-1)[idx]
        ones = xp.ones(g.shape, dtype=np.int8)
        u = curves.advance((g - lo) / width, eff / np.float32(s.pmax), self._a, self._a, ones)
        noise = self.compute.normal(g.shape) * np.float32(s.write_noise_us) * xp.sqrt(n)
        return self._pin(lo + u * width + noise, lo, hi, stuck)

    def _reset(self, idx):
        """Conductances right after a RESET: the low state plus a half-normal spread."""
        lo, hi, stuck = self._gather(idx)
        level = lo + self.xp.abs(self.compute.normal(lo.shape)) * np.float32(self.spec.reset_noise_us)
        return self._pin(level, lo, hi, stuck)

    def _pulse(self, g, idx, counts, signs):
        up = signs > 0
        return self.xp.where(up, self._set(g, idx, self.xp.where(up, counts, 0)), self._reset(idx))

    def max_update_pulses(self) -> int:
        """More SET pulses than this cannot move a cell further (update() caps its counts here)."""
        return math.ceil(2 * self.spec.pmax)

    def _update(self, g, idx, delta_us):
        """Increases: whole SET pulses (nearest count). Decreases: RESET + the nominal SET
        pulses back up to the target, when that lands nearer it than leaving the cell alone."""
        s, xp = self.spec, self.xp
        up = delta_us > 0
        set_counts, _ = self.pulses_for(g, xp.abs(delta_us), max_pulses=self.max_update_pulses())
        # decreases: SET pulses from the mean RESET level to the target, on the nominal curve
        span = np.float32(s.range_us)
        u_reset = np.float32((s.reset_mean_us - s.g_min_us) / s.range_us)
        u_target = xp.clip((g + delta_us - np.float32(s.g_min_us)) / span, 0, 1)
        x_reset = curves.position(xp.asarray(u_reset), self._a)
        back = xp.clip(xp.rint((curves.position(u_target, self._a) - x_reset) * np.float32(s.pmax)), 0, self.max_update_pulses())
        landing = np.float32(s.g_min_us) + curves.level(x_reset + back / np.float32(s.pmax), self._a) * span
        target = g + delta_us
        redo = ~up & (xp.abs(landing - target) < xp.abs(g - target))
        counts = xp.where(up, set_counts, xp.where(redo, back.astype(xp.int64) + 1, 0)).astype(xp.int64)
        # both outcomes for every selected cell, then pick: no host synchronisation
        rise = up & (counts > 0)
        raised = self._set(g, idx, xp.where(rise, counts, 0))
        redone = self._set(self._reset(idx), idx, xp.where(redo, counts - 1, 0))
        return xp.where(rise, raised, xp.where(redo, redone, g)).astype(np.float32), counts

    def _program(self, g, idx, targets_us):
        s, xp = self.spec, self.xp
        sigma = xp.full(targets_us.shape, s.program_noise_us, dtype=np.float32)
        if s.program_noise_model == "joshi":
            x = xp.clip(targets_us / np.float32(s.g_max_us), 0, 1)
            a, b, c = _PROG_POLY
            profile = xp.maximum(np.float32(a) * x * x + np.float32(b) * x + np.float32(c), 0) / np.float32(_PROG_PEAK)
            sigma = sigma * profile.astype(np.float32)
        lo, hi, stuck = self._gather(idx)
        return self._pin(targets_us + sigma * self.compute.normal(targets_us.shape), lo, hi, stuck)

    # -- declarations ---------------------------------------------------------------------
    def declared_step_us(self, g, direction: int):
        """Up: mean |dG| of one SET pulse on the nominal curve. Down: a RESET's mean drop to the low state."""
        s, xp = self.spec, self.xp
        g = xp.asarray(g, dtype=np.float32)
        if direction < 0:
            return xp.maximum(g - np.float32(s.reset_mean_us), 0).astype(np.float32)
        u = xp.clip((g - np.float32(s.g_min_us)) / np.float32(s.range_us), 0, 1)
        ones = xp.ones(u.shape, dtype=np.int8)
        moved = curves.advance(u, np.float32(1 / s.pmax), self._a, self._a, ones)
        return (xp.abs(moved - u) * np.float32(s.range_us)).astype(np.float32)

    def declared_write_noise_us(self, g, direction: int = UP):
        """Up: the SET pulse's cycle-to-cycle std. Down: the spread of the RESET level."""
        s = self.spec
        value = s.write_noise_us if direction > 0 else s.reset_std_us
        return self.xp.full(self.xp.shape(g), value, dtype=np.float32)

    # -- time -------------------------------------------------------------------------------
    def _drift(self, g, age_s, seconds):
        """Power law from each cell's last write: G x ((age + s) / age)^-nu, ages below t0 read as t0."""
        xp = self.xp
        t0 = np.float64(self.spec.drift_t0_s)
        before = xp.maximum(age_s, t0)
        after = xp.maximum(age_s + np.float64(seconds), t0)
        factor = xp.exp(-self.cell["nu"].astype(np.float64) * xp.log(after / before)).astype(np.float32)
        lo, hi, stuck = self.cell["g_lo"], self.cell["g_hi"], self.cell["stuck"]
        return self._pin(lo + (g - lo) * factor, lo, hi, stuck)

    def _read_noise_rel(self):
        """read_noise_rel up to read_noise_ref_s after a write, then growing as 1/f noise does."""
        s = self.spec
        if not s.has(READ_NOISE) or s.read_noise_rel == 0:
            return 0.0
        ref = np.float64(s.read_noise_ref_s)
        if self.time_s <= ref:  # no cell can be older than the clock (training never advances it)
            return s.read_noise_rel
        age = self.age_s()
        tr = np.float64(s.read_time_s)
        xp = self.xp
        growth = xp.sqrt(xp.log((xp.maximum(age, ref) + tr) / (2 * tr)) / math.log((ref + tr) / (2 * tr)))
        return (np.float32(s.read_noise_rel) * growth).astype(np.float32)
