"""Ramp-level properties of measured pulse trains: window ends, saturation, drift, spread.

- :func:`window_end`: where the data's window ends on one side, and whether the device
  saturates there. An end is *saturated* when the steps that approach it die out (the mean
  of each ramp's last steps is below ``SATURATED`` of its mean step) or the ramps repeat
  their extreme (a hard bound); the window then ends at the plateau (median over ramps of
  the mean of their last values; of their extreme for a hard bound). Otherwise the data stops before the device does: the window is the
  data's extreme extended along the step trend (a straight line through the three outermost
  bins of the approaching direction) up to where that trend reaches zero, at most
  ``extend`` x the data's span.
- :func:`ramp_drift`: cycle-to-cycle drift of the ramp ends (each ramp's last value) and
  starts, a least-squares slope per cell over its ramps in file order, in uS per cycle.
- :func:`spread_table`: the spread of n-pulse displacements about the mean curve, in the data
  and in the fitted device replaying the same starts (n = 1 ... 100).
"""

from __future__ import annotations

import numpy as np

SATURATED = 0.2  # last steps below this fraction of the ramp's mean step: saturated
TAIL = 0.1  # the last 10 % of a ramp's steps (at least 3) are its "last steps"


def _tail(n: int) -> int:
    return max(3, int(round(TAIL * n)))


def window_end(sweeps, direction: int, grid_us, step_us, extend: float = 0.25) -> dict:
    """The window end reached by ``direction`` ramps (+1: top, -1: bottom); see the module docstring.

    ``grid_us`` / ``step_us``: that direction's mean-step table (increasing grid)."""
    ramps = [sw for sw in sweeps if sw.direction == direction and len(sw.g_us) >= 4]
    values = np.concatenate([np.asarray(sw.g_us, dtype=np.float64) for sw in sweeps])
    data_end = float(values.max() if direction > 0 else values.min())
    span = float(values.max() - values.min())
    last, mean, plateau, extremes, repeated = [], [], [], [], 0
    for sw in ramps:
        g = np.asarray(sw.g_us, dtype=np.float64)
        steps = np.diff(g) * direction / np.diff(np.asarray(sw.pulses, dtype=np.float64))
        k = _tail(steps.size)
        last.append(steps[-k:].mean())
        mean.append(steps.mean())
        plateau.append(g[-k:].mean())
        extreme = g.max() if direction > 0 else g.min()
        extremes.append(extreme)
        repeated += int((g == extreme).sum() >= 3)
    ratio = float(np.mean(last) / np.mean(mean)) if ramps and np.mean(mean) > 0 else float("nan")
    hard = bool(ramps) and repeated >= len(ramps) / 2
    out = {"side": "top" if direction > 0 else "bottom", "data_end_us": data_end, "last_step_ratio": ratio,
           "hard_bound": hard}
    if hard or (np.isfinite(ratio) and ratio < SATURATED):
        end = float(np.median(extremes if hard else plateau))
        out.update(saturated=True, window_end_us=end, trend_zero_us=float("nan"),
                   how=(f"saturates: {'the ramps repeat their extreme (a hard bound)' if hard else ''}"
                        f"{'' if hard else f'the last steps are {ratio:.0%} of the mean step'}; window ends at the plateau {end:.4g} uS"))
        return out
    grid, step = np.asarray(grid_us, dtype=np.float64), np.asarray(step_us, dtype=np.float64)
    outer = slice(-3, None) if direction > 0 else slice(0, 3)
    zero = float("nan")
    if grid.size >= 2:
        slope, icpt = np.polyfit(grid[outer], step[outer], 1)
        falls = slope * direction < 0  # the step shrinks towards this end
        zero = float(-icpt / slope) if falls else float("nan")
    reach = abs(zero - data_end) if np.isfinite(zero) else float("inf")
    cap = extend * span
    end = data_end + direction * min(reach, cap)
    trend = (f"the step trend reaches 0 at {zero:.4g} uS" if np.isfinite(zero) else "the step trend does not fall towards it")
    out.update(saturated=False, window_end_us=float(end), trend_zero_us=zero,
               how=(f"no saturation in the data (last steps {ratio:.0%} of the mean step); {trend}; window extended "
                    f"from {data_end:.4g} to {end:.4g} uS" + (f" (capped at {extend:g} x the data span)" if cap < reach else "")))
    return out


def extend_table(grid_us, values, lo_us: float, hi_us: float, floor: float = 0.0, ceiling: float = np.inf):
    """The table with points added at ``lo_us`` / ``hi_us`` where it stops short of them,
    extrapolated along the line through its three outermost points, kept in [floor, ceiling]."""
    grid, val = list(np.asarray(grid_us, dtype=np.float64)), list(np.asarray(values, dtype=np.float64))
    if len(grid) >= 2 and lo_us < grid[0]:
        k = min(3, len(grid))
        slope, icpt = np.polyfit(grid[:k], val[:k], 1)
        grid.insert(0, lo_us)
        val.insert(0, float(np.clip(slope * lo_us + icpt, floor, ceiling)))
    if len(grid) >= 2 and hi_us > grid[-1]:
        k = min(3, len(grid))
        slope, icpt = np.polyfit(grid[-k:], val[-k:], 1)
        grid.append(hi_us)
        val.append(float(np.clip(slope * hi_us + icpt, floor, ceiling)))
    return np.asarray(grid), np.asarray(val)


