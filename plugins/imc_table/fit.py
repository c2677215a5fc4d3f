"""Fit a table-driven device to measured pulse trains (a CSV), ready to use as a preset.

CSV format (one row per measured state, header required, extra columns ignored):

=================  ==========================================================================
``direction``      ``up`` or ``down`` (also ``+1`` / ``-1``, ``set`` / ``reset``): pulse polarity
``pulse``          whole number of pulses applied in this sweep so far (0 = before the first);
                   must increase within a sweep (gaps are allowed: the step is averaged)
``conductance_us`` measured conductance after those pulses, uS
``cell``           optional: which cell (default: one cell)
``sweep``          optional: which sweep of that cell and direction (cycles: 1, 2, ...)
=================  ==========================================================================

Values in another unit: ``unit`` ("S", "mS", "nS"; or a current "A", "mA", "uA", "nA" with
``read_voltage`` in V, G = I / V). Magnitudes implausible as microsiemens are refused with
the likely unit (:class:`UnitError`).

Rows of one (cell, sweep, direction) form one sweep, in file order. The fit bins all steps by
the conductance they start from (``bins`` equal bins over the data's whole range) and
tabulates, per direction, the mean step and the accumulating write noise per pulse with the
estimators of :mod:`imc.characterize.analysis`; the non-accumulating noise (read /
measurement noise, relaxation) is one std pooled over everything (``offset_noise_us``).
Each window end is found from the data (:mod:`imc_table.ramps`): a plateau where the
device saturates, else the data's extreme extended along the step trend. Bins with too few
steps are dropped; steps below 2 % of the largest are raised to it (a table step must be > 0).
The drift of ramp ends over cycles is measured and reported (not modelled).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import attrs
import numpy as np

from imc.characterize.analysis import Sweep, bin_statistics, records, residual_products, split_noise
from imc.errors import DataError, InputFileError, UnknownNameError, UsageError
from imc.spec import unknown_name_message

from .ramps import extend_table, ramp_drift, window_end

REQUIRED = ("direction", "pulse", "conductance_us")
OPTIONAL = ("cell", "sweep")
DIRECTIONS = {"up": 1, "+1": 1, "1": 1, "set": 1, "potentiation": 1,
              "down": -1, "-1": -1, "reset": -1, "depression": -1}
MIN_STEPS = 8  # steps a bin needs to enter the table
MIN_STEP_FRACTION = 0.02
EXTEND = 0.25  # at most this fraction of the data's span is added at an end that does not saturate
CONDUCTANCE_UNITS = {"uS": 1.0, "mS": 1e3, "S": 1e6, "nS": 1e-3}  # to uS
CURRENT_UNITS = {"A": 1e6, "mA": 1e3, "uA": 1.0, "nA": 1e-3}  # to uA; / V gives uS
PLAUSIBLE_US = (1e-2, 2e4)  # 100 MOhm ... 50 Ohm: what a memory cell's conductance can be


class CsvError(DataError):
    """A problem in a pulse-response CSV; the message names the file, row and column."""


class UnitError(CsvError):
    """Conductances whose magnitudes fit another unit far better than microsiemens."""


class FitSettingError(UsageError):
    """A fit setting (unit, spec override) that cannot be used as given."""


def unit_factor(unit: str = "uS", read_voltage: float | None = None) -> float:
    """Factor from the CSV's values to uS (see the module docstring)."""
    if unit is None:
        unit = "A" if read_voltage is not None else "uS"
    if unit in CONDUCTANCE_UNITS:
        if read_voltage is not None:
            raise FitSettingError(f"--read-voltage converts read currents, but --unit {unit} is a conductance; "
                                  "give a current unit (A, mA, uA, nA) or drop --read-voltage")
        return CONDUCTANCE_UNITS[unit]
    if unit in CURRENT_UNITS:
        if read_voltage is None:
            raise FitSettingError(f"--unit {unit} is a current; give the read voltage (--read-voltage V) to convert it (G = I / V)")
        if isinstance(read_voltage, bool) or not isinstance(read_voltage, (int, float)) or not math.isfinite(read_voltage) or read_voltage == 0:
            raise FitSettingError(f"--read-voltage must be a finite, non-zero voltage in V, got {read_voltage!r}")
        return CURRENT_UNITS[unit] / abs(float(read_voltage))
    known = ", ".join([*CONDUCTANCE_UNITS, *CURRENT_UNITS])
    raise FitSettingError(f"unknown unit {unit!r}; known: {known}")


