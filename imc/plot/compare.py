"""Figures of a comparison of runs (``imc compare``): the headline grid and the energy breakdown.

Input: the rows of :func:`imc.report.tables.comparison_rows` or an ``imc compare`` output
folder (its compare.json). Bars are horizontal, one line per run, so long run labels stay
readable; counts, energy and lifetime are on log axes whose floor carries a mark and a
label for what a log axis cannot show: "0" for a run with no writes (or no energy),
"unlimited" for a lifetime without wear. Runs that did not train are red, hatched, and
named as such on the figure.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from imc.errors import RunFolderError

from .common import log_floor, mark_at_floor, new_figure

BOUNDARY_NAMES = ("array", "chip", "system")
UNTRAINED = "C3"


def load_rows(source) -> list[dict]:
    """The comparison rows from a list of rows, an ``imc compare`` folder or its compare.json."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        path = path / "compare.json" if path.is_dir() else path
        if not path.is_file():
            raise RunFolderError(f"{path} not found: give an `imc compare` output folder or its compare.json")
        source = json.loads(path.read_text(encoding="utf-8"))
    rows = list(source)
    if not rows:
        raise ValueError("nothing to compare: no rows")
    return rows


def comparison_identity(rows: list[dict]) -> str:
    """``compare: task / model on backend:preset, rules a, b, seed S`` (what varies is listed)."""
    first = rows[0]
    devices = list(dict.fromkeys(f"{r['backend']}:{r['preset']}" if r.get("preset") else r["backend"] for r in rows))
    rules = list(dict.fromkeys(r["rule"] for r in rows))
    what = " / ".join(str(first[k]) for k in ("task", "model") if first.get(k))
    where = devices[0] if len(devices) == 1 else f"{len(devices)} devices ({', '.join(devices)})"
    parts = [" on ".join(p for p in (what, where) if p), ("rule " if len(rules) == 1 else "rules ") + ", ".join(rules)]
    seeds = sorted({r["seed"] for r in rows if r.get("seed") is not None})
    if seeds:
        parts.append("seed " + ", ".join(map(str, seeds)))
    return "compare: " + ", ".join(parts)


def run_labels(rows: list[dict]) -> list[str]:
    """Rule names (with the device when several are compared); "did not train" where so."""
    one = len({(r["backend"], r["preset"]) for r in rows}) == 1
    return [(r["rule"] if one else f"{r['rule']} ({r['backend']}:{r['preset']})") + ("  ⚠ did not train" if r["warnings"] else "")
            for r in rows]


def _bars(ax, rows, series, y, *, log: bool, unlimited: str = "") -> None:
    """Horizontal grouped bars of ``series`` [(legend, key)], zeros/None marked at the floor."""
    from matplotlib.ticker import NullFormatter

    height = 0.8 / len(series)
    values_all = [r[key] for _, key in series for r in rows]
    floor = log_floor(values_all)
    for i, (name, key) in enumerate(series):
        pos = y - (i - (len(series) - 1) / 2) * height  # the first series on top
        values = np.array([r[key] if r[key] is not None else np.nan for r in rows], dtype=np.float64)
        shown = np.where(np.isfinite(values) & (values > 0), values, 0.0) if log else np.nan_to_num(values)
        bars = ax.barh(pos, shown, height, color=f"C{i}", label=name if len(series) > 1 else None, alpha=0.9)
        for bar, row in zip(bars, rows):
            if row["warnings"]:  # did not train: hatched in red, the series colour kept
                bar.set_hatch("///")
                bar.set_edgecolor(UNTRAINED)
        for yy, v in zip(pos, values):  # the number at each bar's end: a log axis is hard to read off
            if np.isfinite(v) and v > 0:
                ax.annotate(f"{v:.3g}", (v, yy), xytext=(3, 0), textcoords="offset points", va="center", fontsize=7)
        if log:
            mark_at_floor(ax, pos[values == 0], floor, "0")
            if unlimited:
                mark_at_floor(ax, pos[np.isnan(values)], floor, unlimited, color="C2")
    if log:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # decade labels only: minor ones overlap on short spans
        top = max((v for v in values_all if v is not None and v > 0), default=10 * floor)
        ax.set_xlim(floor, top * 8)
    if len(series) > 1:  # below the panel: never over a bar
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=len(series), frameon=False)
    ax.grid(axis="x", alpha=0.3, which="major")


