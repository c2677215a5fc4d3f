"""`imc compare`: one run per rule/backend, a Markdown + CSV table and a plot, ratios vs original."""

import csv
import json
import os

import pytest

from imc.cli import main
from imc.report.tables import comparison_rows, eapu_versus_baselines, markdown, write_csv

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
    # a sweep folder: the plan, one row per run, one run folder per point, and the comparison
    assert {"sweep.json", "results.jsonl", "results.csv", "runs", "compare.md", "compare.csv", "compare.png",
            "compare.json"} <= set(os.listdir(out))
    assert len(os.listdir(out / "runs")) == 3
    with open(out / "compare.csv") as handle:
        rows = {r["rule"]: r for r in csv.DictReader(handle)}
    assert set(rows) == {"ideal", "original", "eapu"}
    original, eapu, ideal = rows["original"], rows["eapu"], rows["ideal"]
    required = ["energy_array_j", "energy_chip_j", "energy_system_j", "write_events", "cells_written_distinct", "pulses",
                "lifetime_worst_cell", "lifetime_mean_cell", "warnings"]
    assert set(required) <= set(original)
    assert int(ideal["write_events"]) == 0 and ideal["lifetime_worst_cell"] == ""  # no writes: unlimited
    assert int(eapu["write_events"]) * 20 < int(original["write_events"])  # EaPU writes far fewer
    assert float(eapu["write_events_reduction"]) == pytest.approx(int(original["write_events"]) / int(eapu["write_events"]))
    assert float(original["write_events_reduction"]) == 1.0
    assert float(eapu["lifetime_worst_cell_gain"]) > 1.0 and float(eapu["lifetime_mean_cell_gain"]) > 1.0
    for row in rows.values():
        assert float(row["energy_array_j"]) <= float(row["energy_chip_j"]) <= float(row["energy_system_j"])
    table = (out / "compare.md").read_text()
    assert "fewer" in table and "memristor (eapu-paper)" in table and "EaPU against each baseline" in table
    assert "| eapu |" in capsys.readouterr().out  # the table is printed too
    assert (out / "compare_energy.png").is_file()
    eapu_row = next(r for r in json.loads((out / "compare.json").read_text()) if r["rule"] == "eapu")
    eapu_summary = json.loads((out / eapu_row["run_dir"] / "summary.json").read_text())
    assert eapu_summary["rule"] == "eapu" and eapu_summary["write_events"] == int(eapu["write_events"])
    assert eapu_summary["device"]["mapping"] == "reference" and eapu_summary["device"]["r_wg_per_us"] == 1 / 80
    assert eapu_summary["device"]["spec"]["name"] == "eapu-paper"


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
    assert rows[1]["write_events_reduction"] == rows[0]["write_events"] / rows[1]["write_events"]
    # on rram-realistic, original rounds every sub-half-step request away: flagged, so no ratio against it
    assert rows[2]["warnings"] and rows[2]["write_events"] == 0 and rows[3]["write_events_reduction"] is None


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


def _summary(rule, writes, energy, lifetime, value=0.9, warnings=()):
    return {
        "rule": rule, "backend": "memristor", "preset": "p", "metric": "accuracy", "accuracy": value,
        "baseline": {}, "warnings": list(warnings), "update_ratio_mean": 0.1, "write_events": writes,
        "cells_written_distinct": writes, "pulses": 2 * writes,
        "energy_array_j": writes * 1e-12, "energy_chip_j": energy / 2, "energy_system_j": energy,
        "energy_by_category_j": {"array_write": writes * 1e-12},
        "gpu_energy_flop_bound_j": 10 * energy, "gpu_energy_power_time_j": 1e4 * energy,
        "lifetime_worst_cell": lifetime, "lifetime_mean_cell": None if lifetime is None else 10 * lifetime,
    }


def test_ratios_are_in_the_papers_terms():
    rows = comparison_rows([
        _summary("original", 1000, 2.0, 10.0), _summary("eapu", 10, 0.5, 1000.0), _summary("ideal", 0, 1.0, None),
    ])
    eapu = rows[1]
    assert eapu["write_events_reduction"] == 100.0 and eapu["energy_system_reduction"] == 4.0
    assert eapu["lifetime_worst_cell_gain"] == 100.0 and eapu["lifetime_mean_cell_gain"] == 100.0
    assert eapu["energy_array_reduction"] == pytest.approx(100.0) and eapu["pulses_reduction"] == 100.0
    assert rows[2]["write_events_reduction"] is None and rows[2]["lifetime_worst_cell_gain"] is None
    text = markdown(rows)
    assert "100x fewer" in text and "4x lower" in text and "100x longer" in text and "unlimited" in text


def test_without_original_the_ratio_columns_are_empty():
    rows = comparison_rows([_summary("eapu", 10, 0.5, 1000.0)])
    assert rows[0]["write_events_reduction"] is None and rows[0]["energy_system_reduction"] is None


def test_no_ratio_against_or_for_a_run_that_did_not_train():
    dead = _summary("original", 8, 2.0, 1e6, value=0.3, warnings=["wrote almost nothing: 8 of 9,472 cells"])
    rows = comparison_rows([dead, _summary("analog-sgd", 5000, 2.0, 100.0), _summary("eapu", 10, 0.5, 1000.0)])
    assert all(r[c] is None for r in rows for c in ("write_events_reduction", "lifetime_worst_cell_gain"))
    versus = {v["baseline"]: v for v in eapu_versus_baselines(rows)}
    assert versus["original"]["status"] == "baseline did not train" and versus["original"]["write_events_reduction"] is None
    assert versus["analog-sgd"]["status"] == "" and versus["analog-sgd"]["write_events_reduction"] == 500.0
    assert versus["analog-sgd"]["energy_system_reduction"] == 4.0 and versus["analog-sgd"]["lifetime_worst_cell_gain"] == 10.0
    text = markdown(rows)
    assert "| original ⚠ |" in text and "baseline did not train" in text and "wrote almost nothing" in text
    assert "fewer" not in text.split("| original |")[-1].split("\n")[0]
    csv_text = write_csv(rows, None)
    assert "wrote almost nothing" in csv_text.splitlines()[1]
    # EaPU itself flagged: no ratio for it either
    rows = comparison_rows([_summary("analog-sgd", 5000, 2.0, 100.0), _summary("eapu", 0, 0.5, None, warnings=["x"])])
    assert eapu_versus_baselines(rows)[0]["status"] == "EaPU did not train"


def test_compare_again_on_the_same_folder_runs_nothing_new(tmp_path, capsys):
    """imc compare is a sweep: the same command on the same --output continues, it does not repeat."""
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(CONFIG)
    out = tmp_path / "cmp"
    args = ["compare", str(cfg), "--rules", "original,eapu", "--quiet", "--output", str(out)]
    assert main(args) == 0
    first = (out / "results.jsonl").read_text()
    assert main(args) == 0
    assert (out / "results.jsonl").read_text() == first  # both points were recorded: nothing ran again
    another = ["compare", str(cfg), "--rules", "eapu", "--set", "seed=1", "--quiet", "--output", str(out)]
    assert main(another) == 2  # another base config: refused, nothing written
    assert (out / "results.jsonl").read_text() == first
