"""Installed plugins that cannot be used: reported by name and distribution, never silently skipped.

Each case installs fake distributions (a dist-info folder and a module on sys.path) and
checks the registry's record, the message a user reads, and the exit code of
``imc conformance`` (and of the pytest route) that a CI gate relies on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings

import pytest

from imc import registry as registry_module
from imc.cli import main
from imc.registry import PluginLoadWarning, PluginUnavailable, Registry, make_plugin_manager

GOOD = """
import imc
from imc_memristor import PRESETS
from imc_memristor.device import MemristorDevice

@imc.hookimpl
def imc_backends():
    return [imc.BackendInfo(name={name!r}, factory=MemristorDevice,
                            presets={{"paper": PRESETS["eapu-paper"]}}, default_preset="paper")]
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    """Install fake distributions: ``site(dist, entry_point, code)``; the process registry is rebuilt."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("IMC_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("IMC_DISABLED_PLUGINS", raising=False)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))

    def install(dist: str, entry_point: str, code: str, module: str | None = None):
        module = module or f"{dist.replace('-', '_')}_plugin"
        info = tmp_path / f"{dist.replace('-', '_')}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text(f"[imc]\n{entry_point} = {module}\n")
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(code))
        _fresh_registry()

    install.path = tmp_path
    yield install
    _fresh_registry()


def _fresh_registry():
    registry_module.get_plugin_manager.cache_clear()
    registry_module.get_registry.cache_clear()
    for name in [m for m in sys.modules if m.startswith("fake_")]:
        del sys.modules[name]


def _registry() -> Registry:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginLoadWarning)
        return registry_module.get_registry()


def _cli(argv, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginLoadWarning)
        rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


QUICK = ["--check", "spec_well_formed"]


# -- a plugin that fails to import --------------------------------------------------------------
def test_imc_backends_lists_a_plugin_that_could_not_be_used(site, capsys):
    site("fake-broken", "fakebroken", "raise ImportError('needs libfoo')\n")
    rc, out, _ = _cli(["backends"], capsys)
    assert rc == 0 and "memristor" in out  # the usable backends are still listed
    assert "1 installed plugin(s) could not be used:" in out
    assert "imc plugin 'fakebroken' from distribution fake-broken 0.1 failed to import: ImportError: needs libfoo" in out
    rc, out, _ = _cli(["backends", "--json"], capsys)
    document = json.loads(out)
    assert "memristor" in {row["name"] for row in document["backends"]}
    [problem] = document["failed_plugins"]
    assert (problem["name"], problem["distribution"], problem["stage"]) == ("fakebroken", "fake-broken", "import")
    assert "needs libfoo" in problem["reason"]


def test_imc_backends_prints_no_problem_section_when_all_plugins_load(capsys):
    rc, out, _ = _cli(["backends"], capsys)
    assert rc == 0 and "could not be used" not in out
    rc, out, _ = _cli(["backends", "--json"], capsys)
    assert json.loads(out)["failed_plugins"] == []


def test_failed_import_is_recorded_with_name_distribution_and_reason(site):
    site("fake-broken", "fakebroken", "raise ImportError('needs libfoo')\n")
    with pytest.warns(PluginLoadWarning, match="'fakebroken' from distribution fake-broken 0.1 failed to import"):
        registry = Registry(make_plugin_manager())
    (problem,) = registry.failed_plugins()
    assert (problem.name, problem.distribution, problem.version, problem.stage) == ("fakebroken", "fake-broken", "0.1", "import")
    assert problem.reason == "ImportError: needs libfoo"
    assert "memristor" in registry.backends()


def test_conformance_all_exits_1_and_lists_the_failed_plugin(site, capsys, tmp_path):
    site("fake-broken", "fakebroken", "raise ImportError('needs libfoo')\n")
    report = tmp_path / "all.json"
    rc, out, err = _cli(["conformance", "--all", *QUICK, "--json", str(report)], capsys)
    assert rc == 1
    assert "backend 'memristor'" in out  # the healthy backends were still checked
    assert ("imc plugin 'fakebroken' from distribution fake-broken 0.1 failed to import: ImportError: needs libfoo; "
            "fix or uninstall it, or skip it with IMC_DISABLED_PLUGINS=fake-broken") in err
    document = json.loads(report.read_text())
    assert document["failed"] == 0
    assert [p["name"] for p in document["failed_plugins"]] == ["fakebroken"]


def test_conformance_name_of_a_failed_plugin_says_installed_but_failed(site, capsys):
    site("fake-broken", "fakebroken", "raise ImportError('needs libfoo')\n")
    rc, out, err = _cli(["conformance", "fakebroken"], capsys)
    assert rc == 2
    assert err.strip().count("\n") == 0, err
    assert "backend 'fakebroken' is installed but failed to import: ImportError: needs libfoo" in err
    assert "distribution fake-broken 0.1" in err and "unknown backend" not in err
    with pytest.raises(PluginUnavailable, match="installed but failed to import"):
        _registry().get("fakebroken")


@pytest.mark.parametrize("blocked", ["fake-broken", "fake_broken", "FAKE.Broken", "fakebroken", " other , fake-broken"])
def test_disabled_plugins_accepts_the_printed_distribution_and_the_entry_point_name(site, capsys, monkeypatch, blocked):
    site("fake-broken", "fakebroken", "raise ImportError('needs libfoo')\n")
    monkeypatch.setenv("IMC_DISABLED_PLUGINS", blocked)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginLoadWarning)  # nothing left to warn about
        rc, _, err = _cli(["conformance", "--all", *QUICK], capsys)
    assert rc == 0, err
    assert _registry().failed_plugins() == []


def test_the_fix_the_message_prints_works(site, capsys, monkeypatch):
    site("fake-broken", "fakebroken", "raise ImportError('needs libfoo')\n")
    _, _, err = _cli(["conformance", "--all", *QUICK], capsys)
    printed = err.split("IMC_DISABLED_PLUGINS=")[1].split()[0]
    monkeypatch.setenv("IMC_DISABLED_PLUGINS", printed)
    _fresh_registry()
    assert _cli(["conformance", "--all", *QUICK], capsys)[0] == 0


# -- duplicate entry-point names ----------------------------------------------------------------
def test_one_entry_point_name_in_two_distributions_loads_neither_and_says_so(site, capsys):
    site("fake-alpha", "fakedupe", GOOD.format(name="alpha"))
    site("fake-beta", "fakedupe", GOOD.format(name="beta"))
    registry = _registry()
    assert "alpha" not in registry.backends() and "beta" not in registry.backends()
    problems = registry.failed_plugins()
    assert {p.distribution for p in problems} == {"fake-alpha", "fake-beta"}
    assert all(p.stage == "duplicate" and "entry-point name 'fakedupe' is provided by" in p.reason for p in problems)
    assert all("neither is loaded" in p.reason for p in problems)
    rc, _, err = _cli(["conformance", "--all", *QUICK], capsys)
    assert rc == 1 and "fake-alpha 0.1 and fake-beta 0.1" in err


def test_an_entry_point_reusing_a_first_party_name_keeps_the_first_party_plugin(site, capsys):
    site("fake-shadow", "memristor", GOOD.format(name="shadow"))
    registry = _registry()
    assert registry.get("memristor").distribution == "imc"
    (problem,) = registry.failed_plugins()
    assert problem.distribution == "fake-shadow" and "imc's own plugin is kept" in problem.reason


# -- hooks that raise or return the wrong thing -------------------------------------------------
RAISES = """
import imc

