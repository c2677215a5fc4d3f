"""The sweep report: a table and one plot per axis, mean and spread over seeds.

Axes whose last dotted part is ``seed`` (or ends in ``_seed``) are replicates: points that
differ only in them form one group, reported as mean, standard deviation (ddof=1), min
and max. Every other axis gets a figure ``report/vs_<axis>.png`` with one panel per
metric, the axis on x and one line per combination of the remaining axes (say, one per
update rule: the shape of the paper's accuracy-vs-write-noise figure).
"""

from __future__ import annotations

import math
import re
import statistics
from pathlib import Path

import attrs

from imc.files import atomic_write_text
from imc.plot.common import axis_label  # noqa: F401  (re-exported: the report's unit labels)
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


@attrs.frozen
class Summary:
    """A sweep folder grouped over its seed axes (what the report and its figures show)."""

    root: Path
    plan: dict
    rows: list
    group_axes: list
    groups: list
    metrics: tuple


def summarise(sweep_dir, *, metrics=None) -> Summary:
    """Read a sweep folder and group its points over the seed axes (writes nothing)."""
    store = SweepStore(sweep_dir)
    plan = store.read_plan()
    if plan is None:
        raise InputFileError(f"{store.root} is not a sweep folder (no {store.plan_path.name}); run `imc sweep` first")
    rows = list(store.rows().values())
    group_axes = [a for a in plan["axes"] if not is_seed_axis(a)]
    ok_rows = [r for r in rows if r["status"] == "ok"]
    chosen = tuple(_choose_metrics(metrics, _numeric_metrics(ok_rows)))
    return Summary(store.root, plan, rows, group_axes, _groups(rows, plan, group_axes, chosen), chosen)


def write_report(sweep_dir, *, metrics=None) -> Report:
    """Summarise a sweep folder into report/table.txt, report/summary.csv and report/vs_*.png."""
    s = summarise(sweep_dir, metrics=metrics)
    plan, rows, group_axes, groups, chosen = s.plan, s.rows, s.group_axes, s.groups, s.metrics
    out = s.root / REPORT_DIR
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
    """report/vs_<axis>.png: the figure of :func:`imc.plot.sweep.axis_figure`, saved whole or not at all."""
    from imc.plot.common import save
    from imc.plot.sweep import axis_figure

    path = out / f"vs_{re.sub(r'[^A-Za-z0-9_.-]+', '_', axis)}.png"
    return save(axis_figure(plan, axis, group_axes, groups, metrics), path)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
