"""Reading a config from a TOML file (relative data paths taken from the file's folder)."""

from __future__ import annotations

import os
from pathlib import Path

import attrs

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from ..errors import ConfigKeyError, ConfigValueError, InputFileError
from .convert import from_dict
from .schema import TrainConfig


def load_config(path) -> TrainConfig:
    """Read and validate a TOML config; relative data paths are taken from the file's folder."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"config file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputFileError(f"cannot read config {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigValueError(f"{path}: not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigValueError(f"{path}: malformed TOML: {exc}") from None
    try:
        cfg = from_dict(data)
    except ConfigKeyError as exc:
        raise ConfigKeyError(f"{path}: {exc}") from None
    except ConfigValueError as exc:
        raise ConfigValueError(f"{path}: {exc}") from None
    return _resolve_paths(cfg, path.parent)


def _resolve_paths(cfg: TrainConfig, base: Path) -> TrainConfig:
    task = cfg.task
    for field in ("path", "image_dir"):
        value = getattr(task, field, "")
        if value and not os.path.isabs(os.path.expanduser(value)):
            task = attrs.evolve(task, **{field: str((base / value).resolve())})
    return attrs.evolve(cfg, task=task)
