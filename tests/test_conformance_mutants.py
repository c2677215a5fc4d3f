"""The mutation set: faulty backends an honest author could write, each caught by a named check.

Every mutant is a first-party (or the example plugin's) device with exactly one defect of the
kind a backend author makes. Each case runs the named check on the mutant (it must fail, and
the message must name the method or spec field to fix) and on the healthy device it derives
from (it must pass), so a check that fails everything earns nothing. The subtle set
(tests/conformance_subtle_mutants.py: 10-30 % scale errors, one write form, rare paths, drift
laws that do not compose) extends it. Together with the 14
defects of test_conformance_teeth.py these cover every class of promise of the protocol:
state, every write form, statistics over the window, reads and products, seeds, plausible
declarations and drift. docs/writing-a-backend.md lists them ("What the suite checks").
"""

from __future__ import annotations

import functools
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from conformance_subtle_mutants import (
    ECRAM as SUBTLE_ECRAM,
)
from conformance_subtle_mutants import (
    FEFET as SUBTLE_FEFET,
)
from conformance_subtle_mutants import (
    PCM,
    SUBTLE,
    DriftExponentNotExported,
    OneCellWriteNoiseFromGlobalRng,
    PulseEnergy12PercentOver,
    PulsesBookedInSortedOrder,
    SparseZeroCountCellsDisturbed,
    SparseZeroCountsBooked,
)
from imc_conformance import Target, run_check
from imc_conformance.runner import FAIL, PASS
from imc_fefet import PRESETS as FEFET_PRESETS
from imc_fefet import FefetDevice
from imc_memristor import PRESETS, MemristorDevice
from imc_mram import PRESETS as MRAM_PRESETS
from imc_mram import MramDevice

try:
    import imc_ecram
except ImportError:  # the example plugin is not installed in this environment: use its source
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "imc-ecram" / "src"))
    import imc_ecram

from imc_ecram import EcramDevice

PAPER, REALISTIC, STRESS = PRESETS["eapu-paper"], PRESETS["rram-realistic"], PRESETS["rram-stress"]
FEFET = FEFET_PRESETS["fefet"]
STT = MRAM_PRESETS["stt"]
ECRAM = imc_ecram.PRESETS["li-ecram"]


# -- 1. state -------------------------------------------------------------------------------------
class StateAliasesConductances(MemristorDevice):
    """state() hands out the device's own conductance array instead of a copy."""

    def state(self):
        out = super().state()
        out["g_us"] = self.g
        return out


class LoadStateKeepsReference(MemristorDevice):
    """load_state stores the caller's arrays without copying them."""

    def load_state(self, state):
        super().load_state(state)
        self.g = np.asarray(state["g_us"])


class LoadStateHalfApplies(MemristorDevice):
    """load_state restores the conductances first and validates the rest afterwards."""

    def load_state(self, state):
        if "g_us" in state:
            self.g = np.asarray(state["g_us"], dtype=np.float32).copy()
        super().load_state(state)


class LoadStateIgnoresSpec(MemristorDevice):
    """load_state drops the saved spec before restoring, so a state of another spec loads."""

    def load_state(self, state):
        super().load_state({k: v for k, v in state.items() if k != "spec_json"})


class LoadStateCastsDtype(MemristorDevice):
    """load_state silently casts whatever dtype it is given."""

    def load_state(self, state):
        state = dict(state)
        for key in ("g_us", "pulses", "writes"):
            if key in state:
                state[key] = np.asarray(state[key]).astype(np.float32 if key == "g_us" else np.int64)
        super().load_state(state)


class StepScaleNotExported(MemristorDevice):
    """Draws a per-cell step offset into an attribute of its own, not into cell_fields (not saved)."""

    def _init_cells(self):
        super()._init_cells()
        self._offset = self.compute.normal(self.shape) * np.float32(0.2 * self.spec.step_us)

    def _pulse(self, g, idx, counts, signs):
        return self._finish(super()._pulse(g, idx, counts, signs) + signs * self._offset.reshape(-1)[idx], idx)


class RandomStreamNotExported(MemristorDevice):
    """state() leaves out the random stream, so a restored device draws different noise."""

    def state(self):
        out = super().state()
        out.pop("rng_state", None)
        return out


