"""Redrawing a finished run's plots from its folder (``imc report RUN_DIR``)."""

from __future__ import annotations

import json
from pathlib import Path

from .. import checkpoint
from ..config import load_config
from ..errors import RunFolderError
from .folder import CONFIG_FILE, METRICS_FILE, SUMMARY_FILE


def redraw(run_dir, only_missing: bool = False) -> list[Path]:
    """Draw plots/*.png (and examples.png for image tasks) again; returns the files written.

    ``only_missing`` draws nothing when every plot is there. The run must have finished
    (summary.json) with ``"status": "ok"``; its metrics must be whole JSON lines.
    """
    from ..report import plots
    from .build import Run
    from .summary import write_report

    run_dir = Path(run_dir)
    summary = _finished_summary(run_dir)
    examples = run_dir / "examples.png"
    if only_missing and not plots.missing_plots(run_dir) and (summary.get("task") not in ("denoise", "superres")
                                                             or examples.is_file()):
        return []
    _check_metrics(run_dir / METRICS_FILE)
    run = Run(load_config(run_dir / CONFIG_FILE))
    if run.data.kind == "image":  # example images need the trained weights: the final checkpoint
        state, _step, _meta = checkpoint.load(run_dir)
        run.trainer.load_state(state["trainer"])
    write_report(run, run_dir, summary)
    written = [run_dir / "plots" / name for name in plots.PLOT_FILES]
    return written + ([examples] if run.data.kind == "image" else [])


def _finished_summary(run_dir: Path) -> dict:
    if not run_dir.is_dir():
        raise RunFolderError(f"run folder not found: {run_dir}")
    if not (run_dir / CONFIG_FILE).is_file():
        raise RunFolderError(f"{run_dir} is not a run folder ({CONFIG_FILE} is missing)")
    path = run_dir / SUMMARY_FILE
    if not path.is_file():
        raise RunFolderError(f"run {run_dir} has not finished ({SUMMARY_FILE} is missing); "
                             f"continue it with: imc train --resume {run_dir}")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunFolderError(f"{path} cannot be read ({' '.join(str(exc).split())})") from None
    if not isinstance(summary, dict) or "metric" not in summary:
        raise RunFolderError(f"{path} is not a run summary")
    if summary.get("status") == "diverged":
        raise RunFolderError(f"run {run_dir} diverged at step {summary.get('diverged_at_step')}; it has no plots to draw")
    return summary


def _check_metrics(path: Path) -> None:
    if not path.is_file():
        raise RunFolderError(f"{path} is missing; the plots are drawn from it")
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, 1):
            try:
                json.loads(line)
            except ValueError:
                raise RunFolderError(f"{path}:{number} is not a whole JSON line (the file is cut or damaged)") from None
