"""Hostile files and arguments: data archives, images, fit CSVs, sweep files, argparse.

Each case: exit code 2, one line on stderr, no output folder left behind.
"""

import io
import zipfile

import numpy as np
import pytest
from hostile import assert_one_line, run_cli, snapshot


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def _make_npz(tmp_path, kind):
    path = tmp_path / "data.npz"
    x = np.random.default_rng(0).random((40, 8), dtype=np.float32)
    y = np.arange(40) % 4
    if kind == "npy-under-npz-name":
        with open(path, "wb") as handle:
            np.save(handle, x)
    elif kind == "truncated":
        _npz(path, x=x, y=y)
        path.write_bytes(path.read_bytes()[:300])
    elif kind == "text":
        path.write_text("x,y\n1,2\n")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "no-y":
        _npz(path, x=x)
    elif kind == "object-array":
        np.savez(path, x=np.array([{"a": 1}] * 40, dtype=object), y=y)
    elif kind == "nan":
        x[3, 3] = np.nan
        _npz(path, x=x, y=y)
    elif kind == "length-mismatch":
        _npz(path, x=x, y=y[:-1])
    elif kind == "huge-label":
        y = y.copy()
        y[0] = 10**9
        _npz(path, x=x, y=y)
    elif kind == "negative-label":
        _npz(path, x=x, y=y - 1)
    elif kind == "string-x":
        _npz(path, x=np.array(["a"] * 40), y=y)
    elif kind == "bomb":  # 400 MB of zeros compressed to a few hundred kB
        buffer = io.BytesIO()
        np.save(buffer, np.zeros((100_000_000,), dtype=np.float32))
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("x.npy", buffer.getvalue())
            archive.writestr("y.npy", buffer.getvalue()[:128])
    elif kind == "only-x-test":
        _npz(path, x=x, y=y, x_test=x)
    elif kind == "scalar-x":
        _npz(path, x=np.float32(1.0), y=y)
    elif kind == "a-folder":
        path.mkdir()
    return path


NPZ_KINDS = ["npy-under-npz-name", "truncated", "text", "empty", "no-y", "object-array", "nan", "length-mismatch",
             "huge-label", "negative-label", "string-x", "bomb", "only-x-test", "scalar-x", "a-folder", "missing"]


@pytest.mark.parametrize("kind", NPZ_KINDS)
def test_hostile_npz_data(tmp_path, capsys, monkeypatch, kind):
    if kind == "bomb":
        monkeypatch.setenv("IMC_MEMORY_LIMIT_GB", "0.2")
    path = _make_npz(tmp_path, kind) if kind != "missing" else tmp_path / "missing.npz"
    out = tmp_path / "run"
    code, lines, _ = run_cli(["train", "-o", out, "--set", "task.name='npz'", "--set", f"task.path='{path}'",
                              "--set", "epochs=1"], capsys)
    assert_one_line(code, lines)
    assert not out.exists()


def _images(tmp_path, kind, monkeypatch):
    from PIL import Image

    root = tmp_path / "imgs"
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(3):
            Image.fromarray((np.arange(64).reshape(8, 8) * (i + 1) % 255).astype(np.uint8)).save(root / label / f"{i}.png")
    bad = root / "a" / "bad.png"
    if kind == "bomb":
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
        Image.new("L", (100, 100)).save(bad)  # 10 000 pixels: past twice the limit
    elif kind == "bomb-warning":
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
        Image.new("L", (40, 40)).save(bad)  # 1 600 pixels: PIL only warns
    elif kind == "truncated":
        Image.new("L", (64, 64), 7).save(bad)
        bad.write_bytes(bad.read_bytes()[:60])
    elif kind == "text":
        bad.write_text("not an image")
    elif kind == "one-class":
        import shutil

        shutil.rmtree(root / "b")
    elif kind == "empty-class":
        for p in (root / "b").iterdir():
            p.unlink()
    return root


IMAGE_KINDS = ["bomb", "bomb-warning", "truncated", "text", "one-class", "empty-class"]


@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_hostile_image_folders(tmp_path, capsys, monkeypatch, kind):
    root = _images(tmp_path, kind, monkeypatch)
    out = tmp_path / "run"
    code, lines, _ = run_cli(["train", "-o", out, "--set", "task.name='images'", "--set", f"task.path='{root}'",
                              "--set", "task.size=8", "--set", "epochs=1"], capsys)
    assert_one_line(code, lines)
    assert not out.exists()


GOOD_CSV = "direction,pulse,conductance_us\n" + "".join(
    f"up,{i},{10 + i}\n" for i in range(10)) + "".join(f"down,{i},{20 - i}\n" for i in range(10))
CSVS = {
    "empty": "",
    "header-only": "direction,pulse,conductance_us\n",
    "bad-direction": GOOD_CSV.replace("up,3", "sideways,3"),
    "nan-conductance": GOOD_CSV.replace("up,3,13", "up,3,nan"),
    "inf-conductance": GOOD_CSV.replace("up,3,13", "up,3,inf"),
    "missing-column": GOOD_CSV.replace("direction,pulse,conductance_us", "direction,pulse,g"),
    "binary": "\x00\x01\x02" * 100,
    "one-direction": "direction,pulse,conductance_us\n" + "".join(f"up,{i},{10 + i}\n" for i in range(10)),
    "huge-pulse": GOOD_CSV.replace("up,3,", "up,99999999999999999999999,"),
    "short-row": GOOD_CSV.replace("up,3,13", "up,3"),
}