def check_magnitudes(name: str, g_us, unit: str = "uS") -> None:
    """Refuse conductances (uS) whose median magnitude no memory cell has, naming the likely unit."""
    g = np.asarray(g_us, dtype=np.float64)
    g = g[g > 0]
    if g.size == 0:
        raise UnitError(f"{name}: column 'conductance_us': every value is 0; a device with no conductance cannot be fitted")
    median = float(np.median(g))
    lo, hi = PLAUSIBLE_US
    if lo <= median <= hi:
        return
    seen = f"{np.percentile(g, 1):.3g}-{np.percentile(g, 99):.3g}"
    given = "microsiemens" if unit in (None, "uS") else f"uS after converting from {unit}"
    if median < lo:
        as_s = f"{np.percentile(g, 1) * 1e6:.4g}-{np.percentile(g, 99) * 1e6:.4g} uS"
        raise UnitError(
            f"{name}: column 'conductance_us' holds {seen} ({given}), far below any device's conductance "
            f"({lo:g}-{hi:g} uS); these look like siemens ({as_s}) or read currents in amperes: "
            "pass --unit S, or --read-voltage V to convert read currents (G = I / V)"
        )
    as_ns = f"{np.percentile(g, 1) * 1e-3:.4g}-{np.percentile(g, 99) * 1e-3:.4g} uS"
    raise UnitError(
        f"{name}: column 'conductance_us' holds {seen} ({given}), far above any device's conductance "
        f"({lo:g}-{hi:g} uS); these look like nanosiemens ({as_ns}): pass --unit nS"
        + ("" if unit in (None, "uS") else f", or check --unit {unit}")
    )


@attrs.frozen(eq=False)
class FitResult:
    """A fitted table spec, its per-bin statistics and what it was fitted from."""

    spec: object  # imc_table.TableSpec
    bins: list  # per direction and bin: BinStats fields
    info: dict
    sweeps: list = attrs.field(factory=list, repr=False)  # the sweeps it was fitted to (uS)


