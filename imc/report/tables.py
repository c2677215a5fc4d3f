"""Side-by-side comparison of runs (one per rule/backend): Markdown, CSV, JSON and PNGs.

Each run is one row: metric, its warnings (:mod:`imc.verdicts`), wear three ways
(``write_events``, ``cells_written_distinct``, ``pulses``), energy per accounting boundary
(``energy_array_j``, ``energy_chip_j``, ``energy_system_j``; docs/energy.md), the two GPU
references and lifetime from the worst and the mean cell. Ratios against "original" on the
same backend/preset are in the paper's terms (``x_reduction = original / rule`` for
writes, pulses and energy; ``x_gain = rule / original`` for lifetime).

:func:`eapu_versus_baselines` puts EaPU against every baseline on its backend, per
boundary. No ratio is given against, or for, a run that did not train (a run with
warnings): "x fewer writes" than a network that kept its initial weights means nothing.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

BOUNDARY_NAMES = ("array", "chip", "system")
#: rules that are not baselines of EaPU (the upper bound, and EaPU itself)
NOT_BASELINES = ("ideal", "eapu")

COLUMNS = (
    "rule", "backend", "preset", "metric", "value", "baseline", "baseline_name", "warnings", "update_ratio_mean",
    "write_events", "cells_written_distinct", "pulses",
    "energy_array_j", "energy_chip_j", "energy_system_j", "gpu_energy_flop_bound_j", "gpu_energy_power_time_j",
    "lifetime_worst_cell", "lifetime_mean_cell",
    "write_events_reduction", "pulses_reduction",
    "energy_array_reduction", "energy_chip_reduction", "energy_system_reduction",
    "lifetime_worst_cell_gain", "lifetime_mean_cell_gain",
)
#: (column, summary key, "reduction" = reference / run or "gain" = run / reference)
RATIOS = (
    ("write_events_reduction", "write_events", "reduction"),
    ("pulses_reduction", "pulses", "reduction"),
    ("energy_array_reduction", "energy_array_j", "reduction"),
    ("energy_chip_reduction", "energy_chip_j", "reduction"),
    ("energy_system_reduction", "energy_system_j", "reduction"),
    ("lifetime_worst_cell_gain", "lifetime_worst_cell", "gain"),
    ("lifetime_mean_cell_gain", "lifetime_mean_cell", "gain"),
)


def _ratio(numerator, denominator):
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def _ratio_of(kind: str, run, reference):
    return _ratio(reference, run) if kind == "reduction" else _ratio(run, reference)


def comparison_rows(summaries: list[dict]) -> list[dict]:
    """One row per run summary, with ratios against "original" on the same backend/preset."""
    reference = {(s["backend"], s["preset"]): s for s in summaries if s["rule"] == "original"}
    rows = []
    for s in summaries:
        ref = reference.get((s["backend"], s["preset"]))
        baseline_name, baseline = next(
            ((k, v) for k, v in s.get("baseline", {}).items() if isinstance(v, float)), ("", None)
        )
        row = {
            "rule": s["rule"], "backend": s["backend"], "preset": s["preset"], "metric": s["metric"],
            "value": s.get(s["metric"]), "baseline": baseline, "baseline_name": baseline_name,
            "warnings": list(s.get("warnings") or []),
            "energy_by_category_j": dict(s.get("energy_by_category_j") or {}),
        }
        for key in ("update_ratio_mean", "write_events", "cells_written_distinct", "pulses", "energy_array_j",
                    "energy_chip_j", "energy_system_j", "gpu_energy_flop_bound_j", "gpu_energy_power_time_j",
                    "lifetime_worst_cell", "lifetime_mean_cell"):
            row[key] = s.get(key)
        comparable = ref is not None and not ref.get("warnings") and not row["warnings"]
        for column, key, kind in RATIOS:
            row[column] = _ratio_of(kind, s.get(key), ref.get(key)) if comparable else None
        rows.append(row)
    return rows


def eapu_versus_baselines(rows: list[dict]) -> list[dict]:
    """Per backend/preset with an "eapu" row: one entry per baseline, baseline / EaPU per boundary.

    ``status`` is "" when both trained, otherwise why no ratio is given."""
    out = []
    for eapu in (r for r in rows if r["rule"] == "eapu"):
        for base in rows:
            if base["rule"] in NOT_BASELINES or (base["backend"], base["preset"]) != (eapu["backend"], eapu["preset"]):
                continue
            status = ("baseline did not train" if base["warnings"] else "") or ("EaPU did not train" if eapu["warnings"] else "")
            entry = {"backend": eapu["backend"], "preset": eapu["preset"], "baseline": base["rule"], "status": status}
            for column, key, kind in RATIOS:
                entry[column] = None if status else _ratio_of(kind, eapu.get(key), base.get(key))
            out.append(entry)
    return out


def write_csv(rows: list[dict], path) -> str:
    """CSV with every column (empty cell = not applicable / unlimited; warnings joined by "; ")."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        cells = {k: ("" if row[k] is None else row[k]) for k in COLUMNS}
        cells["warnings"] = "; ".join(row["warnings"])
        writer.writerow(cells)
    text = buffer.getvalue()
    if path is not None:
        from imc.files import atomic_write_text

        atomic_write_text(path, text)
    return text


