"""imc_conformance: contract tests any imc device backend can be run against by name.

Three ways in, one set of checks:

- subclass :class:`BackendTests` in two lines naming the backend (and preset)::

      from imc_conformance import BackendTests

      class TestMyDevice(BackendTests):
          backend = "ecram"

- ``pytest --pyargs imc_conformance --imc-backend NAME [--imc-preset P] [--imc-compute gpu]``;
- ``imc conformance NAME [--preset P] [--compute gpu] [--json report.json]``.

Checks are plain functions of a :class:`Target` (see :data:`imc_conformance.registry.CHECKS`);
optional behaviours are capabilities, and a backend that lacks one is skipped with the reason.
"""

__version__ = "0.1.0"

from .registry import CheckFailure, CheckSkip, check_names, get_check
from .runner import Outcome, StaleExpectedFailure, run_check, run_checks
from .target import Target, all_presets


def __getattr__(name):
    # BackendTests needs pytest: import it only when asked, so `imc conformance` runs without pytest
    if name == "BackendTests":
        from .testing import BackendTests

        return BackendTests
    raise AttributeError(f"module 'imc_conformance' has no attribute {name!r}")

__all__ = [
    "BackendTests",
    "CheckFailure",
    "CheckSkip",
    "Outcome",
    "StaleExpectedFailure",
    "Target",
    "__version__",
    "all_presets",
    "check_names",
    "get_check",
    "run_check",
    "run_checks",
]
