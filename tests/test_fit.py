"""`imc fit`: CSV validation, recovery of a known curve, the fitted preset as a backend,
and training on fitted, FeFET and MRAM devices with EaPU."""

import csv
import json
import math

import numpy as np
import pytest
from imc_table.fit import CsvError, fit_csv, fit_table, read_sweeps_csv

import imc
from imc import curves
from imc.characterize import characterize, records
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
            assert r["step_se_us"] < 0.02 * truth and r["noise_se_us"] < 0.15 * SIGMA  # the test has teeth
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


# ---------------------------------------------------------------- the project's example ramps
# imc_table.sample: one cell, 40 SET + 40 RESET ramps of 150 pulses, accumulating write noise
# 0.10 uS and non-accumulating read noise 0.10 uS per pulse, ramp ends drifting +0.2 uS per
# cycle, no saturation. The fit must recover each of those.
sample = pytest.importorskip("imc_table.sample")


@pytest.fixture(scope="module")
def sample_fit():
    path = sample.shipped_path()
    return fit_csv(path, "sample"), read_sweeps_csv(path)


def test_the_shipped_sample_is_what_the_generator_writes(tmp_path, capsys):
    assert sample.shipped_path().read_text() == sample.text()
    out = tmp_path / "ramps.csv"
    assert sample.main([str(out)]) == 0 and out.read_text() == sample.text()
    assert sample.main([str(out)]) == 2 and "exists" in capsys.readouterr().err  # never overwritten


def test_fit_recovers_accumulating_and_non_accumulating_noise(sample_fit):
    result, _ = sample_fit
    n = result.info["noise"]
    for label in ("up", "down"):
        value, se = n[f"write_noise_{label}_us"], n[f"write_noise_{label}_se_us"]
        assert abs(value - sample.WRITE_NOISE_US) <= 4 * se and se < 0.08 * sample.WRITE_NOISE_US, (label, value, se)
        assert n[f"write_noise_{label}_table"] == "constant"
    value, se = n["offset_noise_us"], n["offset_noise_se_us"]
    assert abs(value - sample.READ_NOISE_US) <= 4 * se and se < 0.05 * sample.READ_NOISE_US
    spec = result.spec
    assert spec.offset_noise_us == pytest.approx(value)
    # the device declares (and EaPU's threshold uses) the accumulating part only
    imc_table = pytest.importorskip("imc_table")
    dev = imc_table.TableDevice(spec, (1, 3), imc.Compute.create("cpu", seed=0))
    g = np.full(3, 70.0, dtype=np.float32)
    for d, label in ((1, "up"), (-1, "down")):
        np.testing.assert_allclose(dev.declared_write_noise_us(g, d), n[f"write_noise_{label}_us"], rtol=1e-5)


def test_fit_finds_no_saturation_and_extends_the_window_along_the_trend(sample_fit):
    result, sweeps = sample_fit
    lo, hi = result.info["data_range_us"]
    ends = result.info["ends"]
    assert not ends["top"]["saturated"] and not ends["bottom"]["saturated"]
    assert "no saturation" in ends["top"]["how"]
    spec = result.spec
    assert spec.g_min_us < lo and spec.g_max_us > hi  # the device keeps moving where the data stopped
    # the largest measured up steps (at the bottom) are kept up to the window end, not clipped
    assert spec.step_at(spec.g_min_us, 1) >= 0.95 * max(spec.step_up_us)
    # the true curve's up step still falls towards the top: the table follows that trend
    assert spec.step_at(spec.g_max_us, 1) < spec.step_at(hi, 1) < spec.step_at(lo, 1)


def test_fit_detects_real_saturation(data_csv):
    ends = fit_csv(data_csv, "demo").info["ends"]  # ramps sit at hard bounds at both ends
    assert ends["top"]["saturated"] and ends["bottom"]["saturated"]
    assert (ends["bottom"]["window_end_us"], ends["top"]["window_end_us"]) == (G0, G1)


def test_fit_measures_the_drift_of_ramp_ends(sample_fit):
    drift = sample_fit[0].info["drift"]
    for side in ("top", "bottom"):
        d = drift[f"{side}_end"]
        assert d["cycles"] == sample.CYCLES
        # the s.e. ignores the correlation of successive ramp ends: 5 of them, not 4
        assert abs(d["drift_us_per_cycle"] - sample.DRIFT_US_PER_CYCLE) <= 5 * d["se_us_per_cycle"], (side, d)
        assert d["se_us_per_cycle"] < 0.15 * sample.DRIFT_US_PER_CYCLE
    # one ramp per cell: not measurable, said so
    one = [sw for sw in sample_fit[1] if sw.cell[1] == "1"]
    assert fit_table(one, "one").info["drift"]["top_end"]["cycles"] == 0


