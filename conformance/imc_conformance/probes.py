"""Helpers the checks share: host copies, snapshots, per-cell windows, mid-window states."""

from __future__ import annotations

import numpy as np

from imc.device import Device


def host(device: Device, x) -> np.ndarray:
    """``x`` as a host numpy array (a copy)."""
    return np.array(device.compute.to_numpy(x), copy=True)


def on_device(device: Device, x, dtype=np.float32):
    return device.xp.asarray(np.asarray(x), dtype=dtype)


def snapshot(device: Device) -> dict[str, np.ndarray]:
    """Every piece of device state as host arrays (its own export plus the counters)."""
    out = {k: np.array(v, copy=True) for k, v in device.state().items()}
    c = device.counters
    out["_counters"] = np.array(
        [c.cell_reads, c.products] + [c.energy_j[k] for k in sorted(c.energy_j)], dtype=np.float64
    )
    return out


def differences(before: dict, after: dict) -> list[str]:
    """Names of the snapshot entries that are not bit-identical."""
    changed = sorted(set(before) ^ set(after))
    for key in sorted(set(before) & set(after)):
        a, b = np.asarray(before[key]), np.asarray(after[key])
        if a.shape != b.shape or a.dtype != b.dtype:
            changed.append(key)
        elif a.dtype.kind in "fc":
            if not np.array_equal(a.view(np.uint8), b.view(np.uint8)):
                changed.append(key)
        elif not np.array_equal(a, b):
            changed.append(key)
    return changed


def windows(device: Device) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell (low, high) conductance bounds in uS as host arrays of the device's shape."""
    idx = device.xp.arange(device.shape[0] * device.shape[1])
    lo, hi = device.window_at(idx)
    shape = device.shape
    lo = np.broadcast_to(np.asarray(device.compute.to_numpy(device.xp.asarray(lo)), dtype=np.float64).reshape(-1), (idx.size,))
    hi = np.broadcast_to(np.asarray(device.compute.to_numpy(device.xp.asarray(hi)), dtype=np.float64).reshape(-1), (idx.size,))
    return lo.reshape(shape).copy(), hi.reshape(shape).copy()


def mid_targets(device: Device) -> np.ndarray:
    """The middle of each cell's own window, clipped into the spec window (float32, uS).

    The spec-window middle for unbounded cells. Taking the middle of the cell's own window
    (not of its window cut to the spec window) keeps the population of measured states
    centred where a device-to-device spread of the window puts it.
    """
    s = device.spec
    lo, hi = windows(device)
    with np.errstate(invalid="ignore"):
        mid = (lo + hi) / 2
    mid = np.where(np.isfinite(mid), mid, (s.g_min_us + s.g_max_us) / 2)
    return np.clip(mid, s.g_min_us, s.g_max_us).astype(np.float32)


def stuck_cells(device: Device) -> np.ndarray:
    """Cells no pulse train moves (bool, the device's shape): four trains of a quarter window each
    (up, down, down, up), a cell that never changed is stuck. The device is pulsed."""
    import math

    spec = device.spec
    moved = np.zeros(device.shape, bool)
    quarter = math.ceil(0.25 * spec.range_us / spec.step_us)
    for sign in (1, -1, -1, 1):
        before = host(device, device.peek())
        device.pulse(on_device(device, np.full(device.shape, quarter), np.int64), sign)
        moved |= host(device, device.peek()) != before
    return ~moved


def declared(device: Device, g: np.ndarray, direction: int) -> tuple[np.ndarray, np.ndarray]:
    """(declared step, declared write noise) in uS at host states ``g`` for one direction.

    The noise is the error of one write from a settled (write-verified) state: the declared
    write noise plus, in quadrature, any non-accumulating offset a write adds
    (``declared_offset_noise_us``, e.g. a fitted table device's)."""
    gd = on_device(device, g)
    step = host(device, device.declared_step_us(gd, direction)).astype(np.float64)
    noise = host(device, device.declared_write_noise_us(gd, direction)).astype(np.float64)
    offset = getattr(device, "declared_offset_noise_us", None)
    if offset is not None:
        noise = np.hypot(noise, host(device, offset(gd)).astype(np.float64))
    return np.broadcast_to(step, g.shape).copy(), np.broadcast_to(noise, g.shape).copy()


def randomness_declared(spec) -> bool:
    """Whether the spec declares anything random (else two seeds may legitimately agree)."""
    return any(
        v > 0
        for v in (
            spec.write_noise_us,
            getattr(spec, "offset_noise_us", 0.0),
            spec.read_noise_rel,
            spec.program_noise_us,
            spec.step_d2d,
            spec.bounds_d2d,
            spec.stuck_low_prob + spec.stuck_high_prob,
        )
    )


def switch_us(device: Device, g: np.ndarray, direction: int) -> np.ndarray:
    """Size of one native probabilistic switch, uS: ``spec.level_us`` when the spec has it
    (e.g. one MTJ flip), else the declared step (the convention of imc's EaPU rule)."""
    level = device.spec.level_us
    if level:
        return np.full(g.shape, float(level))
    return declared(device, g, direction)[0]


def pulse_energy_range(spec) -> tuple[float, float]:
    """(lowest, highest) energy of one write pulse, J: SET and RESET may be costed apart."""
    per = getattr(spec, "pulse_energy_j", None)
    energies = [per(1), per(-1)] if callable(per) else [spec.energy_per_pulse_j]
    return min(energies), max(energies)


def energy_agrees(got_j: float, pulses: float, cell_reads: float, spec) -> tuple[bool, float, float]:
    """Whether ``got_j`` is pulses x (SET or RESET) J + cell reads x J/read; also the allowed (low, high)."""
    lo, hi = pulse_energy_range(spec)
    low = pulses * lo + cell_reads * spec.energy_per_read_j
    high = pulses * hi + cell_reads * spec.energy_per_read_j
    slack = 1e-9 * max(abs(low), abs(high)) + 1e-30
    return low - slack <= got_j <= high + slack, low, high
