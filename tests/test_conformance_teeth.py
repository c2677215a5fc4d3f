"""The conformance suite has teeth: each deliberately broken backend fails a named check.

Every broken backend is a small subclass of the memristor device with exactly one defect.
Each test runs the named check on the broken device (it must fail, with a message saying
which promise was broken) and on the healthy device it derives from (it must pass), so a
check that fails everything would not count as teeth.
"""

from __future__ import annotations

import numpy as np
import pytest
from imc_conformance import Target, run_check
from imc_conformance.runner import FAIL, PASS
from imc_memristor import PRESETS, MemristorDevice

from imc.device import Device

PAPER = PRESETS["eapu-paper"]
REALISTIC = PRESETS["rram-realistic"]


class UnderstatedNoise(MemristorDevice):
    """Declares 75 % of the write noise it actually has."""

    def declared_write_noise_us(self, g, direction=1):
        return super().declared_write_noise_us(g, direction) * np.float32(0.75)


class OverstatedNoise(MemristorDevice):
    """Declares 140 % of the write noise it actually has."""

    def declared_write_noise_us(self, g, direction=1):
        return super().declared_write_noise_us(g, direction) * np.float32(1.4)


class BiasedStep(MemristorDevice):
    """Every pulse moves 40 % of a nominal step further than declared.

    The suite resolves a mean-step bias of about 5 standard errors: ~4 % of the step on
    eapu-paper (noise = step) and ~20 % on rram-realistic, whose per-pulse noise is 4.7 x
    its step; 40 % is caught on both.
    """

    def _pulse(self, g, idx, counts, signs):
        extra = signs * counts.astype(np.float32) * np.float32(0.4 * self.spec.step_us)
        return super()._pulse(g, idx, counts, signs) + extra


class TouchesUnselected(MemristorDevice):
    """Writing a cell disturbs its right-hand neighbour (half-select disturb)."""

    def _update(self, g, idx, delta_us):
        out = super()._update(g, idx, delta_us)
        flat = self.g.reshape(-1)
        flat[(idx + 1) % flat.size] += np.float32(1e-3)
        return out


class LeavesWindow(MemristorDevice):
    """Clips at the bottom of the window but not at the top."""

    def _finish(self, new, idx):
        lo, _, _ = self._gather(idx)
        return self.xp.maximum(new, lo).astype(np.float32)


class MiscountsPulses(MemristorDevice):
    """Counts one pulse per write event, whatever the number of pulses."""

    def _count_writes(self, idx, pulses, category, *args, **kwargs):
        return super()._count_writes(idx, self.xp.ones_like(pulses), category, *args, **kwargs)


class EnergyNotCounted(MemristorDevice):
    """Counts reads but forgets their energy."""

    def _count_reads(self, vectors):
        cells = vectors * self.shape[0] * self.shape[1]
        self.counters.cell_reads += cells
        self.counters.products += vectors


class IgnoresSeed(MemristorDevice):
    """Draws its write noise from a generator with a fixed seed instead of its Compute."""

    def _init_cells(self):
        self._own = np.random.default_rng(1234)
        super()._init_cells()

    def _noise(self, shape):
        return self.xp.asarray(self._own.standard_normal(shape), dtype=np.float32)

    def _update(self, g, idx, delta_us):
        new = g + delta_us + self._noise(g.shape) * np.float32(self.spec.write_noise_us)
        return new.astype(np.float32), self.xp.ones(g.shape, dtype=self.xp.int64)

    def _pulse(self, g, idx, counts, signs):
        n = counts.astype(np.float32)
        noise = self._noise(g.shape) * np.float32(self.spec.write_noise_us) * self.xp.sqrt(n)
        return g + signs * n * np.float32(self.spec.step_us) + noise


class MutatesInputs(MemristorDevice):
    """Saturates the inputs of a product in place (a DAC clip on the caller's array)."""

    def forward(self, x):
        if isinstance(x, self.xp.ndarray) and x.dtype == np.float32:
            self.xp.clip(x, -1, 1, out=x)
        return super().forward(x)


