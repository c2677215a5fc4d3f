"""Figures of one training run: curves, update ratio, cumulative writes, energy, per-cell writes.

Every function takes a run folder (``runs/NAME``), the dict ``Trainer.fit`` returns, a
:class:`~imc.train.Trainer`, or a :class:`~imc.runner.Run` (a session built from a config),
and returns a matplotlib ``Figure``. ``imc train`` and ``imc report`` save these same figures
as ``plots/*.png``.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import attrs
import numpy as np

from imc.errors import RunFolderError

from .common import identity_line, log_floor, mark_at_floor, new_figure


@attrs.frozen(eq=False)
class RunRecord:
    """What the run figures draw, from a folder or from memory (arrays are numpy)."""

    identity: str
    metric: str  # "accuracy" (fraction) or "psnr" (dB)
    step: np.ndarray  # 1..N, optimisation steps
    loss: np.ndarray  # training loss per step (NaN where not recorded)
    update_ratio: np.ndarray  # cells written / analog weights, per step
    write_events: np.ndarray  # cumulative cell writes after each step
    pulses: np.ndarray  # cumulative pulses after each step
    epochs: list  # end-of-epoch records: epoch, step, test_loss, the metric
    baseline: dict  # the task's no-network baseline (psnr tasks), dB
    ledger: dict  # the ledger summary: energy_by_category_j, wear, arrays, ...


def load_run(source, identity: str | None = None) -> RunRecord:
    """A :class:`RunRecord` from a run folder, a ``Trainer.fit`` result, a Trainer or a Run."""
    if isinstance(source, RunRecord):
        return source if identity is None else attrs.evolve(source, identity=identity)
    if isinstance(source, (str, os.PathLike)):
        return _from_folder(Path(source), identity)
    if hasattr(source, "trainer") and hasattr(source, "cfg"):  # imc.runner.Run: the config names everything
        cfg = source.cfg
        who = {"name": cfg.run_name, "task": cfg.task.name, "model": cfg.model.name, "backend": cfg.backend.name,
               "preset": source.device.preset, "rule": cfg.rule.name, "seed": cfg.seed}
        return _from_result(source.trainer.summary(), identity or identity_line(who), dict(source.data.baseline))
    if hasattr(source, "summary") and hasattr(source, "ledger"):  # a Trainer
        return _from_result(source.summary(), identity)
    if isinstance(source, dict):
        return _from_result(source, identity)
    raise TypeError(f"cannot plot a run from {type(source).__name__}; give a run folder, the dict Trainer.fit "
                    "returns, a Trainer or an imc.runner.Run")


def _from_folder(run_dir: Path, identity: str | None) -> RunRecord:
    summary_path, metrics_path = run_dir / "summary.json", run_dir / "metrics.jsonl"
    for path in (summary_path, metrics_path):
        if not path.is_file():
            raise RunFolderError(f"{run_dir} has no {path.name}: plot a finished run folder")
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    if summary.get("status") == "diverged":
        raise RunFolderError(f"run {run_dir} diverged at step {summary.get('diverged_at_step')}; it has no figures")
    steps, epochs = read_metrics(run_dir)
    return RunRecord(
        identity=identity if identity is not None else identity_line(summary),
        metric=summary["metric"],
        step=np.array([r["step"] for r in steps], dtype=np.int64),
        loss=np.array([np.nan if r.get("loss") is None else r["loss"] for r in steps], dtype=np.float64),
        update_ratio=np.array([r["update_ratio"] for r in steps], dtype=np.float64),
        write_events=np.array([r["write_events"] for r in steps], dtype=np.float64),
        pulses=np.array([r["pulses"] for r in steps], dtype=np.float64),
        epochs=epochs,
        baseline=dict(summary.get("baseline") or {}),
        ledger=summary["ledger"],
    )


def _from_result(result: dict, identity: str | None, baseline: dict | None = None) -> RunRecord:
    if "trace" not in result or "ledger" not in result:
        raise ValueError("this dict has no per-step trace: give the dict Trainer.fit returns, or the run folder")
    trace, ledger = result["trace"], result["ledger"]
    cells = np.asarray(trace["write_events_step"], dtype=np.float64)
    who = dict(result.get("identity") or {})
    return RunRecord(
        identity=identity if identity is not None else identity_line(who),
        metric=result["metric"],
        step=np.arange(1, len(cells) + 1, dtype=np.int64),
        loss=np.asarray(trace["loss"], dtype=np.float64),
        update_ratio=cells / max(ledger["weights"], 1) if ledger["weights"] else np.zeros_like(cells),
        write_events=np.cumsum(cells),
        pulses=np.cumsum(np.asarray(trace["pulses_step"], dtype=np.float64)),
        epochs=list(result["history"]),
        baseline=dict(baseline or {}),
        ledger=ledger,
    )


def read_metrics(run_dir) -> tuple[list[dict], list[dict]]:
    """(step records, epoch records) from a run folder's metrics.jsonl."""
    steps, epochs = [], []
    with open(Path(run_dir) / "metrics.jsonl", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                (epochs if record.get("kind") == "epoch" else steps).append(record)
    return steps, epochs


def metric_label(metric: str) -> str:
    return "test accuracy (%)" if metric == "accuracy" else "test PSNR (dB)"


def plot_curves(source, *, identity: str | None = None):
    """Training loss per step with the test loss per epoch (left); the test metric per epoch (right)."""
    from matplotlib.ticker import MaxNLocator

    run = load_run(source, identity)
    fig, (axes,) = new_figure(1, 2, figsize=(10, 4.0), identity=run.identity)
    ax_loss, ax_metric = axes
    if run.step.size:
        ax_loss.plot(run.step, run.loss, lw=0.6, alpha=0.6, label="train (per step)")
    tested = [r for r in run.epochs if r.get("test_loss") is not None]
    if tested:
        ax_loss.plot([r["step"] for r in tested], [r["test_loss"] for r in tested], "o-", label="test (per epoch)")
    scale = 100.0 if run.metric == "accuracy" else 1.0
    scored = [r for r in run.epochs if r.get(run.metric) is not None]
    if scored:
        ax_metric.plot([r["epoch"] for r in scored], [r[run.metric] * scale for r in scored], "o-", color="C2", label="test")
    for name, value in run.baseline.items():
        if isinstance(value, float) and run.metric == "psnr":
            ax_metric.axhline(value, ls="--", color="gray", label=name.replace("_psnr_db", "") + " (no network)")
    if not scored:
        ax_metric.text(0.5, 0.5, "no test set given", ha="center", va="center", transform=ax_metric.transAxes)
    finite = run.loss[np.isfinite(run.loss)]
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 10:  # log only over a decade or more
        ax_loss.set_yscale("log")
    ax_loss.set(xlabel="step (optimisation steps)", ylabel="loss", title="loss")
    ax_loss.legend(fontsize=8)
    ax_metric.set(xlabel="epoch", ylabel=metric_label(run.metric), title=f"test {run.metric} per epoch")
    ax_metric.xaxis.set_major_locator(MaxNLocator(integer=True))
    if ax_metric.get_legend_handles_labels()[0]:
        ax_metric.legend(fontsize=8)
    ax_metric.grid(alpha=0.3)
    return fig


def moving_mean_window(n: int) -> int:
    """Steps averaged by the update-ratio trend line: 2 % of the run (1 = no smoothing)."""
    return max(1, n // 50)


def plot_update_ratio(source, *, identity: str | None = None):
    """Fraction of the weights written per step (thin) with its moving mean over 2 % of the run."""
    run = load_run(source, identity)
    fig, ((ax,),) = new_figure(1, 1, figsize=(6.4, 4.0), identity=run.identity)
    ratio = run.update_ratio
    ax.plot(run.step, ratio, lw=0.6, alpha=0.45, label="per step")
    window = moving_mean_window(len(ratio))
    if window > 1:
        smooth = np.convolve(ratio, np.ones(window) / window, mode="valid")
        ax.plot(run.step[window - 1 :], smooth, lw=1.5, color="C1", label=f"moving mean of {window} steps")
    zeros = int((ratio == 0).sum())
    if ratio.size and ratio.max() > 0:
        ax.set_yscale("log")
        if zeros:
            ax.text(0.99, 0.02, f"{zeros} of {ratio.size} steps wrote no cell (not shown on the log axis)",
                    ha="right", va="bottom", fontsize=7, transform=ax.transAxes)
    elif ratio.size:
        ax.text(0.5, 0.5, "no cell written in any step", ha="center", va="center", transform=ax.transAxes)
    ax.set(xlabel="step (optimisation steps)", ylabel="update ratio (cells written / weights)", title="update ratio per step")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return fig


def plot_cumulative_writes(source, *, identity: str | None = None):
    """Cell writes and pulses since the start of training (initial programming excluded)."""
    run = load_run(source, identity)
    fig, ((ax,),) = new_figure(1, 1, figsize=(6.4, 4.0), identity=run.identity)
    ax.plot(run.step, run.write_events, lw=2.5, alpha=0.8, label="write events (cells written)")
    same = np.array_equal(run.write_events, run.pulses)
    ax.plot(run.step, run.pulses, "--", color="C1", label="pulses" + (" (= write events: one pulse per write)" if same else ""))
    ax.set(xlabel="step (optimisation steps)", ylabel="cumulative count (cell writes, pulses)",
           title="cumulative write events and pulses")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def plot_writes(source, *, identity: str | None = None):
    """Per-cell write histogram: how many cells were written how often (initial programming included)."""
    run = load_run(source, identity)
    fig, ((ax,),) = new_figure(1, 1, figsize=(6.4, 4.0), identity=run.identity)
    hist = run.ledger["wear"]["histogram"]
    edges, counts = hist["edges"], hist["counts"]
    if counts:
        labels = [f"{lo}" if hi - lo == 1 else f"{lo}-{hi - 1}" for lo, hi in itertools.pairwise(edges)]
        x = np.arange(len(counts))
        ax.bar(x, counts, color="C3")
        ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=8)
        if any(counts):
            ax.set_yscale("log")
            floor = log_floor(counts, counts=True)  # a bin of one cell still shows as a bar
            ax.set_ylim(bottom=floor, top=max(counts) * 2)
            mark_at_floor(ax, [i for i, c in enumerate(counts) if c == 0], floor, "0", horizontal=False)
    else:
        ax.text(0.5, 0.5, "no device cells (digital run)", ha="center", va="center", transform=ax.transAxes)
    ax.set(xlabel="write events per cell", ylabel="cells", title="per-cell writes (incl. initial programming)")
    return fig


def plot_energy(source, *, identity: str | None = None):
    """Training energy (J, log axis) by category coloured by accounting boundary (array blues,
    chip periphery greens, system work oranges) and the three boundary totals; a third panel
    per device array when the rule keeps more than one (Tiki-Taka's C and A). A category with
    no energy is marked "0" at the axis floor."""
    from matplotlib import colormaps

    from imc.ledger import BOUNDARIES

    run = load_run(source, identity)
    arrays = run.ledger.get("arrays") or {}
    many = len(arrays) > 1
    fig, (axes,) = new_figure(1, 3 if many else 2, figsize=(15 if many else 11, 4.6), identity=run.identity,
                              gridspec_kw={"width_ratios": [2, 1, 1.5] if many else [2, 1]})
    categories = run.ledger["energy_by_category_j"]
    shades = {"array": "Blues", "chip": "Greens", "system": "Oranges"}
    names, values, colors = [], [], []
    for boundary, members in BOUNDARIES.items():
        for i, name in enumerate(members):
            names.append(f"{boundary}: {name}")
            values.append(float(categories.get(name) or 0.0))
            colors.append(colormaps[shades[boundary]](0.45 + 0.4 * i / max(len(members) - 1, 1)))
    _log_barh(axes[0], names, values, colors)
    axes[0].set(xlabel="energy (J, log)", title="training energy by category")
    totals = run.ledger.get("energy_by_boundary_j") or {}
    boundaries = list(BOUNDARIES)
    _log_barh(axes[1], [f"{b} boundary" for b in boundaries], [float(totals.get(b) or 0.0) for b in boundaries],
              [colormaps[shades[b]](0.7) for b in boundaries])
    axes[1].set(xlabel="energy (J, log)", title="per accounting boundary (nested)")
    if many:
        array_names = list(arrays)
        keys = [k for k in next(iter(arrays.values()))["energy_j"] if k != "total"]
        _log_barh(axes[2], [f"{a}: {k}" for a in array_names for k in keys],
                  [float(arrays[a]["energy_j"][k] or 0.0) for a in array_names for k in keys],
                  [f"C{n}" for n, _ in enumerate(array_names) for _ in keys])
        axes[2].set(xlabel="energy (J, log)", title="array energy per device array")
    return fig


def _log_barh(ax, labels, values, colors) -> None:
    """Horizontal bars on a log axis, the value written at each bar's end, zeros marked at the floor."""
    from matplotlib.ticker import NullFormatter

    y = np.arange(len(labels))[::-1]
    floor = log_floor(values)
    shown = [v if v > 0 else 0.0 for v in values]
    ax.barh(y, shown, color=colors)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())  # decade labels only
    top = max((v for v in values if v > 0), default=10 * floor)
    ax.set_xlim(floor, top * 30)
    for yy, v in zip(y, values):
        if v > 0:
            ax.annotate(f"{v:.3g}", (v, yy), xytext=(3, 0), textcoords="offset points", va="center", fontsize=7)
    mark_at_floor(ax, [yy for yy, v in zip(y, values) if v <= 0], floor, "0")
    ax.grid(axis="x", alpha=0.3)


