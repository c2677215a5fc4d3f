"""What a finished run reports: summary.json, the terminal lines, plots and example images."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..config import TrainConfig

if TYPE_CHECKING:
    from .build import Run


def build_summary(cfg: TrainConfig, run: Run, result: dict) -> dict:
    """summary.json: the headline numbers first, then the trainer's full summary."""
    ledger = result["ledger"]
    metric = run.data.metric
    value = result["final"].get(metric)
    lifetime = ledger["lifetime"]
    return json_safe({
        "status": "ok",
        "name": cfg.run_name,
        "task": cfg.task.name,
        "model": cfg.model.name,
        "backend": cfg.backend.name,
        "preset": cfg.backend.preset or default_preset(cfg),
        "rule": cfg.rule.name,
        "seed": cfg.seed,
        "metric": metric,
        metric: value,
        "baseline": dict(run.data.baseline),
        "steps": result["steps"],
        "epochs": result["epochs"],
        "update_ratio_mean": ledger["update_ratio_mean"],
        "update_ratio_mean_after_first_epoch": ledger["update_ratio_mean_after_first_epoch"],
        "cells_written": ledger["cells_written"],
        "pulses": ledger["pulses"],
        "energy_j": ledger["energy_j"]["total"],
        "energy_by_category_j": {k: v for k, v in ledger["energy_j"].items() if k != "total"},
        "gpu_energy_j": ledger["gpu_energy_j"],
        "gpu_over_imc_energy": ledger["gpu_over_imc_energy"],
        "max_cell_writes": ledger["wear"]["max_writes"],
        "max_cell_pulses": ledger["wear"]["max_pulses"],
        "lifetime_trainings": lifetime["trainings"],
        "lifetime_epochs": lifetime["epochs"],
        "final": result["final"],
        "history": result["history"],
        "ledger": ledger,
    })


def default_preset(cfg: TrainConfig) -> str:
    from ..registry import get_registry

    return get_registry().get(cfg.backend.name).info.default_preset


def diverged_summary(cfg: TrainConfig, run: Run, exc) -> dict:
    """summary.json of a run that diverged: where, why, and the ledger up to that step."""
    return json_safe({
        "status": "diverged",
        "name": cfg.run_name,
        "task": cfg.task.name,
        "model": cfg.model.name,
        "backend": cfg.backend.name,
        "rule": cfg.rule.name,
        "seed": cfg.seed,
        "metric": run.data.metric,
        run.data.metric: None,
        "diverged_at_step": exc.step,
        "diverged_at_epoch": exc.epoch,
        "error": str(exc),
        "steps": run.trainer.step,
        "history": run.trainer.history,
    })


def write_report(run: Run, run_dir: Path, summary: dict) -> None:
    """Plots (and example images for image tasks) from the run's files."""
    from ..report import plots

    plots.run_plots(run_dir)
    if run.data.kind == "image":
        # the four most detailed test tiles (largest spread of the clean image), in test order
        spread = run.data.y_test.reshape(len(run.data.y_test), -1).std(axis=1)
        pick = np.sort(np.argsort(-spread, kind="stable")[:4])
        x = run.data.x_test[pick]
        restored = run.compute.to_numpy(run.trainer.predict(run.compute.asarray(run.inputs(x))))
        plots.example_images(run_dir / "examples.png", x, restored, run.data.y_test[pick], run.data.name)


def format_summary(summary: dict) -> str:
    """A few human-readable lines for the terminal."""
    metric = summary["metric"]
    value = summary.get(metric)
    shown = f"{value * 100:.2f} %" if metric == "accuracy" and value is not None else f"{value:.2f} dB"
    baselines = "".join(f"   {k}: {v:.2f}" for k, v in summary["baseline"].items() if isinstance(v, float))
    lines = [
        (f"{summary['name']}: {summary['task']} / {summary['model']} on {summary['backend']} "
         f"({summary['preset']}), rule {summary['rule']}, {summary['epochs']} epochs, {summary['steps']} steps"),
        f"  test {metric}: {shown}{baselines}",
        (f"  update ratio (mean): {summary['update_ratio_mean']:.3e}   cells written: {summary['cells_written']:,}"
         f"   worst cell: {summary['max_cell_pulses']:,} pulses"),
        f"  training energy: {summary['energy_j']:.3e} J   GPU estimate: {summary['gpu_energy_j']:.3e} J"
        + (f" ({summary['gpu_over_imc_energy']:.3g}x)" if summary.get("gpu_over_imc_energy") else ""),
        "  lifetime: " + (
            f"{summary['lifetime_trainings']:.3g} such trainings" if summary.get("lifetime_trainings") else "unlimited (no device writes)"
        ),
    ]
    return "\n".join(lines)


def json_safe(value):
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
