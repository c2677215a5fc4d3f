"""Table presets as JSON files: where they live, how they are written and read back.

A preset file holds ``{"format": "imc-table-preset", "version": 1, "spec": {...}, "fit": {...}}``
where ``spec`` has the :class:`TableSpec` fields and ``fit`` optional diagnostics.

Named presets live in the preset folder: ``$IMC_PRESET_DIR`` if set, else
``$XDG_DATA_HOME/imc/presets`` (``~/.local/share/imc/presets``). ``imc fit data.csv --name mydev``
writes ``mydev.json`` there, and then ``imc.backend("table", preset="mydev")`` builds it.
Any preset file can also be used by path: ``imc.backend("table", preset="path/to/fit.json")``.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from pathlib import Path

import attrs

from imc.errors import DataError, UnknownNameError
from imc.files import atomic_write_bytes
from imc.spec import unknown_name_message

from .device import TableSpec

FORMAT = "imc-table-preset"
VERSION = 1
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def preset_dir() -> Path:
    """The folder of named table presets (not created here)."""
    env = os.environ.get("IMC_PRESET_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "imc" / "presets"


def check_name(name: str) -> str:
    """A preset name is a file-name-safe word: letters, digits, '_', '.', '-'."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name) or name.endswith(".json"):
        raise DataError(f"preset name {name!r} must be letters, digits, '_', '.' or '-' (no path, no .json)")
    return name


def to_json(spec: TableSpec, fit: dict | None = None) -> str:
    return json.dumps({"format": FORMAT, "version": VERSION, "spec": spec.to_dict(), "fit": fit or {}}, indent=2)


def save(spec: TableSpec, path, fit: dict | None = None, overwrite: bool = False) -> Path:
    """Write a preset file atomically; an existing file needs ``overwrite``."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; choose another name or pass overwrite (--force)")
    text = to_json(spec, fit)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, text.encode())
    return path


def load(path) -> TableSpec:
    """Read and validate a preset file; errors name the file and the offending key."""
    from imc.limits import check_memory

    path = Path(path)
    if path.is_file():  # parsed JSON numbers take ~10x their text
        check_memory(10 * path.stat().st_size, f"table preset {path}")
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise UnknownNameError(f"table preset file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a readable JSON preset ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DataError(f"{path}: not an imc table preset (expected \"format\": \"{FORMAT}\")")
    if data.get("version") != VERSION:
        raise DataError(f"{path}: table preset version {data.get('version')!r} is not supported (expected {VERSION})")
    fields = data.get("spec")
    if not isinstance(fields, dict):
        raise DataError(f"{path}: \"spec\" must be an object of TableSpec fields")
    known = [a.name for a in attrs.fields(TableSpec)]
    for key in fields:
        if key not in known:
            raise DataError(f"{path}: " + unknown_name_message("spec field", key, known, "TableSpec"))
    try:
        return TableSpec(**fields)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{path}: {exc}") from None


def stored() -> dict[str, TableSpec]:
    """Every readable preset in the preset folder by name (broken files warn and are skipped)."""
    folder = preset_dir()
    out = {}
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.json")):
        try:
            out[path.stem] = load(path)
        except (KeyError, ValueError) as exc:
            warnings.warn(f"skipping table preset {path}: {exc}", stacklevel=2)
    return out


def resolve(key: str, builtin=()) -> TableSpec:
    """A preset by path (contains a '/' or ends in .json) or by name in the preset folder."""
    if key.endswith(".json") or os.sep in key or "/" in key:
        return load(Path(key).expanduser())
    path = preset_dir() / f"{key}.json"
    if path.is_file():
        return load(path)
    known = set(builtin) | set(stored())
    raise UnknownNameError(
        unknown_name_message("preset", key, known, "backend 'table'")
        + f"; fit one with `imc fit DATA.csv --name {key}` (stored in {preset_dir()}) or pass a path to a .json preset"
    )