def spread_from(dev, start_us, direction, n_max):
    """Std of the change after n = 1 ... n_max pulses among cells all starting at one state
    (write-verified one mean pulse before it and pulsed once, so the start has its offset)."""
    from imc_table.ramps import mean_curve

    xp = dev.xp
    dev.program(xp.full(dev.shape, float(mean_curve(dev.spec, np.array([start_us]), -1, direction)[0]), dtype=np.float32))
    ones = xp.ones(dev.shape)
    dev.pulse(ones, direction)
    first = dev.peek().astype(np.float64)
    out = []
    for _ in range(n_max):
        dev.pulse(ones, direction)
        out.append(float((dev.peek() - first).std()))
    return np.array(out)


def spread_rows(result, cells=4000):
    """(n, direction, truth, fitted) of the spread after n = 1 ... 100 pulses, from the bottom of
    a mid-file SET ramp (up) and the top of a RESET ramp (down)."""
    imc_table = pytest.importorskip("imc_table")
    cycle = sample.CYCLES / 2
    lo = sample.LO_US + sample.DRIFT_US_PER_CYCLE * cycle
    rows = []
    for direction, start in ((1, lo + 0.1 * sample.WIDTH_US), (-1, lo + 0.9 * sample.WIDTH_US)):
        truth = sample.simulate(start, direction, 100, cells=cells, cycle=cycle, seed=7)
        truth = (truth[:, 1:] - truth[:, :1]).std(axis=0)
        dev = imc_table.TableDevice(result.spec, (1, cells), imc.Compute.create("cpu", seed=8))
        fitted = spread_from(dev, start, direction, 100)
        rows += [(n + 1, direction, truth[n], fitted[n]) for n in range(100)]
    return rows


def test_fitted_device_reproduces_the_spread_after_n_pulses(sample_fit):
    # the yardstick: n = 1 ... 100, within 20 %. 4000 cells: the std of a std is
    # 1 / sqrt(2 * 4000) = 1.1 % of itself, so the margin is the fit's, not the sampling's
    rows = spread_rows(sample_fit[0])
    worst = max(abs(f / t - 1) for _, _, t, f in rows)
    assert worst < 0.2, worst
    # and all-accumulating noise of the same one-pulse spread (the old fit) would miss it by far
    total = np.sqrt(sample.WRITE_NOISE_US**2 + 2 * sample.READ_NOISE_US**2)
    n10 = [t for n, d, t, _ in rows if n == 10 and d == 1][0]
    assert total * np.sqrt(10) > 1.4 * n10


