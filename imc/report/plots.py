"""Plots of one run, read back from its files (metrics.jsonl, summary.json)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def read_metrics(run_dir) -> tuple[list[dict], list[dict]]:
    """(step records, epoch records) from metrics.jsonl."""
    steps, epochs = [], []
    with open(Path(run_dir) / "metrics.jsonl", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                (epochs if record.get("kind") == "epoch" else steps).append(record)
    return steps, epochs


PLOT_FILES = ("curves.png", "update_ratio.png", "cumulative_writes.png", "energy.png", "cell_writes.png")


def run_identity(summary: dict) -> str:
    """One line naming a run: name, task / model, backend:preset, rule, seed."""
    backend = summary.get("backend", "?") + (f":{summary['preset']}" if summary.get("preset") else "")
    return (f"{summary.get('name', '?')}: {summary.get('task', '?')} / {summary.get('model', '?')} on {backend}, "
            f"rule {summary.get('rule', '?')}, seed {summary.get('seed', '?')}")


def _save(fig, path: Path, identity: str | None = None) -> None:
    """Save a figure whole or not at all (a kill mid-save leaves no half-written PNG).

    ``identity`` (see :func:`run_identity`) goes on top of the figure and into its PNG Title.
    """
    from imc.files import atomic_write

    if identity:
        fig.suptitle(identity, fontsize=8, color="0.35")
    fig.tight_layout()
    meta = {"Title": identity} if identity else None
    try:
        atomic_write(Path(path), lambda handle: fig.savefig(handle, dpi=110, format="png", metadata=meta))
    finally:
        _pyplot().close(fig)


def missing_plots(run_dir) -> list[str]:
    """Names of the run's plots not (yet) in ``run_dir/plots``."""
    out = Path(run_dir) / "plots"
    return [name for name in PLOT_FILES if not (out / name).is_file()]


