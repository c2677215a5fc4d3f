"""The run folder: its files, creating it safely, and checking a folder can be resumed."""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

from .. import checkpoint
from ..config import TrainConfig, load_config, to_dict
from ..errors import InputFileError, RunFolderError

CONFIG_FILE = "config.toml"
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"


def default_run_dir(cfg: TrainConfig, now: datetime | None = None) -> Path:
    """``<output_dir>/<run name>-<YYYYmmdd-HHMMSS>`` (a suffix keeps it unique)."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = Path(os.path.expanduser(cfg.output_dir)) / f"{cfg.run_name}-{stamp}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def create_run_dir(run_dir: Path) -> bool:
    """Create the folder (True if this call created it); refuse a non-empty existing one."""
    if run_dir.exists():
        if not run_dir.is_dir():
            raise RunFolderError(f"run folder {run_dir} exists and is not a folder")
        if any(run_dir.iterdir()):
            raise RunFolderError(
                f"run folder {run_dir} already exists and is not empty; choose another --output "
                "or continue it with --resume"
            )
        return False
    missing = [p for p in [run_dir, *run_dir.parents] if not p.exists()]
    try:
        run_dir.mkdir(parents=True)
    except PermissionError:
        raise RunFolderError(f"cannot create run folder {run_dir}: permission denied") from None
    except OSError as exc:
        raise RunFolderError(f"cannot create run folder {run_dir}: {exc.strerror}") from None
    if not os.access(run_dir, os.W_OK):
        remove_created(run_dir, missing)
        raise RunFolderError(f"cannot write into run folder {run_dir}: permission denied")
    return True


def remove_created(run_dir: Path, created: list[Path]) -> None:
    for path in created:  # deepest first
        shutil.rmtree(path, ignore_errors=True) if path == run_dir else _rmdir_quiet(path)


def _rmdir_quiet(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass


def same_config(cfg: TrainConfig, saved: TrainConfig) -> bool:
    return to_dict(cfg) == to_dict(saved)


def check_resumable(cfg: TrainConfig | None, run_dir: Path) -> TrainConfig:
    if not run_dir.is_dir():
        raise InputFileError(f"run folder to resume not found: {run_dir}")
    if not (run_dir / CONFIG_FILE).is_file():
        raise RunFolderError(f"{run_dir} is not a run folder ({CONFIG_FILE} is missing)")
    saved = load_config(run_dir / CONFIG_FILE)
    if cfg is not None and not same_config(cfg, saved):
        raise RunFolderError(f"the config differs from {run_dir / CONFIG_FILE}; a resumed run must use the same config")
    if (run_dir / SUMMARY_FILE).is_file():
        raise RunFolderError(f"run {run_dir} already finished ({SUMMARY_FILE} exists); nothing to resume")
    if not checkpoint.exists(run_dir):
        raise RunFolderError(f"run {run_dir} has no checkpoint yet; start it again instead")
    return saved


def truncate(path: Path, size: int) -> None:
    """Drop metric lines written after the checkpoint (the killed run's lost steps)."""
    if path.is_file() and path.stat().st_size > size:
        with open(path, "r+b") as handle:
            handle.truncate(size)
