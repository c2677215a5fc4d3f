"""What the code can hold: numeric bounds, memory estimates before allocating, disk-full errors.

One place for the limits every entry point checks, so a value is refused when it is given,
never accepted and then crashing later:

- :data:`INT_MAX` (``2**63 - 1``): integers the run stores in int64 arrays (seed, batch size,
  step counters in the checkpoint); :data:`FLOAT32_MAX`: values held in float32 (weights,
  conductances in uS).
- :func:`check_int` / :func:`check_float`: one-line errors naming the field and the limit.
- :func:`check_memory`: refuses an allocation estimated above the memory limit, with the
  estimate and the limit; the limit is 80 % of this machine's RAM unless
  ``IMC_MEMORY_LIMIT_GB`` sets it.
- :func:`disk_full` turns ENOSPC/EDQUOT into a :class:`~imc.errors.ResourceLimitError`
  saying how much space was needed and how much was free.
"""

from __future__ import annotations

import errno
import math
import os
import shutil
from pathlib import Path

import numpy as np

from .errors import ResourceLimitError, UserError

INT_MAX = int(np.iinfo(np.int64).max)  # seeds, sizes, counters: stored as int64
INT32_MAX = int(np.iinfo(np.int32).max)
FLOAT32_MAX = float(np.finfo(np.float32).max)
MEMORY_ENV = "IMC_MEMORY_LIMIT_GB"
MEMORY_FRACTION = 0.8  # of physical RAM, when IMC_MEMORY_LIMIT_GB is not set
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)

#: Bytes one trained weight costs in a run, all copies together: the float32 weight and its
#: gradient, optimiser state (momentum / Adam moments), the device's float32 conductance
#: and per-cell parameters, its two int64 pulse counters and the ledger's wear counters.
BYTES_PER_WEIGHT = 96


class LimitError(UserError, ValueError):
    """A number outside what the code can hold (one line: the field, the value, the limit)."""


