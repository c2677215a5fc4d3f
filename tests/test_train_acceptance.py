"""Issue 4 acceptance: the rules compared on digits (slow), and the comparison script on every backend."""

import importlib.util
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "compare_rules.py"


@pytest.fixture(scope="module")
def compare():
    spec = importlib.util.spec_from_file_location("compare_rules", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def results(compare, tmp_path, *argv):
    import json

    out = tmp_path / "r.json"
    assert compare.main([*argv, "--json", str(out)]) == 0
    return json.loads(out.read_text())["results"]


@pytest.mark.parametrize("backend,preset", [("memristor", "rram-realistic"), ("fefet", "fefet"), ("mram", "stt")])
def test_script_reports_the_ledger_columns_on_every_backend(compare, tmp_path, capsys, backend, preset):
    res = results(compare, tmp_path, "--backend", backend, "--preset", preset, "--epochs", "1", "--rules", "original,eapu")
    printed = capsys.readouterr().out
    assert "write events" in printed and "lifetimes" in printed and f"{backend}/{preset}" in printed
    for rule in ("original", "eapu"):
        led = res[rule]["ledger"]
        assert {"update_ratio_mean", "write_events", "pulses", "energy_by_boundary_j", "lifetime", "wear"} <= led.keys()
        assert 0 <= led["update_ratio_mean"] <= 1


@pytest.mark.slow
def test_digits_mlp_eapu_matches_ideal_while_original_collapses(compare, tmp_path):
    """memristor eapu-paper, SGD lr 0.005 momentum 0.9, batch 32, 30 epochs, seed 0, every rule."""
    res = results(compare, tmp_path)
    acc = {rule: r["final"]["accuracy"] for rule, r in res.items()}
    assert set(acc) == {"ideal", "original", "eapu", "mixed-precision", "manhattan"}
    assert acc["eapu"] >= acc["ideal"] - 0.03
    assert acc["original"] <= acc["ideal"] - 0.08
    eapu, orig = res["eapu"]["ledger"], res["original"]["ledger"]
    assert eapu["write_events"] * 100 <= orig["write_events"]
    assert eapu["lifetime"]["trainings_worst_cell"] > 10 * orig["lifetime"]["trainings_worst_cell"]


@pytest.mark.slow
def test_digits_cnn_eapu_writes_under_one_per_mille_after_the_first_epoch(compare, tmp_path):
    res = results(compare, tmp_path, "--model", "cnn", "--rules", "ideal,eapu", "--batch-size", "8",
                  "--lr", "0.0005", "--k", "1.5", "--epochs", "40")
    assert res["eapu"]["ledger"]["update_ratio_mean_after_first_epoch"] < 1e-3
    assert res["eapu"]["final"]["accuracy"] >= res["ideal"]["final"]["accuracy"] - 0.03