@pytest.mark.parametrize("kind", sorted(CSVS))
def test_hostile_fit_csvs(tmp_path, capsys, kind):
    csv = tmp_path / "data.csv"
    csv.write_text(CSVS[kind])
    out = tmp_path / "preset.json"
    code, lines, _ = run_cli(["fit", csv, "--name", "dev", "--out", out], capsys)
    assert_one_line(code, lines)
    assert not out.exists()


FIT_ARGS = [
    ["--bins", "100000000"], ["--bins", "1"], ["--bins", "x"], ["--name", "../evil"], ["--name", "a/b"],
    ["--name", "x.json"], ["--set", "nope=1"], ["--set", "energy_per_pulse_j=x"], ["--set", "novalue"],
]


@pytest.mark.parametrize("args", FIT_ARGS, ids=[" ".join(a) for a in FIT_ARGS])
def test_hostile_fit_arguments(tmp_path, capsys, args):
    csv = tmp_path / "data.csv"
    csv.write_text(GOOD_CSV)
    out = tmp_path / "preset.json"
    argv = ["fit", csv, "--out", out, *args] + ([] if "--name" in args else ["--name", "dev"])
    code, lines, _ = run_cli(argv, capsys)
    assert_one_line(code, lines)
    assert not out.exists()


def test_fit_out_a_folder_with_force_is_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    csv = tmp_path / "data.csv"
    csv.write_text(GOOD_CSV)
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    code, lines, _ = run_cli(["fit", csv, "--name", "dev", "--out", ".", "--force"], capsys)
    assert_one_line(code, lines, fragment="is a folder")
    assert snapshot(tmp_path) == before


CHARACTERIZE = [
    ["--cells", "1000000000000"], ["--pulses", "1000000000000"], ["--cycles", "1000000000"],
    ["--bins", "100000000"], ["--cells", "0"], ["--cells", "x"], ["--cycles", "0"], ["--pulses", "1"],
    ["--seed", "-1"], ["--seed", "99999999999999999999999"], ["--compute", "tpu"], ["--preset", "nope"],
    ["--set", "nope=1"], ["--set", "write_noise_us=nan"], ["--set", "write_noise_us=1e300"],
]


@pytest.mark.parametrize("args", CHARACTERIZE, ids=[" ".join(a) for a in CHARACTERIZE])
def test_hostile_characterize_arguments(tmp_path, capsys, args):
    out = tmp_path / "ch"
    code, lines, _ = run_cli(["characterize", "memristor", "--out", out, *args], capsys)
    assert_one_line(code, lines)
    assert not out.exists()


SWEEPS = {
    "malformed": 'name = "s"\n[axes\n',
    "deep": "name = " + "[" * 3000 + "]" * 3000 + "\n",
    "unknown-axis": '[axes]\n"rule.nope" = [1, 2]\n',
    "empty-axis": '[axes]\nseed = []\n',
    "bad-mode": 'mode = "sideways"\n[axes]\nseed = [0, 1]\n',
    "missing-base": 'base = "nowhere.toml"\n[axes]\nseed = [0, 1]\n',
    "too-many-points": '[axes]\nseed = {start = 0, stop = 10000000}\n',
    "bad-value": '[axes]\nepochs = [0, 1]\n',
    "not-utf8": b'name = "\xff"\n',
    "huge-seed": '[axes]\nseed = [99999999999999999999]\n',
}


@pytest.mark.parametrize("kind", sorted(SWEEPS))
def test_hostile_sweep_files(tmp_path, capsys, kind):
    path = tmp_path / "s.toml"
    text = SWEEPS[kind]
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    out = tmp_path / "out"
    code, lines, _ = run_cli(["sweep", path, "--out", out, "--workers", "1"], capsys)
    assert_one_line(code, lines)
    assert not out.exists()


ARGPARSE = [
    ["nope"], ["train", "--bogus"], ["train", "--checkpoint-every", "x"], ["train", "--resume"],
    ["compare", "--rules"], ["fit"], ["fit", "x.csv"], ["characterize"], ["sweep"], ["report"],
    ["train", "--set"], ["config", "nope"], ["sweep", "x.toml", "--workers", "x"], ["characterize", "memristor", "--cells"],
    ["report", "a", "b"],
]


@pytest.mark.parametrize("argv", ARGPARSE, ids=[" ".join(a) for a in ARGPARSE])
def test_argparse_errors_are_one_line(tmp_path, capsys, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    code, lines, _ = run_cli(argv, capsys)
    assert_one_line(code, lines, fragment="error:")
    assert snapshot(tmp_path) == {}


def test_warnings_before_an_error_are_dropped_and_library_messages_joined(capsys, monkeypatch):
    import warnings

    from imc.errors import DataError

    def noisy(args):
        warnings.warn("something odd\nover two lines", RuntimeWarning, stacklevel=1)
        raise DataError("a library said:\n  line one\n  line two")

    monkeypatch.setattr("imc.cli.backends.main", noisy, raising=False)
    import imc.cli.backends as backends

    original = backends.register

    def register(sub):
        original(sub)
        sub.choices["backends"].set_defaults(func=noisy)

    monkeypatch.setattr(backends, "register", register)
    code, lines, _ = run_cli(["backends"], capsys)
    assert_one_line(code, lines, fragment="a library said: line one line two")


def test_memory_error_anywhere_is_one_line(capsys, monkeypatch):
    import imc.cli.backends as backends

    def hungry(args):
        raise MemoryError("Unable to allocate 238. GiB for an array with shape (64, 1000000000)")

    original = backends.register
    monkeypatch.setattr(backends, "register", lambda sub: (original(sub), sub.choices["backends"].set_defaults(func=hungry)))
    code, lines, _ = run_cli(["backends"], capsys)
    assert_one_line(code, lines, fragment="ran out of memory (Unable to allocate 238. GiB")