def check_int(name: str, value, low: int = 0, high: int = INT_MAX, unit: str = "") -> int:
    """``value`` as an int in [low, high], else :class:`LimitError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise LimitError(f"{name} must be an integer{unit}, got {value!r}")
    value = int(value)
    if not low <= value <= high:
        raise LimitError(f"{name} must be an integer in [{low}, {high}]{unit}, got {value}")
    return value


def check_float(name: str, value, low: float = -FLOAT32_MAX, high: float = FLOAT32_MAX, unit: str = "") -> float:
    """``value`` as a finite float in [low, high], else :class:`LimitError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise LimitError(f"{name} must be a number{unit}, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or not low <= value <= high:
        raise LimitError(f"{name} must be a finite number in [{low:g}, {high:g}]{unit}, got {value!r}")
    return value


# ---------------------------------------------------------------------------- memory
def physical_memory() -> int | None:
    """This machine's RAM in bytes (None where the OS does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def memory_limit() -> tuple[int, str]:
    """(limit in bytes, where it comes from) for :func:`check_memory`."""
    text = os.environ.get(MEMORY_ENV, "").strip()
    if text:
        try:
            gb = float(text)
        except ValueError:
            gb = math.nan
        if not math.isfinite(gb) or gb <= 0:
            raise LimitError(f"{MEMORY_ENV} must be a positive number of GB, got {text!r}")
        return int(gb * 1e9), f"{MEMORY_ENV}={text}"
    ram = physical_memory()
    if ram is None:
        return 2**62, "no limit known"
    return int(ram * MEMORY_FRACTION), f"{MEMORY_FRACTION:.0%} of this machine's {format_bytes(ram)} RAM"


def format_bytes(n: float) -> str:
    """``1.5e10`` -> ``"15 GB"`` (decimal units, 2-3 significant digits)."""
    n = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} PB"  # pragma: no cover


def check_memory(nbytes: float, what: str, hint: str = "") -> None:
    """Refuse ``what`` when its estimated ``nbytes`` exceed the memory limit (one line, exit 2)."""
    limit, source = memory_limit()
    if not math.isfinite(nbytes) or nbytes > limit:
        fix = f"; {hint}" if hint else ""
        raise ResourceLimitError(
            f"{what} needs about {format_bytes(nbytes)} of memory, over the limit of {format_bytes(limit)} "
            f"({source}){fix}; set {MEMORY_ENV} to change the limit"
        )


def check_elements(shape, what: str, bytes_per_element: float, hint: str = "") -> None:
    """:func:`check_memory` for an array of ``shape`` at ``bytes_per_element``."""
    count = math.prod(int(s) for s in shape)
    check_memory(count * float(bytes_per_element), what, hint)


def out_of_memory(exc: MemoryError, what: str) -> ResourceLimitError:
    """A MemoryError as one line: what ran out, with numpy's requested size when it says."""
    detail = " ".join(str(exc).split()) or "the allocation failed"
    limit, source = memory_limit()
    return ResourceLimitError(
        f"{what} ran out of memory ({detail}); the limit is {format_bytes(limit)} ({source}); "
        "use smaller sizes or free memory"
    )


# ---------------------------------------------------------------------------- text files
MAX_TEXT_BYTES = 16_000_000  # configs and sweep files: far more than any real one
MAX_NESTING = 100  # TOML tables/arrays inside each other (the parser recurses per level)


def parse_toml(text: str, where: str, what: str = "malformed TOML") -> dict:
    """TOML text as a dict; malformed or absurdly nested text is one ConfigValueError line."""
    from .errors import ConfigValueError

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    depth = max_nesting(text)
    if depth > MAX_NESTING:
        raise ConfigValueError(f"{where}: arrays or tables nested {depth} deep (at most {MAX_NESTING})")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigValueError(f"{where}: {what}: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise ConfigValueError(f"{where}: arrays or tables nested too deeply") from None


def max_nesting(text: str) -> int:
    """Deepest run of brackets/braces (an upper bound on TOML nesting; quotes are not parsed)."""
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(depth - 1, 0)
        elif char == "\n" and depth <= 2:  # a [table] / [[array]] header closes on its own line
            depth = 0
    return deepest


def read_toml(path, what: str) -> dict:
    """A TOML file (config, sweep) as a dict; every way it can be unusable is one line."""
    from .errors import ConfigValueError, InputFileError

    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{what} not found: {path}")
    if not path.is_file():
        raise InputFileError(f"{what} {path} is not a file")
    try:
        size = path.stat().st_size
        if size > MAX_TEXT_BYTES:
            raise ConfigValueError(f"{path}: {format_bytes(size)} is too large for a {what} "
                                   f"(at most {format_bytes(MAX_TEXT_BYTES)})")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputFileError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); a {what} is TOML text") from None
    return parse_toml(text, str(path), "malformed TOML" if what == "config file" else "not valid TOML")


# ---------------------------------------------------------------------------- disk
def free_bytes(path) -> int | None:
    """Free space where ``path`` (or its nearest existing parent) lives."""
    path = Path(path).absolute()
    for candidate in (path, *path.parents):
        if candidate.exists():
            try:
                return shutil.disk_usage(candidate).free
            except OSError:
                return None
    return None


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_FULL


def disk_full(exc: OSError, path, needed: int | None = None) -> ResourceLimitError:
    """ENOSPC/EDQUOT while writing ``path`` as one line: what was needed, what was free."""
    why = "the disk quota is exhausted" if exc.errno == errno.EDQUOT else "the disk is full"
    free = free_bytes(Path(path).parent)
    need = f"about {format_bytes(needed)} needed" if needed else "more space needed"
    have = f", {format_bytes(free)} free" if free is not None else ""
    return ResourceLimitError(
        f"cannot write {path}: {why} ({need}{have} on that filesystem); free some space and run the same "
        "command again (what was written before is kept)"
    )


__all__ = [
    "BYTES_PER_WEIGHT",
    "FLOAT32_MAX",
    "INT32_MAX",
    "INT_MAX",
    "LimitError",
    "MEMORY_ENV",
    "check_elements",
    "check_float",
    "check_int",
    "check_memory",
    "disk_full",
    "format_bytes",
    "free_bytes",
    "is_disk_full",
    "memory_limit",
    "out_of_memory",
]
