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
