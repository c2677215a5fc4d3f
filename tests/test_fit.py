"""`imc fit`: CSV validation, recovery of a known curve, the fitted preset as a backend,
and training on fitted, FeFET and MRAM devices with EaPU."""

import csv
import json
import math

import numpy as np
import pytest

import imc
from imc import curves
from imc.characterize import CsvError, characterize, fit_csv, read_sweeps_csv, records
from imc.cli import main
from imc.config import default_config, from_dict, to_dict
from imc.registry import get_registry
from imc.runner import train_run

# the generating device: a 1-11 uS window, 50 pulses across, NL 1.0 up (saturating) and
# 1.46 down accelerating toward G_min, accumulating Gaussian noise of 0.05 uS per pulse
G0, G1, PMAX, SIGMA = 1.0, 11.0, 50, 0.05
A_UP, A_DOWN = curves.a_from_label(1.0), curves.a_from_label(-1.46)


def true_step(g, direction):
    u = np.clip((np.asarray(g, dtype=np.float64) - G0) / (G1 - G0), 0, 1)
    return np.abs(curves.advance(u, 1 / PMAX, A_UP, A_DOWN, direction) - u) * (G1 - G0)


def write_csv(path, cells=100, pulses=70, seed=1):
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["cell", "direction", "pulse", "conductance_us"])
        for cell in range(cells):
            g = G0
            for direction, label in ((1, "up"), (-1, "down")):
                out.writerow([cell, label, 0, g])
                for k in range(1, pulses + 1):
                    u = np.array((g - G0) / (G1 - G0))
                    g = G0 + float(curves.advance(u, 1 / PMAX, A_UP, A_DOWN, direction)) * (G1 - G0)
                    g = float(np.clip(g + SIGMA * rng.standard_normal(), G0, G1))
                    out.writerow([cell, label, k, repr(g)])
    return path


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory):
    return write_csv(tmp_path_factory.mktemp("fit") / "sweeps.csv")


@pytest.fixture
def preset_dir(tmp_path, monkeypatch):
    """A private preset folder; the registry (which lists stored presets when it is built,
    once per process) is rebuilt around the test so no other test's presets leak in."""
    folder = tmp_path / "presets"
    monkeypatch.setenv("IMC_PRESET_DIR", str(folder))
    get_registry.cache_clear()
    yield folder
    get_registry.cache_clear()


def interior(rows, direction, edges):
    """Bins of one direction that do not touch the window ends (clipping there)."""
    return [r for r in rows if r["direction"] == direction and r["g_lo_us"] > edges[0] and r["g_hi_us"] < edges[-1]]


def test_fit_recovers_the_generating_curve_and_noise(data_csv):
    result = fit_csv(data_csv, "demo")
    spec, edges = result.spec, result.info["edges_us"]
    assert (spec.g_min_us, spec.g_max_us) == (G0, G1)
    rec = records(read_sweeps_csv(data_csv))
    for direction in (1, -1):
        rows = interior(result.bins, direction, edges)
        assert len(rows) == 8
        for r in rows:
            # the truth averaged over the very states the fit saw in this bin
            sel = (rec.step_dir == direction) & (rec.step_g >= r["g_lo_us"]) & (rec.step_g < r["g_hi_us"])
            truth = true_step(rec.step_g[sel], direction).mean()
            assert abs(r["step_us"] - truth) <= 4 * r["step_se_us"], (direction, r, truth)
            assert abs(r["noise_us"] - SIGMA) <= 4 * r["noise_se_us"], (direction, r)
            assert r["step_se_us"] < 0.02 * truth and r["noise_se_us"] < 0.1 * SIGMA  # the test has teeth
    # the table is what the fit measured, on the bins' mean states
    ups = [r for r in result.bins if r["direction"] == 1 and r["n_steps"] >= 8]
    np.testing.assert_allclose(spec.grid_up_us, [r["g_mean_us"] for r in ups])
    np.testing.assert_allclose(spec.step_up_us, [r["step_us"] for r in ups])


def test_fitted_device_follows_its_table_and_the_generating_curve(data_csv, preset_dir):
    spec = fit_csv(data_csv, "demo").spec
    imc_table = pytest.importorskip("imc_table")
    imc_table.store.save(spec, preset_dir / "demo.json")
    dev = imc.backend("table", (1, 4), preset="demo")
    # one pulse integrates the table over its own length: equal to the tabulated step to
    # second order, away from the saturated top bin where the table drops steeply
    grid = np.asarray(spec.grid_up_us[1:-2], dtype=np.float32)
    np.testing.assert_allclose(dev.declared_step_us(grid, 1), spec.step_up_us[1:-2], rtol=0.02)
    np.testing.assert_allclose(dev.declared_write_noise_us(grid, -1), spec.noise_at(grid, -1), rtol=1e-5)
    # characterising the fitted device: measured vs its own declaration, and vs the truth
    ch = characterize("table", "demo", cells=128, seed=2)
    for r in ch.bins:
        if r["g_lo_us"] > G0 and r["g_hi_us"] < G1:
            assert abs(r["step_us"] - r["declared_step_us"]) <= 4 * r["step_se_us"], r
            assert abs(r["noise_us"] - SIGMA) <= 4 * r["noise_se_us"] + 0.05 * SIGMA, r
            # vs the generating curve, away from the end bins whose tabulated steps carry the
            # data's own clipping at the bounds (interpolation spreads it over the next bin)
            if r["g_lo_us"] > G0 + 1 and r["g_hi_us"] < G1 - 1:
                assert abs(r["step_us"] / true_step(r["g_mean_us"], r["direction"]) - 1) < 0.05, r


