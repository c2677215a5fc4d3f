"""Subtle mutants: one honest mistake each, small in magnitude or on a path taken rarely.

Each class is a first-party device (or the example ECRAM plugin's) with exactly one defect
that an author makes without noticing: a scale error of 10-30 %, a defect in one write form
only (a sparse index of one cell, a sorted index, counts of 0 among a sparse pulse), on a
rare path (cells at the window's edge, stuck cells, after drift, after load_state, the
second product with no write between), counters right in total but booked to the wrong
cells or category, a clock not set by one form, drift that does not compose, read noise
shared across one product's outputs, float64 or a foreign random stream on one method only.

:data:`SUBTLE` lists (mutant, healthy device, spec, the check that must fail, words its
message must contain); tests/test_conformance_mutants.py runs them with the first battery.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
from imc_fefet import PRESETS as FEFET_PRESETS
from imc_fefet import FefetDevice
from imc_memristor import PRESETS, MemristorDevice
from imc_mram import PRESETS as MRAM_PRESETS
from imc_mram import MramDevice
from imc_pcm import PRESETS as PCM_PRESETS
from imc_pcm import PcmDevice

from imc.spec import READ_NOISE
from imc.variation import VariedDevice

try:
    import imc_ecram
except ImportError:  # the example plugin is not installed in this environment: use its source
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "imc-ecram" / "src"))
    import imc_ecram

from imc_ecram import EcramDevice

PAPER, REALISTIC = PRESETS["eapu-paper"], PRESETS["rram-realistic"]
FEFET = FEFET_PRESETS["fefet"]
STT = MRAM_PRESETS["stt"]
PCM = PCM_PRESETS["pcm-joshi"]
ECRAM = imc_ecram.PRESETS["li-ecram"]
FEFET_QUIET_READS = FEFET.evolve(read_noise_rel=0.0, capabilities=FEFET.capabilities - {READ_NOISE})


def _ecram_pulse(dev, g, idx, counts, signs, noise_scale=1.0):
    """The ECRAM plugin's _pulse with the write noise multiplied by ``noise_scale`` (per cell or one number)."""
    s, xp = dev.spec, dev.xp
    n = counts.astype(np.float32)
    step = np.float32(s.step_us) * (1 + signs * np.float32(s.asymmetry)) * dev.cell["step_scale"].reshape(-1)[idx]
    noise = dev.compute.normal(g.shape) * np.float32(s.write_noise_us) * xp.sqrt(n) * noise_scale
    return xp.clip(g + signs * n * step + noise, np.float32(s.g_min_us), np.float32(s.g_max_us)).astype(np.float32)


def _product(dev, x, transposed, g, draw):
    """The core's public product (validation, x @ G with relative read noise, read counting) on
    conductances ``g``, drawing the standard normal noise of the outputs with ``draw(shape)``."""
    x = dev._as_array("input", x)
    need = dev.shape[1] if transposed else dev.shape[0]
    if x.ndim not in (1, 2) or x.shape[-1] != need:
        raise ValueError(f"input must have shape (batch, {need}) or ({need},), got {tuple(x.shape)}")
    dev._check_finite("input", x)
    x2 = x.reshape(1, -1) if x.ndim == 1 else x
    m = g.T if transposed else g
    y = x2 @ m
    rel = np.float32(dev._read_noise_rel())
    if rel > 0:
        sg = m * rel
        y = y + np.sqrt((x2 * x2) @ (sg * sg)) * draw(y.shape)
    dev._count_reads(x2.shape[0])
    y = y.astype(np.float32)
    return y[0] if x.ndim == 1 else y


# -- 1. scale errors of 10-30 % --------------------------------------------------------------------
class WriteNoise18PercentOver(EcramDevice):
    """Each pulse's noise is 1.18 x the declared write_noise_us (a sqrt(2) in a variance, half applied)."""

    def _pulse(self, g, idx, counts, signs):
        return _ecram_pulse(self, g, idx, counts, signs, np.float32(1.18))