@imc.hookimpl
def imc_backends():
    raise RuntimeError("config file missing")
"""


@pytest.mark.parametrize(
    "returns, words",
    [
        ("3", "returned a int, expected a list of imc.BackendInfo records"),
        ("'memristor'", "returned a str, expected a list of imc.BackendInfo records"),
        ("['memristor']", "returned a list holding a str"),
        ("{'a': 1}", "returned a dict"),
    ],
)
def test_a_hook_returning_the_wrong_type_is_skipped_with_a_warning(site, capsys, returns, words):
    site("fake-wrong", "fakewrong", f"import imc\n\n@imc.hookimpl\ndef imc_backends():\n    return {returns}\n")
    with pytest.warns(PluginLoadWarning, match="distribution fake-wrong 0.1 failed in a hook"):
        backends = registry_module.get_registry().backends()
    assert "memristor" in backends
    (problem,) = _registry().failed_plugins()
    assert problem.stage == "hook" and words in problem.reason


def test_a_hook_that_raises_disables_only_that_plugin(site, capsys):
    site("fake-raises", "fakeraises", RAISES)
    rc, out, err = _cli(["backends"], capsys)
    assert rc == 0 and "memristor" in out and "Traceback" not in err
    (problem,) = _registry().failed_plugins()
    assert problem.reason == "hook imc_backends() raised RuntimeError: config file missing; its contribution is skipped"
    assert _cli(["conformance", "memristor", "--preset", "eapu-paper", *QUICK], capsys)[0] == 0
    rc, _, err = _cli(["conformance", "--all", *QUICK], capsys)
    assert rc == 1 and "fake-raises 0.1 failed in a hook" in err
    rc, _, err = _cli(["conformance", "fakeraises"], capsys)
    assert rc == 2 and "is installed but failed in a hook: hook imc_backends() raised RuntimeError" in err


def test_a_misspelt_hook_in_an_installed_plugin_is_reported_not_raised(site):
    site("fake-typo", "faketypo", "import imc\n\n@imc.hookimpl\ndef imc_backend():\n    return []\n")
    registry = _registry()
    assert "memristor" in registry.backends()
    (problem,) = registry.failed_plugins()
    assert problem.stage == "import" and "invalid hook" in problem.reason and "imc_backend" in problem.reason


def test_a_plugin_claiming_a_first_party_backend_name_does_not_break_other_commands(site, capsys):
    site("fake-claims", "fakeclaims", GOOD.format(name="memristor"))
    rc, out, err = _cli(["backends"], capsys)
    assert rc == 0 and "Traceback" not in err
    assert _registry().get("memristor").distribution == "imc"
    (problem,) = _registry().failed_plugins()
    assert problem.stage == "clash" and problem.distribution == "fake-claims"
    assert "backend name 'memristor' is claimed by imc" in problem.reason and "imc's own 'memristor' is kept" in problem.reason
    assert _cli(["conformance", "memristor", "--preset", "eapu-paper", *QUICK], capsys)[0] == 0
    rc, _, err = _cli(["conformance", "--all", *QUICK], capsys)
    assert rc == 1 and "fake-claims 0.1 is not used" in err


# -- the pytest route ---------------------------------------------------------------------------
def _pytest(args, cwd):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize(
    "args, words",
    [
        (["--imc-backend", "memristr"], "ERROR: imc conformance: unknown backend 'memristr'; did you mean 'memristor'?"),
        (["--imc-backend", "memristor", "--imc-preset", "rram"], "ERROR: imc conformance: unknown preset 'rram'"),
        (["--imc-backend", "memristor", "--imc-xfail", "nope=why"], "ERROR: imc conformance: unknown conformance check"),
    ],
)
def test_pytest_route_bad_option_is_one_usage_error_line(tmp_path, args, words):
    result = _pytest(["--pyargs", "imc_conformance", *args], tmp_path)
    assert result.returncode == 4  # pytest's usage-error exit code
    text = (result.stdout + result.stderr).strip()
    assert words in text
    assert "Traceback" not in text and len(text.splitlines()) == 1, text


def test_pytest_route_on_a_failed_plugin_says_installed_but_failed(site, tmp_path):
    site("fake-broken", "fakebroken", "raise ImportError('needs libfoo')\n")
    result = _pytest(["--pyargs", "imc_conformance", "--imc-backend", "fakebroken", "-W", "ignore::UserWarning"], tmp_path)
    assert result.returncode == 4
    assert "backend 'fakebroken' is installed but failed to import: ImportError: needs libfoo" in result.stderr