def test_cli_fit_registers_a_named_preset_and_a_path_preset(data_csv, preset_dir, tmp_path, capsys):
    assert main(["fit", str(data_csv), "--name", "mydev", "--set", "energy_per_pulse_j=2e-12"]) == 0
    out = capsys.readouterr().out
    assert "imc.backend('table', preset='mydev')" in out
    saved = json.loads((preset_dir / "mydev.json").read_text())
    assert saved["format"] == "imc-table-preset" and saved["spec"]["energy_per_pulse_j"] == 2e-12
    dev = imc.backend("table", (3, 3), preset="mydev")
    assert dev.spec.name == "mydev" and dev.spec.g_max_us == G1
    get_registry.cache_clear()  # a new process lists it; this one rebuilds its registry
    assert main(["backends"]) == 0 and "mydev" in capsys.readouterr().out
    # an existing preset is never overwritten without --force
    assert main(["fit", str(data_csv), "--name", "mydev"]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["fit", str(data_csv), "--name", "mydev", "--force"]) == 0
    # any file path works as a preset too
    path = tmp_path / "elsewhere" / "fit.json"
    assert main(["fit", str(data_csv), "--name", "other", "--out", str(path)]) == 0
    assert imc.backend("table", (2, 2), preset=str(path)).spec.name == "other"
    assert not (preset_dir / "other.json").exists()
    capsys.readouterr()


def rows_of(text):
    return "\n".join(text) + "\n"


BAD_CSVS = {
    "missing column": (["cell,direction,pulse,conductance", "0,up,0,1.0", "0,up,1,1.2"],
                       "missing column 'conductance_us' (conductances must be in uS"),
    "non-numeric conductance": (["direction,pulse,conductance_us", "up,0,1.0", "up,1,abc", "down,0,2", "down,1,1"],
                                "row 2 (line 3): column 'conductance_us': 'abc' is not a number"),
    "non-numeric pulse": (["direction,pulse,conductance_us", "up,0,1.0", "up,one,1.1"],
                          "row 2 (line 3): column 'pulse': 'one' is not a number"),
    "fractional pulse": (["direction,pulse,conductance_us", "up,0,1.0", "up,1.5,1.1"],
                         "column 'pulse': '1.5' is not a whole number"),
    "non-monotone pulse": (["direction,pulse,conductance_us", "up,0,1.0", "up,1,1.1", "up,2,1.2", "up,1,1.3"],
                           "row 4 (line 5): column 'pulse': 1 does not increase within the sweep"),
    "empty": ([], "the file is empty"),
    "header only": (["direction,pulse,conductance_us"], "no data rows"),
    "one direction": (["direction,pulse,conductance_us", "up,0,1.0", "up,1,1.1"], "no down sweep with at least 2 rows"),
    "bad direction": (["direction,pulse,conductance_us", "sideways,0,1.0"], "row 1 (line 2): column 'direction': 'sideways'"),
    "negative conductance": (["direction,pulse,conductance_us", "up,0,-1.0"], "must be a finite conductance >= 0"),
    "short row": (["direction,pulse,conductance_us", "up,0"], "row 1 (line 2): 2 fields, the header has 3"),
}


@pytest.mark.parametrize("case", sorted(BAD_CSVS))
def test_malformed_csv_is_a_clear_error_and_registers_nothing(case, tmp_path, preset_dir, capsys):
    lines, message = BAD_CSVS[case]
    path = tmp_path / "bad.csv"
    path.write_text(rows_of(lines) if lines else "")
    with pytest.raises(CsvError, match=None) as err:
        read_sweeps_csv(path)
    assert message in str(err.value) and "bad.csv" in str(err.value)
    assert main(["fit", str(path), "--name", "broken"]) == 2
    stderr = capsys.readouterr().err
    assert message in stderr and stderr.count("\n") == 1
    assert not preset_dir.exists() or not any(preset_dir.iterdir())
    with pytest.raises(KeyError, match="unknown preset 'broken'"):
        imc.backend("table", (2, 2), preset="broken")