def plot_comparison(source, *, identity: str | None = None):
    """The comparison grid: metric, write events, pulses, cells written, energy per boundary,
    lifetime; one horizontal bar per run (2 x 3 panels sharing the run labels)."""
    rows = load_rows(source)
    labels = run_labels(rows)
    metric = rows[0]["metric"]
    height = max(5.2, 0.42 * len(rows) * 2 + 2.4)
    fig, axes = new_figure(2, 3, figsize=(14, height), identity=comparison_identity(rows) if identity is None else identity,
                           sharey=True)
    y = np.arange(len(rows))[::-1]  # the first run on top

    ax = axes[0, 0]
    scale = 100.0 if metric == "accuracy" else 1.0
    values = [(r["value"] if r["value"] is not None else np.nan) * scale for r in rows]
    bars = ax.barh(y, np.nan_to_num(values), 0.6, color="C0")
    for bar, row in zip(bars, rows):
        if row["warnings"]:
            bar.set_hatch("///")
            bar.set_edgecolor(UNTRAINED)
    for yy, v in zip(y, values):
        ax.annotate("n/a" if np.isnan(v) else f"{v:.1f}", (0 if np.isnan(v) else v, yy), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize=8)
    if metric == "psnr":
        baseline = rows[0]["baseline"]
        shown = [v for v in values if np.isfinite(v)] + ([baseline] if baseline is not None else [])
        ax.set_xlim(max(0, min(shown) - 2), max(shown) + 2)
        if baseline is not None:
            ax.axvline(baseline, ls="--", color="gray", label="without a network")
            ax.legend(fontsize=7, loc="lower right")
    else:
        ax.set_xlim(0, 105)
    ax.set(title="test accuracy" if metric == "accuracy" else "test PSNR",
           xlabel="test accuracy (%)" if metric == "accuracy" else "PSNR (dB)")
    ax.grid(axis="x", alpha=0.3)

    panels = [
        (axes[0, 1], "write events (training)", "cell writes", [("write events", "write_events")], ""),
        (axes[0, 2], "pulses (training)", "pulses", [("pulses", "pulses")], ""),
        (axes[1, 0], "cells written at least once", "cells", [("cells written (distinct)", "cells_written_distinct")], ""),
        (axes[1, 1], "training energy per boundary", "energy (J)",
         [(f"{b} boundary", f"energy_{b}_j") for b in BOUNDARY_NAMES], ""),
        (axes[1, 2], "lifetime (trainings the array survives)", "trainings",
         [("worst cell", "lifetime_worst_cell"), ("mean cell", "lifetime_mean_cell")], "unlimited"),
    ]
    for ax, title, unit, series, unlimited in panels:
        _bars(ax, rows, series, y, log=True, unlimited=unlimited)
        ax.set(title=title, xlabel=f"{unit} (log)")
    for ax in axes[:, 0]:
        ax.set_yticks(y, labels, fontsize=8)
        for tick, row in zip(ax.get_yticklabels(), rows):
            tick.set_color(UNTRAINED if row["warnings"] else "black")
    notes = ["0 / unlimited: marked at the log axis floor (no bar on a log axis)"]
    flagged = [r for r in rows if r["warnings"]]
    if flagged:
        notes.insert(0, "⚠ did not train (red labels, hatched bars; compare.md says why and gives no ratios): "
                     + ", ".join(label.replace("  ⚠ did not train", "") for label, r in zip(labels, rows) if r["warnings"]))
    fig.supxlabel("\n".join(notes), fontsize=8, color="0.3", ha="left", x=0.01)
    return fig


def plot_comparison_energy(source, *, identity: str | None = None):
    """Stacked bars of each run's training energy by category (J), one panel per accounting
    boundary, each boundary including the ones inside it (docs/energy.md)."""
    from imc.ledger import BOUNDARIES

    from .run import energy_breakdown

    rows = load_rows(source)
    labels = run_labels(rows)
    width = max(5.0, 0.4 * len(rows) + 3.0)
    fig, (axes,) = new_figure(1, 3, figsize=(width * 3, 4.6 + (1.2 if max(map(len, labels)) > 20 else 0)),
                              identity=comparison_identity(rows) if identity is None else identity)
    included: list[str] = []
    for ax, (boundary, names) in zip(axes, BOUNDARIES.items()):
        included += names
        categories = [{k: v for k, v in (r.get("energy_by_category_j") or {}).items() if k in included} for r in rows]
        energy_breakdown(ax, labels, categories)
        ax.set_title(f"{boundary} boundary", fontsize=10)
    return fig