class DriftClockNotSaved(EcramDevice):
    """Power-law drift (PCM-like) that depends on an age kept outside the state."""

    def _init_cells(self):
        super()._init_cells()
        self._age_s = 1.0

    def drift(self, seconds):
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"seconds must be finite and >= 0, got {seconds!r}")
        factor = np.float32(((self._age_s + seconds) / self._age_s) ** -0.02)
        rest = np.float32(self.spec.g_rest_us)
        self.g = (rest + (self.g - rest) * factor).astype(np.float32)
        self._age_s += seconds


# -- 2. every write form ----------------------------------------------------------------------------
class SparseIndexSortedWithoutValues(MemristorDevice):
    """Sorts a sparse index for speed but leaves the values in their old order."""

    def update(self, delta_us, index=None):
        if index is not None:
            index = np.sort(np.asarray(index))
        super().update(delta_us, index)


class CountsRequestedPulses(FefetDevice):
    """update() counts the pulses requested, not the ones applied after the cap."""

    def _update(self, g, idx, delta_us):
        new_g, _ = super()._update(g, idx, delta_us)
        requested, _ = self.pulses_for(g, delta_us)
        return new_g, requested


class EnergyInPicojoules(MemristorDevice):
    """Accumulates write energy in picojoules in a field documented as joules."""

    def _count_writes(self, idx, pulses, category, *args, **kwargs):
        out = super()._count_writes(idx, pulses, category, *args, **kwargs)
        self.counters.energy_j[category] += float(pulses.sum()) * self.spec.energy_per_pulse_j * (1e12 - 1)
        return out


class ProgramEnergyBookedAsWrite(MemristorDevice):
    """Books write-verify pulses under 'write' instead of 'program'."""

    def _count_writes(self, idx, pulses, category, *args, **kwargs):
        return super()._count_writes(idx, pulses, "write", *args, **kwargs)


class EventsNotCounted(MemristorDevice):
    """Forgets the running total of write events."""

    def _count_writes(self, idx, pulses, category, *args, **kwargs):
        events = self.counters.events
        out = super()._count_writes(idx, pulses, category, *args, **kwargs)
        self.counters.events = events
        return out


class RoundsDown(MemristorDevice):
    """Realises update() requests with floor() instead of the nearest whole number of steps."""

    def pulses_for(self, g, delta_us, max_pulses=None):
        counts, signs = super().pulses_for(g, delta_us, max_pulses)
        step = self.xp.where(signs > 0, self.declared_step_us(g, 1), self.declared_step_us(g, -1))
        floor = self.xp.floor(self.xp.abs(delta_us) / self.xp.maximum(step, np.float32(1e-12)))
        return self.xp.minimum(counts, floor.astype(counts.dtype)), signs


class WritesTinyRequests(MemristorDevice):
    """Rounds every non-zero request up to at least one pulse."""

    def pulses_for(self, g, delta_us, max_pulses=None):
        counts, signs = super().pulses_for(g, delta_us, max_pulses)
        return self.xp.maximum(counts, (delta_us != 0).astype(counts.dtype)), signs


class SparseLoopHalfApplies(MemristorDevice):
    """Applies a sparse update entry by entry, so a bad last entry raises after the others were written."""

    def update(self, delta_us, index=None):
        if index is None:
            return super().update(delta_us)
        for i, d in zip(np.asarray(index).tolist(), np.asarray(delta_us).tolist()):
            super().update(np.asarray([d], np.float32), index=np.asarray([i], np.int64))


class ClipsProbabilities(MramDevice):
    """Clips probabilities into [0, 1] instead of refusing them."""

    def pulse_probabilistic(self, probabilities, signs, index=None):
        p = np.clip(np.nan_to_num(np.asarray(probabilities, np.float32), nan=0.0), 0, 1)
        super().pulse_probabilistic(p, signs, index)


# -- 3. statistics over the window --------------------------------------------------------------------
class LinearDespiteDeclaredNonlinearity(MemristorDevice):
    """Declares rram-stress's saturating curve but moves (and declares steps) linearly."""

    @property
    def _a(self):
        return math.inf, math.inf  # imc.curves: an infinite A is the linear curve


class DeclaredStepIgnoresNonlinearity(MemristorDevice):
    """Moves along the nonlinear curve but declares the nominal linear step everywhere."""

    def declared_step_us(self, g, direction):
        s = self.spec
        return self.xp.full(self.xp.shape(g), s.step_us * (1 + direction * s.asymmetry), dtype=np.float32)


