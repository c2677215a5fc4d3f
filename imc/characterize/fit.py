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

Rows of one (cell, sweep, direction) form one sweep, in file order. The fit bins all steps by
the conductance they start from (``bins`` equal bins between the median sweep minimum and
maximum) and tabulates, per direction, the mean step and the write noise per pulse with the
estimators of :mod:`imc.characterize.analysis` (clustered standard errors, successive-
difference noise). Bins with too few steps are dropped; steps below 2 % of the largest are
raised to it (a table step must be > 0: a saturated end still moves a little).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import attrs
import numpy as np

from imc.spec import unknown_name_message

from ..errors import DataError, InputFileError, UnknownNameError
from .analysis import Sweep, bin_statistics, records

REQUIRED = ("direction", "pulse", "conductance_us")
OPTIONAL = ("cell", "sweep")
DIRECTIONS = {"up": 1, "+1": 1, "1": 1, "set": 1, "potentiation": 1,
              "down": -1, "-1": -1, "reset": -1, "depression": -1}
MIN_STEPS = 8  # steps a bin needs to enter the table
MIN_STEP_FRACTION = 0.02


class CsvError(DataError):
    """A problem in a pulse-response CSV; the message names the file, row and column."""


@attrs.frozen(eq=False)
class FitResult:
    """A fitted table spec, its per-bin statistics and what it was fitted from."""

    spec: object  # imc_table.TableSpec
    bins: list  # per direction and bin: BinStats fields
    info: dict


def read_sweeps_csv(path) -> list[Sweep]:
    """Read and validate a pulse-response CSV into sweeps; errors name the row and column."""
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
    sweeps = [Sweep(cell=(c, s), direction=d, pulses=np.asarray(p, dtype=np.int64), g_us=np.asarray(v))
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


def fit_table(sweeps: list[Sweep], name: str, bins: int = 10, source: str = "", **spec_fields) -> FitResult:
    """Fit a :class:`imc_table.TableSpec` named ``name`` to sweeps (see the module docstring).

    ``spec_fields`` set the fields the pulse data cannot tell (energy, read noise, ...).
    """
    from imc_table import TableSpec
    from imc_table.store import check_name

    check_name(name)
    from .measure import MAX_BINS

    if isinstance(bins, bool) or not isinstance(bins, int) or not 2 <= bins <= MAX_BINS:
        raise DataError(f"bins must be a whole number in [2, {MAX_BINS}], got {bins!r}")
    g_min = float(np.median([np.min(sw.g_us) for sw in sweeps]))
    g_max = float(np.median([np.max(sw.g_us) for sw in sweeps]))
    if not g_max > g_min:
        raise DataError(f"the sweeps do not span a conductance window (median min {g_min} >= median max {g_max} uS)")
    edges = np.linspace(g_min, g_max, bins + 1)
    rec = records(sweeps)
    tables, rows = {}, []
    for direction, label in ((1, "up"), (-1, "down")):
        stats = bin_statistics(rec, edges, direction)
        rows += [attrs.asdict(b) for b in stats]
        ok = [b for b in stats if b.n_steps >= MIN_STEPS and np.isfinite(b.step_us)]
        if not ok or max(b.step_us for b in ok) <= 0:
            raise DataError(f"the {label} sweeps do not move the conductance {label}: no positive mean step to fit")
        grid = np.array([b.g_mean_us for b in ok])
        step = np.array([b.step_us for b in ok])
        step = np.maximum(step, MIN_STEP_FRACTION * step.max())
        noise = np.array([b.noise_us for b in ok])
        known = np.isfinite(noise)
        noise = np.interp(grid, grid[known], noise[known]) if known.any() else np.zeros_like(grid)
        tables[label] = (grid, step, noise)
    up, down = tables["up"], tables["down"]
    cells = len({sw.cell[0] if isinstance(sw.cell, tuple) else sw.cell for sw in sweeps})
    fields = {
        "name": name,
        "g_min_us": g_min,
        "g_max_us": g_max,
        "step_us": float(np.median(up[1])),
        "write_noise_us": float(np.median(np.concatenate([up[2], down[2]]))),
        "capabilities": {"bounds"},
        "source": source or f"fitted by imc fit ({len(sweeps)} sweeps, {cells} cells)",
        "grid_up_us": up[0], "step_up_us": up[1], "noise_up_us": up[2],
        "grid_down_us": down[0], "step_down_us": down[1], "noise_down_us": down[2],
    }
    known = [a.name for a in attrs.fields(TableSpec)]
    for key in spec_fields:
        if key not in known:
            raise UnknownNameError(unknown_name_message("spec field", key, known, "TableSpec"))
    fields.update(spec_fields)
    try:
        spec = TableSpec(**fields)
    except TypeError as exc:  # a wrongly typed override: a user error like any other
        raise DataError(str(exc)) from None
    info = {"sweeps": len(sweeps), "cells": cells, "steps": int(rec.step.size), "bins": bins,
            "edges_us": edges.tolist(), "source": fields["source"]}
    return FitResult(spec, rows, info)


def fit_csv(path, name: str, bins: int = 10, **spec_fields) -> FitResult:
    """Read, validate and fit a pulse-response CSV in one call."""
    sweeps = read_sweeps_csv(path)
    rows = sum(len(sw.pulses) for sw in sweeps)
    source = f"fitted by imc fit from {Path(path).name} ({rows} rows, {len(sweeps)} sweeps)"
    return fit_table(sweeps, name, bins=bins, source=source, **spec_fields)