def energy_breakdown(ax, labels: list[str], categories: list[dict]) -> None:
    """Stacked bars of energy by category (J), one bar per label, grouped by accounting boundary
    (array categories in blues, chip periphery in greens, system work in oranges)."""
    from matplotlib import colormaps

    from imc.ledger import BOUNDARIES

    shades = {"array": "Blues", "chip": "Greens", "system": "Oranges"}
    x = np.arange(len(labels))
    bottom = np.zeros(len(labels))
    for boundary, names in BOUNDARIES.items():
        cmap = colormaps[shades[boundary]]
        for i, name in enumerate(names):
            values = np.array([float(c.get(name) or 0.0) for c in categories])
            if not values.any():
                continue
            ax.bar(x, values, bottom=bottom, color=cmap(0.35 + 0.5 * i / max(len(names) - 1, 1)),
                   label=f"{boundary}: {name}", width=0.6)
            bottom += values
    ax.set_xticks(x, labels, rotation=30 if len(labels) > 1 else 0, ha="right" if len(labels) > 1 else "center", fontsize=8)
    ax.set_ylabel("energy (J)")
    for xx in x[bottom == 0]:  # a run with no energy here still says so
        ax.annotate("0 J", (xx, 0), xytext=(0, 3), textcoords="offset points", ha="center", va="bottom", fontsize=8,
                    fontweight="bold", color="0.2")
    if bottom.any():
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    else:
        ax.text(0.5, 0.5, "no energy booked", ha="center", va="center", transform=ax.transAxes)


