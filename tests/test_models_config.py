"""Models from config: a layer list in TOML, built-in names as presets, data needs declared."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import imc
from imc.cli import main
from imc.config import apply_overrides, default_config, load_config
from imc.errors import ConfigValueError
from imc.models import build
from imc.nn import Conv2d, Linear

REFERENCE = Path(__file__).resolve().parents[1] / "examples" / "configs" / "digits-cnn-reference.toml"


def _layers(model):
    return [m for m in model.modules() if isinstance(m, (Conv2d, Linear))]


def test_the_reference_cnn_config_builds_the_eapu_authors_network():
    from imc.runner import Run

    run = Run(load_config(REFERENCE))
    convs = [m for m in _layers(run.model) if isinstance(m, Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.stride) for c in convs] == [(1, 16, 3, 1), (16, 32, 3, 1)]
    linear = [m for m in _layers(run.model) if isinstance(m, Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(32 * 8 * 8, 10)]
    assert all(p.analog for _, p in run.model.named_parameters() if p.data is None)


def test_the_reference_cnn_trains_with_imc_train(tmp_path):
    run = tmp_path / "run"
    assert main(["train", str(REFERENCE), "--set", "epochs=1", "--quiet", "--output", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["model"] == "layers" and summary["accuracy"] > 0.5  # one epoch; 10 classes


def test_a_preset_and_its_layer_list_are_the_same_network():
    """The built-in mlp is a preset: the same layers written as a list give the same outputs."""
    x = np.random.default_rng(0).random((4, 1, 8, 8), dtype=np.float32)
    c = imc.Compute.create("cpu", 3)
    preset = build("mlp", analog=None, compute=c, inputs=64, classes=10, hidden=16)
    listed = build("layers", analog=None, compute=imc.Compute.create("cpu", 3), input_shape=[64], target_shape=[10],
                   layers=[{"type": "linear", "out": 16}, {"type": "relu"}, {"type": "linear", "out": "classes"}])
    np.testing.assert_array_equal(preset.forward(x.reshape(4, 64)), listed.forward(x.reshape(4, 64)))


def test_pooling_residual_and_placeholders_follow_the_shapes():
    c = imc.Compute.create("cpu", 0)
    model = build("layers", analog=None, compute=c, input_shape=[1, 8, 8], target_shape=[1, 16, 16], layers=[
        {"type": "residual", "body": [
            {"type": "conv", "out": 4, "padding": 1}, {"type": "relu"}, {"type": "maxpool"},
            {"type": "upsample", "factor": 2, "mode": "nearest"}, {"type": "conv", "out": "channels", "padding": 1}]},
        {"type": "conv", "out": 4, "padding": 1}, {"type": "pixelshuffle", "factor": "factor"},
    ])
    assert model.forward(np.zeros((2, 1, 8, 8), np.float32)).shape == (2, 1, 16, 16)


@pytest.mark.parametrize("layers, fragment", [
    ([{"type": "linear", "out": 10}], "model.layers[0] (linear): needs flat inputs"),
    ([{"type": "conv", "out": 4}, {"type": "flatten"}, {"type": "linear", "out": 3}], "the network gives (3,)"),
    ([{"type": "maxpool", "kernel": 3}], "do not divide into 3x3 blocks"),
    ([{"type": "dense", "out": 3}], "unknown layer type 'dense'"),
    ([{"type": "conv", "out": 4, "stride": 0}], "stride: must be an integer >= 1"),
    ([{"type": "flatten", "out": 3}], "flatten takes no keys, not out"),
    ([{"type": "flatten"}, {"type": "linear", "out": "channels"}], "'channels' does not apply"),
])
def test_layer_list_mistakes_name_the_layer(layers, fragment):
    with pytest.raises(ConfigValueError) as info:
        build("layers", analog=None, compute=imc.Compute.create("cpu", 0), input_shape=[1, 8, 8], target_shape=[10],
              layers=layers)
    assert fragment in str(info.value)


def test_a_model_refuses_data_it_cannot_use_before_anything_is_written(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[task]\nname = "denoise"\npatches = 8\n[model]\nname = "mlp"\n')
    run = tmp_path / "run"
    assert main(["train", str(cfg), "--quiet", "--output", str(run)]) == 2
    assert "model 'mlp' is a classifier" in capsys.readouterr().err and not run.exists()


def test_layer_lists_are_config_keys_with_tables():
    cfg = apply_overrides(default_config(), {"model.name": "layers", "model.layers": [{"type": "flatten"},
                                                                                    {"type": "linear", "out": "classes"}]})
    assert cfg.model.params["layers"][1] == {"type": "linear", "out": "classes"}
