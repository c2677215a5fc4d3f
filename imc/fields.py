"""attrs validators for user-facing fields (configs, tasks, models), and the one "unknown key" message."""

from __future__ import annotations

import difflib
import math

from .errors import ConfigValueError
from .limits import FLOAT32_MAX, INT_MAX
from .spec import unknown_name_message

MAX_BITS = 24  # converter bits: float32 has a 24-bit significand
MAX_EPOCHS = 1_000_000  # more would not finish; a cap that catches typos like 10**9
MAX_SPLIT_SEED = 2**32 - 1  # scikit-learn's splitters take 32-bit seeds


def bad(attribute, message: str) -> ConfigValueError:
    """A ConfigValueError for one field (its path is completed on the way up)."""
    return ConfigValueError(message, key=attribute.name)


def int_at_least(low: int, unit: str = "", high: int = INT_MAX):
    """An integer >= ``low`` and at most ``high`` (by default what an int64 holds: seeds,
    sizes and counters end up in int64 arrays and checkpoints)."""

    def check(instance, attribute, value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad(attribute, f"must be an integer{unit}, got {value!r}")
        if value < low:
            raise bad(attribute, f"must be an integer >= {low}{unit}, got {value!r}")
        if value > high:
            raise bad(attribute, f"must be an integer <= {high}{unit}, got {value!r}")

    return check


def number_in(low: float, high: float = FLOAT32_MAX, unit: str = "", open_low: bool = False):
    def check(instance, attribute, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise bad(attribute, f"must be a finite number{unit}, got {value!r}")
        if value < low or (open_low and value == low) or value > high:
            lo = "(" if open_low else "["
            hi = "]" if math.isfinite(high) else ")"
            shown = f"{high:g}" if high == FLOAT32_MAX else high
            raise bad(attribute, f"must lie in {lo}{low}, {shown}{hi}{unit}, got {value!r}")

    return check


def one_of(*choices: str):
    def check(instance, attribute, value):
        if not isinstance(value, str) or value not in choices:
            raise bad(attribute, unknown_name_message(attribute.name, value, choices))

    check.choices = choices  # type: ignore[attr-defined]  # read by tools that list a key's values
    return check


MAX_RUN_NAME = 200  # bytes: "<name>-<YYYYmmdd-HHMMSS>" (and "compare-<name>-...") stays one legal file name
MAX_PATH = 4096  # bytes of a path (Linux PATH_MAX); one name in it at most 255 (NAME_MAX)
MAX_NAME = 255


def path_string(instance, attribute, value):
    """A file or folder path as text ("" = none): no NUL byte, within the operating system's lengths."""
    string(instance, attribute, value)
    if "\x00" in value:
        raise bad(attribute, "must be a path without NUL characters")
    encoded = [part.encode("utf-8", "surrogateescape") for part in value.split("/")]
    if len(value.encode("utf-8", "surrogateescape")) > MAX_PATH or any(len(p) > MAX_NAME for p in encoded):
        raise bad(attribute, f"is too long for a path ({len(value)} characters; at most {MAX_PATH} bytes, "
                             f"{MAX_NAME} per folder or file name)")


def string(instance, attribute, value):
    if not isinstance(value, str):
        raise bad(attribute, f"must be a string, got {value!r}")


def bits(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, int) or (value != 0 and not 2 <= value <= MAX_BITS):
        raise bad(attribute, f"must be 0 (no quantisation) or an integer in [2, {MAX_BITS}] (bits; float32 "
                             f"holds {MAX_BITS}), got {value!r}")


def to_float(value):
    """attrs converter: ints become floats, everything else is left for the validator."""
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def tomlable(value) -> bool:
    """Whether ``value`` is a TOML scalar, or a list or table of them (nested)."""
    if isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(tomlable(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and tomlable(v) for k, v in value.items())
    return False


def unknown_key_message(path: str, key: str, valid_paths) -> str:
    """``unknown config key 'rule.kk'; did you mean 'rule.k'? (valid keys here: ...)``."""
    valid = sorted(valid_paths)
    close = difflib.get_close_matches(path, valid, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    parent = path.rpartition(".")[0]
    siblings = [p.rpartition(".")[2] for p in valid if p.rpartition(".")[0] == parent]
    known = f" (valid keys here: {', '.join(siblings)})" if siblings else ""
    return f"unknown config key {path!r}{hint}{known}"


def run_name(instance, attribute, value):
    """A run name: it becomes part of a folder name, so no '/' or NUL and at most MAX_RUN_NAME bytes."""
    string(instance, attribute, value)
    if "/" in value or "\x00" in value or value in (".", ".."):
        raise bad(attribute, f"must be usable in a folder name (no '/', no NUL, not '.' or '..'), got {value[:60]!r}")
    if len(value.encode("utf-8", "surrogateescape")) > MAX_RUN_NAME:
        raise bad(attribute, f"must be at most {MAX_RUN_NAME} bytes (it names the run folder), got {len(value)} characters")
