"""Checks of the time axis: per-cell write clocks, drift from any state, seeds, state round trips.

The clock is the core's (``Device.time_s``, ``Device.written_at_s``): every write form must
set exactly the written cells' clocks, and a state round trip must keep every cell's age.
These checks run on every backend; those that need relaxation itself require "drift".
A backend without drift gets its time moved through a state round trip instead, which is
also how a restored checkpoint sees time.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from imc.spec import BOUNDS, DRIFT, FAULTS, NATIVE_PROBABILISTIC

from .checks_contract import _savez_round_trip
from .probes import differences, host, mid_targets, on_device, snapshot, windows
from .registry import check, fail
from .stats import float32_tolerance

SHAPE = (24, 40)
TIMES_S = (1.0, 60.0, 3600.0, 86400.0, 3.2e7, 1e9)


def _rng(target, key):
    return np.random.default_rng(target.device_seed(4000 + key))


def _advance(dev, seconds: float) -> None:
    """Move the device's clock forward: drift when declared, else through its own state."""
    if dev.spec.has(DRIFT):
        dev.drift(seconds)
        return
    state = dev.state()
    state["time_s"] = np.asarray(state["time_s"], dtype=np.float64) + seconds
    dev.load_state(state)


def _ages(dev) -> np.ndarray:
    return host(dev, dev.age_s()).astype(np.float64)


def _clock_of_writes(dev, what, write, age_before):
    """Run ``write``; the cells whose write counter rose must be 0 s old, all others unchanged."""
    writes0 = host(dev, dev.counters.writes)
    write()
    written = host(dev, dev.counters.writes) != writes0
    ages = _ages(dev)
    if (ages[written] != 0).any():
        fail(f"{what}: {int((ages[written] != 0).sum())} written cells kept their old clock (age must be 0 right after a write)")
    kept = ~written
    if (ages[kept] != age_before[kept]).any():
        n = int((ages[kept] != age_before[kept]).sum())
        fail(f"{what}: the clocks of {n} cells that were not written changed; only written cells reset their clock")
    return ages, int(written.sum())


@check("write_clock_per_cell")
def write_clock_per_cell(target):
    """Every write form (dense and sparse update, pulse and probabilistic pulse; masked and whole-array
    program) resets exactly the written cells' clocks; unwritten cells keep their age."""
    dev = target.make(key=1, shape=SHAPE)
    rng = _rng(target, 1)
    dev.program(on_device(dev, mid_targets(dev)))
    if _ages(dev).any():
        fail("program() of every cell left cells with a nonzero age")
    size = SHAPE[0] * SHAPE[1]
    notes = []
    ages = _ages(dev)
    forms = ("update (dense)", "update (sparse)", "pulse (sparse)", "program (mask)", "pulse_probabilistic",
             "pulse (dense)", "program (every cell)", "pulse_probabilistic (dense)")
    for k, what in enumerate(forms):
        if what.startswith("pulse_probabilistic") and not dev.spec.has(NATIVE_PROBABILISTIC):
            continue
        _advance(dev, 100.0 * (k + 1))
        ages = ages + 100.0 * (k + 1)
        if (np.abs(_ages(dev) - ages) > 1e-9 * ages.max()).any():
            fail(f"advancing time by {100.0 * (k + 1):g} s did not age every cell by that much")
        ages = _ages(dev)
        pick = rng.random(SHAPE) < 0.3
        index = np.flatnonzero(pick)
        step = float(dev.spec.step_us)
        at = on_device(dev, index, np.int64)
        # requests of 0.3 steps round to no pulse on a pulsed device: no write, so no clock reset
        if what == "update (dense)":
            delta = np.where(pick, rng.choice([-3, -0.3, 0.3, 3], SHAPE) * step, 0).astype(np.float32)
            write = partial(dev.update, on_device(dev, delta))
        elif what == "update (sparse)":
            values = (rng.choice([-3, -0.3, 0.3, 3], index.size) * step).astype(np.float32)
            write = partial(dev.update, on_device(dev, values), index=at)
        elif what == "pulse (sparse)":
            counts, signs = rng.integers(1, 3, index.size), rng.choice([-1, 1], index.size)
            write = partial(dev.pulse, on_device(dev, counts, np.int64), on_device(dev, signs, np.int8), index=at)
        elif what == "program (mask)":
            write = partial(dev.program, on_device(dev, mid_targets(dev)), mask=on_device(dev, pick, bool))
        elif what == "pulse (dense)":
            counts = np.where(pick, rng.integers(1, 3, SHAPE), 0)
            write = partial(dev.pulse, on_device(dev, counts, np.int64), on_device(dev, rng.choice([-1, 1], SHAPE), np.int8))
        elif what == "program (every cell)":
            write = partial(dev.program, on_device(dev, mid_targets(dev)))
        elif what == "pulse_probabilistic (dense)":
            probs = np.where(pick, 0.5, 0.0).astype(np.float32)
            write = partial(dev.pulse_probabilistic, on_device(dev, probs), on_device(dev, rng.choice([-1, 1], SHAPE), np.int8))
        else:
            probs, signs = np.full(index.size, 0.5, dtype=np.float32), rng.choice([-1, 1], index.size)
            write = partial(dev.pulse_probabilistic, on_device(dev, probs), on_device(dev, signs, np.int8), index=at)
        ages, n = _clock_of_writes(dev, what, write, ages)
        notes.append(f"{what}: {n} reset")
    if size and not notes:
        fail("no write form could be exercised")
    return "; ".join(notes)


