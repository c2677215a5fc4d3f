"""Checkpoints: .npz + JSON, atomic, no pickle, exact round trip, damage detected."""

import json
import os

import numpy as np
import pytest

from imc import checkpoint


def sample_state():
    return {
        "model": {"0": {"weight": np.arange(6, dtype=np.float32).reshape(2, 3)}, "empty": {}},
        "rule": {"rng_state": np.array('{"state": 1}'), "array.acc": np.zeros(3)},
        "step": 7,
        "epoch": 1,
        "history": [0.5, 0.25],
        "name": "eapu",
        "flag": None,
    }


def test_round_trip_is_exact(tmp_path):
    state = sample_state()
    checkpoint.save(tmp_path, state, step=7, meta={"metrics_bytes": 123})
    loaded, step, meta = checkpoint.load(tmp_path)
    assert step == 7 and meta == {"metrics_bytes": 123}
    np.testing.assert_array_equal(loaded["model"]["0"]["weight"], state["model"]["0"]["weight"])
    assert loaded["model"]["0"]["weight"].dtype == np.float32
    assert str(loaded["rule"]["rng_state"]) == '{"state": 1}'
    assert loaded["model"]["empty"] == {}
    assert {k: loaded[k] for k in ("step", "epoch", "history", "name", "flag")} == {
        "step": 7, "epoch": 1, "history": [0.5, 0.25], "name": "eapu", "flag": None
    }


def test_files_are_plain_npz_and_json_without_pickle(tmp_path):
    path = checkpoint.save(tmp_path, sample_state(), step=3)
    with np.load(path, allow_pickle=False) as archive:  # would raise on object arrays
        assert "model/0/weight" in archive.files
    index = json.loads((tmp_path / "checkpoint.json").read_text())
    assert index["npz"] == path.name and index["step"] == 3


def test_new_checkpoint_replaces_old_and_leaves_no_temporaries(tmp_path):
    checkpoint.save(tmp_path, sample_state(), step=1)
    checkpoint.save(tmp_path, sample_state(), step=2)
    names = sorted(os.listdir(tmp_path))
    assert names == ["checkpoint-00000002.npz", "checkpoint.json"]
    assert checkpoint.load(tmp_path)[1] == 2


def test_failed_write_keeps_previous_checkpoint(tmp_path):
    checkpoint.save(tmp_path, sample_state(), step=1)
    bad = sample_state()
    bad["model"]["bad"] = object()
    with pytest.raises(TypeError, match="model/bad"):
        checkpoint.save(tmp_path, bad, step=2)
    assert checkpoint.load(tmp_path)[1] == 1
    assert sorted(os.listdir(tmp_path)) == ["checkpoint-00000001.npz", "checkpoint.json"]


def test_object_arrays_are_refused(tmp_path):
    with pytest.raises(TypeError, match="object array"):
        checkpoint.save(tmp_path, {"x": np.array([{"a": 1}], dtype=object)}, step=0)
    assert os.listdir(tmp_path) == []


def test_damaged_or_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        checkpoint.load(tmp_path)
    path = checkpoint.save(tmp_path, sample_state(), step=1)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum"):
        checkpoint.load(tmp_path)
    (tmp_path / "checkpoint.json").write_text("{not json")
    with pytest.raises(ValueError, match="damaged"):
        checkpoint.load(tmp_path)


def test_atomic_write_text_replaces_whole_file(tmp_path):
    target = tmp_path / "summary.json"
    checkpoint.atomic_write_text(target, "first")
    checkpoint.atomic_write_text(target, "second")
    assert target.read_text() == "second" and os.listdir(tmp_path) == ["summary.json"]


def test_leftover_temporaries_are_removed(tmp_path):
    checkpoint.save(tmp_path, sample_state(), step=1)
    (tmp_path / ".checkpoint-00000002.npz.abc.tmp").write_bytes(b"half")
    removed = checkpoint.remove_temporaries(tmp_path)
    assert [p.name for p in removed] == [".checkpoint-00000002.npz.abc.tmp"]
    assert sorted(os.listdir(tmp_path)) == ["checkpoint-00000001.npz", "checkpoint.json"]