class DeclaresSweepPooledStep(MemristorDevice):
    """Declares 0.85 x the step: about what per-pulse means of pulse sweeps read on a population with a
    spread of windows and steps (a sweep spends more pulses on slow cells), not the mean over cells."""

    def declared_step_us(self, g, direction):
        return (super().declared_step_us(g, direction) * np.float32(0.85)).astype(np.float32)


class DeclaresStepTooHigh(MemristorDevice):
    """Declares 1.15 x the step (e.g. the mean over cells at the same G near the top of the window)."""

    def declared_step_us(self, g, direction):
        return (super().declared_step_us(g, direction) * np.float32(1.15)).astype(np.float32)


class TrainAppliesOnePulse(MemristorDevice):
    """A train of n pulses moves like one pulse (the counters still count n)."""

    def _pulse(self, g, idx, counts, signs):
        return super()._pulse(g, idx, self.xp.minimum(counts, 1), signs)


class TrainNoiseOnce(EcramDevice):
    """A train of n pulses gets one pulse's noise instead of n independent ones."""

    def _pulse(self, g, idx, counts, signs):
        s, xp = self.spec, self.xp
        n = counts.astype(np.float32)
        step = np.float32(s.step_us) * (1 + signs * np.float32(s.asymmetry)) * self.cell["step_scale"].reshape(-1)[idx]
        noise = self.compute.normal(g.shape) * np.float32(s.write_noise_us)
        return xp.clip(g + signs * n * step + noise, np.float32(s.g_min_us), np.float32(s.g_max_us))


class TrainExtrapolatesLinearly(FefetDevice):
    """A train of n pulses moves n x the declared step at its start, ignoring how the curve bends on the way."""

    def _pulse(self, g, idx, counts, signs):
        single = super()._pulse(g, idx, self.xp.ones_like(counts), signs)
        return self._pin(g + (single - g) * counts.astype(np.float32), *self._gather(idx))


class ProbabilisticSparseUnpaired(MramDevice):
    """Sorts a sparse index before pulsing but leaves the probabilities in their old order."""

    def pulse_probabilistic(self, probabilities, signs, index=None):
        if index is not None:
            index = np.sort(np.asarray(index))
        super().pulse_probabilistic(probabilities, signs, index)


class OvershootsNearEdges(EcramDevice):
    """Clips at the window only after a margin of two steps (the window is violated near its edges)."""

    def _pulse(self, g, idx, counts, signs):
        s, xp = self.spec, self.xp
        n = counts.astype(np.float32)
        step = np.float32(s.step_us) * (1 + signs * np.float32(s.asymmetry)) * self.cell["step_scale"].reshape(-1)[idx]
        noise = self.compute.normal(g.shape) * np.float32(s.write_noise_us) * xp.sqrt(n)
        margin = np.float32(2 * s.step_us)
        return xp.clip(g + signs * n * step + noise, np.float32(s.g_min_us) - margin, np.float32(s.g_max_us) + margin)


class SaturatesShortOfWindow(FefetDevice):
    """The physics saturates at 85 % of each cell's window while window_at declares all of it."""

    def _pulse(self, g, idx, counts, signs):
        lo, hi, _ = self._gather(idx)
        new = super()._pulse(g, idx, counts, signs)
        return self.xp.minimum(new, lo + np.float32(0.85) * (hi - lo)).astype(np.float32)


class ProgramBiasedNearEdges(EcramDevice):
    """Write-verify stops early near the window's ends: targets there land half a program sigma inward."""

    def _program(self, g, idx, targets_us):
        s = self.spec
        out = super()._program(g, idx, targets_us)
        near_low = targets_us < s.g_min_us + 0.05 * s.range_us
        near_high = targets_us > s.g_max_us - 0.05 * s.range_us
        shift = np.float32(1.5 * s.program_noise_us)
        return self.xp.where(near_low, out + shift, self.xp.where(near_high, out - shift, out)).astype(np.float32)


