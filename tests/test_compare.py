"""`imc compare`: one run per rule/backend, a Markdown + CSV table and a plot, ratios vs original."""

import csv
import json
import os

import pytest

from imc.cli import main
from imc.report.tables import comparison_rows, markdown

CONFIG = """\
epochs = 1
[model]
name = "mlp"
hidden = 32
[optimizer]
name = "sgd"
lr = 0.005
momentum = 0.9
"""


def test_compare_rules_writes_tables_plot_and_run_folders(tmp_path, capsys):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(CONFIG)
    out = tmp_path / "cmp"
    assert main(["compare", str(cfg), "--rules", "ideal,original,eapu", "--quiet", "--output", str(out)]) == 0
    assert {"ideal", "original", "eapu", "compare.md", "compare.csv", "compare.png", "compare.json"} <= set(os.listdir(out))
    with open(out / "compare.csv") as handle:
        rows = {r["rule"]: r for r in csv.DictReader(handle)}
    assert set(rows) == {"ideal", "original", "eapu"}
    original, eapu, ideal = rows["original"], rows["eapu"], rows["ideal"]
    assert int(ideal["cells_written"]) == 0 and ideal["lifetime_trainings"] == ""  # no writes: unlimited
    assert int(eapu["cells_written"]) * 20 < int(original["cells_written"])  # EaPU writes far fewer
    assert float(eapu["writes_reduction"]) == pytest.approx(int(original["cells_written"]) / int(eapu["cells_written"]))
    assert float(original["writes_reduction"]) == 1.0
    assert float(eapu["lifetime_gain"]) > 1.0
    table = (out / "compare.md").read_text()
    assert table.count("\n| ") == 4 and "fewer" in table and "memristor (eapu-paper)" in table
    assert "| eapu |" in capsys.readouterr().out  # the table is printed too
    eapu_summary = json.loads((out / "eapu" / "summary.json").read_text())
    assert eapu_summary["rule"] == "eapu" and eapu_summary["cells_written"] == int(eapu["cells_written"])


def test_compare_backends_uses_each_preset(tmp_path, capsys):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(CONFIG)
    out = tmp_path / "cmp"
    args = ["compare", str(cfg), "--rules", "original,eapu", "--backends",
            "memristor:eapu-paper,memristor:rram-realistic", "--quiet", "--output", str(out)]
    assert main(args) == 0
    rows = json.loads((out / "compare.json").read_text())
    assert [(r["rule"], r["preset"]) for r in rows] == [
        ("original", "eapu-paper"), ("eapu", "eapu-paper"), ("original", "rram-realistic"), ("eapu", "rram-realistic")
    ]
    # each rule's ratios are against "original" on its own preset
    assert rows[1]["writes_reduction"] == rows[0]["cells_written"] / rows[1]["cells_written"]
    assert rows[3]["writes_reduction"] == rows[2]["cells_written"] / rows[3]["cells_written"]


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--rules", "ideal,eapv"], "did you mean 'eapu'"),
        (["--rules", "eapu,eapu"], "lists a name twice"),
        (["--rules", "eapu", "--backends", "memristr"], "did you mean 'memristor'"),
        (["--rules", "eapu", "--backends", "memristor:rram"], "unknown preset 'rram'"),
    ],
)
def test_compare_bad_input_runs_nothing(tmp_path, capsys, extra, fragment):
    out = tmp_path / "cmp"
    assert main(["compare", "--quiet", "--output", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1
    assert not out.exists()


def _summary(rule, writes, energy, lifetime, value=0.9, write_energy=None):
    return {
        "rule": rule, "backend": "memristor", "preset": "p", "metric": "accuracy", "accuracy": value,
        "baseline": {}, "update_ratio_mean": 0.1, "cells_written": writes, "energy_j": energy,
        "energy_by_category_j": {"array_write": write_energy if write_energy is not None else writes * 1e-12},
        "gpu_energy_j": 10 * energy, "gpu_over_imc_energy": 10.0, "lifetime_trainings": lifetime,
    }


def test_ratios_are_in_the_papers_terms():
    rows = comparison_rows([
        _summary("original", 1000, 2.0, 10.0), _summary("eapu", 10, 0.5, 1000.0), _summary("ideal", 0, 1.0, None),
    ])
    eapu = rows[1]
    assert eapu["writes_reduction"] == 100.0 and eapu["energy_reduction"] == 4.0 and eapu["lifetime_gain"] == 100.0
    assert eapu["write_energy_reduction"] == pytest.approx(100.0)
    assert rows[2]["writes_reduction"] is None and rows[2]["lifetime_gain"] is None
    text = markdown(rows)
    assert "100x fewer" in text and "4x lower" in text and "100x longer" in text and "unlimited" in text


def test_without_original_the_ratio_columns_are_empty():
    rows = comparison_rows([_summary("eapu", 10, 0.5, 1000.0)])
    assert rows[0]["writes_reduction"] is None and rows[0]["energy_reduction"] is None
