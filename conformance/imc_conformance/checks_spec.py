"""Checks of the declaration itself: the spec is well formed, validated, and honest about capabilities."""

from __future__ import annotations

import json
import math

import attrs
import numpy as np

from imc.device import Device
from imc.spec import (
    BOUNDS,
    DEVICE_VARIATION,
    FAULTS,
    KNOWN_CAPABILITIES,
    READ_NOISE,
    DeviceSpec,
)

from .probes import host, windows
from .registry import check, fail

# (field, bad value, what the validator must reject)
_INVALID = (
    ("write_noise_us", -1.0, "a negative write noise"),
    ("step_us", 0.0, "a zero step"),
    ("read_noise_rel", float("nan"), "a NaN read noise"),
    ("stuck_low_prob", 1.5, "a probability above 1"),
    ("energy_per_pulse_j", -1e-12, "a negative energy"),
)


@check("spec_well_formed")
def spec_well_formed(target):
    """The spec is a frozen, validated DeviceSpec whose capabilities match its numbers."""
    spec = target.spec
    if not isinstance(spec, DeviceSpec):
        fail(f"the preset's spec is a {type(spec).__name__}, not an imc.DeviceSpec")
    if not spec.name:
        fail("the spec has an empty name")
    unknown = sorted(spec.capabilities - KNOWN_CAPABILITIES)
    if unknown:
        fail(f"the spec declares unknown capabilities {unknown}; known: {sorted(KNOWN_CAPABILITIES)}")
    try:
        attrs.validate(spec)
    except Exception as exc:  # noqa: BLE001  (any validator error is the finding)
        fail(f"the spec does not pass its own validators: {exc}")
    try:
        text = json.dumps(spec.to_dict())
    except (TypeError, ValueError) as exc:
        fail(f"spec.to_dict() is not plain JSON: {exc}")
    if json.loads(text)["name"] != spec.name:
        fail("spec.to_dict() does not round-trip through JSON")
    if spec.evolve() != spec:
        fail("spec.evolve() with no changes gives a different spec")
    try:
        spec.name = spec.name  # type: ignore[misc]
    except attrs.exceptions.FrozenInstanceError:
        pass
    else:
        fail("the spec is mutable; make it @attrs.frozen so a preset cannot be changed in place")
    # a bad value must be rejected, or replaced when the spec derives that field itself
    for field, bad, what in _INVALID:
        try:
            changed = spec.evolve(**{field: bad})
        except (ValueError, TypeError):
            continue
        kept = getattr(changed, field)
        if kept == bad or (math.isnan(kept) and math.isnan(bad)):
            fail(f"the spec accepts {what} ({field}={bad!r}); keep DeviceSpec's validators")
    try:
        empty = spec.evolve(g_max_us=spec.g_min_us)
    except ValueError:
        pass
    else:
        if not empty.g_max_us > empty.g_min_us:
            fail("the spec accepts an empty window (g_max_us == g_min_us)")
    try:
        spec.evolve(no_such_field_us=1.0)
    except KeyError:
        pass
    else:
        fail("spec.evolve accepts an unknown field name")
    _capabilities_match_numbers(spec)


def _capabilities_match_numbers(spec):
    if spec.read_noise_rel > 0 and not spec.has(READ_NOISE):
        fail(
            f"read_noise_rel = {spec.read_noise_rel} but capability {READ_NOISE!r} is absent, "
            "so the noise is silently ignored; declare the capability or set the noise to 0"
        )
    if spec.stuck_low_prob + spec.stuck_high_prob > 0 and not spec.has(FAULTS):
        fail(f"stuck-cell probabilities are non-zero but capability {FAULTS!r} is absent")
    if (spec.step_d2d > 0 or spec.bounds_d2d > 0) and not spec.has(DEVICE_VARIATION):
        fail(f"device-to-device spread is non-zero but capability {DEVICE_VARIATION!r} is absent")


