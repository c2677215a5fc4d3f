"""Atomic file writes: a file is either its old self or complete, never half-written.

Every writer goes through a temporary file in the same folder, is flushed and synced, made
readable like a normal file (mkstemp creates it private), and moved into place with
``os.replace``; on any error the temporary file is removed and the target is untouched.
A full disk (ENOSPC, EDQUOT) is a :class:`~imc.errors.ResourceLimitError` saying how much
space the file needed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .limits import disk_full, is_disk_full


def atomic_write(path, write, size_hint: int | None = None) -> None:
    """Call ``write(handle)`` on a binary temporary file beside ``path``, then replace ``path``.

    ``size_hint`` (bytes, about what the file will take) goes into the disk-full message.
    """
    path = Path(path)
    try:
        _atomic_write(path, write)
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full(exc, path, size_hint) from None
        raise


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    atomic_write(path, lambda handle: handle.write(data), size_hint=len(data))


def atomic_write_text(path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))