class WriteNoise20PercentUnder(EcramDevice):
    """Each pulse's noise is 0.8 x what declared_write_noise_us says (the declaration adds a margin)."""

    def _pulse(self, g, idx, counts, signs):
        return _ecram_pulse(self, g, idx, counts, signs, np.float32(0.8))


class DownNoise25PercentOver(EcramDevice):
    """Only down (RESET-side) pulses are noisier than declared, by 25 % (asymmetric defect)."""

    def _pulse(self, g, idx, counts, signs):
        return _ecram_pulse(self, g, idx, counts, signs, self.xp.where(signs < 0, np.float32(1.25), np.float32(1)))


class ReadNoise12PercentOver(MemristorDevice):
    """Reads and products see 1.12 x the declared relative read noise."""

    def _read_noise_rel(self):
        return 1.12 * super()._read_noise_rel()


class ProgramNoise20PercentOver(EcramDevice):
    """Write-verify lands with 1.2 x the declared program_noise_us."""

    def _program(self, g, idx, targets_us):
        noise = self.compute.normal(targets_us.shape) * np.float32(1.2 * self.spec.program_noise_us)
        lo, hi = self.window_at(idx)
        return self.xp.clip(targets_us + noise, lo, hi)


class AnalogUpdateNoise15PercentOver(MemristorDevice):
    """An analog-write update lands with 1.15 x write_noise_us (pulses are not involved)."""

    def _update(self, g, idx, delta_us):
        new = g + delta_us + self.compute.normal(g.shape) * np.float32(1.15 * self.spec.write_noise_us)
        return new.astype(np.float32), 1


class PulseEnergy12PercentOver(FefetDevice):
    """Books 1.12 x energy_per_pulse_j per write pulse (a driver overhead folded in)."""

    def _count_writes(self, idx, pulses, category, *args, **kwargs):
        events, n = super()._count_writes(idx, pulses, category, *args, **kwargs)
        self.counters.energy_j[category] += 0.12 * float(n) * self.spec.energy_per_pulse_j
        return events, n


class ReadsCountedPerInputEntry(MemristorDevice):
    """A product of ONE vector (1-D input) counts len(x) vectors of cell reads (x.shape[0] before the reshape)."""

    def _product(self, x, transposed, *args, **kwargs):
        y = super()._product(x, transposed, *args, **kwargs)
        if np.ndim(x) == 1:
            self._count_reads(int(np.shape(x)[0]) - 1)
        return y


# -- 2. one write form only -------------------------------------------------------------------------
class SingleCellUpdateDropsSign(MemristorDevice):
    """A sparse update of ONE cell takes a scalar fast path that uses the request's magnitude."""

    def update(self, delta_us, index=None):
        if index is not None and np.size(index) == 1:
            delta_us = np.abs(np.asarray(delta_us, dtype=np.float32))
        super().update(delta_us, index)


class SortedIndexSkipsDuplicateCheck(MemristorDevice):
    """A sorted sparse index takes a fast path without the duplicate check: [2, 2, 5] is accepted
    (the last request for a repeated cell wins)."""

    def update(self, delta_us, index=None):
        if index is not None:
            idx = np.asarray(index)
            if idx.ndim == 1 and idx.size > 1 and idx.dtype.kind in "iu" and bool((np.diff(idx) >= 0).all()):
                values = np.asarray(delta_us, dtype=np.float32)
                if values.shape == idx.shape:
                    cells, first = np.unique(idx[::-1], return_index=True)
                    return super().update(values[::-1][first], index=cells)
        return super().update(delta_us, index)


class SparseZeroCountsBooked(MemristorDevice):
    """A sparse pulse books a write event on every listed cell, also those given 0 pulses."""

    def pulse(self, counts, signs, index=None):
        super().pulse(counts, signs, index)
        if index is not None:
            zero = np.asarray(index)[np.asarray(counts) == 0].astype(np.int64)
            self.counters.writes.reshape(-1)[zero] += 1
            self.counters.events += int(zero.size)