class NoiseOnlyMidWindow(EcramDevice):
    """Adds its write noise only in the middle of the window, though it declares it everywhere."""

    def _pulse(self, g, idx, counts, signs):
        s, xp = self.spec, self.xp
        n = counts.astype(np.float32)
        step = np.float32(s.step_us) * (1 + signs * np.float32(s.asymmetry)) * self.cell["step_scale"].reshape(-1)[idx]
        u = (g - np.float32(s.g_min_us)) / np.float32(s.range_us)
        mid = ((u > 0.3) & (u < 0.7)).astype(np.float32)
        noise = self.compute.normal(g.shape) * np.float32(s.write_noise_us) * xp.sqrt(n) * mid
        return xp.clip(g + signs * n * step + noise, np.float32(s.g_min_us), np.float32(s.g_max_us))


class ProbabilityInQuarters(MramDevice):
    """Sets the switching current from the probability rounded to a quarter (a 2-bit DAC)."""

    def pulse_probabilistic(self, probabilities, signs, index=None):
        p = self.xp.asarray(probabilities, dtype=np.float32)
        p = self.xp.where(p > 0, self.xp.maximum(self.xp.round(p * 4) / 4, np.float32(0.25)), p)
        super().pulse_probabilistic(p, signs, index)


class AsymmetrySignSwapped(EcramDevice):
    """Applies the asymmetry the wrong way round (up steps shrink, down steps grow)."""

    def _pulse(self, g, idx, counts, signs):
        return super()._pulse(g, idx, counts, -signs) + 0 * g if False else self._swapped(g, idx, counts, signs)

    def _swapped(self, g, idx, counts, signs):
        s, xp = self.spec, self.xp
        n = counts.astype(np.float32)
        step = np.float32(s.step_us) * (1 - signs * np.float32(s.asymmetry)) * self.cell["step_scale"].reshape(-1)[idx]
        noise = self.compute.normal(g.shape) * np.float32(s.write_noise_us) * xp.sqrt(n)
        return xp.clip(g + signs * n * step + noise, np.float32(s.g_min_us), np.float32(s.g_max_us))


class UpdateCapTooLow(FefetDevice):
    """Caps update() at 4 pulses (copied from a faster device), so a large request stops short."""

    def max_update_pulses(self):
        return 4


class StepSpreadNotApplied(EcramDevice):
    """Draws the per-cell step scale but moves every cell by the nominal step."""

    def _pulse(self, g, idx, counts, signs):
        s, xp = self.spec, self.xp
        n = counts.astype(np.float32)
        step = np.float32(s.step_us) * (1 + signs * np.float32(s.asymmetry))
        noise = self.compute.normal(g.shape) * np.float32(s.write_noise_us) * xp.sqrt(n)
        return xp.clip(g + signs * n * step + noise, np.float32(s.g_min_us), np.float32(s.g_max_us))


class WindowsNotVaried(FefetDevice):
    """Declares bounds_d2d but gives every cell the nominal window."""

    def _init_cells(self):
        super()._init_cells()
        self.cell["g_lo"][...] = np.float32(self.spec.g_min_us)
        self.cell["g_hi"][...] = np.float32(self.spec.g_max_us)
        self.g = self._pin((self.cell["g_lo"] + self.cell["g_hi"]) / 2, self.cell["g_lo"], self.cell["g_hi"],
                           self.cell["stuck"])


# -- 4. reads and products ------------------------------------------------------------------------
class StaleProductCache(MemristorDevice):
    """Caches the conductance matrix at the first product and never refreshes it after writes."""

    def _product(self, x, transposed, *args, **kwargs):
        if not hasattr(self, "_stale_g"):
            self._stale_g = self.g.copy()
        live, self.g = self.g, self._stale_g
        try:
            return super()._product(x, transposed, *args, **kwargs)
        finally:
            self.g = live


class AbsoluteReadNoise(MemristorDevice):
    """Adds read noise of read_noise_rel x the mid-window conductance to every cell (absolute, not relative)."""

    def _with_read_noise(self, g):
        mid = np.float32((self.spec.g_min_us + self.spec.g_max_us) / 2 * self.spec.read_noise_rel)
        return g + mid * self.compute.normal(g.shape)

class ReadWritesNoiseBack(MemristorDevice):
    """read() stores the noisy value it returns (a read that writes)."""

    def read(self):
        out = super().read()
        self.g = out.astype(np.float32).copy()
        return out