def _varied_states(target, key):
    """A device whose cells sit all over their windows, written at different times."""
    dev = target.make(key=key, shape=SHAPE)
    rng = _rng(target, key)
    s = dev.spec
    lo, hi = windows(dev)
    lo_c = np.where(np.isfinite(lo), lo, s.g_min_us)
    hi_c = np.where(np.isfinite(hi), hi, s.g_max_us)
    u = rng.choice([0.0, 0.02, 0.25, 0.5, 0.75, 0.98, 1.0], SHAPE)
    targets = np.clip(lo_c + u * (hi_c - lo_c), s.g_min_us, s.g_max_us).astype(np.float32)
    dev.program(on_device(dev, targets))
    _advance(dev, 1000.0)
    pick = rng.random(SHAPE) < 0.3
    counts = np.where(pick, rng.integers(1, 40, SHAPE), 0)
    dev.pulse(on_device(dev, counts, np.int64), on_device(dev, rng.choice([-1, 1], SHAPE), np.int8))
    return dev


@check("drift_stays_in_window", requires=DRIFT)
def drift_stays_in_window(target):
    """From any state and age, drift keeps cells finite, inside their window and stuck cells at their bound."""
    spec = target.spec
    dev = _varied_states(target, 2)
    lo, hi = windows(dev)
    ftol = float32_tolerance(max(abs(spec.g_min_us), abs(spec.g_max_us)))
    g_start = host(dev, dev.peek()).astype(np.float64)
    pinned = None
    if spec.has(FAULTS) and hasattr(dev, "cell") and "stuck" in dev.cell:
        pinned = host(dev, dev.cell["stuck"]) != 0
    elapsed = 0.0
    for seconds in TIMES_S:
        dev.drift(seconds)
        elapsed += seconds
        g = host(dev, dev.peek()).astype(np.float64)
        if not np.isfinite(g).all():
            fail(f"after {elapsed:g} s of drift some conductances are not finite")
        if spec.has(BOUNDS) and ((g < lo - ftol) | (g > hi + ftol)).any():
            n = int(((g < lo - ftol) | (g > hi + ftol)).sum())
            fail(f"after {elapsed:g} s of drift {n} cells left their window (worst by {float(np.maximum(lo - g, g - hi).max()):.3g} uS)")
        if pinned is not None and (g[pinned] != g_start[pinned]).any():
            fail(f"after {elapsed:g} s of drift stuck cells moved; a stuck cell stays at its bound")
    return f"{elapsed:.3g} s in {len(TIMES_S)} steps from {SHAPE[0] * SHAPE[1]} varied states"