@check("device_well_formed")
def device_well_formed(target):
    """A new device has the requested shape, float32 finite state inside its windows, zero counters; with
    'bounds', finite windows and a declared step that is > 0 away from either end of the window."""
    shape = (7, 5)
    dev = target.make(key=1, shape=shape)
    if not isinstance(dev, Device):
        fail(f"the factory built a {type(dev).__name__}, not an imc.Device")
    if tuple(dev.shape) != shape:
        fail(f"asked for shape {shape}, the device reports {dev.shape}")
    if dev.spec != target.spec:
        fail("the device's spec differs from the spec it was built with")
    g = host(dev, dev.peek())
    if g.shape != shape:
        fail(f"peek() has shape {g.shape}, the device has {shape}")
    if g.dtype != np.float32:
        fail(f"conductances are {g.dtype}, the protocol stores float32")
    if not np.isfinite(g).all():
        fail("a new device holds non-finite conductances")
    lo, hi = windows(dev)
    if (lo > hi).any():
        fail(f"window_at gives low > high for {int((lo > hi).sum())} cells")
    if target.spec.has(BOUNDS) and not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        n = int((~(np.isfinite(lo) & np.isfinite(hi))).sum())
        fail(f"the spec declares capability 'bounds' but window_at reports an infinite window for {n} of {lo.size} "
             "cells: return each cell's (low, high) in uS, or drop the capability")
    outside = (g < lo) | (g > hi)
    if outside.any():
        fail(f"{int(outside.sum())} cells of a new device start outside their own window")
    c = dev.counters
    if host(dev, c.pulses).any() or host(dev, c.writes).any() or c.cell_reads or c.products or c.total_energy_j:
        fail("a new device's counters are not zero")
    for g_test in (g, np.full(shape, target.spec.g_min_us, np.float32)):
        for direction in (1, -1):
            step = host(dev, dev.declared_step_us(dev.xp.asarray(g_test), direction))
            if np.broadcast_to(step, shape).shape != shape or not np.isfinite(step).all() or (step < 0).any():
                fail(f"declared_step_us(g, {direction:+d}) must give finite, >= 0 steps of the state's shape")
        noise = host(dev, dev.declared_write_noise_us(dev.xp.asarray(g_test)))
        if not np.isfinite(noise).all() or (noise < 0).any():
            fail("declared_write_noise_us(g) must give finite, >= 0 values")
    if target.spec.has(BOUNDS):  # the declared step is 0 only toward a bound, never away from it
        s = target.spec
        for g_edge, direction, word in ((s.g_max_us, -1, "top"), (s.g_min_us, 1, "bottom")):
            step = host(dev, dev.declared_step_us(dev.xp.full(shape, g_edge, dtype=np.float32), direction))
            if not (np.broadcast_to(step, shape) > 0).all():
                fail(f"declared_step_us({g_edge:g}, {direction:+d}) is 0: a cell at the {word} of the window could "
                     "never be moved away from it by update() (the rounding rule writes no pulse where the declared "
                     "step is 0); the declared step is 0 only toward a bound, never away from it")


# (field, low, high, what a value below / above usually means); the ranges are generous bounds
# of published cells, so only a unit mistake (or a typo of several orders of magnitude) lands outside
_PLAUSIBLE = (
    ("g_max_us", 1e-3, 1e5, "conductances in siemens instead of microsiemens (multiply by 1e6)",
     "conductances in nanosiemens or ohms instead of microsiemens"),
    ("energy_per_pulse_j", 1e-19, 1e-7, "an energy far below any write pulse",
     "picojoules or femtojoules written as joules (1.5 means 1.5 J; write 1.5e-12)"),
    ("energy_per_read_j", 1e-21, 1e-9, "an energy far below any cell read",
     "picojoules or femtojoules written as joules (write e.g. 4e-15)"),
    ("pulse_width_s", 1e-12, 1e-1, "a pulse shorter than a picosecond",
     "nanoseconds written as seconds (50 means 50 s; write 50e-9)"),
    ("read_time_s", 1e-12, 1e-1, "a read shorter than a picosecond",
     "nanoseconds written as seconds (write e.g. 10e-9)"),
)


@check("spec_plausible")
def spec_plausible(target):
    """The declared magnitudes make sense in their units (uS, J, s, fractions); a likely unit mistake
    is named (siemens for microsiemens, pJ written as J, ns written as s, percent as a fraction)."""
    spec = target.spec
    problems = []
    for field, low, high, below, above in _PLAUSIBLE:
        value = getattr(spec, field)
        if field.startswith("energy") and value == 0:
            continue
        if value < low:
            problems.append(f"{field} = {value:g} is below {low:g}: {below}")
        elif value > high:
            problems.append(f"{field} = {value:g} is above {high:g}: {above}")
    span = spec.range_us
    for field in ("step_us", "write_noise_us", "program_noise_us"):
        value = getattr(spec, field)
        if value > span:
            problems.append(f"{field} = {value:g} uS is larger than the whole window ({span:g} uS): a unit or "
                            "scale mistake (uS vs S, or the step of the whole window)")
    for field in ("read_noise_rel", "step_d2d", "bounds_d2d"):
        value = getattr(spec, field)
        if value >= 1:
            problems.append(f"{field} = {value:g} is a fraction: {value:g} means {value * 100:g} % "
                            f"(a percentage written as a fraction? write {value / 100:g} for {value:g} %)")
    if spec.program_pulses > 1e4:
        problems.append(f"program_pulses = {spec.program_pulses:g} verify pulses per cell is implausible")
    if problems:
        fail("; ".join(problems))
