"""The suite on the backend named by ``--imc-backend`` (collected only via ``pytest --pyargs imc_conformance``)."""

from __future__ import annotations

import pytest

from imc_conformance.pytest_plugin import selected_options
from imc_conformance.target import Target, all_presets
from imc_conformance.testing import BackendTests

NO_BACKEND = "no backend selected: run pytest --pyargs imc_conformance --imc-backend NAME"


class TestSelectedBackend(BackendTests):
    """Every check, on every preset (or --imc-preset) of the --imc-backend backend."""

    def pytest_generate_tests(self, metafunc):
        options = selected_options(metafunc.config)
        if "imc_target" not in metafunc.fixturenames:
            return
        if options is None:
            metafunc.parametrize("imc_target", [pytest.param(None, marks=pytest.mark.skip(reason=NO_BACKEND))],
                                 ids=["no-backend"], indirect=True)
            return
        presets = [options["preset"]] if options["preset"] else all_presets(options["backend"])
        targets = [
            Target.from_registry(options["backend"], p, compute=options["compute"], seed=options["seed"])
            for p in presets
        ]
        metafunc.parametrize("imc_target", targets, ids=[t.preset for t in targets], indirect=True)

    @classmethod
    def expected_failures_for(cls, config):
        return (selected_options(config) or {}).get("expected_failures", {})