class PulsesBookedInSortedOrder(MemristorDevice):
    """Books per-cell wear at the sorted index but in the caller's order of counts (totals right,
    cells wrong whenever a sparse index is not sorted)."""

    def _count_writes(self, idx, pulses, category, *args, **kwargs):
        if not isinstance(idx, slice) and not isinstance(pulses, int) and np.ndim(idx) == 1:
            idx = np.sort(np.asarray(idx))
        return super()._count_writes(idx, pulses, category, *args, **kwargs)


class DensePulseKeepsClock(EcramDevice):
    """A dense pulse() does not set the written cells' clocks (the sparse form does)."""

    def pulse(self, counts, signs, index=None):
        clock = self.written_at_s.copy()
        super().pulse(counts, signs, index)
        if index is None:
            self.written_at_s = clock


class FullProgramKeepsClock(EcramDevice):
    """program() of the whole array (no mask) does not set the clocks (the masked form does)."""

    def program(self, targets_us, mask=None):
        clock = self.written_at_s.copy()
        super().program(targets_us, mask)
        if mask is None:
            self.written_at_s = clock


class DenseProbabilisticKeepsClock(MramDevice):
    """A dense pulse_probabilistic() does not set the written cells' clocks."""

    def pulse_probabilistic(self, probabilities, signs, index=None):
        clock = self.written_at_s.copy()
        super().pulse_probabilistic(probabilities, signs, index)
        if index is None:
            self.written_at_s = clock


# -- 3. rare paths ------------------------------------------------------------------------------------
class NoNoiseNearEdges(EcramDevice):
    """Cells within two steps of a window end get no write noise (a clip placed before the noise)."""

    def _pulse(self, g, idx, counts, signs):
        s = self.spec
        margin = np.float32(2 * s.step_us)
        inside = ((g - np.float32(s.g_min_us) > margin) & (np.float32(s.g_max_us) - g > margin)).astype(np.float32)
        return _ecram_pulse(self, g, idx, counts, signs, inside)


class ProgramMovesStuckCells(MemristorDevice):
    """Write-verify clips to each cell's window but forgets that stuck cells cannot move."""

    def _program(self, g, idx, targets_us):
        stuck = self.cell["stuck"]
        self.cell["stuck"] = self.xp.zeros_like(stuck)
        try:
            return super()._program(g, idx, targets_us)
        finally:
            self.cell["stuck"] = stuck


class _CachedProducts:
    """Products from a copy of G refreshed by :meth:`_refresh` (mixed into a device)."""

    def _refresh(self):
        self._g_products = self.g.copy()

    def _init_cells(self):
        super()._init_cells()
        self._refresh()

    def load_state(self, state):
        super().load_state(state)
        self._refresh()

    def _product(self, x, transposed, *args, **kwargs):
        live, self.g = self.g, self._g_products
        try:
            return super()._product(x, transposed, *args, **kwargs)
        finally:
            self.g = live


class ProductStaleAfterDrift(_CachedProducts, EcramDevice):
    """Products use a copy of G refreshed on every write and load_state, but not after drift."""

    def _store(self, idx, new_values):
        super()._store(idx, new_values)
        self._refresh()


class ProductStaleAfterOneCellWrite(_CachedProducts, MemristorDevice):
    """Products use a copy of G patched after each write, except a write of a single cell
    (the patch indexes with idx[0] where it meant idx)."""

    def _store(self, idx, new_values):
        super()._store(idx, new_values)
        if isinstance(idx, slice) or np.size(idx) != 1:
            self._refresh()

    def drift(self, seconds):
        super().drift(seconds)
        self._refresh()


class ProductNoiseReusedAcrossCalls(MemristorDevice):
    """forward() draws the read noise of an output shape once and reuses it on the next call
    with the same shape (a buffer allocated once, never redrawn)."""

    def _product(self, x, transposed, *args, **kwargs):
        buffers = self.__dict__.setdefault("_noise_buffers", {})

        def draw(shape):
            key = (tuple(shape), transposed)
            if key not in buffers:
                buffers[key] = self.compute.normal(shape)
            return buffers[key]

        return _product(self, x, transposed, self.g, draw)