def _fmt_value(metric, value):
    if value is None:
        return "n/a"
    return f"{value * 100:.2f} %" if metric == "accuracy" else f"{value:.2f} dB"


def _fmt_x(value, better: str, worse: str) -> str:
    """A ratio in words: 12.3x lower / 2.5x higher; "—" when not applicable."""
    if value is None or math.isinf(value):
        return "—"
    if value == 0:
        return "—"
    if abs(value - 1) < 5e-3:
        return "same"
    return f"{value:.3g}x {better}" if value > 1 else f"{1 / value:.3g}x {worse}"


def _fmt_sci(value):
    return "—" if value is None else f"{value:.3g}"


def _fmt_life(value):
    return "unlimited" if value is None else f"{value:.3g}"


def _label(row) -> str:
    return f"{row['rule']} ⚠" if row["warnings"] else row["rule"]


def markdown(rows: list[dict], title: str = "") -> str:
    """The comparison as Markdown: one row per run, then EaPU against each baseline per boundary."""
    if not rows:
        return ""
    metric = rows[0]["metric"]
    header = [
        "rule", "backend (preset)", "accuracy" if metric == "accuracy" else "PSNR", "update ratio",
        "write events", "cells written (distinct)", "pulses",
        "energy array (J)", "energy chip (J)", "energy system (J)", "GPU FLOP-bound / system", "GPU power x time / system",
        "lifetime worst cell", "lifetime mean cell",
    ]
    lines = [f"### {title}", ""] if title else []
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        system = r["energy_system_j"]
        cells = [
            _label(r), f"{r['backend']} ({r['preset']})", _fmt_value(r["metric"], r["value"]),
            f"{r['update_ratio_mean']:.2e}", f"{r['write_events']:,}", f"{r['cells_written_distinct']:,}", f"{r['pulses']:,}",
            _fmt_sci(r["energy_array_j"]), _fmt_sci(r["energy_chip_j"]), _fmt_sci(system),
            _fmt_x(_ratio(r["gpu_energy_flop_bound_j"], system), "higher", "lower"),
            _fmt_x(_ratio(r["gpu_energy_power_time_j"], system), "higher", "lower"),
            _fmt_life(r["lifetime_worst_cell"]), _fmt_life(r["lifetime_mean_cell"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Lifetime: trainings the array survives, endurance / pulses of the worst or of the mean cell "
              "(initial programming included)."]
    versus = eapu_versus_baselines(rows)
    if versus:
        head = ["EaPU vs", "backend (preset)", "write events", "pulses", "energy array", "energy chip", "energy system",
                "lifetime worst cell", "lifetime mean cell"]
        lines += ["", "EaPU against each baseline on the same device (baseline / EaPU; lifetime EaPU / baseline):", "",
                  "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for v in versus:
            if v["status"]:
                shown = [f"— ({v['status']})"] * (len(head) - 2)
            else:
                shown = [
                    _fmt_x(v["write_events_reduction"], "fewer", "more"), _fmt_x(v["pulses_reduction"], "fewer", "more"),
                    *(_fmt_x(v[f"energy_{b}_reduction"], "lower", "higher") for b in BOUNDARY_NAMES),
                    _fmt_x(v["lifetime_worst_cell_gain"], "longer", "shorter"),
                    _fmt_x(v["lifetime_mean_cell_gain"], "longer", "shorter"),
                ]
            lines.append("| " + " | ".join([v["baseline"], f"{v['backend']} ({v['preset']})", *shown]) + " |")
    flagged = [r for r in rows if r["warnings"]]
    if flagged:
        lines += ["", "⚠ did not train (no ratios are given against or for these runs):"]
        lines += [f"- {r['rule']} on {r['backend']} ({r['preset']}): " + "; ".join(r["warnings"]) for r in flagged]
    baselines = sorted({(r["baseline_name"], r["baseline"]) for r in rows if r["baseline"] is not None})
    if baselines and metric == "psnr":
        words = {"noisy_psnr_db": "the noisy input", "bicubic_psnr_db": "bicubic upsampling"}
        lines += ["", "Without a network: " + ", ".join(f"{words.get(n, n)} {b:.2f} dB" for n, b in baselines) + "."]
    return "\n".join(lines) + "\n"


def _labels(rows):
    one = len({(x["backend"], x["preset"]) for x in rows}) == 1
    return [(r["rule"] if one else f"{r['rule']} ({r['backend']}:{r['preset']})") + (" ⚠" if r["warnings"] else "") for r in rows]


def comparison_plot(rows: list[dict], path) -> Path:
    """Bar charts per run: metric, wear three ways, energy per boundary, lifetime worst/mean cell."""
    import numpy as np

    from imc.report.plots import _pyplot, _save

    plt = _pyplot()
    labels = _labels(rows)
    metric = rows[0]["metric"]
    x = np.arange(len(rows))
    width = max(4.2, 0.35 * len(rows) + 1.5)
    fig, axes = plt.subplots(1, 4, figsize=(width * 4, 4.2 + (1.5 if len(labels[0]) > 20 else 0)))
    values = [(r["value"] or 0) * (100 if metric == "accuracy" else 1) for r in rows]
    ax = axes[0]
    ax.bar(x, values, color=["C3" if r["warnings"] else "C0" for r in rows])
    ax.set_title("accuracy (%)" if metric == "accuracy" else "PSNR (dB)", fontsize=10)
    if metric == "psnr":
        baseline = rows[0]["baseline"]
        shown = values + ([baseline] if baseline is not None else [])
        ax.set_ylim(max(0, min(shown) - 2), max(shown) + 1)
        if baseline is not None:
            ax.axhline(baseline, ls="--", color="gray", label="without a network")
            ax.legend(fontsize=8)
    groups = [
        (axes[1], "wear (training)", [("write events", "write_events"), ("cells written (distinct)", "cells_written_distinct"),
                                      ("pulses", "pulses")]),
        (axes[2], "training energy (J)", [(f"{b} boundary", f"energy_{b}_j") for b in BOUNDARY_NAMES]),
        (axes[3], "lifetime (trainings)", [("worst cell", "lifetime_worst_cell"), ("mean cell", "lifetime_mean_cell")]),
    ]
    for ax, title, series in groups:
        width = 0.8 / len(series)
        for i, (name, key) in enumerate(series):
            ax.bar(x + (i - (len(series) - 1) / 2) * width, [r[key] or 0 for r in rows], width, label=name)
        ax.set_title(title, fontsize=10)
        if any((r[key] or 0) > 0 for _, key in series for r in rows):
            ax.set_yscale("log")
        ax.legend(fontsize=7)
    for ax in axes:
        ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=8)
    unlimited = [r["rule"] for r in rows if r["lifetime_worst_cell"] is None]
    if unlimited:
        axes[3].set_xlabel("unlimited (no writes): " + ", ".join(unlimited), fontsize=8)
    if any(r["warnings"] for r in rows):
        fig.suptitle("⚠ = did not train (see compare.md)", fontsize=9, x=0.01, ha="left")
    _save(fig, Path(path))
    return Path(path)


def energy_plot(rows: list[dict], path) -> Path:
    """Stacked bars of each run's training energy by category, one panel per accounting boundary."""
    from imc.ledger import BOUNDARIES
    from imc.report.plots import _pyplot, _save, energy_breakdown

    plt = _pyplot()
    labels = _labels(rows)
    width = max(5.2, 0.4 * len(rows) + 3.0)
    fig, axes = plt.subplots(1, 3, figsize=(width * 3, 4.4 + (1.5 if len(labels[0]) > 20 else 0)))
    included: list[str] = []
    for ax, (boundary, names) in zip(axes, BOUNDARIES.items()):
        included += names
        categories = [{k: v for k, v in r["energy_by_category_j"].items() if k in included} for r in rows]
        energy_breakdown(ax, labels, categories)
        ax.set_title(f"{boundary} boundary", fontsize=10)
    _save(fig, Path(path))
    return Path(path)
