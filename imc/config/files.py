"""Reading a config from a TOML file (relative data paths taken from the file's folder)."""

from __future__ import annotations

import os
from pathlib import Path

import attrs

try:
    import tomllib  # noqa: F401  (re-exported: imc.limits and the runner parse TOML with it)
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # noqa: F401

from ..errors import ConfigKeyError, ConfigValueError
from .convert import from_dict
from .schema import TrainConfig


def load_config(path) -> TrainConfig:
    """Read and validate a TOML config; relative data paths are taken from the file's folder."""
    from ..limits import read_toml

    path = Path(path)
    data = read_toml(path, "config file")
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