class ProductDisturbs(MemristorDevice):
    """Every product nudges the conductances a little (an unmodelled read disturb)."""

    def forward(self, x):
        y = super().forward(x)
        self.g = (self.g * np.float32(1 + 1e-4)).astype(np.float32)
        return y


class FrozenReadNoise(MemristorDevice):
    """Draws the read noise once and returns the same noisy picture on every read."""

    def _with_read_noise(self, g):
        if not hasattr(self, "_frozen"):
            self._frozen = self.compute.normal(g.shape)
        return g + self.xp.abs(g) * np.float32(self.spec.read_noise_rel) * self._frozen


class CommonModeReadNoise(MemristorDevice):
    """Draws one read-noise number per read and applies it to every cell."""

    def _with_read_noise(self, g):
        return g + self.xp.abs(g) * np.float32(self.spec.read_noise_rel) * self.compute.normal((1,))


class ForwardReturnsFloat64(MemristorDevice):
    """Accumulates products in float64 and returns them so."""

    def forward(self, x):
        return super().forward(x).astype(np.float64)


class BackwardReshapes(MemristorDevice):
    """Computes the transposed product with a reshape instead of a transpose."""

    def backward(self, d):
        d = self.xp.asarray(d, dtype=np.float32)
        g = self.g.reshape(self.shape[1], self.shape[0])
        self._count_reads(1 if d.ndim == 1 else d.shape[0])
        return (d @ g).astype(np.float32)


# -- 5. seeds -------------------------------------------------------------------------------------
class NoiseFromGlobalRng(MemristorDevice):
    """Draws write noise from numpy's global generator instead of its Compute."""

    def _pulse(self, g, idx, counts, signs):
        s, xp = self.spec, self.xp
        n = counts.astype(np.float32)
        lo, hi, _ = self._gather(idx)
        width = hi - lo
        from imc import curves

        eff = n * self.cell["step_scale"].reshape(-1)[idx] * (1 + signs * np.float32(s.asymmetry))
        noise = xp.asarray(np.random.standard_normal(g.shape), dtype=np.float32) * np.float32(s.write_noise_us) * xp.sqrt(n)
        a_up, a_down = self._a
        u = curves.advance((g - lo) / width, eff / np.float32(s.range_us / s.step_us), a_up, a_down, signs)
        return self._finish(lo + u * width + noise, idx)


class FixedDeviceToDevice(MemristorDevice):
    """Draws the device-to-device spread from a fixed seed: every array has the same cells."""

    def _init_cells(self):
        own = self.compute
        from imc.compute import Compute

        self.compute = Compute.create("cpu", seed=1234)
        try:
            super()._init_cells()
        finally:
            self.compute = own


class SwitchingFromGlobalRng(MramDevice):
    """Decides probabilistic switching with numpy's global generator."""

    def pulse_probabilistic(self, probabilities, signs, index=None):
        p = np.asarray(probabilities, np.float32)
        fire = (np.random.random(p.shape) < p).astype(np.float32)
        self._as_array("probabilities", probabilities)
        if ((p < 0) | (p > 1) | ~np.isfinite(p)).any():
            raise ValueError("probabilities must lie in [0, 1]")
        super().pulse_probabilistic(np.where(p > 0, np.where(fire > 0, 1.0, 1e-9), 0).astype(np.float32), signs, index)


class DriftJitterFromGlobalRng(EcramDevice):
    """Adds a little random jitter to drift, drawn from numpy's global generator."""

    def drift(self, seconds):
        super().drift(seconds)
        jitter = np.random.standard_normal(self.shape).astype(np.float32) * np.float32(1e-4)
        self.g = np.clip(self.g + jitter, self.spec.g_min_us, self.spec.g_max_us).astype(np.float32)


# -- 6. plausibility of declarations ----------------------------------------------------------------
SIEMENS = ECRAM.evolve(name="li-ecram-siemens", g_min_us=1e-6, g_max_us=1e-5, step_us=1.8e-8, write_noise_us=9e-9,
                       program_noise_us=5e-8, g_rest_us=1e-6)
PICOJOULES = ECRAM.evolve(name="li-ecram-pj", energy_per_pulse_j=10.0)
PERCENT = ECRAM.evolve(name="li-ecram-percent", read_noise_rel=1.0)
NANOSECONDS = ECRAM.evolve(name="li-ecram-ns", pulse_width_s=100.0)


