"""The example plugin: its task, model and rule are in imc's catalogue and train from a config."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from imc.cli import main
from imc.registry import get_registry

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "spirals.toml"


def test_the_parts_are_in_the_catalogue_from_this_distribution():
    registry = get_registry()
    assert "spirals" in registry.tasks() and "deep-mlp" in registry.models() and "threshold" in registry.rules()
    origins = {reg.distribution for kind in ("task", "model", "update rule") for reg in registry.registered(kind).values()
               if reg.info.name in ("spirals", "deep-mlp", "threshold")}
    assert origins == {"imc-extras"}


def test_imc_train_runs_the_config_that_names_them(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", str(CONFIG), "--quiet", "--output", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["task"], summary["model"], summary["rule"]) == ("spirals", "deep-mlp", "threshold")
    assert summary["accuracy"] > 0.8  # two spirals: a linear classifier stays near 0.5-0.65
    assert summary["write_events"] > 0


def test_threshold_rule_keeps_small_changes_until_they_add_up():
    import imc
    from imc.nn import AnalogConfig, AnalogMatrix

    rule = get_registry().rules()["threshold"].factory(threshold=1.0)
    compute = imc.Compute.create("cpu", 0)
    rule.attach(imc.nn.Sequential(), compute)
    tile = AnalogMatrix(np.zeros((2, 2), np.float32), AnalogConfig(preset="eapu-paper"), compute)
    step_w = tile.step_us() * tile.r_wg_per_us
    small = np.full((2, 2), 0.4 * step_w, np.float32)
    assert rule.apply("w", tile, small).cells == 0
    assert rule.apply("w", tile, small).cells == 0
    assert rule.apply("w", tile, small).cells == 4  # 1.2 steps accumulated: written, accumulator cleared
    assert np.allclose(compute.to_numpy(rule.arrays["w"]), 0.0)
