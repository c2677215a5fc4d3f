"""Characterise a backend like a lab would: pulse trains across the window, then statistics.

:func:`characterize` builds a sample of cells of a backend, resets them to the bottom of the
window, applies ``pulses`` identical pulses up then ``pulses`` down (``cycles`` times),
and records every cell's conductance after each pulse. The probe is the simulator's exact
state (:meth:`imc.Device.peek`), standing in for a lab's averaged reads; read noise is
measured separately from repeated reads. It then reports, per conductance bin and
direction, the measured mean step and write noise next to what the backend declares
(``declared_step_us`` / ``declared_write_noise_us`` at the same states), the up/down
asymmetry, the number of levels, read noise and energy bookkeeping. Backends that switch
with a set probability (capability "native-probabilistic", e.g. MRAM) also get a
switching-probability sweep: for each requested probability, every cell gets one pulse
from mid-window and the switched fraction is compared with the declared P_sw.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from imc.device import DOWN, UP
from imc.errors import UsageError
from imc.registry import get_registry
from imc.spec import NATIVE_PROBABILISTIC, READ_NOISE, SWITCHING_LAW, DeviceSpec

from .analysis import (
    Sweep,
    bin_index,
    bin_statistics,
    distinct_states,
    pulses_across,
    records,
)

SWITCH_PROBABILITIES = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95)


@attrs.frozen(eq=False)
class Characterisation:
    """Everything one characterisation measured (tables are lists of plain dicts)."""

    backend: str
    preset: str
    spec: DeviceSpec
    sweeps: list  # of Sweep
    bins: list  # per direction and bin: measured and declared step / noise
    switching: list  # per direction and requested probability (native-probabilistic only)
    summary: dict
    seed: int | None = None  # the seed of the sampled cells (figures name it)


def declared_levels(spec: DeviceSpec) -> float:
    """Levels a spec declares going up: its own ``levels`` if it has one, else range / up step."""
    levels = spec.levels
    return float(levels) if levels is not None else float(round(spec.range_us / (spec.step_us * (1 + spec.asymmetry))))


def declared_noise(device, g, direction: int):
    """``declared_write_noise_us(g, direction)``: every backend takes the direction (the Device protocol)."""
    return device.declared_write_noise_us(g, direction)


def default_pulses(spec: DeviceSpec) -> int:
    """Pulses per sweep: 1.5x the nominal pulses across the window, at least 16, at most 2000."""
    return int(min(max(16, math.ceil(1.5 * spec.range_us / spec.step_us)), 2000))


def characterize(
    backend: str,
    preset: str | None = None,
    cells: int = 256,
    pulses: int | None = None,
    cycles: int = 2,
    bins: int | None = None,
    seed: int = 0,
    compute="cpu",
    **overrides,
) -> Characterisation:
    """Measure a backend's pulse response on ``cells`` cells (see the module docstring)."""
    for name, value, low in (("cells", cells, 4), ("cycles", cycles, 1), ("bins", 10 if bins is None else bins, 2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise UsageError(f"{name} must be a whole number >= {low}, got {value!r}")
    registry = get_registry()
    info = registry.get(backend).info
    preset_name = info.default_preset if preset is None else preset
    try:
        spec = registry.spec(backend, preset_name, **overrides)
    except TypeError as exc:  # a wrongly typed override (e.g. text for a number)
        raise UsageError(str(exc)) from None
    if pulses is None:
        pulses = default_pulses(spec)
    if isinstance(pulses, bool) or not isinstance(pulses, int) or pulses < 2:
        raise UsageError(f"pulses must be a whole number >= 2, got {pulses!r}")
    check_measurement(cells, pulses, cycles, bins)
    device = registry.create(backend, (1, cells), preset=preset_name, compute=compute, seed=seed, **overrides)
    xp, to_np = device.xp, device.compute.to_numpy

    sweeps = _pulse_trains(device, pulses, cycles)
    rec = records(sweeps)
    edges = _bin_edges(spec, bins)
    rows = []
    step_bin, pair_bin = bin_index(rec.step_g, edges), bin_index(rec.pair_g, edges)
    for direction in (UP, DOWN):
        for k, b in enumerate(bin_statistics(rec, edges, direction)):
            row = attrs.asdict(b)
            in_bin = (rec.step_dir == direction) & (step_bin == k)
            pairs = (rec.pair_dir == direction) & (pair_bin == k)
            row["declared_step_us"] = _mean(to_np(device.declared_step_us(xp.asarray(rec.step_g[in_bin], dtype=np.float32), direction)))
            states = rec.pair_g[pairs] if pairs.any() else rec.step_g[in_bin]
            noise = to_np(declared_noise(device, xp.asarray(states, dtype=np.float32), direction))
            row["declared_noise_us"] = float(np.sqrt(np.mean(np.square(noise, dtype=np.float64)))) if noise.size else float("nan")
            row["declared_offset_us"] = float(getattr(spec, "offset_noise_us", 0.0))
            rows.append(row)

    switching = _switching(device) if spec.has(NATIVE_PROBABILISTIC) else []
    n = device.shape[0] * device.shape[1]
    applied = {  # what this protocol applied, to check the device's own counters against
        "write_pulses": n * (2 * cycles * pulses + (len(switching) and 2 * len(SWITCH_PROBABILITIES))),
        "programmed_cells": n * (1 + (len(switching) and 2 * len(SWITCH_PROBABILITIES))),
    }
    summary = _summary(device, spec, sweeps, rows, applied)
    return Characterisation(backend, preset_name, spec, sweeps, rows, switching, summary, seed=seed)


MAX_BINS = 10_000  # conductance bins: each is a pass over the records; more resolve nothing


def check_measurement(cells: int, pulses: int, cycles: int, bins: int | None) -> None:
    """Refuse a protocol whose records would not fit in memory, or absurd bin counts."""
    from imc.limits import check_memory

    if bins is not None and bins > MAX_BINS:
        raise UsageError(f"bins must be at most {MAX_BINS}, got {bins}")
    samples = cells * pulses * cycles * 2  # one record per cell, pulse, direction and cycle
    check_memory(samples * 48, f"characterizing {cells} cells x {pulses} pulses x {cycles} cycles",
                 "lower --cells, --pulses or --cycles")


def _bin_edges(spec: DeviceSpec, bins: int | None):
    """``bins`` equal bins over the window; by default 10, or one per level for cells
    with discrete levels (a spec with ``level_us``, e.g. MRAM)."""
    level = spec.level_us
    if bins is None and level:
        count = round(spec.range_us / level) + 1
        return spec.g_min_us - level / 2 + level * np.arange(count + 1)
    return np.linspace(spec.g_min_us, spec.g_max_us, (bins or 10) + 1)


def _mean(values) -> float:
    return float(np.mean(values, dtype=np.float64)) if np.size(values) else float("nan")


def _pulse_trains(device, pulses: int, cycles: int) -> list[Sweep]:
    """Reset to the bottom of the window, then ``cycles`` x (``pulses`` up, ``pulses`` down)."""
    xp, to_np = device.xp, device.compute.to_numpy
    spec = device.spec
    device.program(xp.full(device.shape, spec.g_min_us, dtype=np.float32))
    ones = xp.ones(device.shape, dtype=np.float32)
    sweeps = []
    index = np.arange(pulses + 1)
    for _cycle in range(cycles):
        for direction in (UP, DOWN):
            trace = [to_np(device.peek()).reshape(-1)]
            for _ in range(pulses):
                device.pulse(ones, direction)
                trace.append(to_np(device.peek()).reshape(-1))
            trace = np.stack(trace).astype(np.float64)
            sweeps += [Sweep(c, direction, index, trace[:, c]) for c in range(trace.shape[1])]
    return sweeps


def _switching(device) -> list[dict]:
    """Switched fraction after one probabilistic pulse from mid-window, vs the request."""
    xp, to_np, spec = device.xp, device.compute.to_numpy, device.spec
    mid = xp.full(device.shape, (spec.g_min_us + spec.g_max_us) / 2, dtype=np.float32)
    n = device.shape[0] * device.shape[1]
    rows = []
    for direction in (UP, DOWN):
        for p in SWITCH_PROBABILITIES:
            device.program(mid)
            before = device.peek()
            device.pulse_probabilistic(xp.full(device.shape, p, dtype=np.float32), direction)
            switched = float(to_np((device.peek() != before).mean()))
            row = {"direction": direction, "requested_p": p, "measured_p": switched,
                   "se": math.sqrt(p * (1 - p) / n), "cells": n}
            if spec.has(SWITCHING_LAW):
                current = device.current_for_probability(xp.asarray([p], dtype=np.float32), direction)
                row["current_ua"] = float(to_np(current)[0])
                row["declared_p"] = float(to_np(device.switching_probability(current, direction))[0])
            else:
                row["declared_p"] = p
            rows.append(row)
    return rows


def _summary(device, spec, sweeps, rows, applied) -> dict:
    to_np = device.compute.to_numpy
    across = pulses_across(sweeps)
    states = distinct_states(sweeps, 1e-4 * spec.range_us)
    samples = max(len(sw.g_us) for sw in sweeps) * sum(1 for sw in sweeps if sw.cell == sweeps[0].cell)
    quantized = states <= samples / 2
    # like with like: a declared level count is pulses across going up (TableSpec.levels,
    # FeFET's levels, range / step), so the measured one is the up ramps' pulses across
    measured_levels = states if quantized else float(across[UP])
    # asymmetry at mid-window: up step / down step, measured and declared
    mid = (spec.g_min_us + spec.g_max_us) / 2
    by_dir = {d: next((r for r in rows if r["direction"] == d and r["g_lo_us"] <= mid < r["g_hi_us"]), None) for d in (UP, DOWN)}
    ratio = lambda key: (by_dir[UP][key] / by_dir[DOWN][key]) if by_dir[UP] and by_dir[DOWN] and by_dir[DOWN][key] else float("nan")
    # read noise from repeated reads of the final states
    reads = np.stack([to_np(device.read()).reshape(-1) for _ in range(32)]).astype(np.float64)
    rel = reads.std(axis=0, ddof=1) / np.abs(reads.mean(axis=0))
    c = device.counters
    program_pulses = applied["programmed_cells"] * round(spec.program_pulses)
    return {
        "cells": device.shape[0] * device.shape[1],
        "pulses_per_sweep": int(len(sweeps[0].g_us) - 1),
        "levels_declared": declared_levels(spec),
        "levels_measured": float(measured_levels),
        "quantized": bool(quantized),
        "distinct_states_per_cell": states,
        "pulses_across_up": across[UP],
        "pulses_across_down": across[DOWN],
        "asymmetry_mid_measured": ratio("step_us"),
        "asymmetry_mid_declared": ratio("declared_step_us"),
        "read_noise_rel_measured": float(np.mean(rel[np.isfinite(rel)])) if np.isfinite(rel).any() else float("nan"),
        "read_noise_rel_declared": spec.read_noise_rel if spec.has(READ_NOISE) else 0.0,
        "g_observed_min_us": float(min(np.min(sw.g_us) for sw in sweeps)),
        "g_observed_max_us": float(max(np.max(sw.g_us) for sw in sweeps)),
        "write_pulses_applied": applied["write_pulses"],
        "pulses_counted": int(to_np(c.pulses).sum()),
        "pulses_expected": applied["write_pulses"] + program_pulses,
        "energy_j": dict(c.energy_j),
        "energy_expected_j": {
            "write": applied["write_pulses"] * spec.energy_per_pulse_j,
            "program": program_pulses * (spec.energy_per_pulse_j + spec.energy_per_read_j),
            "read": c.cell_reads * spec.energy_per_read_j - program_pulses * spec.energy_per_read_j,
            "verify": 0.0,  # characterisation never verify-reads single cells
        },
    }