# -- 7. drift -------------------------------------------------------------------------------------
class DriftTowardZero(EcramDevice):
    """Relaxes toward 0 uS instead of the declared rest state, leaving the window."""

    def drift(self, seconds):
        super().drift(seconds)
        keep = np.float32(math.exp(-seconds / self.spec.retention_tau_s))
        self.g = (self.g * keep).astype(np.float32)


class DriftCountsAsWrite(EcramDevice):
    """Books drift as a write on every cell."""

    def drift(self, seconds):
        super().drift(seconds)
        idx = self.xp.arange(self.g.size)
        self._count_writes(idx, self.xp.zeros(idx.shape, dtype=self.xp.int64), "write")


class DriftAcceptsNegativeTime(EcramDevice):
    """Does not validate the time it is given (negative time grows the state away from rest)."""

    def drift(self, seconds):
        keep = np.float32(math.exp(-float(seconds) / self.spec.retention_tau_s)) if math.isfinite(seconds) else 1
        rest = np.float32(self.spec.g_rest_us)
        self.g = self.xp.clip(rest + (self.g - rest) * keep, self.spec.g_min_us, self.spec.g_max_us).astype(np.float32)


# (mutant, healthy device, spec, the check that must fail, words its message must contain)
MUTANTS = [
    # state
    (StateAliasesConductances, MemristorDevice, REALISTIC, "state_export_is_a_copy", "state() must return copies"),
    (LoadStateKeepsReference, MemristorDevice, REALISTIC, "state_export_is_a_copy", "load_state must copy"),
    (LoadStateHalfApplies, MemristorDevice, REALISTIC, "load_state_refuses_foreign_states", "only after changing"),
    (LoadStateIgnoresSpec, MemristorDevice, REALISTIC, "load_state_refuses_foreign_states", "another spec"),
    (LoadStateCastsDtype, MemristorDevice, PAPER, "load_state_refuses_foreign_states", "float64: accepted"),
    (StepScaleNotExported, MemristorDevice, REALISTIC, "state_restores_every_operation", "cell_fields"),
    (RandomStreamNotExported, MemristorDevice, REALISTIC, "state_restores_every_operation", "behaves differently"),
    (DriftClockNotSaved, EcramDevice, ECRAM, "state_restores_every_operation", "after drift"),
    # every write form
    (SparseIndexSortedWithoutValues, MemristorDevice, REALISTIC, "sparse_matches_dense", "index[i] must pair"),
    (CountsRequestedPulses, FefetDevice, FEFET, "update_rounding_rule", "max_update_pulses"),
    (EnergyInPicojoules, MemristorDevice, PAPER, "counters_on_every_form", "energy is counted in joules"),
    (ProgramEnergyBookedAsWrite, MemristorDevice, REALISTIC, "counters_on_every_form", "energy_j['program']"),
    (EventsNotCounted, MemristorDevice, REALISTIC, "counters_on_every_form", "counters.events"),
    (RoundsDown, MemristorDevice, REALISTIC, "update_rounding_rule", "nearest whole number"),
    (WritesTinyRequests, MemristorDevice, REALISTIC, "update_rounding_rule", "pulses_for"),
    (SparseLoopHalfApplies, MemristorDevice, REALISTIC, "bad_input_rejected", "the rejected call changed"),
    (ClipsProbabilities, MramDevice, STT, "bad_input_rejected", "pulse_probabilistic"),
    # statistics over the window
    (LinearDespiteDeclaredNonlinearity, MemristorDevice, STRESS, "nonlinearity_as_declared", "nonlinearity_up"),
    (DeclaredStepIgnoresNonlinearity, MemristorDevice, STRESS, "steps_across_window", "declared_step_us"),
    (DeclaresSweepPooledStep, MemristorDevice, REALISTIC, "steps_across_window", "declared_step_us says"),
    (DeclaresStepTooHigh, MemristorDevice, STRESS, "steps_across_window", "declared_step_us says"),
    (TrainAppliesOnePulse, MemristorDevice, REALISTIC, "pulse_trains_match_single_pulses", "fix _pulse"),
    (TrainNoiseOnce, EcramDevice, ECRAM, "pulse_trains_match_single_pulses", "write_noise_us"),
    (TrainExtrapolatesLinearly, FefetDevice, FEFET, "pulse_trains_match_single_pulses", "fix _pulse"),
    (ProbabilisticSparseUnpaired, MramDevice, STT, "sparse_matches_dense", "index[i] must pair with probabilities[i]"),
    (OvershootsNearEdges, EcramDevice, ECRAM, "long_trains_reach_bounds", "window_at"),
    (SaturatesShortOfWindow, FefetDevice, FEFET, "long_trains_reach_bounds", "window_at"),
    (ProgramBiasedNearEdges, EcramDevice, ECRAM, "program_reaches_targets", "_program"),
    (NoiseOnlyMidWindow, EcramDevice, ECRAM, "steps_across_window", "declared_write_noise_us"),
    (ProbabilityInQuarters, MramDevice, STT, "probabilistic_at_many_p", "pulse_probabilistic"),
    (AsymmetrySignSwapped, EcramDevice, ECRAM, "pulse_step_and_noise", "declares"),
    (UpdateCapTooLow, FefetDevice, FEFET, "long_trains_reach_bounds", "max_update_pulses()"),
    (StepSpreadNotApplied, EcramDevice, ECRAM, "device_variation_as_declared", "step_d2d"),
    (WindowsNotVaried, FefetDevice, FEFET, "device_variation_as_declared", "bounds_d2d"),
    # reads and products
    (StaleProductCache, MemristorDevice, REALISTIC, "products_match_conductances", "current conductances"),
    (AbsoluteReadNoise, MemristorDevice, REALISTIC, "read_noise_as_declared", "read()"),
    (ReadWritesNoiseBack, MemristorDevice, REALISTIC, "reads_leave_state_unchanged", "read()"),
    (ProductDisturbs, MemristorDevice, REALISTIC, "reads_leave_state_unchanged", "forward"),
    (FrozenReadNoise, MemristorDevice, REALISTIC, "read_noise_independent", "fresh read noise"),
    (CommonModeReadNoise, MemristorDevice, REALISTIC, "read_noise_independent", "independent noise per cell"),
    (ForwardReturnsFloat64, MemristorDevice, REALISTIC, "outputs_are_float32", "forward returned dtype float64"),
    (BackwardReshapes, MemristorDevice, REALISTIC, "products_match_conductances", "backward"),
    # seeds
    (NoiseFromGlobalRng, MemristorDevice, REALISTIC, "deterministic_under_seed", "generator other than its Compute"),
    (FixedDeviceToDevice, MemristorDevice, REALISTIC, "deterministic_under_seed", "_init_cells"),
    (SwitchingFromGlobalRng, MramDevice, STT, "deterministic_under_seed", "pulse_probabilistic"),
    (DriftJitterFromGlobalRng, EcramDevice, ECRAM, "deterministic_under_seed", "drift"),
    # plausibility of declarations
    (EcramDevice, None, SIEMENS, "spec_plausible", "siemens instead of microsiemens"),
    (EcramDevice, None, PICOJOULES, "spec_plausible", "energy_per_pulse_j"),
    (EcramDevice, None, PERCENT, "spec_plausible", "read_noise_rel"),
    (EcramDevice, None, NANOSECONDS, "spec_plausible", "pulse_width_s"),
    # drift
    (DriftTowardZero, EcramDevice, ECRAM, "drift_keeps_state_valid", "outside their window"),
    (DriftCountsAsWrite, EcramDevice, ECRAM, "drift_keeps_state_valid", "relaxation is not a write"),
    (DriftAcceptsNegativeTime, EcramDevice, ECRAM, "drift_keeps_state_valid", "drift(-1.0) was accepted"),
]
FIRST_BATTERY = len(MUTANTS)
# subtle defects: 10-30 % scale errors, one write form, rare paths (tests/conformance_subtle_mutants.py)
MUTANTS += SUBTLE

