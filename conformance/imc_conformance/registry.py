"""The table of checks: each is a plain function of a :class:`Target`.

A check returns ``None`` or a short note when the backend keeps the promise, raises
:class:`CheckFailure` saying which promise was broken and by how much, or raises
:class:`CheckSkip` with the reason (usually a capability the backend does not declare).
Register one with ``@check("name", requires=CAPABILITY)``.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from imc.errors import UnknownNameError
from imc.spec import unknown_name_message


class CheckFailure(AssertionError):
    """The backend broke a promise; the message says which and by how much."""


class CheckSkip(Exception):
    """The check does not apply to this backend; the message says why."""


@attrs.frozen
class Check:
    name: str
    func: Callable
    requires: str | None
    summary: str


CHECKS: dict[str, Check] = {}


def check(name: str, requires: str | None = None):
    """Register a check under ``name``; ``requires`` names a capability it needs."""

    def register(func):
        if name in CHECKS:
            raise ValueError(f"check {name!r} is registered twice")
        # the docstring's first paragraph, on one line
        summary = " ".join((func.__doc__ or name).strip().split("\n\n")[0].split())
        CHECKS[name] = Check(name, func, requires, summary)
        return func

    return register


def fail(message: str):
    raise CheckFailure(message)


def skip(message: str):
    raise CheckSkip(message)


def get_check(name: str) -> Check:
    _load_checks()
    try:
        return CHECKS[name]
    except KeyError:
        raise UnknownNameError(unknown_name_message("conformance check", name, CHECKS)) from None


def check_names() -> list[str]:
    _load_checks()
    return list(CHECKS)


def _load_checks() -> None:
    # importing the modules registers their checks, in this (report) order
    from . import (  # noqa: F401
        checks_compute,
        checks_contract,
        checks_drift,
        checks_forms,
        checks_paths,
        checks_read,
        checks_sequences,
        checks_spec,
        checks_state,
        checks_statistics,
        checks_training,
        checks_write,
    )