def run_plots(run_dir) -> list[Path]:
    """Write plots/*.png for a finished run; returns the files written."""
    plt = _pyplot()
    run_dir = Path(run_dir)
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    steps, epochs = read_metrics(run_dir)
    out = run_dir / "plots"
    out.mkdir(exist_ok=True)
    metric = summary["metric"]
    who = run_identity(summary)
    step_no = np.array([r["step"] for r in steps])
    written = []

    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax_loss.plot(step_no, [r["loss"] for r in steps], lw=0.6, alpha=0.6, label="train (per step)")
    if epochs:
        ax_loss.plot([r["step"] for r in epochs], [r.get("test_loss") for r in epochs], "o-", label="test")
        ax_metric.plot([r["epoch"] for r in epochs], [r.get(metric) for r in epochs], "o-", color="C2")
    for name, value in summary.get("baseline", {}).items():
        if isinstance(value, float) and metric == "psnr":
            ax_metric.axhline(value, ls="--", color="gray", label=name.replace("_psnr_db", "") + " baseline")
            ax_metric.legend()
    ax_loss.set(xlabel="step", ylabel="loss", yscale="log", title="loss")
    ax_loss.legend()
    ax_metric.set(xlabel="epoch", ylabel="accuracy" if metric == "accuracy" else "PSNR (dB)", title=f"test {metric}")
    _save(fig, out / "curves.png", who)
    written.append(out / "curves.png")

    fig, ax = plt.subplots(figsize=(6, 3.8))
    ratio = np.array([r["update_ratio"] for r in steps])
    ax.plot(step_no, ratio, lw=0.6, alpha=0.45, label="per step")
    window = max(1, len(ratio) // 50)  # a moving mean over 2 % of the run shows the trend
    if window > 1:
        smooth = np.convolve(ratio, np.ones(window) / window, mode="valid")
        ax.plot(step_no[window - 1 :], smooth, lw=1.4, color="C1", label=f"mean of {window} steps")
        ax.legend(fontsize=8)
    ax.set(xlabel="step", ylabel="cells written / weights", title="update ratio per step")
    if ratio.size and ratio.max() > 0:
        ax.set_yscale("log")
    _save(fig, out / "update_ratio.png", who)
    written.append(out / "update_ratio.png")

    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.plot(step_no, [r["write_events"] for r in steps], label="write events")
    ax.plot(step_no, [r["pulses"] for r in steps], label="pulses")
    ax.set(xlabel="step", ylabel="cumulative count", title="cumulative write events and pulses")
    ax.legend()
    _save(fig, out / "cumulative_writes.png", who)
    written.append(out / "cumulative_writes.png")

    fig, ax = plt.subplots(figsize=(6, 3.8))
    energy_breakdown(ax, [summary["rule"]], [summary["energy_by_category_j"]])
    ax.set_title(f"training energy (system {summary['energy_system_j']:.3g} J)", fontsize=10)
    _save(fig, out / "energy.png", who)
    written.append(out / "energy.png")

    fig, ax = plt.subplots(figsize=(6, 3.8))
    hist = summary["ledger"]["wear"]["histogram"]
    if hist["counts"]:
        edges, counts = hist["edges"], hist["counts"]
        labels = [f"{lo}" if hi - lo == 1 else f"{lo}-{hi - 1}" for lo, hi in itertools.pairwise(edges)]
        ax.bar(range(len(counts)), counts, color="C3")
        ax.set_xticks(range(len(counts)), labels, rotation=45, ha="right", fontsize=8)
        ax.set_yscale("log")
        ax.set_ylim(bottom=0.5)  # a bin of one cell still shows as a bar
    else:
        ax.text(0.5, 0.5, "no device cells (digital run)", ha="center", va="center", transform=ax.transAxes)
    ax.set(xlabel="write events per cell", ylabel="cells", title="per-cell writes (incl. initial programming)")
    _save(fig, out / "cell_writes.png", who)
    written.append(out / "cell_writes.png")
    return written


def energy_breakdown(ax, labels: list[str], categories: list[dict]) -> None:
    """Stacked bars of energy by category, one bar per run, grouped by accounting boundary
    (array categories in blues, chip periphery in greens, system work in oranges)."""
    from imc.ledger import BOUNDARIES

    shades = {"array": "Blues", "chip": "Greens", "system": "Oranges"}
    plt = _pyplot()
    x = np.arange(len(labels))
    bottom = np.zeros(len(labels))
    for boundary, names in BOUNDARIES.items():
        cmap = plt.get_cmap(shades[boundary])
        for i, name in enumerate(names):
            values = np.array([float(c.get(name, 0.0)) for c in categories])
            if not values.any():
                continue
            ax.bar(x, values, bottom=bottom, color=cmap(0.35 + 0.5 * i / max(len(names) - 1, 1)),
                   label=f"{boundary}: {name}", width=0.6)
            bottom += values
    ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("energy (J)")
    if bottom.any():
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))


def example_images(path, inputs, restored, clean, task: str) -> Path:
    """A grid: input (noisy or low-resolution) / network output / clean, one column per image."""
    plt = _pyplot()
    from imc.tasks.base import psnr_db

    count = len(inputs)
    fig, axes = plt.subplots(3, count, figsize=(2.4 * count, 7.4), squeeze=False)
    first = "noisy" if task == "denoise" else "input (low-res)"
    for j in range(count):
        last = "clean" if task == "denoise" else "original"
        for i, (image, label) in enumerate(((inputs[j], first), (restored[j], "restored"), (clean[j], last))):
            ax = axes[i, j]
            ax.imshow(np.clip(image[0], 0, 1), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            title = label
            if i == 1 or (i == 0 and image.shape == clean[j].shape):
                title += f" {psnr_db(image[None], clean[j][None]):.1f} dB"
            ax.set_title(title, fontsize=9)
    _save(fig, Path(path))
    return Path(path)