# the same defects as seen by the random operation sequences (the state machine needs no hand-picked case)
SEQUENCES = [
    (SparseLoopHalfApplies, REALISTIC, "changed"),
    (CountsRequestedPulses, FEFET, "rounding rule"),
    (EventsNotCounted, REALISTIC, "running totals"),
    (ReadWritesNoiseBack, REALISTIC, "read changed the stored conductances|outside their window"),
    (StepScaleNotExported, REALISTIC, "behaves differently"),
    (OvershootsNearEdges, ECRAM, "outside their window"),
    (SparseZeroCountsBooked, REALISTIC, "counted pulses or writes on unselected cells"),
    (PulsesBookedInSortedOrder, REALISTIC, "rounding rule|counting a write|counted"),
    (PulseEnergy12PercentOver, SUBTLE_FEFET, "total energy"),
    (OneCellWriteNoiseFromGlobalRng, SUBTLE_ECRAM, "behaves differently"),
    (DriftExponentNotExported, PCM, "behaves differently"),
    (SparseZeroCountCellsDisturbed, REALISTIC, "unselected cells"),
]


STATISTICAL = {"steps_across_window", "pulse_trains_match_single_pulses", "long_trains_reach_bounds",
               "probabilistic_at_many_p", "program_reaches_targets", "pulse_step_and_noise", "read_noise_independent",
               "read_noise_as_declared", "update_step_and_noise", "write_noise_near_bounds", "drift_composes",
               "device_variation_as_declared"}