def plot_evaluation(series: dict, *, title: str = "", identity: str | None = None):
    """The metric against time after programming (s, log axis): one colour per run, solid =
    drift-compensated, dashed = uncompensated. ``series`` maps a label to an
    :func:`imc.evaluate.evaluate_over_time` result (``plots/evaluate.png``, ``compare_time.png``)."""
    from matplotlib import colormaps

    many = len(series) > 3
    fig, ((ax,),) = new_figure(1, 1, figsize=(11, 5) if many else (7, 4.4), identity=identity or "")
    colours = colormaps["tab20" if len(series) > 10 else "tab10"]
    metric = "accuracy"
    for k, (label, ev) in enumerate(series.items()):
        metric = ev["metric"]
        scale = 100.0 if metric == "accuracy" else 1.0
        colour = colours(k % colours.N)
        times = np.maximum(np.asarray(ev["times_s"], dtype=float), 1e-3)  # t = 0 drawn at 1 ms on the log axis
        suffix = "" if ev["drift_modelled"] else " (no drift model)"
        if "compensated" in ev:
            ax.plot(times, np.asarray(ev["compensated"]) * scale, "o-", color=colour, label=f"{label}, compensated{suffix}")
        if "uncompensated" in ev:
            ax.plot(times, np.asarray(ev["uncompensated"]) * scale, "s--", color=colour, alpha=0.8,
                    label=f"{label}, uncompensated{suffix}")
    ax.set_xscale("log")
    ax.set_xlabel("time after programming (s)")
    ax.set_ylabel(metric_label(metric))
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    if many:  # beside the axes, so no curve hides behind it
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.legend(fontsize=7)
    return fig


#: the run figures: file name under plots/ -> function
RUN_FIGURES = {
    "curves.png": plot_curves,
    "update_ratio.png": plot_update_ratio,
    "cumulative_writes.png": plot_cumulative_writes,
    "energy.png": plot_energy,
    "cell_writes.png": plot_writes,
}


def plot_run(source, *, identity: str | None = None) -> dict:
    """Every run figure: {file name: Figure} (the PNGs ``imc train`` writes under plots/)."""
    run = load_run(source, identity)
    return {name: draw(run) for name, draw in RUN_FIGURES.items()}
