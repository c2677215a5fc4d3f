"""Checkpoints as .npz (arrays) plus JSON (everything else), written atomically; no pickle.

A checkpoint of a nested state dict (arrays, numbers, strings, lists, nested dicts) is:

- ``checkpoint-<step>.npz``: every array, keyed by its path in the dict ("model/0/weight");
- ``checkpoint.json``: the scalars, the name and SHA-256 of that .npz, and caller metadata.

Each file is written to a temporary name in the same folder, flushed to disk and moved into
place with ``os.replace``. The JSON is replaced last, so it always names a complete .npz:
a process killed at any moment leaves either the previous checkpoint or the new one.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import IO, Any, cast

import numpy as np

from .errors import DataError, InputFileError
from .files import atomic_write, atomic_write_bytes, atomic_write_text  # noqa: F401  (re-exported)

INDEX = "checkpoint.json"
FORMAT = 1
_SEP = "/"


class CheckpointError(DataError):
    """A checkpoint that is damaged, from another format, or does not match its run."""


class CheckpointMissing(InputFileError):
    """No checkpoint (or its arrays) where one was expected."""


def _is_scalar(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_scalar(v) for v in value)
    return False


def flatten(state: dict[str, Any], prefix: str = "") -> tuple[dict[str, np.ndarray[Any, Any]], dict[str, Any]]:
    """Split a nested state into (arrays by path, JSON-able scalars by path)."""
    arrays: dict[str, np.ndarray[Any, Any]] = {}
    scalars: dict[str, Any] = {}
    for key, value in state.items():
        key = str(key)
        if _SEP in key:
            raise ValueError(f"state key {prefix + key!r} must not contain {_SEP!r}")
        path = prefix + key
        if isinstance(value, dict):
            sub_arrays, sub_scalars = flatten(value, path + _SEP)
            arrays.update(sub_arrays)
            scalars.update(sub_scalars)
            if not value:
                scalars[path] = {}
        elif isinstance(value, (np.ndarray, np.generic)):
            if value.dtype.kind == "O":
                raise TypeError(f"state entry {path!r} is an object array; checkpoints hold numeric or text arrays only")
            arrays[path] = np.asarray(value)
        elif hasattr(value, "get") and hasattr(value, "dtype"):  # a cupy array: bring it to the host
            arrays[path] = value.get()
        elif _is_scalar(value):
            scalars[path] = value
        else:
            raise TypeError(f"state entry {path!r} of type {type(value).__name__} cannot be checkpointed")
    return arrays, scalars


def unflatten(arrays: dict[str, Any], scalars: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`flatten`."""
    out: dict[str, Any] = {}
    for path, value in [*scalars.items(), *arrays.items()]:
        node = out
        *parents, leaf = path.split(_SEP)
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save(folder: str | os.PathLike[str], state: dict[str, Any], step: int, meta: dict[str, Any] | None = None) -> Path:
    """Write a checkpoint of ``state`` at ``step`` into ``folder``; returns the .npz path."""
    folder = Path(folder)
    arrays, scalars = flatten(state)
    npz_path = folder / f"checkpoint-{int(step):08d}.npz"
    size = sum(a.nbytes for a in arrays.values()) + 1024 * (len(arrays) + 1)  # data + zip headers
    def write(handle: IO[bytes]) -> None:
        # the arrays' paths are keyword names to savez (numpy's stubs type **kwds as its own options)
        np.savez(handle, **cast(dict[str, Any], arrays))

    atomic_write(npz_path, write, size_hint=size)
    index = {
        "format": FORMAT,
        "step": int(step),
        "npz": npz_path.name,
        "sha256": _sha256(npz_path),
        "scalars": scalars,
        "meta": meta or {},
    }
    atomic_write_text(folder / INDEX, json.dumps(index, indent=1))
    for old in folder.glob("checkpoint-*.npz"):  # only now is the previous one redundant
        if old.name != npz_path.name:
            old.unlink(missing_ok=True)
    return npz_path


def remove_temporaries(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete temporary files a killed writer left behind (``.<name>.*.tmp``)."""
    removed = [p for p in Path(folder).glob(".*.tmp") if p.is_file()]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def exists(folder: str | os.PathLike[str]) -> bool:
    """Whether ``folder`` holds a checkpoint (its index file)."""
    return (Path(folder) / INDEX).is_file()


def load(folder: str | os.PathLike[str]) -> tuple[dict[str, Any], int, dict[str, Any]]:
    """(state, step, meta) of the checkpoint in ``folder``; clear errors if absent or damaged."""
    folder = Path(folder)
    index_path = folder / INDEX
    if not index_path.is_file():
        raise CheckpointMissing(f"no checkpoint in {folder} ({INDEX} is missing)")
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
        npz_path = folder / index["npz"]
        expected = index["sha256"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{index_path} is damaged ({_one_line(exc)}); the checkpoint cannot be used") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        found = index.get("format") if isinstance(index, dict) else None
        raise CheckpointError(f"{index_path}: checkpoint format {found!r} is not {FORMAT}")
    if not isinstance(index.get("scalars"), dict) or Path(str(index["npz"])).name != index["npz"]:
        raise CheckpointError(f"{index_path} is damaged (bad 'scalars' or 'npz' entry); the checkpoint cannot be used")
    if not npz_path.is_file():
        raise CheckpointMissing(f"checkpoint arrays {npz_path} are missing")
    if _sha256(npz_path) != expected:
        raise CheckpointError(f"{npz_path} does not match the checksum in {index_path}; the checkpoint is damaged")
    try:
        with np.load(npz_path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        step, meta = int(index["step"]), index.get("meta", {})
        if not isinstance(meta, dict):
            raise TypeError("'meta' is not a table")
        return unflatten(arrays, index["scalars"]), step, meta
    except (ValueError, TypeError, KeyError, OSError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"checkpoint in {folder} cannot be read ({_one_line(exc)}); it is damaged") from None