@functools.cache
def _healthy(cls, spec, check):
    return run_check(Target.from_factory(cls, spec), check)


def _id(case):
    return f"{case[0].__name__}-{case[2].name}-{case[3]}"


@pytest.mark.parametrize("case", MUTANTS, ids=[_id(c) for c in MUTANTS])
def test_mutant_fails_the_named_check_and_says_what_to_fix(case):
    mutant, healthy, spec, check, words = case
    outcome = run_check(Target.from_factory(mutant, spec), check)
    assert outcome.status == FAIL, f"{mutant.__name__} on {spec.name} was not caught by {check}: {outcome.message}"
    assert words in outcome.message, outcome.message
    if check in STATISTICAL:  # a statistical verdict says by how much
        assert any(ch.isdigit() for ch in outcome.message), outcome.message
    reference = healthy or mutant
    reference_spec = spec if healthy else imc_ecram.PRESETS["li-ecram"]
    ok = _healthy(reference, reference_spec, check)
    assert ok.status == PASS, f"the healthy {reference.__name__} on {reference_spec.name} fails {check}: {ok.message}"


@pytest.mark.parametrize("mutant, spec, words", SEQUENCES, ids=[c[0].__name__ for c in SEQUENCES])
def test_random_sequences_catch_defects_without_a_hand_picked_case(mutant, spec, words):
    outcome = run_check(Target.from_factory(mutant, spec), "random_sequences_keep_invariants")
    assert outcome.status == FAIL, f"{mutant.__name__} passed the random sequences"
    assert any(w in outcome.message for w in words.split("|")), outcome.message
    assert "after the steps:" in outcome.message


def test_the_mutation_set_is_large_and_covers_every_class():
    from test_conformance_teeth import BROKEN

    distinct = {c[0] for c in BROKEN} | {(c[0], c[2].name) for c in MUTANTS}
    assert len(distinct) >= 40
    checks = {c[3] for c in MUTANTS}
    for required in ("state_export_is_a_copy", "state_restores_every_operation", "load_state_refuses_foreign_states",
                     "sparse_matches_dense", "counters_on_every_form", "update_rounding_rule", "steps_across_window",
                     "pulse_trains_match_single_pulses", "nonlinearity_as_declared", "long_trains_reach_bounds", "probabilistic_at_many_p",
                     "reads_leave_state_unchanged", "read_noise_independent", "outputs_are_float32",
                     "deterministic_under_seed", "spec_plausible", "drift_keeps_state_valid",
                     "device_variation_as_declared"):
        assert required in checks


def test_the_subtle_set_covers_small_defects_and_rare_paths():
    """At least 25 subtle mutants, over the scale, single-form, rare-path and drift-law classes."""
    subtle = MUTANTS[FIRST_BATTERY:]
    assert len(subtle) >= 25
    checks = {c[3] for c in subtle}
    for required in ("write_clock_per_cell", "drift_composes", "write_noise_near_bounds", "stuck_cells_stay_stuck",
                     "verify_reads_counted", "sparse_matches_dense", "products_match_conductances",
                     "counters_on_every_form", "bad_input_rejected", "read_noise_independent",
                     "switching_law_consistent", "state_keeps_ages"):
        assert required in checks
    assert len({c[0] for c in subtle} & {c[0] for c in MUTANTS[:FIRST_BATTERY]}) == 0
