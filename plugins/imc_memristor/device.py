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
from imc.device import DOWN, UP
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


#: hooks the fused pulsed write replaces; a subclass overriding any of them keeps the step-by-step path
_FUSED_STANDS_FOR = ("pulses_for", "declared_step_us", "_declared_step_toward", "max_update_pulses", "_pulse_moved",
                     "_pulse", "_gather", "_pin", "_draw_window")


class MemristorDevice(VariedDevice):
    """A crossbar of memristors; see the module docstring for the two regimes."""

    internal_path = True  # first-party: the library may drive the hooks without re-validation

    @property
    def _bounded(self) -> bool:
        return self.spec.has(BOUNDS)

    def _finish(self, new, idx):
        """Clip to each cell's window and keep stuck cells where they are."""
        if not self._bounded:
            return new.astype(np.float32, copy=False)  # ``new`` is always a fresh array here
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

    # -- the fused pulsed write (bounded, both curves nonlinear) ------------------------
    @functools.cached_property
    def _fused(self) -> bool:
        """True where the pulsed physics runs as one fused pass (see :meth:`_advance`):
        bounded, pulsed, both curves nonlinear, and none of the hooks it stands for overridden
        by a subclass (which then keeps the step-by-step path through its own hooks)."""
        a_up, a_down = self._a
        own = all(getattr(type(self), name) is getattr(MemristorDevice, name) for name in _FUSED_STANDS_FOR)
        return own and self._bounded and not self.spec.has(ANALOG_WRITE) and all(map(curves.is_nonlinear, (a_up, a_down)))

    @functools.cached_property
    def _direction_table(self):
        """Per-direction constants (float32, 9 x 2: column 0 down, 1 up), gathered once per write:

        0 sign, 1 offset (position measured in the direction of motion is ``offset + sign * u``),
        2 -a, 3 -1/a, 4 k = 1 - exp(-1/a), 5 -k, 6 -1/k, 7 the nominal step factor
        ``step_us * (1 + sign * asymmetry) / (a k)`` (uS; times ``1 - v k`` it is the declared
        step at position v), 8 the pulse-axis advance of one pulse ``(1 + sign * asymmetry) / pmax``."""
        s = self.spec
        pmax = s.range_us / s.step_us  # pulses that cross the nominal window
        cols = []
        for sign, a in ((-1.0, self._a[1]), (1.0, self._a[0])):
            k = 1 - np.exp(-1 / a)
            bias = 1 + sign * s.asymmetry
            cols.append([sign, (1 - sign) / 2, -a, -1 / a, k, -k, -1 / k, s.step_us * bias / (a * k), bias / pmax])
        return self.xp.asarray(np.array(cols, dtype=np.float32).T.copy())

    def _directions(self, up):
        """Columns of :attr:`_direction_table` for each cell's direction (``up`` bool): 9 x cells."""
        return self.xp.take(self._direction_table, up.astype(np.intp), axis=1)

    def _cell_table(self):
        """Per-cell parameters packed for ONE gather per write (float32, 5 x cells): step scale,
        window low, window width, and the pin bounds (a stuck cell's bound on both sides).

        Rebuilt when ``self.cell`` is replaced (``load_state`` does); the per-cell parameters
        are otherwise fixed after ``_init_cells``."""
        cached = self.__dict__.get("_cell_table_cache")
        if cached is not None and cached[0] is self.cell:
            return cached[1]
        xp, c = self.xp, self.cell
        lo, hi, stuck = c["g_lo"].reshape(-1), c["g_hi"].reshape(-1), c["stuck"].reshape(-1)
        pin_lo = xp.where(stuck > 0, hi, lo)
        pin_hi = xp.where(stuck < 0, lo, hi)
        table = xp.stack([c["step_scale"].reshape(-1), lo, hi - lo, pin_lo, pin_hi]).astype(np.float32)
        self._cell_table_cache = (self.cell, table)
        return table

    def _advance(self, g, t, d, n):
        """New conductances of cells now at ``g`` after ``n`` (float32, >= 0) pulses: the pulsed
        physics of :meth:`_pulse` in one fused pass. ``t``: the cells' columns of
        :meth:`_cell_table`; ``d``: their columns of :attr:`_direction_table` (their directions).

        Same law as ``curves.advance`` with a per-cell curve parameter: each cell moves
        ``n * step_scale * (1 + sign * asymmetry) / pmax`` along the pulse axis of its own
        window, plus cycle-to-cycle noise ``write_noise_us * sqrt(n)``, clipped to its window
        (stuck cells stay at their bound)."""
        xp = self.xp
        zero, one = np.float32(0), np.float32(1)
        lo, width = t[1], t[2]
        u = xp.minimum(xp.maximum((g - lo) / width, zero), one)
        v = d[1] + d[0] * u  # position in the direction of motion
        x = xp.minimum(xp.maximum(n * t[0] * d[8] + d[2] * xp.log1p(v * d[5]), zero), one)
        c = xp.expm1(x * d[3]) * d[6]  # the curve at x
        noise = self.compute.normal(g.shape)
        noise *= xp.sqrt(n) * np.float32(self.spec.write_noise_us)
        new = lo + (d[1] + d[0] * c) * width + noise
        return xp.minimum(xp.maximum(new, t[3]), t[4])

    def _fused_update(self, g, t, delta_us):
        """(new g, pulses as float32) for requests ``delta_us`` from ``g`` (cells' table columns ``t``):
        whole nominal pulses as :meth:`Device.pulses_for` counts them with the declared step of
        :meth:`declared_step_us`, then :meth:`_advance`; cells given 0 pulses keep ``g``."""
        d, n = self._counts(g, delta_us)
        return self._advance_moved(g, t, d, n), n

    def _counts(self, g, delta_us):
        """(direction columns, whole pulses as float32) for requests ``delta_us`` from ``g``."""
        s, xp = self.spec, self.xp
        d = self._directions(delta_us >= 0)
        u = (g - np.float32(s.g_min_us)) * np.float32(1 / s.range_us)
        u = xp.minimum(xp.maximum(u, np.float32(0)), np.float32(1))
        step = d[7] * (1 - (d[1] + d[0] * u) * d[4])  # declared step in its direction, > 0
        n = xp.rint(xp.abs(delta_us) / step)
        cap = self.max_update_pulses()
        if cap is not None:
            n = xp.minimum(n, np.float32(cap))
        return d, n

    def _advance_moved(self, g, t, d, n):
        """:meth:`_advance` where ``n > 0``; the other cells keep ``g`` (most of a small-request
        update rounds to 0 pulses)."""
        return self._where_moved(n, g, self._advance, t, d, n)

    def _update(self, g, idx, delta_us):
        if self.spec.has(ANALOG_WRITE):
            noise = self.compute.normal(g.shape)
            noise *= np.float32(self.spec.write_noise_us)
            new = g + delta_us
            new += noise
            return self._finish(new, idx), 1  # one write event per cell
        if not self._fused:
            return super()._update(g, idx, delta_us)
        new, n = self._fused_update(g, self.xp.take(self._cell_table(), idx, axis=1), delta_us)
        return new, n.astype(self.xp.int64)

    def _pair_table(self, other):
        """:meth:`_cell_table` of this device beside ``other``'s (5 x cells each), for one
        gather per pair write; both devices' own tables become views of it (no second copy)."""
        mine, theirs = self._cell_table(), other._cell_table()
        cached = self.__dict__.get("_pair_table_cache")
        if cached is not None and cached[0] is mine and cached[1] is theirs:
            return cached[2]
        n = mine.shape[1]
        pair = self.xp.concatenate([mine, theirs], axis=1)
        self._cell_table_cache = (self._cell_table_cache[0], pair[:, :n])
        other._cell_table_cache = (other._cell_table_cache[0], pair[:, n:])
        self._pair_table_cache = (self._cell_table_cache[1], other._cell_table_cache[1], pair)
        return pair

    def _fuses_pair(self, other) -> bool:
        return self._fused and type(other) is type(self) and other._fused and other.spec == self.spec

    def _write_pair_internal(self, other, idx, delta_us, use_self, g_self, g_other, counts=None):
        """A differential pair's write in one pass (internal path; this device is G+).

        An update: ``delta_us`` is the request in the pair's direction (raise G+ - G-). Pulses
        (``counts`` given, whole numbers >= 0): ``delta_us`` holds their signs (+1 raises the
        pair's difference). ``use_self`` says per cell whether this device (else ``other``, in
        the opposite direction) is written; ``g_self``/``g_other`` are the cells' conductances.
        ``idx``: flat indices or None (dense; 0 = untouched). The physics of both devices runs
        as one fused pass over the pair's stacked cell table, drawing cycle-to-cycle noise from
        this device's stream; each device stores and books its own cells as
        :meth:`_write_internal` does. Returns (cells written, pulses)."""
        xp = self.xp
        g = xp.where(use_self, g_self, g_other)
        own = xp.where(use_self, delta_us, -delta_us)  # each written device's own direction
        if counts is None:
            d, n = self._counts(g, own)
        else:
            d, n = self._directions(own > 0), counts.astype(np.float32)
        if idx is not None and not self.compute.is_gpu:  # on the host only cells given pulses go on
            moved = xp.flatnonzero(n)
            if moved.size == 0:
                return 0, 0
            if moved.size < n.size:
                idx, g, g_self, g_other, use_self, own, n = (
                    v[moved] for v in (idx, g, g_self, g_other, use_self, own, n))
                d = xp.take(d, moved, axis=1)
        where, cells = (slice(None), self._every_cell()) if idx is None else (idx, idx)
        rows = xp.where(use_self, cells, cells + self.g.size)
        table = xp.take(self._pair_table(other), rows, axis=1)
        new = self._advance_moved(g, table, d, n)
        cached = self._pair_cached(other)  # the pair's product arrays, patched below rather than rebuilt
        new_self, new_other = xp.where(use_self, new, g_self), xp.where(use_self, g_other, new)
        self._store(where, new_self)
        other._store(where, new_other)
        if cached is not None:
            self._pair_patch(other, cached, where, new_self, new_other)
        n = n.astype(xp.int64)
        mine = xp.where(use_self, n, 0)
        written = n > 0
        written_mine = written & use_self
        signs = xp.where(own > 0, UP, DOWN).astype(xp.int8) if self.spec.declares_set_reset else None
        e1, p1 = self._count_writes(where, mine, "write", written=written_mine, signs=signs)
        e2, p2 = other._count_writes(where, n - mine, "write", written=written ^ written_mine, signs=signs)
        return e1 + e2, p1 + p2

    def _pulse(self, g, idx, counts, signs):
        s, xp = self.spec, self.xp
        if self._fused:
            t = self.xp.take(self._cell_table(), idx, axis=1)
            return self._advance(g, t, self._directions(signs > 0), counts.astype(np.float32))
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
