import json
import subprocess
import sys

import imc
from imc.cli import main


def test_backends_table_lists_memristor_presets(capsys):
    assert main(["backends"]) == 0
    out = capsys.readouterr().out
    assert "memristor" in out and "eapu-paper*" in out and "rram-realistic" in out
    assert "imc " + imc.__version__ in out


def test_backends_json(capsys):
    assert main(["backends", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["backends"]}
    assert rows["memristor"]["distribution"] == "imc"
    assert rows["memristor"]["gpu"] in (True, False)


def test_version_and_console_script():
    out = subprocess.run([sys.executable, "-m", "imc.cli", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"imc {imc.__version__}"


def test_no_command_prints_help_and_succeeds(capsys):
    assert main([]) == 0  # asking for the overview is not an error
    assert "usage: imc" in capsys.readouterr().out


def test_every_subcommand_help_has_a_description():
    from imc.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert {"backends", "train", "compare", "sweep", "characterize", "fit", "conformance", "config"} <= set(sub.choices)
    for name, parser in sub.choices.items():
        description = parser.description or ""
        assert len(description.split()) >= 5, f"imc {name} --help has no description"