def test_fit_in_other_units_is_refused_with_the_fix(tmp_path, preset_dir, capsys):
    text = sample.text().splitlines()
    header, body = text[0], [line.rsplit(",", 1) for line in text[1:]]

    def write(name, scale):
        path = tmp_path / name
        path.write_text("\n".join([header] + [f"{a},{float(v) * scale!r}" for a, v in body]) + "\n")
        return path

    cases = [  # (file, wrong call, message, right call)
        (write("siemens.csv", 1e-6), [], "look like siemens", ["--unit", "S"]),
        (write("amperes.csv", 0.2e-6), [], "--read-voltage V to convert read currents", ["--read-voltage", "0.2"]),
        (write("nanosiemens.csv", 1e3), [], "look like nanosiemens", ["--unit", "nS"]),
        (write("microamperes.csv", 0.2), ["--unit", "uA"], "give the read voltage", ["--unit", "uA", "--read-voltage", "0.2"]),
    ]
    reference = fit_csv(sample.shipped_path(), "ref").spec
    for path, wrong, message, right in cases:
        assert main(["fit", str(path), "--name", "u", *wrong]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
        assert not (preset_dir / "u.json").exists()
        assert main(["fit", str(path), "--name", path.stem, *right]) == 0
        capsys.readouterr()
        spec = json.loads((preset_dir / f"{path.stem}.json").read_text())["spec"]
        assert spec["g_min_us"] == pytest.approx(reference.g_min_us, rel=1e-6), path.name
    assert main(["fit", str(cases[0][0]), "--name", "x", "--unit", "S", "--read-voltage", "0.2"]) == 2
    assert "a conductance" in capsys.readouterr().err


def test_overrides_a_table_preset_cannot_honour_are_refused(data_csv, tmp_path, preset_dir, capsys):
    imc_table = pytest.importorskip("imc_table")
    for field in ("write_noise_us", "step_us"):
        assert main(["fit", str(data_csv), "--name", "x", "--set", f"{field}=0.5"]) == 2
        err = capsys.readouterr().err
        assert f"{field} cannot be set on a fitted table preset" in err and err.count("\n") == 1
        with pytest.raises(imc_table.device.TableOverrideError, match=f"{field} cannot be overridden on table preset"):
            imc.backend("table", (2, 2), **{field: 0.5})
        assert main(["characterize", "table", "--set", f"{field}=0.5", "--out", str(tmp_path / "c")]) == 2
        assert f"{field} cannot be overridden" in capsys.readouterr().err
    assert not preset_dir.exists() and not (tmp_path / "c").exists()
    # what the tables do not fix is still honoured, and an unchanged value is not an override
    spec = get_registry().spec("table")
    assert spec.evolve(offset_noise_us=0.3, step_us=spec.step_us).offset_noise_us == 0.3


def test_cli_fit_prints_ends_noise_drift_and_spread(preset_dir, capsys):
    assert main(["fit", str(sample.shipped_path()), "--name", "mydev"]) == 0
    out = capsys.readouterr().out
    for text in ("no saturation in the data", "non-accumulating", "ramp ends at the top drift +0.", "spread after n pulses"):
        assert text in out, text
    saved = json.loads((preset_dir / "mydev.json").read_text())
    assert saved["fit"]["ends"]["top"]["saturated"] is False and len(saved["fit"]["spread"]["up"]["fitted_us"]) == 100


def test_a_fitted_device_with_offsets_passes_conformance(sample_fit, tmp_path, capsys):
    # the write-noise checks see one write's error from a settled state: write noise plus offset
    path = tmp_path / "sample.json"
    pytest.importorskip("imc_table").store.save(sample_fit[0].spec, path)
    assert main(["conformance", "table", "--preset", str(path)]) == 0, capsys.readouterr().out
    capsys.readouterr()


@pytest.mark.gpu
def test_offsets_and_write_noise_match_between_numpy_and_cupy(sample_fit):
    imc_table = pytest.importorskip("imc_table")
    n = 20_000
    spreads = {}
    for name in ("cpu", "gpu"):
        dev = imc_table.TableDevice(sample_fit[0].spec, (100, 200), imc.Compute.create(name, seed=3))
        spreads[name] = spread_from(dev, 60.0, 1, 10)[[0, 9]]  # after 1 and 10 pulses
    # a std from n cells is known to 1 / sqrt(2 n) of itself; two of them, 4 standard errors
    np.testing.assert_allclose(spreads["gpu"], spreads["cpu"], rtol=4 * math.sqrt(2) / math.sqrt(2 * n))


def test_offsets_survive_writes_that_skip_a_cell(sample_fit):
    # the library's dense write path hands every cell to the physics, 0 pulses included:
    # a cell not written keeps its conductance and its offset (nothing accumulates)
    imc_table = pytest.importorskip("imc_table")
    dev = imc_table.TableDevice(sample_fit[0].spec, (4, 50), imc.Compute.create("cpu", seed=2))
    dev.program(np.full(dev.shape, 60.0, dtype=np.float32))
    dev.pulse(np.ones(dev.shape), 1)
    g, offset = dev.peek(), dev.cell["offset"].copy()
    assert np.all(offset != 0)
    counts = np.zeros(dev.shape[0] * dev.shape[1], dtype=np.int64)
    counts[::2] = 1
    dev._write_internal("pulse", None, counts, np.ones_like(counts, dtype=np.int8))
    skipped = (counts == 0).reshape(dev.shape)
    assert np.array_equal(dev.peek()[skipped], g[skipped]) and np.array_equal(dev.cell["offset"][skipped], offset[skipped])
    assert np.all(dev.peek()[~skipped] != g[~skipped])
    # update() of a small request rounds to 0 pulses for every cell: nothing moves
    dev.update(np.full(dev.shape, 1e-4, dtype=np.float32))
    assert np.array_equal(dev.cell["offset"][skipped], offset[skipped])
