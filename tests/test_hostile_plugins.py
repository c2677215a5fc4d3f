"""Misbehaving plugins (the loader is imc.registry's) seen from the commands a user runs:
every other command keeps working, and naming the broken backend is one line, exit 2."""

from __future__ import annotations

import pytest
from hostile import assert_one_line, run_cli
from test_conformance_plugins import GOOD, site  # noqa: F401  (the fake-distribution fixture)

BAD = {
    "import-error": "raise ImportError('needs libfoo')\n",
    "hook-raises": "import imc\n\n@imc.hookimpl\ndef imc_backends():\n    raise RuntimeError('config missing')\n",
    "returns-str": "import imc\n\n@imc.hookimpl\ndef imc_backends():\n    return 'fakebad'\n",
    "returns-int": "import imc\n\n@imc.hookimpl\ndef imc_backends():\n    return 3\n",
    "returns-dict": "import imc\n\n@imc.hookimpl\ndef imc_backends():\n    return {'fakebad': 1}\n",
    "returns-list-of-str": "import imc\n\n@imc.hookimpl\ndef imc_backends():\n    return ['fakebad']\n",
    "returns-none-items": "import imc\n\n@imc.hookimpl\ndef imc_backends():\n    return [None]\n",
    "misspelt-hook": "import imc\n\n@imc.hookimpl\ndef imc_backend():\n    return []\n",
}


def _install(site, kind):  # noqa: F811
    site(f"fake-{kind}", "fakebad", BAD[kind])


@pytest.mark.parametrize("kind", sorted(BAD))
def test_naming_a_broken_plugin_backend_is_one_line(site, capsys, tmp_path, kind):  # noqa: F811
    _install(site, kind)
    out = tmp_path / "run"
    code, lines, _ = run_cli(["train", "-o", out, "--set", "backend.name='fakebad'"], capsys)
    assert_one_line(code, lines, fragment="fakebad")
    assert not out.exists()


@pytest.mark.parametrize("kind", sorted(BAD))
def test_other_commands_keep_working_next_to_a_broken_plugin(site, capsys, kind):  # noqa: F811
    _install(site, kind)
    code, lines, out = run_cli(["config", "show"], capsys)
    assert code == 0, lines
    assert "memristor" in out


@pytest.mark.parametrize("kind", sorted(BAD))
def test_imc_backends_lists_the_good_ones_next_to_a_broken_plugin(site, capsys, kind):  # noqa: F811
    _install(site, kind)
    code, lines, out = run_cli(["backends"], capsys)
    assert code == 0, lines
    assert "memristor" in out and not any("Traceback" in line for line in lines)


def test_a_plugin_claiming_a_first_party_name_does_not_take_it_over(site, capsys, tmp_path):  # noqa: F811
    site("fake-claims", "fakeclaims", GOOD.format(name="memristor"))
    code, lines, out = run_cli(["config", "show", "--set", "backend.preset='eapu-paper'"], capsys)
    assert code == 0, lines
    code, lines, _ = run_cli(["train", "-o", tmp_path / "run", "--set", "backend.preset='paper'"], capsys)
    assert_one_line(code, lines, fragment="preset")  # the claimant's preset is not imc's memristor's
    assert not (tmp_path / "run").exists()
