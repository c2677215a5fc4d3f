"""The opt-in pytest plugin: ``pytest --pyargs imc_conformance --imc-backend NAME``.

Registered through the ``pytest11`` entry point, so it is loaded in every pytest run of an
environment where imc is installed; it only adds its options. Nothing runs, and no header
is printed, unless ``--imc-backend`` is given (the suite's test module lives inside this
package and is collected only when pytest is pointed at it).
"""

from __future__ import annotations


def pytest_addoption(parser):
    group = parser.getgroup("imc-conformance", "imc backend conformance suite")
    group.addoption("--imc-backend", metavar="NAME", default=None,
                    help="installed imc backend to run the conformance suite on (pytest --pyargs imc_conformance)")
    group.addoption("--imc-preset", metavar="PRESET", default=None,
                    help="one preset of the backend (default: every preset)")
    group.addoption("--imc-compute", metavar="cpu|gpu", default="cpu", choices=("cpu", "gpu"),
                    help="array backend for the devices under test (default cpu)")
    group.addoption("--imc-seed", metavar="N", type=int, default=0,
                    help="base seed the checks derive their device seeds from (default 0)")
    group.addoption("--imc-xfail", metavar="CHECK=REASON", action="append", default=[],
                    help="mark a check as an expected failure, with the reason (repeatable)")


def pytest_configure(config):
    """Check the --imc-* options once, up front: a bad one is one usage-error line, not a traceback."""
    import pytest

    try:
        options = selected_options(config)
        if options is None:
            return
        from imc.registry import get_registry

        from .runner import validate_expected_failures

        info = get_registry().get(options["backend"]).info
        if options["preset"] is not None:
            info.spec(options["preset"])
        validate_expected_failures(options["expected_failures"])
    except (KeyError, ValueError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        raise pytest.UsageError(f"imc conformance: {message}") from None


def selected_options(config) -> dict | None:
    """The --imc-* options, or None when no backend was named."""
    name = config.getoption("imc_backend", default=None)
    if not name:
        return None
    expected = {}
    for item in config.getoption("imc_xfail", default=[]) or []:
        check, sep, reason = item.partition("=")
        if not sep or not reason.strip():
            raise ValueError(f"--imc-xfail {item!r}: write CHECK=REASON")
        expected[check.strip()] = reason.strip()
    return {
        "backend": name,
        "preset": config.getoption("imc_preset"),
        "compute": config.getoption("imc_compute"),
        "seed": config.getoption("imc_seed"),
        "expected_failures": expected,
    }


def pytest_report_header(config):
    options = selected_options(config)
    if options is None:
        return None
    from imc.registry import get_registry

    from . import __version__
    from .target import all_presets

    reg = get_registry().get(options["backend"])
    presets = [options["preset"]] if options["preset"] else all_presets(options["backend"])
    line = (
        f"imc conformance suite {__version__}: backend {options['backend']!r} from "
        f"{reg.distribution} {reg.version}; presets {', '.join(presets)}; "
        f"compute {options['compute']}; base seed {options['seed']}"
    )
    return [line]