class WrongOutputShape(MemristorDevice):
    """Returns a (1, cols) row for a single input vector instead of (cols,)."""

    def forward(self, x):
        return super().forward(self.xp.atleast_2d(self.xp.asarray(x, dtype=np.float32)))


class NanOnZeroInput(MemristorDevice):
    """Normalises inputs by their norm: an all-zero input gives NaN."""

    def forward(self, x):
        x = self.xp.asarray(x, dtype=np.float32)
        norm = self.xp.sqrt((x * x).sum(axis=-1, keepdims=True))
        with np.errstate(invalid="ignore", divide="ignore"):
            return super().forward(x / norm) * norm


class UnderstatedReadNoise(MemristorDevice):
    """Reads with 1.5 x the declared relative read noise."""

    def _with_read_noise(self, g):
        return g + self.xp.abs(g) * np.float32(1.5 * self.spec.read_noise_rel) * self.compute.normal(g.shape)


class AcceptsNan(MemristorDevice):
    """Skips the finiteness validation of its inputs."""

    def _check_finite(self, name, arr):
        return None


class ForgetsCountersOnLoad(MemristorDevice):
    """load_state restores the conductances but resets the counters."""

    def load_state(self, state):
        super().load_state(state)
        self.counters.pulses[...] = 0


# (broken device, the healthy spec it derives from, the check it must fail)
BROKEN = [
    (UnderstatedNoise, PAPER, "update_step_and_noise"),
    (UnderstatedNoise, REALISTIC, "pulse_step_and_noise"),
    (OverstatedNoise, PAPER, "update_step_and_noise"),
    (BiasedStep, PAPER, "pulse_step_and_noise"),
    (BiasedStep, REALISTIC, "pulse_step_and_noise"),
    (TouchesUnselected, PAPER, "untouched_cells_unchanged"),
    (LeavesWindow, REALISTIC, "stays_in_window"),
    (MiscountsPulses, REALISTIC, "counters_and_energy"),
    (EnergyNotCounted, PAPER, "counters_and_energy"),
    (IgnoresSeed, PAPER, "deterministic_under_seed"),
    (MutatesInputs, PAPER, "inputs_not_mutated"),
    (WrongOutputShape, REALISTIC, "products_match_conductances"),
    (NanOnZeroInput, PAPER, "edge_cases_stay_finite"),
    (UnderstatedReadNoise, REALISTIC, "read_noise_as_declared"),
    (AcceptsNan, PAPER, "bad_input_rejected"),
    (ForgetsCountersOnLoad, REALISTIC, "state_round_trip"),
]


def _id(case):
    cls, spec, check = case
    return f"{cls.__name__}-{spec.name}-{check}"


@pytest.mark.parametrize("case", BROKEN, ids=[_id(c) for c in BROKEN])
def test_broken_backend_fails_the_named_check(case):
    cls, spec, check = case
    broken = run_check(Target.from_factory(cls, spec), check)
    assert broken.status == FAIL, f"{cls.__name__} was not caught by {check}: {broken.status} {broken.message}"
    assert broken.message, "a failure must say which promise was broken"
    healthy = run_check(Target.from_factory(MemristorDevice, spec), check)
    assert healthy.status == PASS, f"the healthy {spec.name} device fails {check}: {healthy.message}"


def test_at_least_ten_distinct_defects_are_caught():
    assert len({cls for cls, _, _ in BROKEN}) >= 10
    assert all(issubclass(cls, Device) for cls, _, _ in BROKEN)


@pytest.mark.parametrize(
    "cls, spec, words",
    [
        (UnderstatedNoise, PAPER, "understated"),
        (OverstatedNoise, PAPER, "overstated"),
        (BiasedStep, PAPER, "declares"),
        (TouchesUnselected, PAPER, "unselected"),
    ],
)
def test_failure_messages_say_what_was_broken_and_by_how_much(cls, spec, words):
    check = {UnderstatedNoise: "update_step_and_noise", OverstatedNoise: "update_step_and_noise",
             BiasedStep: "pulse_step_and_noise", TouchesUnselected: "untouched_cells_unchanged"}[cls]
    outcome = run_check(Target.from_factory(cls, spec), check)
    assert words in outcome.message
    assert any(ch.isdigit() for ch in outcome.message)
