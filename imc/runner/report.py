"""Redrawing a finished run's plots from its folder (``imc report RUN_DIR``)."""

from __future__ import annotations

import json
from pathlib import Path

from .. import checkpoint
from ..config import load_config
from ..errors import RunFolderError
from ..limits import INT_MAX
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
    if (run_dir / "plots").exists() and not (run_dir / "plots").is_dir():
        raise RunFolderError(f"{run_dir / 'plots'} is a file, not the plots folder; move it away and run imc report again")
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
    """Refuse a metrics log the plots cannot be drawn from: cut, edited or empty (one line naming the place)."""
    if not path.is_file():
        raise RunFolderError(f"{path} is missing; the plots are drawn from it")
    steps = 0
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, 1):
            try:
                record = json.loads(line)
            except ValueError:
                raise RunFolderError(f"{path}:{number} is not a whole JSON line (the file is cut or damaged)") from None
            problem = _record_problem(record)
            if problem:
                raise RunFolderError(f"{path}:{number}: {problem} (the file was edited or damaged)")
            steps += record["kind"] == "step"
    if not steps:
        raise RunFolderError(f"{path} holds no training step; the plots are drawn from them (the file was emptied)")


def _record_problem(record) -> str:
    """What is wrong with one metrics line ("" if nothing): a table with "kind" step or epoch and numbers."""
    if not isinstance(record, dict):
        return f"a line must be a JSON object, got {type(record).__name__}"
    if record.get("kind") not in ("step", "epoch"):
        return f"kind must be 'step' or 'epoch', got {record.get('kind')!r}"
    for key, value in record.items():
        if key == "kind":
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"{key} must be a number, got {value!r}"
        if isinstance(value, int) and abs(value) > INT_MAX:
            return f"{key} must be an integer within +-{INT_MAX}, got {value}"
    for key in ("step", "epoch"):
        if not isinstance(record.get(key), int) or record[key] < 0:
            return f"{key} must be a whole number >= 0, got {record.get(key)!r}"
    return ""
