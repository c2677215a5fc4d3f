"""Side-by-side comparison of runs (one per rule/backend): Markdown, CSV and a PNG.

Ratios are in the paper's terms, against the "original" rule on the same backend:
``writes_reduction = writes(original) / writes``, ``energy_reduction = E(original) / E``
(total training energy; ``write_energy_reduction`` for the array writes alone),
``lifetime_gain = lifetime / lifetime(original)``; and ``gpu_over_imc = E(GPU) / E``.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

COLUMNS = (
    "rule", "backend", "preset", "metric", "value", "baseline", "baseline_name", "update_ratio_mean", "cells_written",
    "writes_reduction", "write_energy_j", "write_energy_reduction", "energy_j", "energy_reduction", "gpu_energy_j", "gpu_over_imc",
    "lifetime_trainings", "lifetime_gain",
)


def _ratio(numerator, denominator):
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def comparison_rows(summaries: list[dict]) -> list[dict]:
    """One row per run summary, with ratios against "original" on the same backend/preset."""
    reference = {(s["backend"], s["preset"]): s for s in summaries if s["rule"] == "original"}
    rows = []
    for s in summaries:
        ref = reference.get((s["backend"], s["preset"]))
        baseline_name, baseline = next(
            ((k, v) for k, v in s.get("baseline", {}).items() if isinstance(v, float)), ("", None)
        )
        rows.append({
            "rule": s["rule"],
            "backend": s["backend"],
            "preset": s["preset"],
            "metric": s["metric"],
            "value": s.get(s["metric"]),
            "baseline": baseline,
            "baseline_name": baseline_name,
            "update_ratio_mean": s["update_ratio_mean"],
            "cells_written": s["cells_written"],
            "writes_reduction": _ratio(ref["cells_written"], s["cells_written"]) if ref else None,
            "write_energy_j": s["energy_by_category_j"]["array_write"],
            "write_energy_reduction": _ratio(ref["energy_by_category_j"]["array_write"], s["energy_by_category_j"]["array_write"]) if ref else None,
            "energy_j": s["energy_j"],
            "energy_reduction": _ratio(ref["energy_j"], s["energy_j"]) if ref else None,
            "gpu_energy_j": s["gpu_energy_j"],
            "gpu_over_imc": s.get("gpu_over_imc_energy"),
            "lifetime_trainings": s.get("lifetime_trainings"),
            "lifetime_gain": _ratio(s.get("lifetime_trainings"), ref.get("lifetime_trainings")) if ref else None,
        })
    return rows


def write_csv(rows: list[dict], path) -> str:
    """CSV with every column (empty cell = not applicable / unlimited)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row[k] is None else row[k]) for k in COLUMNS})
    text = buffer.getvalue()
    if path is not None:
        from imc.checkpoint import atomic_write_text

        atomic_write_text(path, text)
    return text


def _fmt_value(metric, value):
    if value is None:
        return "n/a"
    return f"{value * 100:.2f} %" if metric == "accuracy" else f"{value:.2f} dB"


def _fmt_x(value, better: str, worse: str) -> str:
    """A ratio in words: 12.3x lower / 2.5x higher; "—" when not applicable."""
    if value is None:
        return "—"
    if value == 0:  # the original rule wrote nothing here: no meaningful ratio
        return "— (original: 0)"
    if math.isinf(value):
        return "—"
    if abs(value - 1) < 5e-3:
        return "same"
    return f"{value:.3g}x {better}" if value > 1 else f"{1 / value:.3g}x {worse}"


def _fmt_sci(value):
    return "—" if value is None else f"{value:.3g}"


def markdown(rows: list[dict], title: str = "") -> str:
    """A Markdown table of the comparison, in the paper's terms."""
    if not rows:
        return ""
    metric = rows[0]["metric"]
    header = [
        "rule", "backend (preset)", "accuracy" if metric == "accuracy" else "PSNR",
        "update ratio", "cells written", "writes vs original", "write energy (J)", "write energy vs original",
        "training energy (J)", "vs original", "vs GPU", "lifetime (trainings)", "lifetime vs original",
    ]
    lines = [f"### {title}", ""] if title else []
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        cells = [
            r["rule"], f"{r['backend']} ({r['preset']})", _fmt_value(r["metric"], r["value"]),
            f"{r['update_ratio_mean']:.2e}", f"{r['cells_written']:,}",
            _fmt_x(r["writes_reduction"], "fewer", "more"),
            _fmt_sci(r["write_energy_j"]),
            _fmt_x(r["write_energy_reduction"], "lower", "higher"),
            _fmt_sci(r["energy_j"]),
            _fmt_x(r["energy_reduction"], "lower", "higher"),
            _fmt_x(r["gpu_over_imc"], "lower", "higher"),
            "unlimited" if r["lifetime_trainings"] is None else f"{r['lifetime_trainings']:.3g}",
            _fmt_x(r["lifetime_gain"], "longer", "shorter"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    baselines = sorted({(r["baseline_name"], r["baseline"]) for r in rows if r["baseline"] is not None})
    if baselines and metric == "psnr":
        words = {"noisy_psnr_db": "the noisy input", "bicubic_psnr_db": "bicubic upsampling"}
        lines += ["", "Without a network: " + ", ".join(f"{words.get(n, n)} {b:.2f} dB" for n, b in baselines) + "."]
    return "\n".join(lines) + "\n"


def comparison_plot(rows: list[dict], path) -> Path:
    """Bar charts: metric, update ratio, cells written, energy, lifetime per run."""
    from imc.report.plots import _pyplot, _save

    plt = _pyplot()
    labels = [r["rule"] if len({x["backend"] for x in rows}) == 1 else f"{r['rule']}\n{r['backend']}" for r in rows]
    metric = rows[0]["metric"]
    panels = [
        ("accuracy (%)" if metric == "accuracy" else "PSNR (dB)",
         [(r["value"] or 0) * (100 if metric == "accuracy" else 1) for r in rows], False),
        ("update ratio (mean)", [r["update_ratio_mean"] for r in rows], True),
        ("cells written", [r["cells_written"] for r in rows], True),
        ("training energy (J)", [r["energy_j"] for r in rows], True),
        ("lifetime (trainings)", [r["lifetime_trainings"] or 0 for r in rows], True),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels), 3.8))
    for ax, (title, values, log) in zip(axes, panels):
        ax.bar(range(len(values)), values, color=[f"C{i}" for i in range(len(values))])
        ax.set_xticks(range(len(values)), labels, rotation=45, ha="right", fontsize=8)
        ax.set_title(title, fontsize=10)
        if log and any(v > 0 for v in values):
            ax.set_yscale("log")
        if title.startswith("PSNR"):
            baseline = rows[0]["baseline"]
            shown = values + ([baseline] if baseline is not None else [])
            ax.set_ylim(max(0, min(shown) - 2), max(shown) + 1)
            if baseline is not None:
                ax.axhline(baseline, ls="--", color="gray", label="without a network")
                ax.legend(fontsize=8)
    unlimited = [r["rule"] for r in rows if r["lifetime_trainings"] is None]
    if unlimited:
        axes[-1].set_xlabel("unlimited (no writes): " + ", ".join(unlimited), fontsize=8)
    _save(fig, Path(path))
    return Path(path)