class BackwardNoiseSharedAcrossOutputs(MemristorDevice):
    """The transposed product draws one read-noise number per input vector and applies it to all
    its outputs (forward is right)."""

    def _product(self, x, transposed, *args, **kwargs):
        if not transposed:
            return super()._product(x, transposed, *args, **kwargs)
        return _product(self, x, transposed, self.g, lambda shape: self.compute.normal((shape[0], 1)))


class SquareForwardTransposed(MemristorDevice):
    """Picks the product's orientation from the input width: on a square array forward computes x @ G.T."""

    def forward(self, x):
        if self.shape[0] == self.shape[1]:
            return self._product(x, transposed=True)
        return super().forward(x)


class VerifyReadsBookedAsProductReads(MemristorDevice):
    """read_cells() (verify reads) books its energy under 'read' instead of 'verify'."""

    def read_cells(self, index):
        before = self.counters.energy_j["verify"]
        out = super().read_cells(index)
        moved = self.counters.energy_j["verify"] - before
        self.counters.energy_j["verify"] -= moved
        self.counters.energy_j["read"] += moved
        return out


class MaskedReadCountsEveryCell(MemristorDevice):
    """read_masked() counts a read of every cell, not only the masked ones."""

    def read_masked(self, mask):
        out = super().read_masked(mask)
        extra = int(self.g.size - int(np.asarray(mask).sum()))
        self.counters.cell_reads += extra
        self.counters.energy_j["verify"] += extra * self.spec.energy_per_read_j
        return out


class VerifyReadNoiseFromGlobalRng(MemristorDevice):
    """read_cells() draws its read noise from numpy's global generator (every other form is seeded)."""

    def read_cells(self, index):
        super().read_cells(index)  # validation and counting
        g = self.g.reshape(-1)[np.asarray(index, dtype=np.int64)]
        rel = np.float32(self._read_noise_rel())
        return (g + np.abs(g) * rel * np.random.standard_normal(g.shape).astype(np.float32)).astype(np.float32)


class VerifyReadReturnsFloat64(MemristorDevice):
    """read_cells() returns float64 (the noise is drawn in float64 and added last)."""

    def read_cells(self, index):
        return super().read_cells(index).astype(np.float64)


class StuckWithoutDeclaring(FefetDevice):
    """3 % of cells are stuck at their low bound, though the spec declares no faults."""

    def _init_cells(self):
        super()._init_cells()
        stuck = self.compute.uniform(self.shape) < np.float32(0.03)
        self.cell["stuck"] = self.xp.where(stuck, np.int8(-1), self.cell["stuck"]).astype(np.int8)
        self.g = self._pin(self.g, self.cell["g_lo"], self.cell["g_hi"], self.cell["stuck"])


class ReadNoiseWithoutDeclaring(FefetDevice):
    """Adds 1 % read noise although the spec does not declare the capability 'read-noise'."""

    def _read_noise_rel(self):
        return 0.01


class WindowAtIgnoresOwnWindow(FefetDevice):
    """window_at reports the spec window although each cell clips to its own window."""

    def window_at(self, idx):
        return np.float32(self.spec.g_min_us), np.float32(self.spec.g_max_us)


class StepScaleCachedAtCreation(EcramDevice):
    """Keeps a flat view of the step scale taken at creation; load_state replaces self.cell, the view stays."""

    def _init_cells(self):
        super()._init_cells()
        self._scale = self.cell["step_scale"].reshape(-1)

    def _pulse(self, g, idx, counts, signs):
        s, xp = self.spec, self.xp
        n = counts.astype(np.float32)
        step = np.float32(s.step_us) * (1 + signs * np.float32(s.asymmetry)) * self._scale[idx]
        noise = self.compute.normal(g.shape) * np.float32(s.write_noise_us) * xp.sqrt(n)
        return xp.clip(g + signs * n * step + noise, np.float32(s.g_min_us), np.float32(s.g_max_us))


