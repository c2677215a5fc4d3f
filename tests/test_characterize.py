"""`imc characterize` and `imc backends`: tables, files, plots, bookkeeping, bad input."""

import csv
import json

import numpy as np
import pytest

from imc.characterize import Sweep, bin_statistics, characterize, records
from imc.cli import main

FILES = {"table.txt", "bins.csv", "summary.json", "characterization.png"}


def test_imc_backends_lists_the_first_party_backends_with_presets(capsys):
    assert main(["backends", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["backends"]}
    assert {"memristor", "fefet", "mram", "table"} <= set(rows)
    assert rows["fefet"]["presets"] == ["fefet*", "fefet-highk", "fefet-scaled"]
    assert rows["mram"]["presets"] == ["stt*", "sot", "stt-binary"]
    assert "eapu-paper*" in rows["memristor"]["presets"]
    assert main(["backends"]) == 0
    text = capsys.readouterr().out
    assert all(name in text for name in ("memristor", "fefet", "mram", "fefet-scaled", "stt-binary"))


@pytest.mark.parametrize("backend, extra", [("fefet", set()), ("mram", {"switching.csv"})])
def test_cli_writes_table_csv_json_and_png(tmp_path, capsys, backend, extra):
    out = tmp_path / backend
    assert main(["characterize", backend, "--cells", "64", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "step measured" in printed and "declared spec:" in printed and str(out) in printed
    assert {p.name for p in out.iterdir()} == FILES | extra
    assert (out / "characterization.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["backend"] == backend and summary["spec"]["name"] == summary["preset"]
    with open(out / "bins.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {"step_us", "declared_step_us", "noise_us", "declared_noise_us"} <= set(rows[0])
    assert {r["direction"] for r in rows} == {"1", "-1"}
    if backend == "mram":
        assert "switching probability" in printed
        with open(out / "switching.csv", newline="") as fh:
            sw = list(csv.DictReader(fh))
        assert len(sw) == 18 and float(sw[0]["current_ua"]) > 0
    else:
        assert "switching" not in printed


def test_default_output_folder_is_under_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["characterize", "fefet", "--cells", "8", "--pulses", "8"]) == 0
    capsys.readouterr()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]  # nothing loose in the current folder
    (folder,) = (tmp_path / "runs" / "characterize").iterdir()
    assert folder.name.startswith("fefet-") and {p.name for p in folder.iterdir()} == FILES


def test_counters_and_energy_add_up_to_pulses_times_energy_per_pulse():
    for backend, preset in (("fefet", "fefet-scaled"), ("mram", "sot"), ("memristor", "rram-realistic")):
        ch = characterize(backend, preset, cells=32, pulses=20)
        s = ch.summary
        assert s["write_pulses_applied"] > 0
        assert s["pulses_counted"] == s["pulses_expected"]
        assert s["energy_j"]["write"] == pytest.approx(s["write_pulses_applied"] * ch.spec.energy_per_pulse_j)
        for key, value in s["energy_expected_j"].items():
            assert s["energy_j"][key] == pytest.approx(value), (backend, key)


def test_read_noise_and_asymmetry_are_measured_against_the_spec():
    ch = characterize("fefet", cells=256, seed=1)
    s = ch.summary
    # 32 reads of 256 cells: the relative std is known to ~1/sqrt(2 * 31 * 256) of itself
    assert abs(s["read_noise_rel_measured"] / s["read_noise_rel_declared"] - 1) < 4 / np.sqrt(2 * 31 * 256)
    assert s["asymmetry_mid_declared"] == pytest.approx(s["asymmetry_mid_measured"], rel=0.1)


def test_noise_estimator_cancels_each_cells_own_step():
    # two cells with very different constant steps, known noise: the successive-difference
    # estimator sees only the noise; the mean step is the average of both cells
    rng = np.random.default_rng(0)
    n, sigma = 4000, 0.05
    sweeps = []
    for cell, step in ((0, 1.0), (1, 3.0)):
        g = np.concatenate([[0.0], np.cumsum(step + sigma * rng.standard_normal(n))])
        sweeps.append(Sweep(cell, 1, np.arange(n + 1), g))
    (b,) = bin_statistics(records(sweeps), [-1.0, 1e6], 1)
    assert abs(b.noise_us - sigma) < 4 * b.noise_se_us and b.noise_se_us < 0.05 * sigma
    assert b.step_us == pytest.approx(2.0, abs=0.01) and b.n_cells == 2


def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "never"
    for argv, message in (
        (["characterize", "fefett"], "did you mean 'fefet'"),
        (["characterize", "fefet", "--preset", "nope"], "unknown preset 'nope'"),
        (["characterize", "fefet", "--cells", "2"], "cells must be a whole number >= 4"),
        (["characterize", "mram", "--set", "delta=0"], "delta must be > 0"),
        (["characterize", "mram", "--set", "pulse_switch_prob=2"], "pulse_switch_prob is a probability"),
        (["characterize", "fefet", "--set", "nonsense"], "--set needs KEY=VALUE"),
        (["characterize", "fefet", "--compute", "tpu"], "unknown compute 'tpu'"),
        (["characterize", "fefet", "--set", "energy_per_pulse_j=abc"], "energy_per_pulse_j must be a number"),
    ):
        assert main([*argv, "--out", str(out)]) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert not out.exists()
    a_file = tmp_path / "a_file"
    a_file.write_text("mine")
    assert main(["characterize", "fefet", "--cells", "8", "--pulses", "4", "--out", str(a_file)]) == 2
    assert "is not a folder" in capsys.readouterr().err and a_file.read_text() == "mine"


@pytest.mark.gpu
@pytest.mark.parametrize("backend", ["fefet", "mram", "table"])
def test_characterisation_on_cupy_agrees_with_the_declaration(backend):
    overrides = {"step_d2d": 0.0, "bounds_d2d": 0.0} if backend != "mram" else {}
    ch = characterize(backend, cells=256, seed=5, compute="gpu", **overrides)
    lo, hi = ch.spec.g_min_us, ch.spec.g_max_us
    s = ch.summary
    assert s["pulses_counted"] == s["pulses_expected"]
    if backend == "mram":
        for row in ch.switching:
            assert abs(row["measured_p"] - row["declared_p"]) <= 4 * row["se"], row
        return
    for r in ch.bins:
        if 0.2 <= (r["g_mean_us"] - lo) / (hi - lo) <= 0.8:
            assert abs(r["step_us"] - r["declared_step_us"]) <= 4 * r["step_se_us"], r
            assert abs(r["noise_us"] - r["declared_noise_us"]) <= 4 * r["noise_se_us"], r


def test_levels_compare_up_with_up_and_offsets_with_the_declaration():
    # the declaration (TableSpec.levels) counts pulses across going up; so does the measurement
    ch = characterize("table", cells=64, seed=1, step_d2d=0.0, bounds_d2d=0.0, offset_noise_us=0.3)
    s = ch.summary
    assert s["levels_measured"] == s["pulses_across_up"]
    assert abs(s["levels_measured"] / s["levels_declared"] - 1) < 0.05, s  # the mean of up and down was off by 10 %
    # a device with a non-accumulating offset: measured next to what it declares, in every bin
    mid = [r for r in ch.bins if 0.2 <= (r["g_mean_us"] - ch.spec.g_min_us) / ch.spec.range_us <= 0.8]
    for r in mid:
        assert r["declared_offset_us"] == 0.3
        assert abs(r["offset_us"] - 0.3) <= 4 * r["offset_se_us"] + 0.03, r
        assert abs(r["noise_us"] - r["declared_noise_us"]) <= 4 * r["noise_se_us"] + 0.05 * r["declared_noise_us"], r


def test_the_table_says_why_sweep_means_fall_below_a_spread_population_declaration():
    from imc.characterize import characterize
    from imc.characterize.report import format_table

    spread = format_table(characterize("memristor", "rram-realistic", cells=16, pulses=20, cycles=1))
    assert "weighs every cell once" in spread and "imc conformance memristor" in spread
    same = format_table(characterize("memristor", "rram-realistic", cells=16, pulses=20, cycles=1,
                                     step_d2d=0.0, bounds_d2d=0.0))
    assert "weighs every cell once" not in same
