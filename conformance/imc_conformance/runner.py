"""Run checks against a target and collect outcomes: the engine behind pytest and the CLI.

Expected failures are data, ``{check name: reason}``: a listed check that fails is reported
as "xfail" with the reason; a listed check that passes is "xpass" and raises a
:class:`StaleExpectedFailure` warning so the entry gets removed.
"""

from __future__ import annotations

import time
import traceback
import warnings
from collections.abc import Iterable, Mapping

import attrs

from .registry import CheckFailure, CheckSkip, check_names, get_check

PASS, FAIL, SKIP, XFAIL, XPASS = "pass", "fail", "skip", "xfail", "xpass"


class StaleExpectedFailure(UserWarning):
    """A check listed as an expected failure passed: remove it from the list."""


@attrs.frozen
class Outcome:
    check: str
    status: str  # pass, fail, skip, xfail, xpass
    message: str  # the reason for fail/skip/xfail, a short note for pass
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status != FAIL


def validate_expected_failures(expected: Mapping[str, str] | None) -> dict[str, str]:
    """Check that every entry names a known check and gives a reason."""
    expected = dict(expected or {})
    for name, reason in expected.items():
        get_check(name)  # KeyError naming the closest check
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError(f"expected failure {name!r} needs a reason (a non-empty string)")
    return expected


def run_check(target, name: str, expected_failures: Mapping[str, str] | None = None) -> Outcome:
    """Run one check; never raises for a backend's fault (that is the outcome)."""
    chk = get_check(name)
    expected = dict(expected_failures or {})
    start = time.perf_counter()
    status, message = PASS, ""
    if chk.requires and not target.spec.has(chk.requires):
        status = SKIP
        message = f"capability {chk.requires!r} not declared by {target.backend}/{target.preset}"
    else:
        try:
            message = chk.func(target) or ""
        except CheckSkip as exc:
            status, message = SKIP, str(exc)
        except CheckFailure as exc:
            status, message = FAIL, str(exc)
        except Exception as exc:  # noqa: BLE001  (a crash in the backend is a failed check)
            where = traceback.extract_tb(exc.__traceback__)[-1]
            status = FAIL
            message = f"raised {type(exc).__name__}: {exc} (at {where.filename}:{where.lineno})"
    if name in expected:
        if status == FAIL:
            status, message = XFAIL, f"expected failure ({expected[name]}): {message}"
        elif status == PASS:
            status = XPASS
            message = f"listed as an expected failure ({expected[name]}) but passes"
            warnings.warn(
                f"{target.label}: check {name!r} passes although it is listed as an expected failure; "
                "remove the stale entry",
                StaleExpectedFailure,
                stacklevel=2,
            )
    return Outcome(name, status, message, time.perf_counter() - start)


def run_checks(target, checks: Iterable[str] | None = None, expected_failures=None) -> list[Outcome]:
    """Run ``checks`` (default: all, in report order) against ``target``."""
    expected = validate_expected_failures(expected_failures)
    return [run_check(target, name, expected) for name in (checks or check_names())]