class DriftExponentNotExported(PcmDevice):
    """Draws the per-cell drift exponent into an attribute of its own, not into cell_fields."""

    cell_fields = VariedDevice.cell_fields

    def _init_cells(self):
        VariedDevice._init_cells(self)
        s = self.spec
        nu = np.float32(s.drift_nu_mean) + np.float32(s.drift_nu_std) * self.compute.normal(self.shape)
        self._nu = self.xp.maximum(nu, np.float32(0)).astype(np.float32)

    def _drift(self, g, age_s, seconds):
        self.cell["nu"] = self._nu
        try:
            return super()._drift(g, age_s, seconds)
        finally:
            del self.cell["nu"]


# -- 4. drift laws that do not compose --------------------------------------------------------------
class DriftStepCappedAtOneHour(EcramDevice):
    """Relaxes at most one hour's worth per drift() call (a time-step guard copied from an integrator)."""

    def _drift(self, g, age_s, seconds):
        return super()._drift(g, age_s, min(seconds, 3600.0))


class DriftWrapsAtOneDay(EcramDevice):
    """Relaxes by the time modulo one day (time of day taken for elapsed time): not monotone."""

    def _drift(self, g, age_s, seconds):
        return super()._drift(g, age_s, math.fmod(seconds, 86400.0))


class PcmDriftForgetsAge(PcmDevice):
    """Power-law drift measured from the start of each drift() call instead of the cell's last write."""

    def _drift(self, g, age_s, seconds):
        return super()._drift(g, age_s * 0.0, seconds)


class RramRelaxationForgetsAge(MemristorDevice):
    """Logarithmic relaxation measured from the start of each drift() call instead of the last write."""

    def _drift(self, g, age_s, seconds):
        return super()._drift(g, age_s * 0.0, seconds)


# -- 5. more single-form defects ---------------------------------------------------------------------
class OneVectorProductNoiseless(MemristorDevice):
    """A product of ONE vector takes a matrix-vector fast path that forgets the read noise."""

    def _product(self, x, transposed, *args, **kwargs):
        if np.ndim(x) == 1:
            return _product(self, x, transposed, self.g, lambda shape: np.zeros(shape, np.float32))
        return super()._product(x, transposed, *args, **kwargs)


class SparseProbabilisticIgnoresSign(MramDevice):
    """The sparse form of pulse_probabilistic drives every listed cell up (signs dropped on that path)."""

    def pulse_probabilistic(self, probabilities, signs, index=None):
        if index is not None:
            signs = np.ones(np.shape(probabilities), np.int8)
        super().pulse_probabilistic(probabilities, signs, index)


class SwitchingCurrent10PercentLow(MramDevice):
    """Calibrates the switching current for 0.9 x the requested probability (a stale calibration table)."""

    def pulse_probabilistic(self, probabilities, signs, index=None):
        p = self.xp.asarray(probabilities, dtype=np.float32)
        if bool(((p < 0) | (p > 1) | ~self.xp.isfinite(p)).any()):
            raise ValueError("probabilities must lie in [0, 1]")
        super().pulse_probabilistic(p * np.float32(0.9), signs, index)


class StepSpreadOnlyUp(EcramDevice):
    """Applies the per-cell step scale to up pulses only; down pulses move every cell by the nominal step."""

    def _pulse(self, g, idx, counts, signs):
        s, xp = self.spec, self.xp
        n = counts.astype(np.float32)
        scale = xp.where(signs > 0, self.cell["step_scale"].reshape(-1)[idx], np.float32(1))
        step = np.float32(s.step_us) * (1 + signs * np.float32(s.asymmetry)) * scale
        noise = self.compute.normal(g.shape) * np.float32(s.write_noise_us) * xp.sqrt(n)
        return xp.clip(g + signs * n * step + noise, np.float32(s.g_min_us), np.float32(s.g_max_us))


