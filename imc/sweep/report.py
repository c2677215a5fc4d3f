"""The sweep report: a table and one plot per axis, mean and spread over seeds.

Axes whose last dotted part is ``seed`` (or ends in ``_seed``) are replicates: points that
differ only in them form one group, reported as mean, standard deviation (ddof=1), min
and max. Every other axis gets a figure ``report/vs_<axis>.png`` with one panel per
metric, the axis on x and one line per combination of the remaining axes (say, one per
update rule: the shape of the paper's accuracy-vs-write-noise figure).
"""

from __future__ import annotations

import math
import os
import re
import statistics
from pathlib import Path

import attrs

from imc.files import atomic_write_text
from imc.spec import unknown_name_message

from ..errors import InputFileError, UnknownNameError
from .store import SweepStore, flatten

REPORT_DIR = "report"
# What the report shows unless told otherwise: the run summary's headline numbers
# (imc.runner.build_summary). Without any of them, every numeric summary value is shown.
HEADLINE_METRICS = (
    "accuracy",
    "psnr",
    "update_ratio_mean",
    "write_events",
    "energy_system_j",
    "energy_by_category_j.array_write",
    "lifetime_worst_cell",
)


@attrs.frozen
class Report:
    """What ``write_report`` produced."""

    table: str  # the text table (also in report/table.txt)
    summary_csv: Path
    plots: tuple
    groups: list  # one dict per group: axis values, counts and per-metric statistics
    metrics: tuple


def is_seed_axis(key: str) -> bool:
    """Replicate axes: ``seed``, ``task.split_seed`` and the like."""
    last = key.rsplit(".", 1)[-1]
    return last == "seed" or last.endswith("_seed")


def write_report(sweep_dir, *, metrics=None) -> Report:
    """Summarise a sweep folder into report/table.txt, report/summary.csv and report/vs_*.png."""
    store = SweepStore(sweep_dir)
    plan = store.read_plan()
    if plan is None:
        raise InputFileError(f"{store.root} is not a sweep folder (no {store.plan_path.name}); run `imc sweep` first")
    rows = list(store.rows().values())
    axes = list(plan["axes"])
    group_axes = [a for a in axes if not is_seed_axis(a)]
    ok_rows = [r for r in rows if r["status"] == "ok"]
    available = _numeric_metrics(ok_rows)
    chosen = tuple(_choose_metrics(metrics, available))
    groups = _groups(rows, plan, group_axes, chosen)

    out = store.root / REPORT_DIR
    out.mkdir(exist_ok=True)
    table = _table(plan, rows, group_axes, groups, chosen)
    atomic_write_text(out / "table.txt", table + "\n")
    summary_csv = out / "summary.csv"
    atomic_write_text(summary_csv, _summary_csv(group_axes, groups, chosen))
    plots = tuple(_plot_axis(out, plan, axis, group_axes, groups, chosen) for axis in group_axes) if chosen else ()
    for stale in set(out.glob("vs_*.png")) - set(plots):  # from an earlier report of other axes
        stale.unlink()
    return Report(table=table, summary_csv=summary_csv, plots=plots, groups=groups, metrics=chosen)


def _numeric_metrics(rows) -> list[str]:
    names = []
    for row in rows:
        for key, value in flatten(row.get("summary") or {}).items():
            if _is_number(value) and key not in names:
                names.append(key)
    return names


def _choose_metrics(asked, available) -> list[str]:
    if not asked:
        headline = [m for m in HEADLINE_METRICS if m in available]
        return headline or list(available)
    for name in asked:
        if name not in available:
            raise UnknownNameError(unknown_name_message("metric", name, available, "the sweep's summaries"))
    return list(asked)


def _groups(rows, plan, group_axes, metrics) -> list[dict]:
    order = {a: list(plan["axes"][a]) for a in group_axes}
    by_key: dict[tuple, list] = {}
    for row in rows:
        key = tuple(row["params"].get(a) for a in group_axes)
        by_key.setdefault(key, []).append(row)

    def rank(key):
        return tuple(order[a].index(v) if v in order[a] else len(order[a]) for a, v in zip(group_axes, key))

    groups = []
    for key in sorted(by_key, key=lambda k: (rank(k), tuple(map(str, k)))):
        members = by_key[key]
        ok = [flatten(r.get("summary") or {}) for r in members if r["status"] == "ok"]
        stats = {}
        for metric in metrics:
            values = [float(s[metric]) for s in ok if _is_number(s.get(metric))]
            stats[metric] = _stats(values)
        groups.append(
            {
                "params": dict(zip(group_axes, key)),
                "ok": len(ok),
                "failed": sum(r["status"] != "ok" for r in members),
                "stats": stats,
            }
        )
    return groups


def _stats(values) -> dict:
    if not values:
        return {"n": 0, "mean": math.nan, "std": math.nan, "min": math.nan, "max": math.nan}
    return {
        "n": len(values),
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
    }


TABLE_WIDTH = 100  # characters: wider tables are split into blocks of metric columns


