"""The sweep report: groups over seeds, statistics, the table, the CSV and one plot per axis."""

import csv
import statistics

import pytest

from imc.cli import main
from imc.sweep import SweepStore, sweep_from_dict, write_report

NOISE = "backend.overrides.write_noise_us"


def accuracy(rule, noise, seed):
    drop = 0.3 if rule == "original" else 0.05
    return 0.95 - drop * noise + 0.01 * seed


@pytest.fixture
def sweep_dir(tmp_path):
    """A recorded sweep folder: rule x noise x seed, one failed point, written without Dask."""
    sweep = sweep_from_dict(
        {"name": "noise", "base": {"epochs": 1}, "axes": {"rule.name": ["original", "eapu"], NOISE: [0.0, 1.0, 2.0], "seed": [0, 1, 2]}},
        source="noise",
    )
    store = SweepStore(tmp_path / "noise")
    store.write_plan(sweep.plan())
    for p in sweep.points:
        rule, noise, seed = p.params["rule.name"], p.params[NOISE], p.params["seed"]
        failed = (rule, noise, seed) == ("eapu", 2.0, 2)
        store.append(
            {
                "point_id": p.point_id,
                "index": p.index,
                "status": "failed" if failed else "ok",
                "params": p.params,
                "summary": {} if failed else {
                    "final": {"accuracy": accuracy(rule, noise, seed)},
                    "ledger": {"write_events": (10_000 if rule == "original" else 10) * (1 + seed)},
                    "history": [1, 2],
                },
                "error": "FloatingPointError: diverged" if failed else None,
            }
        )
    return store.root


def test_groups_average_over_seeds_with_sample_std(sweep_dir):
    report = write_report(sweep_dir)
    assert report.metrics == ("final.accuracy", "ledger.write_events")
    groups = {(g["params"]["rule.name"], g["params"][NOISE]): g for g in report.groups}
    assert len(groups) == 6
    values = [accuracy("original", 1.0, s) for s in range(3)]
    stats = groups[("original", 1.0)]["stats"]["final.accuracy"]
    assert stats["n"] == 3 and stats["mean"] == pytest.approx(statistics.fmean(values))
    assert stats["std"] == pytest.approx(statistics.stdev(values))
    assert (stats["min"], stats["max"]) == (min(values), max(values))
    failed_group = groups[("eapu", 2.0)]
    assert (failed_group["ok"], failed_group["failed"]) == (2, 1)
    assert failed_group["stats"]["final.accuracy"]["n"] == 2


def test_table_csv_and_plots_are_written(sweep_dir):
    (sweep_dir / "report").mkdir()
    (sweep_dir / "report" / "vs_an_old_axis.png").write_bytes(b"stale")
    report = write_report(sweep_dir)
    assert sorted(p.name for p in (sweep_dir / "report").iterdir()) == [
        "summary.csv", "table.txt", "vs_backend.overrides.write_noise_us.png", "vs_rule.name.png"
    ]  # nothing stale, nothing half-written
    lines = report.table.splitlines()
    assert lines[0] == "sweep 'noise': 18 of 18 points recorded"
    assert lines[1].split()[:3] == ["rule.name", NOISE, "runs"]
    assert "2 (+1 failed)" in report.table
    assert "point 17 (rule.name='eapu', backend.overrides.write_noise_us=2.0, seed=2): FloatingPointError: diverged" in report.table
    assert (sweep_dir / "report" / "table.txt").read_text().strip() == report.table

    with open(report.summary_csv) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6 and rows[0]["rule.name"] == "original" and rows[0][NOISE] == "0.0"
    assert float(rows[0]["final.accuracy.mean"]) == pytest.approx(statistics.fmean(accuracy("original", 0.0, s) for s in range(3)))

    names = sorted(p.name for p in report.plots)
    assert names == ["vs_backend.overrides.write_noise_us.png", "vs_rule.name.png"]  # seed is the spread, not an axis
    for path in report.plots:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5_000


def test_metrics_can_be_chosen_and_unknown_ones_are_named(sweep_dir):
    assert write_report(sweep_dir, metrics=["ledger.write_events"]).metrics == ("ledger.write_events",)
    with pytest.raises(KeyError, match=r"unknown metric 'final.acuracy'.*did you mean 'final.accuracy'"):
        write_report(sweep_dir, metrics=["final.acuracy"])


def test_cli_report_prints_the_table_and_plot_paths(sweep_dir, capsys):
    assert main(["sweep", "report", str(sweep_dir), "--metrics", "final.accuracy"]) == 0
    out = capsys.readouterr().out
    assert "final.accuracy" in out and "metrics: mean ± std over seed" in out
    assert "plot: " in out and "vs_rule.name.png" in out


def test_wide_tables_are_split_into_blocks_that_fit_100_columns(sweep_dir):
    many = ["final.accuracy", "ledger.write_events"] * 6
    table = write_report(sweep_dir, metrics=many).table
    assert max(len(line) for line in table.splitlines() if not line.startswith("  point ")) <= 100
    blocks = [b for b in table.split("\n\n")]
    assert len(blocks) > 1 and all(f"rule.name  {NOISE}  runs" in b for b in blocks)
    assert sum(b.count("final.accuracy") for b in blocks) >= 6  # every column is somewhere


def test_cli_report_on_a_folder_that_is_not_a_sweep(tmp_path, capsys):
    assert main(["sweep", "report", str(tmp_path)]) == 2
    assert "is not a sweep folder" in capsys.readouterr().err
    assert main(["sweep", "report"]) == 2
    assert "give the sweep folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    "key, label",
    [
        (NOISE, NOISE + " (uS)"),
        ("energy_system_j", "energy_system_j (J)"),
        ("final.psnr", "final.psnr (dB)"),
        ("rule.k", "rule.k"),
        ("ledger.write_events", "ledger.write_events (cell writes)"),
    ],
)
def test_plot_labels_carry_units_from_the_key(key, label):
    from imc.sweep.report import axis_label

    assert axis_label(key) == label
