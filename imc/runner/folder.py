"""The run folder: its files, creating it safely, and checking a folder can be resumed."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import datetime
from pathlib import Path

from ..config import TrainConfig, load_config, to_dict
from ..config.files import tomllib
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


def bound_config(run_dir: Path) -> dict:
    """What a checkpoint binds: the run's config.toml as read back ("config") and its SHA-256."""
    try:
        data = tomllib.loads((run_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RunFolderError(f"{run_dir / CONFIG_FILE} cannot be read ({' '.join(str(exc).split())})") from None
    data = json.loads(json.dumps(data, default=str))  # the form it takes in checkpoint.json
    return {"config": data, "config_sha256": hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()}


def changed_keys(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested dicts, as ``key (old -> new)``."""
    out = []
    for key in sorted(set(old) | set(new), key=str):
        a, b, path = old.get(key, "<absent>"), new.get(key, "<absent>"), f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            out.extend(changed_keys(a, b, path + "."))
        elif a != b:
            out.append(f"{path} ({a!r} -> {b!r})")
    return out


def check_resumable(cfg: TrainConfig | None, run_dir: Path) -> TrainConfig:
    """The run's config, once the folder is known to be a run that can continue.

    A finished run (summary.json) cannot be resumed; a run stopped before its first
    checkpoint restarts from step 0 (its folder holds nothing else of value).
    """
    if not run_dir.is_dir():
        raise InputFileError(f"run folder to resume not found: {run_dir}")
    if not (run_dir / CONFIG_FILE).is_file():
        raise RunFolderError(f"{run_dir} is not a run folder ({CONFIG_FILE} is missing)")
    saved = load_config(run_dir / CONFIG_FILE)
    if cfg is not None and not same_config(cfg, saved):
        raise RunFolderError(f"the config differs from {run_dir / CONFIG_FILE}; a resumed run must use the same config")
    if (run_dir / SUMMARY_FILE).is_file():
        diverged = _diverged_step(run_dir / SUMMARY_FILE)
        if diverged is not None:
            raise RunFolderError(f"run {run_dir} diverged at step {diverged} ({SUMMARY_FILE}); nothing to resume: "
                                 "lower the learning rate and start a new run")
        raise RunFolderError(f"run {run_dir} already finished ({SUMMARY_FILE} exists); nothing to resume "
                             f"(`imc report {run_dir}` redraws its plots)")
    return saved


def _diverged_step(path: Path):
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return summary.get("diverged_at_step") if isinstance(summary, dict) and summary.get("status") == "diverged" else None


def verify_checkpoint_binding(run_dir: Path, meta: dict) -> bytes:
    """Refuse a resume whose config.toml or metrics.jsonl differ from what the checkpoint saw.

    Returns the metrics bytes the checkpoint covers (the file is cut back to them later).
    """
    if "config" in meta:
        now = bound_config(run_dir)
        if now["config_sha256"] != meta.get("config_sha256"):
            changed = changed_keys(meta["config"], now["config"]) or ["(formatting only)"]
            raise RunFolderError(
                f"{run_dir / CONFIG_FILE} was edited after the checkpoint was made ({'; '.join(changed)}); "
                "a resumed run must keep its config: undo the edit, or start a new run with the new config"
            )
    size = int(meta.get("metrics_bytes", 0))
    path = run_dir / METRICS_FILE
    if "metrics_sha256" not in meta:  # a checkpoint from before metrics were bound
        return b""
    if not path.is_file():
        if size:
            raise RunFolderError(f"{path} is missing; the checkpoint covers {size} bytes of metrics, so the run "
                                 "cannot be resumed exactly: start it again")
        return b""
    with open(path, "rb") as handle:
        prefix = handle.read(size)
    if len(prefix) < size:
        raise RunFolderError(f"{path} holds {len(prefix)} bytes but the checkpoint covers {size}: metrics were lost, "
                             "so the run cannot be resumed exactly: start it again")
    if hashlib.sha256(prefix).hexdigest() != meta["metrics_sha256"]:
        raise RunFolderError(f"{path} does not match the checksum its checkpoint recorded (edited or damaged), "
                             "so the run cannot be resumed exactly: start it again")
    return prefix


def truncate(path: Path, size: int) -> None:
    """Drop metric lines written after the checkpoint (the killed run's lost steps)."""
    if path.is_file() and path.stat().st_size > size:
        with open(path, "r+b") as handle:
            handle.truncate(size)
