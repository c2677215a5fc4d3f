"""MRAM cell physics: a weight is N binary magnetic tunnel junctions (MTJs).

Conductance of a cell with k of its N junctions in the parallel (P) state:
``G = k * G_P + (N - k) * G_AP`` (N + 1 levels), with ``G_P = 1 / R_P`` and
``G_AP = G_P / (1 + TMR)`` drawn per cell (device-to-device spread of R_P and TMR).

Switching (docs/device-sources.md, thermal-activation regime, b = 1): a pulse of current I and
width t_p flips its targeted junction with

    P_sw = 1 - exp(-t_p / tau),   tau = tau0 * exp(Delta * (1 - I / Ic0))

where each junction has its own Ic0 and Delta (lognormal spread, mean 1). Up (AP -> P,
G rises) uses ``Ic0 = ic0_ua * ic0_ratio``; down (P -> AP) uses ``ic0_ua``. A pulse
targets one junction: the lowest-index one that can still move in its direction; if it
does not switch, the next pulse retries it. Cells whose junctions are all switched that
way do not change (the window is a hard bound).

The periphery does not know a junction's own Ic0 or Delta: it sets the pulse current from
the population-averaged law P_bar(I / Ic0) (calibrated once, Gauss-Hermite quadrature over
the spreads). A plain pulse uses the current with ``P_bar = pulse_switch_prob``;
:meth:`MramDevice.pulse_probabilistic` picks, per cell, the current whose ``P_bar`` equals
the requested probability, so EaPU's "write with probability p" is done by the cell
itself. Averaged over cells the realised probability is the requested one; a single
junction's own probability differs (that is the device-to-device spread).

Declared step and write noise are the population figures of one pulse on a cell that can
move: ``P_bar * L`` and ``L * sqrt(P_bar * (1 - P_bar))``, with ``L = G_P - G_AP``
(one level). Read noise is the core's (0.5 % of G). Read disturb is not modelled: at
I_read / Ic0 = 0.2 and Delta = 45 the per-read flip probability is ~1e-15.

Retention (capability "drift"): with no current the same thermal law gives each junction
a mean time to flip of ``tau0 * exp(Delta)`` (its own Delta), in either direction (at zero
field both states see the same barrier). Over ``s`` seconds a junction flips with
probability ``1 - exp(-s / (tau0 exp(Delta)))``; flips are memoryless, so the law does not
depend on the time since the write and composes exactly. Delta = 45 gives ~1100 years
per junction; the 5 % spread of Delta puts a tail of junctions at a few years.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import ClassVar

import attrs
import numpy as np

from imc.device import UP, Device
from imc.errors import SpecError
from imc.spec import DeviceSpec, finite, float_field, positive, probability, spread

_I_GRID = np.linspace(0.0, 2.0, 4001)  # pulse current / nominal Ic0
_QUADRATURE_NODES = 24


MAX_MTJ = 256  # junctions per weight cell: the device walks its levels one by one


def _whole(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_MTJ:
        raise SpecError(f"{attribute.name} must be a whole number in [1, {MAX_MTJ}], got {value!r}")


def _open_probability(instance, attribute, value):
    probability(instance, attribute, value)
    if value == 0:
        raise SpecError(f"{attribute.name} must be > 0 (a pulse that never switches cannot write)")


def _field(default, validator, doc):
    return float_field(default, validator, doc)  # numbers only: a bool or string is refused, not converted


@attrs.frozen(kw_only=True)
class MramSpec(DeviceSpec):
    """DeviceSpec plus the MTJ physics.

    ``g_min_us``, ``g_max_us`` and ``step_us`` are derived from the junction physics (see
    ``derived_fields``) and cannot be set: change ``r_p_kohm``, ``tmr``, ``n_mtj`` or
    ``pulse_switch_prob`` instead.
    """

    derived_fields: ClassVar[Mapping[str, str]] = {
        "g_min_us": "n_mtj * G_AP, with G_AP = 1e3 / (r_p_kohm * (1 + tmr)); set r_p_kohm, tmr or n_mtj",
        "g_max_us": "n_mtj * G_P, with G_P = 1e3 / r_p_kohm; set r_p_kohm or n_mtj",
        "step_us": "pulse_switch_prob * (G_P - G_AP); set pulse_switch_prob, r_p_kohm or tmr",
    }

    n_mtj: int = attrs.field(default=4, validator=_whole, metadata={"doc": "junctions per weight cell (N + 1 levels)"})
    r_p_kohm: float = _field(3.5, positive, "resistance of one junction in the parallel state, kOhm")
    tmr: float = _field(1.3, positive, "tunnel magnetoresistance (R_AP - R_P) / R_P, fraction")
    delta: float = _field(45.0, positive, "thermal stability factor Delta = E_b / k_B T")
    tau0_s: float = _field(1e-9, positive, "attempt time tau0 of the thermal switching law, s")
    ic0_ua: float = _field(150.0, positive, "critical current P -> AP at t_p = tau0, uA")
    ic0_ratio: float = _field(0.7, positive, "Ic0(AP -> P) / Ic0(P -> AP)")
    ic0_d2d: float = _field(0.05, spread, "device-to-device relative std of Ic0, per junction")
    delta_d2d: float = _field(0.05, spread, "device-to-device relative std of Delta, per junction")
    r_p_d2d: float = _field(0.03, spread, "device-to-device relative std of R_P, per cell")
    tmr_d2d: float = _field(0.03, spread, "device-to-device relative std of TMR, per cell")
    pulse_switch_prob: float = _field(0.5, _open_probability, "population P_sw of a plain write pulse")

    def __attrs_post_init__(self):
        g_p = 1e3 / self.r_p_kohm  # uS
        g_ap = g_p / (1 + self.tmr)
        object.__setattr__(self, "g_min_us", self.n_mtj * g_ap)
        object.__setattr__(self, "g_max_us", self.n_mtj * g_p)
        object.__setattr__(self, "step_us", self.pulse_switch_prob * (g_p - g_ap))
        for name in self.derived_fields:  # derived conductances live in float32 arrays too
            finite(self, attrs.fields_dict(type(self))[name], getattr(self, name))
        super().__attrs_post_init__()

    @property
    def levels(self) -> int:
        """Distinct conductance levels of a weight cell, N + 1."""
        return self.n_mtj + 1

    @property
    def level_us(self) -> float:
        """Nominal conductance change of one junction flip, G_P - G_AP, uS."""
        return (self.g_max_us - self.g_min_us) / self.n_mtj

    def ic0_dir_ua(self, direction: int) -> float:
        """Nominal critical current for switching up (AP -> P) or down (P -> AP), uA."""
        return self.ic0_ua * (self.ic0_ratio if direction > 0 else 1.0)


def _lognormal_nodes(rel_std: float):
    """Gauss-Hermite nodes and weights of a lognormal factor with mean 1 and the given spread."""
    x, w = np.polynomial.hermite_e.hermegauss(_QUADRATURE_NODES)
    w = w / w.sum()
    s = math.sqrt(math.log1p(rel_std**2))
    return np.exp(s * x - s * s / 2), w


def switch_probability(i, delta, ic0_scale, t_over_tau0, xp=np):
    """Thermal-law P_sw for current ``i`` (units of nominal Ic0) on junctions of ``delta``, ``ic0_scale``."""
    rate = t_over_tau0 * xp.exp(-delta * (1 - i / ic0_scale))
    return -xp.expm1(-rate)


@functools.lru_cache(maxsize=32)  # the spec is frozen; devices of one spec share the (read-only) law
def population_law(spec: MramSpec):
    """(i grid, P_bar(i)) averaged over the Ic0 and Delta spreads; numpy float64 (do not write into it)."""
    s_nodes, s_w = _lognormal_nodes(spec.ic0_d2d)
    d_nodes, d_w = _lognormal_nodes(spec.delta_d2d)
    t = spec.pulse_width_s / spec.tau0_s
    i = _I_GRID[:, None, None]
    p = switch_probability(i, spec.delta * d_nodes[None, None, :], s_nodes[None, :, None], t)
    return _I_GRID, (p * s_w[None, :, None] * d_w[None, None, :]).sum(axis=(1, 2))


class MramDevice(Device):
    """An array of multi-MTJ weight cells; see the module docstring for the physics."""

    internal_path = True  # first-party: the library may drive the hooks without re-validation

    def __init__(self, spec: MramSpec, shape, compute):
        if not isinstance(spec, MramSpec):
            raise TypeError(f"the mram backend needs an MramSpec, got {type(spec).__name__}")
        n = spec.n_mtj
        self.cell_fields = ("parallel", "g_p", "g_ap") + tuple(
            f"{name}{j}" for j in range(n) for name in ("ic0_scale", "delta")
        )
        grid, p_bar = population_law(spec)
        # invert P_bar on its strictly increasing part (it is flat ~0 and ~1 at the ends)
        keep = np.concatenate([[True], np.diff(p_bar) > 1e-12])
        self._law_i, self._law_p = grid[keep], p_bar[keep]
        super().__init__(spec, shape, compute)
        xp = self.xp
        self._law_i_xp = xp.asarray(self._law_i, dtype=np.float32)
        self._law_p_xp = xp.asarray(self._law_p, dtype=np.float32)
        self._plain_i = float(np.interp(spec.pulse_switch_prob, self._law_p, self._law_i))

    # -- per-cell parameters ----------------------------------------------------------
    def _init_cells(self) -> None:
        s, xp, c = self.spec, self.xp, self.compute
        shape = self.shape

        def lognormal(rel):
            sd = np.float32(math.sqrt(math.log1p(rel**2)))
            return xp.exp(c.normal(shape) * sd - sd * sd / 2).astype(np.float32)

        g_p = np.float32(1e3 / s.r_p_kohm) / lognormal(s.r_p_d2d)
        self.cell["g_p"] = g_p.astype(np.float32)
        self.cell["g_ap"] = (g_p / (1 + np.float32(s.tmr) * lognormal(s.tmr_d2d))).astype(np.float32)
        for j in range(s.n_mtj):
            self.cell[f"ic0_scale{j}"] = lognormal(s.ic0_d2d)
            self.cell[f"delta{j}"] = (np.float32(s.delta) * lognormal(s.delta_d2d)).astype(np.float32)
        # fresh cells: half the junctions parallel (mid-window), lowest indices first
        self.cell["parallel"] = xp.full(shape, (1 << (s.n_mtj // 2)) - 1, dtype=np.int16)
        self.g = self._conductance(self.cell["parallel"], self.cell["g_p"], self.cell["g_ap"])

    def _conductance(self, parallel, g_p, g_ap):
        k = self._popcount(parallel).astype(np.float32)
        return (k * g_p + (np.float32(self.spec.n_mtj) - k) * g_ap).astype(np.float32)

    def _popcount(self, parallel):
        k = self.xp.zeros(parallel.shape, dtype=np.int16)
        for j in range(self.spec.n_mtj):
            k += (parallel >> j) & 1
        return k

    def _gather(self, name, idx):
        return self.cell[name].reshape(-1)[idx]

    # -- population law ---------------------------------------------------------------
    def switching_probability(self, current_ua, direction: int):
        """Declared (population-averaged) P_sw of one pulse of ``current_ua`` in ``direction``."""
        i = self.xp.asarray(current_ua, dtype=np.float32) / np.float32(self.spec.ic0_dir_ua(direction))
        return self.xp.interp(i, self._law_i_xp, self._law_p_xp).astype(np.float32)

    def current_for_probability(self, probability, direction: int):
        """Pulse current (uA) whose population-averaged P_sw is ``probability``."""
        i = self.xp.interp(self.xp.asarray(probability, dtype=np.float32), self._law_p_xp, self._law_i_xp)
        return (i * np.float32(self.spec.ic0_dir_ua(direction))).astype(np.float32)

    # -- switching --------------------------------------------------------------------
    def _junction_probability(self, idx, j, i):
        t = self.spec.pulse_width_s / self.spec.tau0_s
        return switch_probability(i, self._gather(f"delta{j}", idx), self._gather(f"ic0_scale{j}", idx), np.float32(t), self.xp)

    def _switch(self, idx, counts, signs, currents):
        """Apply ``counts`` pulses at ``currents`` (units of Ic0 per direction); new bits."""
        xp, c = self.xp, self.compute
        bits = self._gather("parallel", idx)
        up = signs > 0
        pulses_used = xp.zeros(idx.shape, dtype=np.float64)
        new_bits = bits.copy()
        for j in range(self.spec.n_mtj):
            in_p = ((bits >> j) & 1).astype(bool)
            movable = xp.where(up, ~in_p, in_p)
            p = self._junction_probability(idx, j, currents)
            u = np.float32(1) - c.uniform(idx.shape)  # in (0, 1]
            with np.errstate(divide="ignore", invalid="ignore"):
                needed = xp.floor(xp.log(u) / xp.log1p(-xp.minimum(p, np.float32(1 - 1e-7)))) + 1
            needed = xp.where(p >= 1, xp.ones_like(needed), needed)
            pulses_used = pulses_used + xp.where(movable, needed, xp.zeros_like(needed))
            flips = movable & (pulses_used <= counts)
            new_bits = new_bits ^ (flips.astype(np.int16) << j)
        return new_bits

    def _apply(self, idx, counts, signs, currents):
        new_bits = self._switch(idx, counts, signs, currents)
        self.cell["parallel"].reshape(-1)[idx] = new_bits
        return self._conductance(new_bits, self._gather("g_p", idx), self._gather("g_ap", idx))

    def _pulse(self, g, idx, counts, signs):
        currents = self.xp.full(idx.shape, self._plain_i, dtype=np.float32)
        return self._apply(idx, counts, signs, currents)

    def _movable(self, idx, signs):
        k = self._popcount(self._gather("parallel", idx))
        return self.xp.where(signs > 0, k < self.spec.n_mtj, k > 0)

    def max_update_pulses(self) -> int:
        """More pulses than this cannot move a cell further (update() caps its counts here)."""
        return math.ceil(4 * self.spec.n_mtj / self.spec.pulse_switch_prob)

    def _update(self, g, idx, delta_us):
        """Plain pulses for a requested change, rounded to the nearest count of expected steps
        (the protocol's rule for pulsed devices); none for a cell that cannot move."""
        counts, signs = self.pulses_for(g, delta_us, max_pulses=self.max_update_pulses())
        counts = counts * self._movable(idx, signs)
        return self._pulse_moved(g, idx, counts, signs), counts

    def _program(self, g, idx, targets_us):
        """Write-verify: the nearest level, junctions switched until they read right."""
        xp, n = self.xp, self.spec.n_mtj
        g_p, g_ap = self._gather("g_p", idx), self._gather("g_ap", idx)
        k = xp.clip(xp.rint((targets_us - n * g_ap) / (g_p - g_ap)), 0, n).astype(np.int16)
        bits = ((1 << k) - 1).astype(np.int16)
        self.cell["parallel"].reshape(-1)[idx] = bits
        return self._conductance(bits, g_p, g_ap)

    def _drift(self, g, age_s, seconds):
        """Thermal retention: each junction flips with probability 1 - exp(-s / (tau0 e^Delta))."""
        xp, c, s = self.xp, self.compute, self.spec
        bits = self.cell["parallel"]
        shape = self.shape
        for j in range(s.n_mtj):
            rate = np.float64(seconds / s.tau0_s) * xp.exp(-self.cell[f"delta{j}"].astype(np.float64))
            flips = c.uniform(shape) < -xp.expm1(-rate)
            bits = bits ^ (flips.astype(np.int16) << j)
        self.cell["parallel"] = bits.astype(np.int16)
        return self._conductance(self.cell["parallel"], self.cell["g_p"], self.cell["g_ap"])

    def pulse_probabilistic(self, probabilities, signs, index=None) -> None:
        """One pulse per selected cell at the current whose population P_sw is the request."""
        xp = self.xp
        probs = self._as_array("probabilities", probabilities, dtype=np.float32)
        self._check_finite("probabilities", probs)
        if bool(((probs < 0) | (probs > 1)).any()):
            raise ValueError(
                f"probabilities must lie in [0, 1] (min {float(probs.min()):.4g}, max {float(probs.max()):.4g})"
            )
        idx, p, s = self._select_signed("probabilities", probs, signs, index)
        if idx.size == 0:
            return
        currents = xp.interp(p, self._law_p_xp, self._law_i_xp).astype(np.float32)
        ones = xp.ones(idx.shape, dtype=xp.int64)
        new = self._apply(idx, ones, s, currents)
        self._commit(idx, new)
        self._count_writes(idx, ones, "write", signs=s)

    # -- declarations -----------------------------------------------------------------
    def window_at(self, idx):
        n = np.float32(self.spec.n_mtj)
        return n * self._gather("g_ap", idx), n * self._gather("g_p", idx)

    def _nominal_movable(self, g, direction):
        s, xp = self.spec, self.xp
        k = xp.rint((xp.asarray(g, dtype=np.float32) - np.float32(s.g_min_us)) / np.float32(s.level_us))
        return (k < s.n_mtj) if direction > 0 else (k > 0)

    def declared_step_us(self, g, direction: int):
        """Mean |dG| of one plain pulse: P_sw * (G_P - G_AP) while a junction can move."""
        s = self.spec
        return self._nominal_movable(g, direction).astype(np.float32) * np.float32(s.step_us)

    def declared_write_noise_us(self, g, direction: int = UP):
        """Std of one plain pulse's change: (G_P - G_AP) * sqrt(P_sw (1 - P_sw)) while movable."""
        s = self.spec
        sigma = np.float32(s.level_us * math.sqrt(s.pulse_switch_prob * (1 - s.pulse_switch_prob)))
        return self._nominal_movable(g, direction).astype(np.float32) * sigma