@check("drift_advances_time", requires=DRIFT)
def drift_advances_time(target):
    """drift(s) ages every cell by exactly s, writes nothing, drift(0) changes nothing, and reads see the drift."""
    dev = _varied_states(target, 3)
    before = snapshot(dev)
    dev.drift(0.0)
    changed = differences(before, snapshot(dev))
    if changed:
        fail(f"drift(0) changed {changed}")
    ages0, time0 = _ages(dev), float(dev.time_s)
    writes, pulses = host(dev, dev.counters.writes), host(dev, dev.counters.pulses)
    dev.drift(86400.0)
    if abs(float(dev.time_s) - time0 - 86400.0) > 1e-9 * (time0 + 86400.0):
        fail(f"drift(86400) moved the device's time by {float(dev.time_s) - time0:g} s")
    if np.abs(_ages(dev) - ages0 - 86400.0).max() > 1e-9 * (ages0.max() + 86400.0):
        fail("drift(86400) did not age every cell by 86400 s: relaxation must not reset or skip clocks")
    if (host(dev, dev.counters.writes) != writes).any() or (host(dev, dev.counters.pulses) != pulses).any():
        fail("drift counted writes or pulses; relaxation is not a write")
    # reads see the drifted conductances: products with unit vectors return the stored ones
    g = host(dev, dev.peek()).astype(np.float64)
    eye = np.eye(SHAPE[0], dtype=np.float32)
    y = np.zeros_like(g)
    repeats = 8
    for _ in range(repeats):
        y += host(dev, dev.forward(on_device(dev, eye))).astype(np.float64) / repeats
    rel = np.broadcast_to(np.asarray(dev.compute.to_numpy(dev.xp.asarray(dev._read_noise_rel())), dtype=np.float64), g.shape)
    allowed = 6 * rel * np.abs(g) / np.sqrt(repeats) + float32_tolerance(np.abs(g).max())
    off = np.abs(y - g) > allowed
    if off.any():
        fail(f"after drift, products disagree with the stored (drifted) conductances in {int(off.sum())} cells "
             f"(worst {float(np.abs(y - g).max()):.3g} uS): reads must see the drifted state")


@check("drift_reproducible_under_seed", requires=DRIFT)
def drift_reproducible_under_seed(target):
    """The same seed and the same writes and drifts give bit-identical conductances."""
    runs = []
    for _ in range(2):
        dev = _varied_states(target, 4)
        trace = []
        for seconds in (10.0, 3600.0, 1e6):
            dev.drift(seconds)
            trace.append(host(dev, dev.peek()))
        runs.append(trace)
    for seconds, a, b in zip((10.0, 3600.0, 1e6), *runs):
        if not np.array_equal(a.view(np.uint32), b.view(np.uint32)):
            fail(f"two devices with the same seed differ after drifting to {seconds:g} s: the drift law draws "
                 "from a generator other than its Compute's")


@check("state_keeps_ages")
def state_keeps_ages(target):
    """A state round trip (np.savez) keeps the time and every cell's age exactly (also of writes a year
    in, which a float32 clock cannot hold), and the copy drifts like the original."""
    a = _varied_states(target, 5)
    rng = _rng(target, 5)
    _advance(a, 3.2e7 + 0.25)  # a year and a quarter second: write times a float32 clock cannot hold
    pick = rng.random(SHAPE) < 0.2
    a.program(on_device(a, mid_targets(a)), mask=on_device(a, pick, bool))
    _advance(a, 250.0)
    saved = _savez_round_trip(a.state())
    b = target.make(key=6, shape=SHAPE)
    b.load_state(saved)
    if float(b.time_s) != float(a.time_s):
        fail(f"the restored device's time is {float(b.time_s):g} s, the original's {float(a.time_s):g} s")
    if not np.array_equal(_ages(a), _ages(b)):
        n = int((_ages(a) != _ages(b)).sum())
        fail(f"the restored device has different ages in {n} cells: state() must carry every cell's last-write time")
    if not target.spec.has(DRIFT) or a.compute.is_gpu:
        return "ages compared (no drift to compare)" if not target.spec.has(DRIFT) else "ages compared (GPU streams are not exported)"
    a.drift(86400.0)
    b.drift(86400.0)
    if not np.array_equal(host(a, a.peek()).view(np.uint32), host(b, b.peek()).view(np.uint32)):
        fail("after a state round trip the copy drifts differently from the original")