class OneCellWriteNoiseFromGlobalRng(EcramDevice):
    """A write of ONE cell takes a scalar path that draws its noise from numpy's global generator."""

    def _pulse(self, g, idx, counts, signs):
        if np.size(idx) != 1:
            return super()._pulse(g, idx, counts, signs)
        s = self.spec
        n = counts.astype(np.float32)
        step = np.float32(s.step_us) * (1 + signs * np.float32(s.asymmetry)) * self.cell["step_scale"].reshape(-1)[idx]
        noise = np.float32(np.random.standard_normal()) * np.float32(s.write_noise_us) * np.sqrt(n)
        return np.clip(g + signs * n * step + noise, np.float32(s.g_min_us), np.float32(s.g_max_us)).astype(np.float32)


class AnalogWriteRoundsToSteps(MemristorDevice):
    """Declares analog writes but realises each request as the nearest whole number of step_us (one event)."""

    def _update(self, g, idx, delta_us):
        step = np.float32(self.spec.step_us)
        quantised = self.xp.rint(delta_us / step) * step
        new = g + quantised + self.compute.normal(g.shape) * np.float32(self.spec.write_noise_us)
        return new.astype(np.float32), 1


class MaskedProgramSkipsVerifyRounds(EcramDevice):
    """program(mask) runs fewer verify rounds than the whole-array program: it lands with 1.3 x the noise."""

    def program(self, targets_us, mask=None):
        self._partial = mask is not None
        try:
            super().program(targets_us, mask)
        finally:
            self._partial = False

    def _program(self, g, idx, targets_us):
        scale = 1.3 if getattr(self, "_partial", False) else 1.0
        noise = self.compute.normal(targets_us.shape) * np.float32(scale * self.spec.program_noise_us)
        lo, hi = self.window_at(idx)
        return self.xp.clip(targets_us + noise, lo, hi)


# -- 6. clocks and caches around load_state -----------------------------------------------------------


class ProductStaleAfterLoadState(_CachedProducts, MemristorDevice):
    """Products use a copy of G refreshed by writes and drift, but not by load_state."""

    def load_state(self, state):  # the device's own load_state, without the refresh
        MemristorDevice.load_state(self, state)

    def _store(self, idx, new_values):
        super()._store(idx, new_values)
        self._refresh()

    def drift(self, seconds):
        super().drift(seconds)
        self._refresh()


class ClockSetOnRoundedAwayCells(EcramDevice):
    """update() resets the clock of every requested cell, also those whose request rounds to 0 pulses."""

    def update(self, delta_us, index=None):
        super().update(delta_us, index)
        if index is None and self.time_s:
            req = np.asarray(delta_us) != 0
            self.written_at_s[req] = self.time_s


class ClockExportedAsFloat32(EcramDevice):
    """state() exports the write clocks as float32 (a dtype copied from the conductances)."""

    def state(self):
        out = super().state()
        out["written_at_s"] = out["written_at_s"].astype(np.float32)
        return out


class SparseZeroCountCellsDisturbed(MemristorDevice):
    """A sparse pulse adds the write noise to listed cells given 0 pulses as well (not counted)."""

    def pulse(self, counts, signs, index=None):
        super().pulse(counts, signs, index)
        if index is not None:
            zero = np.asarray(index)[np.asarray(counts) == 0].astype(np.int64)
            if zero.size:
                flat = self.g.reshape(-1)
                flat[zero] = flat[zero] + np.float32(self.spec.write_noise_us) * self.compute.normal(zero.shape)


# -- 7. a declared switching law that is not one ----------------------------------------------------
class InverseLawCurrent10PercentHigh(MramDevice):
    """current_for_probability returns 1.1 x the current its own switching_probability gives for p
    (the inverse tabulated against a different Ic0)."""

    def current_for_probability(self, probability, direction):
        return super().current_for_probability(probability, direction) * np.float32(1.1)


class LawDirectionIgnoredByInverse(MramDevice):
    """current_for_probability always uses the down (P -> AP) critical current, whatever the direction."""

    def current_for_probability(self, probability, direction):
        return super().current_for_probability(probability, -1)