def read_sweeps_csv(path, unit: str | None = None, read_voltage: float | None = None) -> list[Sweep]:
    """Read and validate a pulse-response CSV into sweeps (conductances in uS); errors name the
    row and column. ``unit`` / ``read_voltage``: see the module docstring."""
    factor = unit_factor(unit, read_voltage)
    path = Path(path)
    name = path.name
    try:
        fh = path.open(newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise CsvError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    with fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            raise CsvError(f"{name}: the file is empty; expected a header with columns {', '.join(REQUIRED)}") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CsvError(f"{name}: not a readable CSV ({exc})") from None
        columns = [h.strip().lower() for h in header]
        missing = [c for c in REQUIRED if c not in columns]
        if missing:
            hint = " (conductances must be in uS, column 'conductance_us')" if "conductance" in columns else ""
            raise CsvError(
                f"{name}: missing column {', '.join(repr(m) for m in missing)}{hint}; found {columns}; "
                f"required: {', '.join(REQUIRED)}; optional: {', '.join(OPTIONAL)}"
            )
        if len(set(columns)) != len(columns):
            raise CsvError(f"{name}: duplicate column names in the header {columns}")
        col = {c: columns.index(c) for c in REQUIRED + OPTIONAL if c in columns}
        groups: dict[tuple, tuple[list, list]] = {}
        rows = 0
        try:
            for line_rows, fields in enumerate(reader, start=1):
                if not fields or all(not f.strip() for f in fields):
                    continue
                rows += 1
                where = f"{name}, row {line_rows} (line {reader.line_num})"
                if len(fields) < len(columns):
                    raise CsvError(f"{where}: {len(fields)} fields, the header has {len(columns)}")
                direction = _direction(fields[col["direction"]], where)
                pulse = _pulse(fields[col["pulse"]], where)
                g = _conductance(fields[col["conductance_us"]], where)
                cell = fields[col["cell"]].strip() if "cell" in col else "0"
                sweep = fields[col["sweep"]].strip() if "sweep" in col else "0"
                key = (cell, sweep, direction)
                pulses, values = groups.setdefault(key, ([], []))
                if pulses and pulse <= pulses[-1]:
                    label = "up" if direction > 0 else "down"
                    raise CsvError(
                        f"{where}: column 'pulse': {pulse} does not increase within the sweep "
                        f"(cell {cell!r}, sweep {sweep!r}, {label}; previous pulse {pulses[-1]}); "
                        "number repeated sweeps of one cell with a 'sweep' column"
                    )
                pulses.append(pulse)
                values.append(g)
        except csv.Error as exc:
            raise CsvError(f"{name}, line {reader.line_num}: malformed CSV ({exc})") from None
    if rows == 0:
        raise CsvError(f"{name}: no data rows after the header")
    check_magnitudes(name, np.concatenate([np.asarray(v) for _, v in groups.values()]) * factor, unit)
    sweeps = [Sweep(cell=(c, s), direction=d, pulses=np.asarray(p, dtype=np.int64), g_us=np.asarray(v) * factor)
              for (c, s, d), (p, v) in groups.items()]
    for direction, label in ((1, "up"), (-1, "down")):
        if not any(sw.direction == direction and len(sw.pulses) >= 2 for sw in sweeps):
            raise CsvError(f"{name}: no {label} sweep with at least 2 rows; the fit needs both directions")
    return sweeps


def _direction(text, where):
    key = text.strip().lower()
    if key not in DIRECTIONS:
        raise CsvError(f"{where}: column 'direction': {text!r} is not up or down")
    return DIRECTIONS[key]


def _pulse(text, where):
    try:
        value = float(text)
    except ValueError:
        raise CsvError(f"{where}: column 'pulse': {text!r} is not a number") from None
    if not math.isfinite(value) or value != int(value) or value < 0:
        raise CsvError(f"{where}: column 'pulse': {text!r} is not a whole number >= 0")
    return int(value)


def _conductance(text, where):
    try:
        value = float(text)
    except ValueError:
        raise CsvError(f"{where}: column 'conductance_us': {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise CsvError(f"{where}: column 'conductance_us': {text!r} must be a finite conductance >= 0 uS")
    return value


def fit_table(sweeps: list[Sweep], name: str, bins: int = 10, source: str = "", extend: float = EXTEND, **spec_fields) -> FitResult:
    """Fit a :class:`imc_table.TableSpec` named ``name`` to sweeps (see the module docstring).

    ``spec_fields`` set the fields the pulse data cannot tell (energy, read noise, ...);
    fields the tables fix (``step_us``, ``write_noise_us``, ...) are refused. ``extend``: at
    most this fraction of the data's span is added at an end that does not saturate."""
    from .device import DERIVED, TableSpec
    from .store import check_name

    check_name(name)
    from imc.characterize.measure import MAX_BINS

    if isinstance(bins, bool) or not isinstance(bins, int) or not 2 <= bins <= MAX_BINS:
        raise DataError(f"bins must be a whole number in [2, {MAX_BINS}], got {bins!r}")
    if isinstance(extend, bool) or not isinstance(extend, (int, float)) or not 0 <= extend <= 10:
        raise FitSettingError(f"extend must be a fraction of the data's span in [0, 10], got {extend!r}")
    known = [a.name for a in attrs.fields(TableSpec)]
    for key in spec_fields:
        if key in DERIVED:
            raise FitSettingError(
                f"{key} cannot be set on a fitted table preset: the fit takes it from the data "
                f"({DERIVED[key]}) and the device never reads {key}; drop --set {key}"
            )
        if key not in known:
            raise UnknownNameError(unknown_name_message("spec field", key, known, "TableSpec"))
    values = np.concatenate([np.asarray(sw.g_us, dtype=np.float64) for sw in sweeps])
    g_lo, g_hi = float(values.min()), float(values.max())
    if not g_hi > g_lo:
        raise DataError(f"the sweeps do not span a conductance window (all values are {g_lo} uS)")
    edges = np.linspace(g_lo, g_hi, bins + 1)
    rec = records(sweeps)
    tables, rows, stats_by = {}, [], {}
    for direction, label in ((1, "up"), (-1, "down")):
        stats = bin_statistics(rec, edges, direction)
        rows += [attrs.asdict(b) for b in stats]
        ok = [b for b in stats if b.n_steps >= MIN_STEPS and np.isfinite(b.step_us)]
        if not ok or max(b.step_us for b in ok) <= 0:
            raise DataError(f"the {label} sweeps do not move the conductance {label}: no positive mean step to fit")
        grid = np.array([b.g_mean_us for b in ok])
        step = np.array([b.step_us for b in ok])
        noise = np.array([b.noise_us for b in ok])
        known_noise = np.isfinite(noise)
        noise = np.interp(grid, grid[known_noise], noise[known_noise]) if known_noise.any() else np.zeros_like(grid)
        tables[label] = (grid, step, noise)
        stats_by[direction] = ok
    # window ends from the data: a plateau where the device saturates, else the step trend
    ends = {d: window_end(sweeps, d, tables[lab][0], tables[lab][1], extend) for d, lab in ((1, "up"), (-1, "down"))}
    g_min, g_max = ends[-1]["window_end_us"], ends[1]["window_end_us"]
    if not g_max > g_min:
        raise DataError(f"the data's window ends cross (bottom {g_min:.4g} >= top {g_max:.4g} uS)")
    # next to a saturated end the data clip, and the noise estimate there measures clipping:
    # such an end bin takes its neighbour's noise and stays out of the pooled estimate
    inner = (edges[1] if ends[-1]["saturated"] else -np.inf, edges[-2] if ends[1]["saturated"] else np.inf)
    for direction, label in ((1, "up"), (-1, "down")):
        grid, step, noise = tables[label]
        if noise.size > 1 and ends[1]["saturated"] and grid[-1] >= inner[1]:
            noise[-1] = noise[-2]
        if noise.size > 1 and ends[-1]["saturated"] and grid[0] <= inner[0]:
            noise[0] = noise[1]
        stats_by[direction] = [b for b in stats_by[direction] if inner[0] <= b.g_mean_us < inner[1]] or stats_by[direction]
    for label in ("up", "down"):  # tables reach an end that does not saturate along their trend
        grid, step, noise = tables[label]
        lo = grid[0] if ends[-1]["saturated"] else g_min
        hi = grid[-1] if ends[1]["saturated"] else g_max
        floor = MIN_STEP_FRACTION * step.max()
        g_step, step = extend_table(grid, np.maximum(step, floor), lo, hi, floor, step.max())
        _, noise = extend_table(grid, noise, lo, hi, 0.0, noise.max())
        keep = (g_step >= g_min) & (g_step <= g_max)
        if keep.sum() >= 1:
            g_step, step, noise = g_step[keep], step[keep], noise[keep]
        tables[label] = (g_step, step, noise)
    noise_split = _pooled_noise(rec, tables, stats_by, inner)
    for direction, label in ((1, "up"), (-1, "down")):
        grid, step, noise = tables[label]
        constant = _constant_noise(stats_by[direction], noise_split[f"write_noise_{label}_us"], noise_split[f"write_noise_{label}_se_us"])
        noise_split[f"write_noise_{label}_table"] = "constant" if constant else "per bin"
        if constant:
            tables[label] = (grid, step, np.full_like(grid, noise_split[f"write_noise_{label}_us"]))
    up, down = tables["up"], tables["down"]
    cells = len({sw.cell[0] if isinstance(sw.cell, tuple) else sw.cell for sw in sweeps})
    fields = {
        "name": name,
        "g_min_us": g_min,
        "g_max_us": g_max,
        "step_us": float(np.median(up[1])),
        "write_noise_us": float(np.median(np.concatenate([up[2], down[2]]))),
        "offset_noise_us": noise_split["offset_noise_us"] if np.isfinite(noise_split["offset_noise_us"]) else 0.0,
        "capabilities": {"bounds"},
        "source": source or f"fitted by imc fit ({len(sweeps)} sweeps, {cells} cells)",
        "grid_up_us": up[0], "step_up_us": up[1], "noise_up_us": up[2],
        "grid_down_us": down[0], "step_down_us": down[1], "noise_down_us": down[2],
    }
    fields.update(spec_fields)
    try:
        spec = TableSpec(**fields)
    except TypeError as exc:  # a wrongly typed override: a user error like any other
        raise DataError(str(exc)) from None
    info = {"sweeps": len(sweeps), "cells": cells, "steps": int(rec.step.size), "bins": bins,
            "edges_us": edges.tolist(), "source": fields["source"], "data_range_us": [g_lo, g_hi],
            "ends": {e["side"]: e for e in ends.values()}, "noise": noise_split, "drift": ramp_drift(sweeps)}
    return FitResult(spec, rows, info, list(sweeps))


def _constant_noise(stats, pooled: float, pooled_se: float) -> bool:
    """Whether the per-bin accumulating noise is consistent with one value (chi-square within
    3 standard deviations of its expectation); then the table holds that value, which is
    far more precise than any one bin's."""
    if not np.isfinite(pooled):
        return False
    rows = [(b.noise_us, b.noise_se_us) for b in stats if np.isfinite(b.noise_us) and np.isfinite(b.noise_se_us) and b.noise_se_us > 0]
    if len(rows) < 2:
        return True
    chi2 = sum((x - pooled) ** 2 / (se**2 + pooled_se**2) for x, se in rows)
    dof = len(rows) - 1
    return chi2 <= dof + 3 * np.sqrt(2 * dof)


def _pooled_noise(rec, tables, stats_by, inner) -> dict:
    """Accumulating and non-accumulating noise pooled over the bins in ``inner`` (uS), per direction, and the
    non-accumulating std of both directions together (inverse-variance weighted)."""
    out, offsets = {}, []
    for direction, label in ((1, "up"), (-1, "down")):
        grid, step, _ = tables[label]
        ok = stats_by[direction]
        slope = direction * np.gradient([b.step_us for b in ok], [b.g_mean_us for b in ok]) if len(ok) >= 2 else np.zeros(1)
        weights = np.array([b.n_steps for b in ok], dtype=np.float64)
        q = 1 + float(np.average(slope, weights=weights if len(ok) >= 2 else None))
        products = residual_products(rec, direction, grid, step).select(*inner)
        noise, noise_se, offset, offset_se = split_noise(products, q)
        out[f"write_noise_{label}_us"], out[f"write_noise_{label}_se_us"] = noise, noise_se
        out[f"offset_{label}_us"], out[f"offset_{label}_se_us"] = offset, offset_se
        if np.isfinite(offset):
            offsets.append((offset, offset_se))
    if offsets:
        w = np.array([1 / max(se, 1e-12) ** 2 if np.isfinite(se) else 1.0 for _, se in offsets])
        out["offset_noise_us"] = float(np.average([o for o, _ in offsets], weights=w))
        out["offset_noise_se_us"] = float(1 / np.sqrt(w.sum())) if all(np.isfinite(se) for _, se in offsets) else float("nan")
    else:
        out["offset_noise_us"] = out["offset_noise_se_us"] = float("nan")
    return out


def fit_csv(path, name: str, bins: int = 10, unit: str | None = None, read_voltage: float | None = None,
            extend: float = EXTEND, **spec_fields) -> FitResult:
    """Read, validate and fit a pulse-response CSV in one call."""
    sweeps = read_sweeps_csv(path, unit=unit, read_voltage=read_voltage)
    rows = sum(len(sw.pulses) for sw in sweeps)
    source = f"fitted by imc fit from {Path(path).name} ({rows} rows, {len(sweeps)} sweeps)"
    return fit_table(sweeps, name, bins=bins, source=source, extend=extend, **spec_fields)
