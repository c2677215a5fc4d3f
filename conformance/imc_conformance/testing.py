"""``BackendTests``: the checks as a pytest class a third party subclasses in two lines.

::

    from imc_conformance import BackendTests

    class TestEcram(BackendTests):
        backend = "ecram"          # an installed backend name
        preset = None              # None: every preset of the backend
        expected_failures = {}     # {check name: reason}

The base class's name does not start with "Test", so pytest never collects it unbound.
One test method per check (``test_<check name>``), parametrised over the presets.
"""

from __future__ import annotations

from typing import ClassVar

import pytest

from .registry import check_names
from .runner import FAIL, SKIP, XFAIL, run_check, validate_expected_failures
from .target import Target, all_presets


def _make_test(name: str):
    def test(self, imc_target, request):
        self.run_conformance_check(imc_target, name, self.expected_failures_for(request.config))

    test.__name__ = f"test_{name}"
    test.__doc__ = f"conformance check {name!r}"
    return test


class BackendTests:
    """Subclass as ``class TestX(BackendTests): backend = "name"`` to run the suite on a backend."""

    #: the installed backend's name (required)
    backend: str | None = None
    #: one preset, a list of presets, or None for all of the backend's presets
    preset: str | list[str] | None = None
    #: "cpu" or "gpu"
    compute: str = "cpu"
    #: base seed every check derives its device seeds from
    seed: int = 0
    #: checks known to fail, with the reason: {check name: reason}
    expected_failures: ClassVar[dict[str, str]] = {}

    @classmethod
    def targets(cls) -> list[Target]:
        """The targets under test (override to build them without the registry)."""
        if not cls.backend:
            raise ValueError(f"{cls.__name__}: set backend = '<installed backend name>'")
        presets = cls.preset
        if presets is None:
            presets = all_presets(cls.backend)
        elif isinstance(presets, str):
            presets = [presets]
        return [Target.from_registry(cls.backend, p, compute=cls.compute, seed=cls.seed) for p in presets]

    @pytest.fixture
    def imc_target(self, request):
        return request.param

    def pytest_generate_tests(self, metafunc):
        """pytest calls this per test method: parametrise ``imc_target`` over the targets."""
        if "imc_target" in metafunc.fixturenames:
            targets = type(self).targets()
            ids = [f"{t.backend}-{t.preset}" for t in targets]
            metafunc.parametrize("imc_target", targets, ids=ids, indirect=True)

    @classmethod
    def expected_failures_for(cls, config) -> dict[str, str]:
        """The expected failures (override to take them from the command line)."""
        return cls.expected_failures

    def run_conformance_check(self, target: Target, name: str, expected_failures=None) -> None:
        if target.compute == "gpu":
            from imc.compute import gpu_available

            if not gpu_available():
                pytest.skip("compute 'gpu' needs cupy and a CUDA device; none here")
        outcome = run_check(target, name, validate_expected_failures(expected_failures))
        if outcome.status == SKIP:
            pytest.skip(outcome.message)
        if outcome.status == XFAIL:
            pytest.xfail(outcome.message)
        if outcome.status == FAIL:
            pytest.fail(f"[{target.label}] {name}: {outcome.message}", pytrace=False)


for _name in check_names():
    setattr(BackendTests, f"test_{_name}", _make_test(_name))
del _name

