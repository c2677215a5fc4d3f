"""The paper's pattern through what users run (`imc compare`), and the library example on the same split."""

import importlib.util
import json
from pathlib import Path

import pytest

from imc.cli import main

ROOT = Path(__file__).resolve().parents[1]


def compare(tmp_path, *argv) -> dict:
    """Run `imc compare` and return its rows by rule."""
    out = tmp_path / "cmp"
    assert main(["compare", *argv, "--quiet", "--output", str(out)]) == 0
    rows = json.loads((out / "compare.json").read_text())
    return {row["rule"]: row for row in rows}


def summary(row) -> dict:
    return json.loads((Path(row["run_dir"]) / "summary.json").read_text())


@pytest.mark.parametrize("backend,preset", [("memristor", "rram-realistic"), ("fefet", "fefet"), ("mram", "stt")])
def test_compare_reports_the_ledger_columns_on_every_backend(tmp_path, backend, preset):
    rows = compare(tmp_path, "--rules", "original,eapu", "--backends", f"{backend}:{preset}", "--set", "epochs=1")
    for rule in ("original", "eapu"):
        led = summary(rows[rule])["ledger"]
        assert {"update_ratio_mean", "write_events", "pulses", "energy_by_boundary_j", "lifetime", "wear"} <= led.keys()
        assert 0 <= led["update_ratio_mean"] <= 1
        assert (rows[rule]["backend"], rows[rule]["preset"]) == (backend, preset)


@pytest.mark.slow
def test_digits_mlp_eapu_matches_ideal_while_original_collapses(tmp_path):
    """The built-in default: memristor eapu-paper, SGD lr 0.005 momentum 0.9, batch 32, 30 epochs, seed 0."""
    rows = compare(tmp_path, "--rules", "ideal,original,eapu,mixed-precision,manhattan")
    acc = {rule: row["value"] for rule, row in rows.items()}  # the metric: accuracy
    assert acc["eapu"] >= acc["ideal"] - 0.03
    assert acc["original"] <= acc["ideal"] - 0.08
    eapu, orig = summary(rows["eapu"])["ledger"], summary(rows["original"])["ledger"]
    assert eapu["write_events"] * 100 <= orig["write_events"]
    assert eapu["lifetime"]["trainings_worst_cell"] > 10 * orig["lifetime"]["trainings_worst_cell"]


@pytest.mark.slow
def test_digits_cnn_eapu_writes_under_one_per_mille_after_the_first_epoch(tmp_path):
    rows = compare(tmp_path, str(ROOT / "examples" / "configs" / "digits-cnn.toml"), "--rules", "ideal,eapu",
                   "--set", "batch_size=8", "--set", "optimizer.lr=0.0005", "--set", "rule.k=1.5", "--set", "epochs=40")
    eapu = summary(rows["eapu"])
    assert eapu["update_ratio_mean_after_first_epoch"] < 1e-3
    assert rows["eapu"]["value"] >= rows["ideal"]["value"] - 0.03


def test_library_example_uses_the_default_configs_split(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("compare_rules", ROOT / "examples" / "compare_rules.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--rules", "ideal", "--epochs", "1"]) == 0
    from imc.config import default_config, to_dict
    from imc.runner import train_run

    cfg = to_dict(default_config())
    cfg.update(epochs=1)
    cfg["rule"] = {"name": "ideal"}
    from imc.config import from_dict

    ran = train_run(from_dict(cfg), tmp_path / "run", plots=False)
    printed = capsys.readouterr().out.splitlines()[-1].split()
    assert printed[0] == "ideal" and float(printed[1]) == pytest.approx(ran["accuracy"], abs=5e-5)