def ramp_drift(sweeps) -> dict:
    """Drift of ramp ends (and starts) over cycles, uS per cycle (see the module docstring)."""
    out = {}
    for direction, side in ((1, "top"), (-1, "bottom")):
        groups: dict[object, list] = {}
        for sw in sweeps:
            if sw.direction == direction and len(sw.g_us) >= 2:
                cell = sw.cell[0] if isinstance(sw.cell, tuple) else sw.cell
                groups.setdefault(cell, []).append(sw)
        for what, pick in (("end", -1), ("start", 0)):
            slopes, weights, firsts, lasts = [], [], [], []
            for ramps in groups.values():
                if len(ramps) < 3:
                    continue
                y = np.array([float(np.asarray(sw.g_us)[pick]) for sw in ramps])
                x = np.arange(y.size, dtype=np.float64)
                slope, icpt = np.polyfit(x, y, 1)
                slopes.append(slope)
                weights.append(((x - x.mean()) ** 2).sum())
                resid = y - (slope * x + icpt)
                firsts.append(icpt)
                lasts.append(float(np.sqrt((resid**2).sum() / max(y.size - 2, 1))))
            key = f"{side}_{what}"
            if not slopes:
                out[key] = {"cycles": 0, "drift_us_per_cycle": float("nan"), "se_us_per_cycle": float("nan")}
                continue
            w = np.asarray(weights)
            slope = float(np.average(slopes, weights=w))
            # residual scatter of each cell's ends about its line; the ends of successive ramps
            # are correlated (a ramp starts where the last one ended), so this s.e. is a lower bound
            se = float(np.sqrt(np.mean(np.square(lasts)) / w.sum()))
            cycles = max(len(r) for r in groups.values())
            out[key] = {"cycles": cycles, "drift_us_per_cycle": slope, "se_us_per_cycle": se,
                        "total_us": slope * (cycles - 1), "scatter_us": float(np.mean(lasts))}
    return out


def mean_curve(spec, g_us, pulses, direction: int):
    """Where the table's mean curve takes states ``g_us`` after ``pulses`` pulses (numpy, uS)."""
    from .device import _pulse_coordinate

    grid, x = _pulse_coordinate(spec, direction)  # grid increasing; x decreasing going down
    at = np.interp(g_us, grid, x) + pulses
    return np.interp(at, x, grid) if direction > 0 else np.interp(at, x[::-1], grid[::-1])


def _starts(sweeps, direction: int, n_max: int):
    """(values after each of n_max + 1 pulses or NaN, per start) of every single-pulse start."""
    rows = []
    for sw in sweeps:
        if sw.direction != direction:
            continue
        g, p = np.asarray(sw.g_us, dtype=np.float64), np.asarray(sw.pulses)
        for k in range(g.size - 1):
            ahead = np.full(n_max + 1, np.nan)
            end = min(g.size, k + n_max + 1)
            run = g[k:end][(p[k:end] - p[k]) == np.arange(end - k)]
            ahead[: run.size] = run
            rows.append(ahead)
    return np.asarray(rows).reshape(-1, n_max + 1)


def spread_table(sweeps, spec, direction: int, n_max: int = 100, seed: int = 0, max_starts: int = 4000) -> dict:
    """Spread of n-pulse displacements about the table's mean curve, n = 1 ... ``n_max``: in the
    data (every start with n more single pulses in its ramp) and in the fitted device replaying
    the same starts. A replayed cell is write-verified one mean pulse before its start and
    pulsed once, so its start carries the device's own non-accumulating offset as a measured
    one does, then pulsed ``n_max`` times. Returns arrays ``n``, ``data_us``, ``fitted_us``,
    ``starts`` (uS; NaN where fewer than 3 starts)."""
    from imc.compute import Compute

    from .device import TableDevice

    paths = _starts(sweeps, direction, n_max)
    if paths.shape[0] > max_starts:
        paths = paths[np.sort(np.random.default_rng(seed).choice(paths.shape[0], max_starts, replace=False))]
    out = {"n": np.arange(1, n_max + 1), "data_us": np.full(n_max, np.nan), "fitted_us": np.full(n_max, np.nan),
           "starts": np.zeros(n_max, dtype=np.int64)}
    if paths.shape[0] < 3:
        return out
    quiet = spec.evolve(step_d2d=0.0, bounds_d2d=0.0, stuck_low_prob=0.0, stuck_high_prob=0.0, program_noise_us=0.0)
    dev = TableDevice(quiet, (1, paths.shape[0]), Compute.create("cpu", seed=seed))
    before = np.clip(mean_curve(spec, paths[:, 0], -1, direction), spec.g_min_us, spec.g_max_us)
    dev.program(before.reshape(dev.shape).astype(np.float32))
    ones = np.ones(dev.shape)
    dev.pulse(ones, direction)
    first = dev.peek().astype(np.float64).ravel()
    for n in range(1, n_max + 1):
        dev.pulse(ones, direction)
        ok = np.isfinite(paths[:, n])
        if ok.sum() < 3:
            continue
        data = paths[ok, n] - mean_curve(spec, paths[ok, 0], n, direction)
        fitted = dev.peek().astype(np.float64).ravel()[ok] - mean_curve(spec, first[ok], n, direction)
        out["data_us"][n - 1], out["fitted_us"][n - 1] = data.std(ddof=1), fitted.std(ddof=1)
        out["starts"][n - 1] = int(ok.sum())
    return out