def test_unreadable_csv_paths_are_one_line_errors(tmp_path, preset_dir, capsys):
    assert main(["fit", str(tmp_path / "missing.csv"), "--name", "x"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["fit", str(tmp_path), "--name", "x"]) == 2
    assert "cannot be read" in capsys.readouterr().err
    assert not preset_dir.exists()


def test_bad_spec_settings_are_one_line_errors(data_csv, preset_dir, capsys):
    for setting, message in (("energy_per_pulse=1e-12", "did you mean 'energy_per_pulse_j'"),
                             ("energy_per_pulse_j=abc", "energy_per_pulse_j must be a number"),
                             ("read_noise_rel=-1", "read_noise_rel must be >= 0")):
        assert main(["fit", str(data_csv), "--name", "x", "--set", setting]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert not preset_dir.exists()


def test_repeated_sweeps_of_one_cell_need_a_sweep_column(tmp_path):
    lines = ["cell,sweep,direction,pulse,conductance_us"]
    for sweep in (1, 2):
        lines += [f"a,{sweep},up,{k},{1 + 0.1 * k}" for k in range(5)]
        lines += [f"a,{sweep},down,{k},{1.4 - 0.1 * k}" for k in range(5)]
    path = tmp_path / "cycles.csv"
    path.write_text(rows_of(lines))
    sweeps = read_sweeps_csv(path)
    assert len(sweeps) == 4 and all(len(s.pulses) == 5 for s in sweeps)


@pytest.mark.parametrize(
    "bad_name", ["../escape", "with space", "x.json", ""],
)
def test_bad_preset_names_are_refused(bad_name, data_csv, preset_dir, capsys):
    assert main(["fit", str(data_csv), "--name", bad_name]) == 2
    assert "preset name" in capsys.readouterr().err
    assert not preset_dir.exists()


def test_broken_preset_files_are_clear_errors(tmp_path):
    imc_table = pytest.importorskip("imc_table")
    spec = imc.get_registry().spec("table")
    good = json.loads(imc_table.store.to_json(spec))
    cases = {
        "unknown.json": ({**good, "spec": {**good["spec"], "step_upp_us": [1.0]}}, "did you mean 'step_up_us'"),
        "negative.json": ({**good, "spec": {**good["spec"], "step_up_us": [-1.0] * len(good["spec"]["step_up_us"])}},
                          "step_up_us must be > 0"),
        "format.json": ({"spec": good["spec"]}, "not an imc table preset"),
    }
    for name, (data, message) in cases.items():
        path = tmp_path / name
        path.write_text(json.dumps(data))
        with pytest.raises(ValueError, match=message):
            imc.backend("table", (2, 2), preset=str(path))
    with pytest.raises(KeyError, match="does not exist"):
        imc.backend("table", (2, 2), preset=str(tmp_path / "missing.json"))


def train(tmp_path, backend, preset, native=False, epochs=2):
    cfg = to_dict(default_config())
    cfg.update(epochs=epochs, name=f"fit-test-{backend}")
    cfg["backend"].update(name=backend, preset=preset)
    cfg["rule"].update(name="eapu", native=native)
    summary = train_run(from_dict(cfg), tmp_path / f"run-{backend}")
    lines = [json.loads(line) for line in (tmp_path / f"run-{backend}" / "metrics.jsonl").read_text().splitlines()]
    steps = [r["loss"] for r in lines if r["kind"] == "step"]
    return summary, steps, [r for r in lines if r["kind"] == "epoch"]


@pytest.mark.parametrize(
    "backend, preset, native, epochs, drop",
    [("table", "FITTED", False, 2, 0.2), ("fefet", "fefet", False, 2, 0.2), ("mram", "stt", True, 3, 0.1)],
)
def test_eapu_trains_on_fitted_fefet_and_mram_devices(backend, preset, native, epochs, drop, data_csv, tmp_path):
    # digits / MLP with EaPU (on MRAM: the cells' own probabilistic switching, native=True);
    # 5-level MRAM cells learn more slowly, so they get an extra epoch and a smaller margin
    if preset == "FITTED":
        assert main(["fit", str(data_csv), "--name", "trainable", "--out", str(tmp_path / "fitted.json")]) == 0
        preset = str(tmp_path / "fitted.json")
    summary, losses, history = train(tmp_path, backend, preset, native=native, epochs=epochs)
    assert summary["write_events"] > 0 and summary["pulses"] > 0
    first, last = np.mean(losses[:10]), np.mean(losses[-10:])
    assert last < first - drop, (first, last)  # ln(10) = 2.30 at chance
    assert history[-1]["accuracy"] > 0.3  # 10 classes: chance is 0.1


@pytest.mark.gpu
def test_fitted_device_statistics_match_between_numpy_and_cupy(data_csv):
    spec = fit_csv(data_csv, "demo").spec
    imc_table = pytest.importorskip("imc_table")
    n = 20_000
    stats = {}
    for name in ("cpu", "gpu"):
        dev = imc_table.TableDevice(spec=spec, shape=(100, 200), compute=imc.Compute.create(name, seed=3))
        xp = dev.xp
        dev.program(xp.full(dev.shape, 6.0, dtype=np.float32))
        g0 = dev.peek()
        dev.pulse(xp.ones(dev.shape), -1)
        step = dev.compute.to_numpy(g0 - dev.peek()).astype(np.float64).ravel()
        stats[name] = (step.mean(), step.std(ddof=1))
    (m_cpu, s_cpu), (m_gpu, s_gpu) = stats["cpu"], stats["gpu"]
    assert abs(m_cpu - m_gpu) < 4 * math.sqrt(2 / n) * s_cpu
    assert abs(s_cpu - s_gpu) < 4 * s_cpu / math.sqrt(n)