def _table(plan, rows, group_axes, groups, metrics) -> str:
    keys = [[*group_axes, "runs"]]
    values = [list(metrics)]
    for group in groups:
        runs = f"{group['ok']}" + (f" (+{group['failed']} failed)" if group["failed"] else "")
        keys.append([*(_fmt(group["params"][a]) for a in group_axes), runs])
        cells = []
        for metric in metrics:
            s = group["stats"][metric]
            cells.append("-" if s["n"] == 0 else f"{_fmt(s['mean'])} ± {_fmt(s['std'])}")
        values.append(cells)
    text = [f"sweep {plan['name']!r}: {len(rows)} of {len(plan['points'])} points recorded"]
    for block in _column_blocks(keys, values, TABLE_WIDTH):
        lines = [k + [v[i] for i in block] for k, v in zip(keys, values)]
        widths = [max(len(str(line[i])) for line in lines) for i in range(len(lines[0]))]
        if len(text) > 1:
            text.append("")
        text += ["  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]
    if metrics:
        seeds = [a for a in plan["axes"] if is_seed_axis(a)]
        text.append("metrics: mean ± std" + (f" over {', '.join(seeds)}" if seeds else " (one run per row)"))
    failed = sorted((r for r in rows if r["status"] != "ok"), key=lambda r: r["index"])
    if failed:
        text.append(f"{len(failed)} failed point(s):")
        for row in failed:
            params = ", ".join(f"{k}={v!r}" for k, v in row["params"].items())
            text.append(f"  point {row['index']} ({params}): {row['error']}")
    return "\n".join(text)


def _column_blocks(keys, values, width: int) -> list[list[int]]:
    """Metric column indices grouped so that each block, after the key columns, fits ``width``."""
    key_width = sum(max(len(str(row[i])) for row in keys) + 2 for i in range(len(keys[0])))
    blocks: list[list[int]] = [[]]
    used = key_width
    for i in range(len(values[0])):
        col = max(len(str(row[i])) for row in values) + 2
        if blocks[-1] and used + col > width + 2:  # + 2: no separator after the last column
            blocks.append([])
            used = key_width
        blocks[-1].append(i)
        used += col
    return blocks


def _summary_csv(group_axes, groups, metrics) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    stat_names = ("mean", "std", "min", "max", "n")
    writer.writerow([*group_axes, "ok", "failed", *(f"{m}.{s}" for m in metrics for s in stat_names)])
    for group in groups:
        stats = [group["stats"][m][s] for m in metrics for s in stat_names]
        writer.writerow([*(group["params"][a] for a in group_axes), group["ok"], group["failed"], *stats])
    return buffer.getvalue()


def _plot_axis(out: Path, plan, axis, group_axes, groups, metrics) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    others = [a for a in group_axes if a != axis]
    x_values = list(plan["axes"][axis])
    for group in groups:
        if group["params"][axis] not in x_values:
            x_values.append(group["params"][axis])
    numeric_x = all(_is_number(v) for v in x_values)
    lines: dict[tuple, list] = {}
    for group in groups:
        lines.setdefault(tuple(group["params"][a] for a in others), []).append(group)

    ncols = min(3, len(metrics))
    nrows = math.ceil(len(metrics) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.6 * nrows), squeeze=False)
    for panel, metric in zip(axes.flat, metrics):
        for line_no, (key, members) in enumerate(lines.items()):
            dodge = 0.0 if numeric_x else 0.08 * (line_no - (len(lines) - 1) / 2)  # categories: side by side
            members = sorted(members, key=lambda g: x_values.index(g["params"][axis]))
            points = [(g["params"][axis], g["stats"][metric]) for g in members if g["stats"][metric]["n"]]
            if not points:
                continue
            xs = [x if numeric_x else x_values.index(x) + dodge for x, _ in points]
            means = [s["mean"] for _, s in points]
            stds = [s["std"] for _, s in points]
            label = ", ".join(f"{a}={_fmt(v)}" for a, v in zip(others, key)) or None
            # a categorical axis (rule names, ...) has no order between its values: no lines
            panel.errorbar(xs, means, yerr=stds, marker="o", capsize=3, label=label, linestyle="-" if numeric_x else "none")
        if not numeric_x:
            panel.set_xticks(range(len(x_values)), [_fmt(v) for v in x_values])
        _maybe_log(panel)
        panel.set_xlabel(axis_label(axis))
        panel.set_title(axis_label(metric))
        panel.grid(alpha=0.3)
    for panel in list(axes.flat)[len(metrics):]:
        panel.set_visible(False)
    if len(lines) > 1:
        axes.flat[0].legend(fontsize="small")
    seeds = [a for a in plan["axes"] if is_seed_axis(a)]
    spread = f"mean ± std over {', '.join(seeds)}" if seeds else "one run per point"
    fig.suptitle(f"{plan['name']}: metrics vs {axis} ({spread})")
    fig.tight_layout()
    path = out / f"vs_{re.sub(r'[^A-Za-z0-9_.-]+', '_', axis)}.png"
    partial = path.with_name(f".{path.name}.tmp")
    try:
        fig.savefig(partial, dpi=110, format="png")
        os.replace(partial, path)  # a plot is whole or absent, never half-written
    finally:
        plt.close(fig)
        partial.unlink(missing_ok=True)
    return path


UNITS = {"_us": "uS", "_j": "J", "_s": "s", "_db": "dB", "_ua": "uA", "_v": "V"}  # name suffix -> unit


def axis_label(key: str) -> str:
    """A config key or metric with its unit from the name's suffix: ``..._us`` -> ``... (uS)``."""
    last = key.rsplit(".", 1)[-1].lower()
    unit = next((u for suffix, u in UNITS.items() if last.endswith(suffix)), None)
    if unit is None and last in ("psnr",):
        unit = "dB"
    return f"{key} ({unit})" if unit else key


def _maybe_log(panel) -> None:
    """Log y when the data are positive and span more than two decades (writes, energy)."""
    ys = [y for line in panel.get_lines() for y in line.get_ydata() if _is_number(y)]
    if ys and min(ys) > 0 and max(ys) / min(ys) > 100:
        panel.set_yscale("log")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
