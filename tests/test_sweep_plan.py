"""Sweep files: expansion of axes into points, validated against the real training config."""

from pathlib import Path

import pytest

from imc.config import default_config, resolved_dict, to_dict
from imc.sweep import load_sweep, sweep_from_dict
from imc.sweep.plan import axis_values, point_id

NOISE = "backend.overrides.write_noise_us"


def sweep(axes, **extra):
    return sweep_from_dict({"base": {"epochs": 1}, "axes": axes, **extra}, source="t.toml")


def test_product_expands_every_combination_first_axis_slowest():
    s = sweep({"rule.name": ["original", "eapu"], "seed": [0, 1, 2]})
    assert [p.params for p in s.points][:4] == [
        {"rule.name": "original", "seed": 0},
        {"rule.name": "original", "seed": 1},
        {"rule.name": "original", "seed": 2},
        {"rule.name": "eapu", "seed": 0},
    ]
    assert len(s.points) == 6 and [p.index for p in s.points] == list(range(6))
    assert s.points[3].config["rule"]["name"] == "eapu" and s.points[3].config["epochs"] == 1


def test_zip_pairs_axes_side_by_side():
    s = sweep({"rule.k": [0.5, 1.5], "seed": [3, 4]}, mode="zip")
    assert [p.params for p in s.points] == [{"rule.k": 0.5, "seed": 3}, {"rule.k": 1.5, "seed": 4}]
    assert s.points[1].config["rule"]["k"] == 1.5


def test_overrides_reach_the_backend_spec():
    s = sweep({NOISE: [0.5, 2.0]})
    assert [p.config["backend"]["overrides"]["write_noise_us"] for p in s.points] == [0.5, 2.0]


@pytest.mark.parametrize(
    ("spec", "values"),
    [
        ({"start": 0, "stop": 2}, (0, 1, 2)),
        ({"start": 0.5, "stop": 1.5, "step": 0.25}, (0.5, 0.75, 1.0, 1.25, 1.5)),
        ({"start": 0.0, "stop": 0.3, "step": 0.1}, (0.0, 0.1, 0.2, 0.3)),
        ({"start": 0.0, "stop": 2.0, "num": 5}, (0.0, 0.5, 1.0, 1.5, 2.0)),
        ({"start": 1.0, "stop": 100.0, "num": 3, "log": True}, (1.0, 10.0, 100.0)),
        ({"start": 3, "stop": 1, "step": -1}, (3, 2, 1)),
    ],
)
def test_ranges_include_their_stop(spec, values):
    assert axis_values("x", spec) == values


def test_point_id_is_stable_and_ignores_key_order():
    config = to_dict(default_config())
    reordered = dict(reversed(list(config.items())))
    assert point_id(config) == point_id(reordered)
    assert len(point_id(config)) == 12
    a, b = sweep({"seed": [0, 1]}).points, sweep({"seed": [0, 1]}).points
    assert [p.point_id for p in a] == [p.point_id for p in b]
    assert a[0].point_id != a[1].point_id


def test_without_base_the_built_in_default_is_swept():
    s = sweep_from_dict({"axes": {"seed": [0, 1]}})
    assert s.base == resolved_dict(default_config())
    assert s.points[1].config == {**resolved_dict(default_config()), "seed": 1}


def test_points_are_resolved_so_a_default_given_explicitly_is_the_same_point():
    explicit = sweep_from_dict({"base": {"rule": {"name": "eapu", "k": 1.0}}, "axes": {"seed": [0]}})
    implicit = sweep_from_dict({"base": {"rule": {"name": "eapu"}}, "axes": {"seed": [0]}})
    assert explicit.points[0].point_id == implicit.points[0].point_id
    assert implicit.points[0].config["backend"]["preset"] == "eapu-paper"  # the backend's default, filled in
    with pytest.raises(ValueError, match="same config"):
        sweep_from_dict({"base": {"rule": {"name": "eapu"}}, "axes": {"rule.k": [1.0, 1]}})


def test_base_from_a_config_file_relative_to_the_sweep(tmp_path):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "base.toml").write_text("epochs = 2\nbatch_size = 16\n")
    (tmp_path / "s.toml").write_text('base = "configs/base.toml"\n[axes]\nseed = [0, 1]\n')
    s = load_sweep(tmp_path / "s.toml")
    assert s.name == "s" and s.points[1].config["batch_size"] == 16 and s.points[1].config["seed"] == 1


def test_unknown_axis_key_names_the_key_and_the_closest():
    with pytest.raises(KeyError, match=r"rule\.kk.*did you mean 'rule\.k'"):
        sweep({"rule.kk": [0.5]})
    with pytest.raises(KeyError, match="write_noise_us"):
        sweep({"backend.overrides.write_nosie_us": [1.0]})


def test_empty_axis_is_an_error_before_anything_runs():
    with pytest.raises(ValueError, match="axis 'seed' is empty"):
        sweep({"seed": []})
    with pytest.raises(ValueError, match="at least one axis"):
        sweep({})


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        ({"base": {}, "axes": {"seed": [0]}, "mdoe": "zip"}, KeyError, "did you mean 'mode'"),
        ({"base": {}, "axes": {"seed": [0]}, "mode": "grid"}, ValueError, "product, zip"),
        ({"base": 3, "axes": {"seed": [0]}}, ValueError, "config file path or an inline table"),
        ({"base": {}, "axes": {"seed": [0, 1], "rule.k": [1.0]}, "mode": "zip"}, ValueError, "equal length"),
        ({"base": {}, "axes": {"seed": [0, 0]}}, ValueError, "same config"),
        ({"name": "../up", "axes": {"seed": [0]}}, ValueError, "it names a folder"),
        ({"axes": {"seed": {"start": 0, "stop": 999}, "rule.k": {"start": 0.1, "stop": 10, "num": 999}}}, ValueError,
         "expands to 999000 points"),
        ({"base": {}, "axes": {"seed": 3}}, ValueError, "list of values or a range"),
        ({"base": {}, "axes": {"seed": {"start": 0}}}, ValueError, "start and stop"),
        ({"base": {}, "axes": {"seed": {"start": 0, "stop": 2, "stpe": 1}}}, KeyError, "unknown range key 'stpe'"),
        ({"base": {}, "axes": {"seed": {"start": 0, "stop": 2, "step": -1}}}, ValueError, "never gets"),
        ({"base": {}, "axes": {"rule.k": [-1.0]}}, ValueError, r"point 0 \(rule.k=-1.0\)"),
        ({"base": {"epochs": "two"}, "axes": {"seed": [0]}}, ValueError, r"\[base\].*epochs"),
        ({"base": {}, "axes": {"rule.name": ["eapu", "bogus"]}}, ValueError, "unknown rule 'bogus'"),
    ],
)
def test_bad_sweep_files_name_what_is_wrong(data, error, match):
    with pytest.raises(error, match=match):
        sweep_from_dict(data, source="t.toml")


def test_missing_files_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="sweep file"):
        load_sweep(tmp_path / "nope.toml")
    (tmp_path / "s.toml").write_text('base = "missing.toml"\n[axes]\nseed = [0]\n')
    with pytest.raises(FileNotFoundError, match="missing.toml"):
        load_sweep(tmp_path / "s.toml")
    (tmp_path / "bad.toml").write_text("axes = [\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_sweep(tmp_path / "bad.toml")


def test_example_sweeps_expand():
    folder = Path(__file__).resolve().parents[1] / "examples" / "sweeps"
    files = sorted(folder.glob("*.toml"))
    assert files, "examples/sweeps/ holds the paper's sensitivity study"
    for path in files:
        assert load_sweep(path).points