# -- 8. declarations at the window's ends -------------------------------------------------------------
class StepZeroAtBothBounds(FefetDevice):
    """declared_step_us gives 0 at a bound in both directions (meant only toward it): update() can never
    take a cell at the top of its window down, nor one at the bottom up."""

    def declared_step_us(self, g, direction):
        s, xp = self.spec, self.xp
        g = xp.asarray(g, dtype=np.float32)
        eps = np.float32(1e-3 * s.step_us)
        at_bound = (g >= np.float32(s.g_max_us) - eps) | (g <= np.float32(s.g_min_us) + eps)
        return xp.where(at_bound, np.float32(0), super().declared_step_us(g, direction)).astype(np.float32)


class BoundedButWindowInfinite(EcramDevice):
    """Declares 'bounds' and clips at the spec window, but window_at reports an infinite window
    (copied from an unbounded backend), so no check can see where the cells stop."""

    def window_at(self, idx):
        return np.float32(-np.inf), np.float32(np.inf)


# -- 9. read noise across a batch, dtype of read() ----------------------------------------------------
class ForwardNoiseSharedAcrossBatch(MemristorDevice):
    """forward draws one read-noise row and applies it to every vector of the batch (correlated batch)."""

    def _product(self, x, transposed, *args, **kwargs):
        if transposed:
            return super()._product(x, transposed, *args, **kwargs)
        return _product(self, x, transposed, self.g, lambda shape: self.compute.normal((1, shape[1])))


class ReadReturnsFloat64(MemristorDevice):
    """read() returns float64 (the noisy copy is built in float64); products are float32."""

    def read(self):
        return super().read().astype(np.float64)


