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
            "task": s.get("task"), "model": s.get("model"), "seed": s.get("seed"),
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


def comparison_plot(rows: list[dict], path) -> Path:
    """compare.png: the figure of :func:`imc.plot.plot_comparison` (a 2 x 3 grid), saved."""
    from imc.plot.common import save
    from imc.plot.compare import plot_comparison

    return save(plot_comparison(rows), Path(path))


def energy_plot(rows: list[dict], path) -> Path:
    """compare_energy.png: the figure of :func:`imc.plot.plot_comparison_energy`, saved."""
    from imc.plot.common import save
    from imc.plot.compare import plot_comparison_energy

    return save(plot_comparison_energy(rows), Path(path))
