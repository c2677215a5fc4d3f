"""``imc compare``: train one config once per update rule (and backend) and compare them.

    imc compare [CONFIG.toml] --rules ideal,original,eapu [--backends memristor,fefet:PRESET]

A front end over the sweep planner (:mod:`imc.sweep`): the rules (and backends) become the
axes of a sweep over the config, run in this process one point after another, recorded in
the sweep folder (``results.jsonl``, ``results.csv``, ``runs/<point id>/``); running the same
command again on the same ``--output`` continues where it stopped. ``compare.md``,
``compare.csv``, ``compare.json``, ``compare.png`` and ``compare_energy.png`` then put the
runs side by side: accuracy or PSNR, warnings, wear three ways, energy per accounting
boundary and lifetime, with ratios against "original" and EaPU against each baseline (none
against a run that did not train), and a stacked energy breakdown per rule.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from imc.cli import UsageError
from imc.cli.train import add_config_arguments, resolve_config

ALL_RULES = "ideal,original,analog-sgd,write-verify,eapu,mixed-precision,manhattan"


def register(sub) -> None:
    p = sub.add_parser(
        "compare",
        help="train a config once per update rule / backend and tabulate accuracy, writes, energy, lifetime",
        description="Run the same config with each rule (and backend) and write a comparison table and plot.",
        epilog="examples:\n  imc compare --rules ideal,original,eapu\n"
        "  imc compare examples/configs/denoise.toml --rules ideal,original,eapu\n"
        "  imc compare --rules original,eapu --backends memristor:eapu-paper,memristor:rram-realistic",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arguments(p)
    p.add_argument("--rules", default=ALL_RULES, metavar="A,B", help=f"update rules (default: {ALL_RULES})")
    p.add_argument("--backends", metavar="NAME[:PRESET],...", help="backends (default: the config's)")
    p.add_argument("--output", "-o", metavar="DIR", help="output folder (default: <output_dir>/compare-<name>-<time>)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output (a bar on a terminal, a line per finished run elsewhere)")
    p.set_defaults(func=main)


def _names(text: str, what: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UsageError(f"--{what} needs at least one name")
    if len(set(names)) != len(names):
        raise UsageError(f"--{what} lists a name twice: {text}")
    return names


def plan(cfg, rules: list[str], backends: list[str] | None):
    """The comparison as a sweep (every point validated before any run): one point per
    (backend, rule), backends outermost, in the order given."""
    from imc.config import resolved_dict
    from imc.sweep import sweep_from_dict

    combos = [(None, rule) for rule in rules] if backends is None else [
        (backend, rule) for backend in backends for rule in rules
    ]
    axes = {"rule.name": [rule for _, rule in combos]}
    if backends is not None:
        axes["backend.name"] = [backend.partition(":")[0] for backend, _ in combos]
        axes["backend.preset"] = [backend.partition(":")[2] for backend, _ in combos]
    return sweep_from_dict({"name": "compare", "mode": "zip", "base": resolved_dict(cfg), "axes": axes},
                           source="imc compare")


def _label(point) -> str:
    """``rule`` or ``rule-backend[-preset]``: how a point is named in tables over time."""
    params = point.params
    if "backend.name" not in params:
        return params["rule.name"]
    preset = params.get("backend.preset", "")
    return f"{params['rule.name']}-{params['backend.name']}" + (f"-{preset}" if preset else "")


def _refused_before_anything_ran(out: Path, rows: dict) -> None:
    """Every run was refused as bad input (too large, bad data...): one line, no folder left."""
    import shutil

    from imc.errors import UserError

    def subclasses(cls):
        return {cls.__name__} | {name for sub in cls.__subclasses__() for name in subclasses(sub)}

    user_errors = subclasses(UserError)
    errors = [str(row.get("error") or "") for row in rows.values()]
    if errors and all(e.partition(":")[0] in user_errors for e in errors):
        shutil.rmtree(out, ignore_errors=True)
        raise UserError(errors[0].partition(":")[2].strip())


def main(args) -> int:
    from imc.files import atomic_write_text
    from imc.report.tables import comparison_plot, comparison_rows, energy_plot, markdown, write_csv
    from imc.runner import format_summary
    from imc.sweep import SweepStore, run_sweep

    cfg = resolve_config(args)
    sweep = plan(cfg, _names(args.rules, "rules"), _names(args.backends, "backends") if args.backends else None)
    if args.output:
        out = Path(args.output)
    else:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path(cfg.output_dir).expanduser() / f"compare-{cfg.run_name}-{stamp}"
    quiet = args.quiet
    failures = []
    fresh = not out.exists()
    outcome = run_sweep(sweep, out, inline=True, progress=not quiet, on_failure=failures.append)
    if fresh and outcome.ok == 0 and outcome.failed:
        _refused_before_anything_ran(out, SweepStore(out).rows())
    for message in failures:
        print(f"imc compare: {message}", file=sys.stderr)
    if outcome.failed or outcome.skipped_failed:
        print(f"imc compare: {outcome.failed + outcome.skipped_failed} run(s) failed; see {out / 'results.csv'}", file=sys.stderr)
        return 1
    rows_by_id = SweepStore(out).rows()
    summaries = []
    for point in sweep.points:
        row = rows_by_id[point.point_id]
        summary = dict(row["summary"], run_dir=str(out / row["run_dir"]))
        print(format_summary(summary), flush=True)
        summaries.append(summary)
    rows = comparison_rows(summaries)
    for row, summary in zip(rows, summaries):
        row["run_dir"] = summary["run_dir"]
    title = f"{cfg.task.name} / {cfg.model.name}, {cfg.epochs} epochs, seed {cfg.seed}"
    table = markdown(rows, title)
    atomic_write_text(out / "compare.md", table)
    write_csv(rows, out / "compare.csv")
    atomic_write_text(out / "compare.json", json.dumps(rows, indent=1))
    comparison_plot(rows, out / "compare.png")
    energy_plot(rows, out / "compare_energy.png")
    print()
    print(table)
    files = "compare.md, compare.csv, compare.png, compare_energy.png"
    if cfg.evaluate.times_s:  # [evaluate]: every run's metric over time, side by side
        from imc.evaluate import combined_table, plot

        series = {_label(point): s["evaluate"] for point, s in zip(sweep.points, summaries)}
        over_time = combined_table(series, title)
        atomic_write_text(out / "compare_time.md", over_time)
        from imc.plot.compare import comparison_identity

        plot(series, out / "compare_time.png", title=f"{title}: after programming", identity=comparison_identity(rows))
        print(over_time)
        files += ", compare_time.md, compare_time.png"
    print(f"comparison written to {out} ({files}; runs in {out / 'runs'})")
    return 0
