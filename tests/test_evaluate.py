"""Evaluation over time: drifted copies of the trained arrays, compensation, and an untouched run."""

from __future__ import annotations

import numpy as np
import pytest

from imc.config import apply_overrides, default_config
from imc.evaluate import evaluate_over_time, table, time_label
from imc.runner import Run


def _trained(backend="pcm", preset="pcm-gst", rule="eapu", epochs=2):
    cfg = apply_overrides(default_config(), {
        "backend.name": backend, "backend.preset": preset, "backend.overrides": {}, "rule.name": rule,
        "epochs": epochs, "optimizer.lr": 0.05, "model.hidden": 24,
    })
    run = Run(cfg)
    run.trainer.fit(run.train, run.test, epochs=epochs)
    return run


def _same(a: dict, b: dict):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.fixture(scope="module")
def pcm_run():
    return _trained()


def test_drift_lowers_accuracy_and_compensation_recovers_it(pcm_run):
    run = pcm_run
    before = run.trainer.state()
    ev = evaluate_over_time(run.trainer, run.test, [1.0, 3.1536e7], "both")
    _same(before, run.trainer.state())  # the run, its random streams and its ledger are untouched
    assert ev["drift_modelled"] and not ev["programmed_at_end"]
    assert ev["labels"] == ["1 s", "1 year"]
    unc, comp = ev["uncompensated"], ev["compensated"]
    # pcm-gst, nu = 0.1: weights shrink to (1.6e6)^-0.1 = 0.24x in a year
    assert unc[1] < unc[0] - 0.05
    assert comp[1] > unc[1] + 0.05
    gain = ev["compensation_gain"]
    assert gain[0][0] == pytest.approx(1.0, abs=0.1)  # at 1 s nothing has drifted (t0 = 20 s)
    assert 3.0 < gain[1][0] < 5.5  # ~1 / 0.24
    # repeatable: each time point starts from the trained state with the same streams
    once = evaluate_over_time(run.trainer, run.test, [1.0, 3.1536e7], "on")
    again = evaluate_over_time(run.trainer, run.test, [3.1536e7, 1.0], "on")
    assert again["compensated"] == once["compensated"][::-1] and "uncompensated" not in again
    assert "| 1 year |" in table(ev)


def test_ideal_rule_is_programmed_once_then_drifts():
    run = _trained(rule="ideal", epochs=1)
    tiles = run.model.tiles()
    assert all(t.exact is not None for t in tiles)
    before = run.trainer.state()
    ev = evaluate_over_time(run.trainer, run.test, [1.0, 86400.0], "both")
    assert ev["programmed_at_end"] and ev["drift_modelled"]
    assert all(t.exact is not None for t in tiles)  # back to the digital weights afterwards
    _same(before, run.trainer.state())
    assert ev["uncompensated"][1] <= ev["uncompensated"][0] + 0.02


def test_backend_without_drift_is_marked_and_still_evaluated():
    run = _trained(backend="fefet", preset="", epochs=1)
    ev = evaluate_over_time(run.trainer, run.test, [1.0, 3600.0], "off")
    assert ev["drift_modelled"] is False and list(ev) .count("compensated") == 0
    assert "drift not modelled" in table(ev)
    assert abs(ev["uncompensated"][0] - ev["uncompensated"][1]) < 0.05  # only fresh read noise


def test_bad_times_and_modes_are_refused(pcm_run):
    with pytest.raises(ValueError, match="times_s must be finite times >= 0"):
        evaluate_over_time(pcm_run.trainer, pcm_run.test, [-1.0], "off")
    with pytest.raises(ValueError, match="drift_compensation must be one of off, on, both"):
        evaluate_over_time(pcm_run.trainer, pcm_run.test, [1.0], "sometimes")


def test_time_labels():
    assert [time_label(t) for t in (1.0, 3600.0, 86400.0, 2.592e6, 3.1536e7, 0.5)] == [
        "1 s", "1 h", "1 day", "30 days", "1 year", "0.5 s"]


def test_config_section_runs_after_training_and_writes_its_reports(tmp_path):
    from imc.config import ConfigKeyError, ConfigValueError, from_dict, load_config, to_dict
    from imc.runner import train_run

    cfg = apply_overrides(default_config(), {
        "backend.name": "pcm", "backend.preset": "", "backend.overrides": {}, "epochs": 1, "model.hidden": 16,
        "optimizer.lr": 0.05, "evaluate.times_s": [1, 86400.0], "evaluate.drift_compensation": "on",
    })
    assert from_dict(to_dict(cfg)) == cfg
    summary = train_run(cfg, tmp_path / "run")
    ev = summary["evaluate"]
    assert ev["times_s"] == [1.0, 86400.0] and len(ev["compensated"]) == 2 and "uncompensated" not in ev
    assert "| 1 day |" in (tmp_path / "run" / "evaluate.md").read_text()
    assert (tmp_path / "run" / "plots" / "evaluate.png").stat().st_size > 0
    assert load_config(tmp_path / "run" / "config.toml").evaluate == cfg.evaluate
    assert "evaluate" not in train_run(apply_overrides(cfg, {"evaluate.times_s": []}), tmp_path / "off")
    with pytest.raises(ConfigValueError, match="evaluate.times_s: must hold finite times >= 0 s"):
        apply_overrides(cfg, {"evaluate.times_s": [1, -5]})
    with pytest.raises(ConfigValueError, match="evaluate.times_s: must be a list of times in s"):
        apply_overrides(cfg, {"evaluate.times_s": 3600})
    with pytest.raises(ConfigValueError, match="drift_compensation"):
        apply_overrides(cfg, {"evaluate.drift_compensation": "always"})
    with pytest.raises(ConfigKeyError, match="evaluate.time_s"):
        apply_overrides(cfg, {"evaluate.time_s": [1]})


def test_compare_puts_every_rule_over_time_side_by_side(tmp_path):
    from imc.cli import main

    out = tmp_path / "cmp"
    args = ["compare", "--rules", "ideal,eapu", "--backends", "pcm,fefet", "--quiet", "--output", str(out),
            "--set", "epochs=1", "--set", "model.hidden=16", "--set", "evaluate.times_s=[1, 3.1536e7]"]
    assert main(args) == 0
    text = (out / "compare_time.md").read_text()
    for row in ("| ideal-pcm | yes |", "| eapu-pcm | yes |", "| ideal-fefet | not modelled |", "| eapu-fefet | not modelled |"):
        assert row in text
    assert "1 year comp." in text and "1 year unco." in text
    assert (out / "compare_time.png").stat().st_size > 0


@pytest.mark.parametrize("backend, preset", [("pcm", "pcm-joshi"), ("memristor", "rram-realistic")])
def test_training_writes_reset_only_their_cells_clocks(backend, preset):
    # the trainer's writes go through the library's internal (trusted) write path
    run = _trained(backend=backend, preset=preset, epochs=1)
    devices = [d for t in run.model.tiles() for d in t.devices]
    for dev in devices:
        dev.drift(100.0)
    writes = [d.counters.writes.copy() for d in devices]
    x, y = run.train
    run.trainer.train_step(run.compute.asarray(x[:32]), run.compute.xp.asarray(y[:32]))
    written_any = 0
    for dev, before in zip(devices, writes):
        written = dev.counters.writes != before
        written_any += int(written.sum())
        assert (dev.age_s()[written] == 0).all()
        assert (dev.age_s()[~written] == 100.0).all()
    assert written_any > 0
