"""Hostile configs: every numeric key against its real limits, bad types, memory-sized values.

Each case must end with exit code 2, one line on stderr naming the problem, and no run
folder.
"""

import pytest
from hostile import assert_one_line, run_cli

INT_KEYS = ["seed", "epochs", "batch_size", "checkpoint_every", "task.split_seed",
            "backend.max_tile_rows", "backend.max_tile_cols", "backend.dac_bits", "backend.adc_bits"]
BAD_INTS = ["9223372036854775808", "-1", "1.5", "'x'", "true"]
FLOAT_KEYS = ["backend.r_wg_per_us", "backend.w_max", "task.test_fraction", "optimizer.lr",
              "optimizer.momentum", "rule.k", "backend.overrides.write_noise_us", "backend.overrides.g_max_us"]
BAD_FLOATS = ["nan", "inf", "-inf", "1e39", "'x'", "true"]

NUMERIC = [(key, value) for key in INT_KEYS for value in BAD_INTS]
NUMERIC += [(key, value) for key in FLOAT_KEYS for value in BAD_FLOATS]
NUMERIC += [  # values in range for their type but beyond what the code can hold or finish
    ("epochs", "1000001"), ("backend.dac_bits", "25"), ("backend.adc_bits", "1000"),
    ("task.split_seed", "4294967296"), ("seed", "18446744073709551616"),
    ("model.hidden", "9223372036854775808"), ("model.hidden", "0"), ("model.hidden", "-3"), ("model.hidden", "'x'"),
    ("rule.k", "1e300"), ("optimizer.lr", "1e300"), ("backend.overrides.write_noise_us", "1e300"),
]


@pytest.mark.parametrize(("key", "value"), NUMERIC, ids=[f"{k}={v}" for k, v in NUMERIC])
def test_numeric_values_are_checked_against_their_limits(tmp_path, capsys, key, value):
    out = tmp_path / "run"
    code, lines, _ = run_cli(["train", "-o", out, "--set", f"{key}={value}"], capsys)
    line = assert_one_line(code, lines)
    assert key.rpartition(".")[2] in line or key.partition(".")[0] in line, line
    assert not out.exists()


MEMORY = [
    (["--set", "model.hidden=1000000000"], "weight matrix"),
    (["--set", "model.hidden=4000000000000"], "weight matrix"),
    (["--set", "task.name='denoise'", "--set", "task.patches=1000000000"], "patches"),
    (["--set", "task.name='superres'", "--set", "task.patches=2000000000", "--set", "task.patch_size=64"], "patches"),
]


@pytest.mark.parametrize(("args", "fragment"), MEMORY, ids=[" ".join(a) for a, _ in MEMORY])
def test_memory_hungry_configs_are_refused_with_the_estimate_and_the_limit(tmp_path, capsys, args, fragment):
    out = tmp_path / "run"
    code, lines, _ = run_cli(["train", "-o", out, *args], capsys)
    line = assert_one_line(code, lines, fragment=fragment)
    assert "of memory, over the limit of" in line and "IMC_MEMORY_LIMIT_GB" in line
    assert not out.exists()


def test_the_memory_limit_can_be_lowered_and_a_bad_limit_is_one_line(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    monkeypatch.setenv("IMC_MEMORY_LIMIT_GB", "0.000001")
    code, lines, _ = run_cli(["train", "-o", out, "--set", "epochs=1"], capsys)
    assert_one_line(code, lines, fragment="IMC_MEMORY_LIMIT_GB=0.000001")
    monkeypatch.setenv("IMC_MEMORY_LIMIT_GB", "lots")
    code, lines, _ = run_cli(["train", "-o", out, "--set", "epochs=1"], capsys)
    assert_one_line(code, lines, fragment="IMC_MEMORY_LIMIT_GB must be a positive number")
    assert not out.exists()


OVERRIDES = [
    "epochs", "=3", "nope=1", "task.nope=1", "backend.overrides.nope=1", "rule.nope=1", "model.nope=1",
    "task.name=nope", "backend.name=nope", "backend.preset=nope", "rule.name=nope", "model.name=nope",
    "optimizer.name=nope", "compute=tpu", "lr_schedule=sometimes", "backend.mapping=diagonal",
    "task=5", "backend=5", "rule=[1, 2]", "a..b=1", "seed=" + "[" * 500 + "]" * 500,
    "name=5", "output_dir=5", "backend.overrides=5", "task.name='npz'", "task.name='images'",
]


@pytest.mark.parametrize("text", OVERRIDES)
def test_bad_overrides_are_one_line(tmp_path, capsys, text):
    out = tmp_path / "run"
    code, lines, _ = run_cli(["train", "-o", out, "--set", text], capsys)
    assert_one_line(code, lines)
    assert not out.exists()


CONFIG_FILES = {
    "malformed": b"epochs = = 3\n",
    "not-utf8": b"name = \"\xff\xfe\"\n",
    "binary": bytes(range(256)) * 4,
    "deep-arrays": b"seed = " + b"[" * 5000 + b"]" * 5000 + b"\n",
    "deep-tables": b"x = " + b"{a = " * 3000 + b"1" + b"}" * 3000 + b"\n",
    "unknown-key": b"epoch = 3\n",
    "wrong-table": b"task = 3\n",
    "huge-seed": b"seed = 99999999999999999999\n",
    "nan-lr": b"[optimizer]\nname = \"sgd\"\nlr = nan\n",
    "null-byte": b"epochs = 3\x00\n",
}


@pytest.mark.parametrize("kind", sorted(CONFIG_FILES))
def test_malformed_config_files_are_one_line(tmp_path, capsys, kind):
    path = tmp_path / "cfg.toml"
    path.write_bytes(CONFIG_FILES[kind])
    out = tmp_path / "run"
    code, lines, _ = run_cli(["train", path, "-o", out], capsys)
    assert_one_line(code, lines)
    assert not out.exists()


def test_config_path_that_is_missing_a_folder_or_too_large(tmp_path, capsys):
    out = tmp_path / "run"
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * 17_000_000 + "\n")
    for target in (tmp_path / "missing.toml", tmp_path, big):
        code, lines, _ = run_cli(["train", target, "-o", out], capsys)
        assert_one_line(code, lines)
    assert not out.exists()


COMPARE = [
    ["--set", "model.hidden=1000000000"],
    ["--set", "task.name='npz'", "--set", "task.path='/nonexistent/data.npz'"],
    ["--set", "seed=9223372036854775808"],
    ["--rules", "nope"],
    ["--backends", "nope"],
]


@pytest.mark.parametrize("args", COMPARE, ids=[" ".join(a) for a in COMPARE])
def test_compare_refusals_are_one_line_and_leave_no_folder(tmp_path, capsys, args):
    out = tmp_path / "cmp"
    argv = ["compare", "-o", out, "--quiet", *args] + ([] if "--rules" in args else ["--rules", "eapu,original"])
    code, lines, _ = run_cli(argv, capsys)
    assert_one_line(code, lines)
    assert not out.exists()
