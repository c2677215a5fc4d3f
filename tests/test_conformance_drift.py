"""The time-axis checks have teeth: each deliberately broken PCM backend fails a named drift check.

Every broken backend is a small subclass of the PCM device with exactly one defect of the
kinds a backend author writing a drift law gets wrong. Each test runs the named check on the
broken device (it must fail, saying which promise was broken) and on the healthy PCM device
(it must pass), so a check that fails everything would not count.
"""

from __future__ import annotations

import numpy as np
import pytest
from imc_conformance import BackendTests, Target, run_check
from imc_conformance.runner import FAIL, PASS
from imc_pcm import PRESETS, PcmDevice

PCM = PRESETS["pcm-joshi"]


class TestPcm(BackendTests):
    backend = "pcm"


class ClockResetsEveryCell(PcmDevice):
    """A write resets the clock of the whole array, not just the written cells."""

    def _count_writes(self, idx, pulses, category, **kw):
        out = super()._count_writes(idx, pulses, category, **kw)
        self.written_at_s[...] = self.time_s
        return out


class ClockNotResetByPulses(PcmDevice):
    """Open-loop pulses do not reset the written cells' clocks (only program() does)."""

    def pulse(self, counts, signs, index=None):
        saved = self.written_at_s.copy()
        super().pulse(counts, signs, index=index)
        self.written_at_s = saved


class DriftLeavesWindow(PcmDevice):
    """Relaxes towards zero without respecting a raised lower bound, and overshoots the top."""

    def _drift(self, g, age_s, seconds):
        return super()._drift(g, age_s, seconds) * np.float32(1.2) - np.float32(0.5)


class UnseededDrift(PcmDevice):
    """Draws the drift exponent afresh from an unseeded generator at every drift."""

    def _drift(self, g, age_s, seconds):
        nu = np.random.default_rng().normal(0.05, 0.02, g.shape).astype(np.float32)
        t0 = self.spec.drift_t0_s
        factor = (np.maximum(age_s + seconds, t0) / np.maximum(age_s, t0)) ** -nu
        return self._pin(g * factor.astype(np.float32), self.cell["g_lo"], self.cell["g_hi"], self.cell["stuck"])


class DriftResetsClocks(PcmDevice):
    """Treats relaxation as a write: every drift sets the clocks to the new time."""

    def drift(self, seconds):
        super().drift(seconds)
        self.written_at_s[...] = self.time_s


class StateDropsAges(PcmDevice):
    """Exports the time but not the per-cell write times (a restored copy thinks every cell was written at 0)."""

    def state(self):
        out = super().state()
        out["written_at_s"] = np.zeros_like(out["written_at_s"])
        return out


class StateDropsTime(PcmDevice):
    """Exports no clock at all (a restored copy starts again at time 0)."""

    def state(self):
        out = super().state()
        del out["time_s"], out["written_at_s"]
        return out


class ReadsIgnoreDrift(PcmDevice):
    """Keeps a drifted shadow for peek() but computes products from the as-written conductances."""

    def drift(self, seconds):
        written = self.g.copy()
        super().drift(seconds)
        self._shadow, self.g = self.g, written

    def peek(self):
        return getattr(self, "_shadow", self.g).copy()


DEFECTS = [
    (ClockResetsEveryCell, "write_clock_per_cell", "not written changed"),
    (ClockNotResetByPulses, "write_clock_per_cell", "kept their old clock"),
    (DriftLeavesWindow, "drift_stays_in_window", "left their window"),
    (UnseededDrift, "drift_reproducible_under_seed", "same seed differ"),
    (DriftResetsClocks, "drift_advances_time", "did not age every cell"),
    (StateDropsAges, "state_keeps_ages", "different ages"),
    (StateDropsTime, "state_keeps_ages", "restored device's time"),
    (ReadsIgnoreDrift, "drift_advances_time", "reads must see the drifted state"),
]


@pytest.mark.parametrize("factory, name, words", DEFECTS, ids=[d[0].__name__ for d in DEFECTS])
def test_planted_drift_defect_is_caught(factory, name, words):
    broken = run_check(Target.from_factory(factory, PCM, backend="pcm-broken"), name)
    assert broken.status == FAIL, broken.message
    assert words in broken.message
    healthy = run_check(Target.from_factory(PcmDevice, PCM, backend="pcm"), name)
    assert healthy.status == PASS, healthy.message


def test_drift_with_raised_floor_also_caught_on_a_windowed_variant():
    # the same leaking law on a preset with a nonzero floor: cells fall below g_min
    spec = PCM.evolve(name="pcm-floor", g_min_us=1.0)
    broken = run_check(Target.from_factory(DriftLeavesWindow, spec, backend="pcm-broken"), "drift_stays_in_window")
    assert broken.status == FAIL
    assert run_check(Target.from_factory(PcmDevice, spec, backend="pcm"), "drift_stays_in_window").status == PASS
