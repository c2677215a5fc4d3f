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
    """summary.json: the headline numbers first (imc.report.summary), then the trainer's full summary."""
    from ..report.summary import headline

    return json_safe({
        "status": "ok",
        **headline(cfg, run, result, run.device.preset),
        "final": result["final"],
        "history": result["history"],
        "ledger": result["ledger"],
    })


def diverged_summary(cfg: TrainConfig, run: Run, exc) -> dict:
    """summary.json of a run that diverged: where, why, and the history up to that step."""
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
        plots.example_images(run_dir / "examples.png", x, restored, run.data.y_test[pick], run.data.name,
                             plots.run_identity(summary))


def format_summary(summary: dict) -> str:
    """A few human-readable lines for the terminal (and a warning line for a degenerate run)."""
    from ..report.summary import format_lines

    return "\n".join(format_lines(summary))


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