# (mutant, healthy device, spec, the check that must fail, words its message must contain)
SUBTLE = [
    (WriteNoise18PercentOver, EcramDevice, ECRAM, "pulse_step_and_noise", "understated"),
    (WriteNoise20PercentUnder, EcramDevice, ECRAM, "pulse_step_and_noise", "overstated"),
    (DownNoise25PercentOver, EcramDevice, ECRAM, "pulse_step_and_noise", "down"),
    (ReadNoise12PercentOver, MemristorDevice, REALISTIC, "read_noise_as_declared", "declared standard deviation"),
    (ProgramNoise20PercentOver, EcramDevice, ECRAM, "program_reaches_targets", "program_noise_us"),
    (AnalogUpdateNoise15PercentOver, MemristorDevice, PAPER, "update_step_and_noise", "understated"),
    (PulseEnergy12PercentOver, FefetDevice, FEFET, "counters_on_every_form", "energy"),
    (ReadsCountedPerInputEntry, MemristorDevice, REALISTIC, "counters_on_every_form", "forward (one vector)"),
    (SingleCellUpdateDropsSign, MemristorDevice, REALISTIC, "sparse_matches_dense", "one cell"),
    (SortedIndexSkipsDuplicateCheck, MemristorDevice, REALISTIC, "bad_input_rejected", "repeated"),
    (SparseZeroCountsBooked, MemristorDevice, REALISTIC, "counters_on_every_form", "given 0 pulses"),
    (PulsesBookedInSortedOrder, MemristorDevice, REALISTIC, "sparse_matches_dense", "index[i] must pair"),
    (DensePulseKeepsClock, EcramDevice, ECRAM, "write_clock_per_cell", "pulse (dense)"),
    (FullProgramKeepsClock, EcramDevice, ECRAM, "write_clock_per_cell", "program"),
    (DenseProbabilisticKeepsClock, MramDevice, STT, "write_clock_per_cell", "pulse_probabilistic"),
    (NoNoiseNearEdges, EcramDevice, ECRAM, "write_noise_near_bounds", "declared_write_noise_us"),
    (ProgramMovesStuckCells, MemristorDevice, REALISTIC, "stuck_cells_stay_stuck", "fix _program"),
    (ProductStaleAfterDrift, EcramDevice, ECRAM, "drift_advances_time", "drifted"),
    (ProductStaleAfterOneCellWrite, MemristorDevice, REALISTIC, "products_match_conductances", "one cell"),
    (ProductNoiseReusedAcrossCalls, MemristorDevice, REALISTIC, "read_noise_independent", "second forward call"),
    (BackwardNoiseSharedAcrossOutputs, MemristorDevice, REALISTIC, "read_noise_independent", "backward of one repeated vector"),
    (SquareForwardTransposed, MemristorDevice, REALISTIC, "products_match_conductances", "square"),
    (VerifyReadsBookedAsProductReads, MemristorDevice, REALISTIC, "verify_reads_counted", "fix read_cells"),
    (MaskedReadCountsEveryCell, MemristorDevice, REALISTIC, "verify_reads_counted", "fix read_masked"),
    (VerifyReadNoiseFromGlobalRng, MemristorDevice, REALISTIC, "verify_reads_counted", "generator other than its Compute"),
    (VerifyReadReturnsFloat64, MemristorDevice, REALISTIC, "outputs_are_float32", "read_cells"),
    (StuckWithoutDeclaring, FefetDevice, FEFET, "program_reaches_targets", "capability 'faults'"),
    (ReadNoiseWithoutDeclaring, FefetDevice, FEFET_QUIET_READS, "read_noise_as_declared", "declares no read noise"),
    (WindowAtIgnoresOwnWindow, FefetDevice, FEFET, "device_variation_as_declared", "bounds_d2d"),
    (StepScaleCachedAtCreation, EcramDevice, ECRAM, "state_restores_every_operation", "behaves differently"),
    (DriftExponentNotExported, PcmDevice, PCM, "state_restores_every_operation", "at drift"),
    (DriftStepCappedAtOneHour, EcramDevice, ECRAM, "drift_composes", "compose"),
    (DriftWrapsAtOneDay, EcramDevice, ECRAM, "drift_composes", "compose"),
    (PcmDriftForgetsAge, PcmDevice, PCM, "drift_composes", "age"),
    (RramRelaxationForgetsAge, MemristorDevice, REALISTIC, "drift_composes", "age"),
    (OneVectorProductNoiseless, MemristorDevice, REALISTIC, "read_noise_as_declared", "forward of one vector"),
    (SparseProbabilisticIgnoresSign, MramDevice, STT, "sparse_matches_dense", "index[i] must pair with signs[i]"),
    (SwitchingCurrent10PercentLow, MramDevice, STT, "probabilistic_at_many_p", "pulse_probabilistic"),
    (StepSpreadOnlyUp, EcramDevice, ECRAM, "device_variation_as_declared", "step_d2d"),
    (OneCellWriteNoiseFromGlobalRng, EcramDevice, ECRAM, "deterministic_under_seed", "one cell"),
    (AnalogWriteRoundsToSteps, MemristorDevice, PAPER, "update_rounding_rule", "analog write"),
    (MaskedProgramSkipsVerifyRounds, EcramDevice, ECRAM, "program_reaches_targets", "program(mask)"),
    (ProductStaleAfterLoadState, MemristorDevice, REALISTIC, "state_restores_every_operation", "before any write"),
    (ClockSetOnRoundedAwayCells, EcramDevice, ECRAM, "write_clock_per_cell", "not written"),
    (ClockExportedAsFloat32, EcramDevice, ECRAM, "state_keeps_ages", "different ages"),
    (SparseZeroCountCellsDisturbed, MemristorDevice, REALISTIC, "counters_on_every_form", "without a counted write"),
    (InverseLawCurrent10PercentHigh, MramDevice, STT, "switching_law_consistent", "inverses of one law"),
    (LawDirectionIgnoredByInverse, MramDevice, STT, "switching_law_consistent", "up: current_for_probability"),
    (StepZeroAtBothBounds, FefetDevice, FEFET, "device_well_formed", "never away from it"),
    (BoundedButWindowInfinite, EcramDevice, ECRAM, "device_well_formed", "infinite window"),
    (ForwardNoiseSharedAcrossBatch, MemristorDevice, REALISTIC, "read_noise_independent", "same noise again"),
    (ReadReturnsFloat64, MemristorDevice, REALISTIC, "outputs_are_float32", "read() returned dtype float64"),
]
