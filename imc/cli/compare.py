"""``imc compare``: train one config once per update rule (and backend) and compare them.

    imc compare [CONFIG.toml] --rules ideal,original,eapu [--backends memristor,fefet:PRESET]

Every combination becomes a run folder under the output folder (``<rule>`` or
``<rule>-<backend>``); then ``compare.md``, ``compare.csv``, ``compare.png`` and
``compare_energy.png`` put them side by side: accuracy or PSNR, warnings, wear three ways,
energy per accounting boundary and lifetime, with ratios against "original" and EaPU
against each baseline (none against a run that did not train), and a stacked energy
breakdown per rule.
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
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output (bar on a terminal, a line per epoch elsewhere)")
    p.set_defaults(func=main)


def _names(text: str, what: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UsageError(f"--{what} needs at least one name")
    if len(set(names)) != len(names):
        raise UsageError(f"--{what} lists a name twice: {text}")
    return names


def plan(cfg, rules: list[str], backends: list[str] | None) -> list[tuple[str, object]]:
    """(folder name, config) per combination; every config is validated before any run."""
    from imc.config import apply_overrides

    runs = []
    for backend in backends or [None]:
        for rule in rules:
            overrides = {"rule.name": rule}
            folder = rule
            if backend is not None:
                name, _, preset = backend.partition(":")
                overrides.update({"backend.name": name, "backend.preset": preset})
                folder = f"{rule}-{name}" + (f"-{preset}" if preset else "")
            runs.append((folder, apply_overrides(cfg, overrides)))
    return runs


def main(args) -> int:
    from imc.checkpoint import atomic_write_text
    from imc.report.tables import comparison_plot, comparison_rows, energy_plot, markdown, write_csv
    from imc.runner import create_run_dir, format_summary, train_run
    from imc.train import TrainingDiverged

    cfg = resolve_config(args)
    runs = plan(cfg, _names(args.rules, "rules"), _names(args.backends, "backends") if args.backends else None)
    if args.output:
        out = Path(args.output)
    else:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path(cfg.output_dir).expanduser() / f"compare-{cfg.run_name}-{stamp}"
    create_run_dir(out)
    quiet = args.quiet
    summaries = []
    for folder, run_cfg in runs:
        print(f"[{len(summaries) + 1}/{len(runs)}] {folder}", flush=True)
        try:
            summary = train_run(run_cfg, out / folder, quiet=quiet)
        except TrainingDiverged as exc:
            print(f"imc compare: {folder}: training diverged: {exc}", file=sys.stderr)
            return 1
        print(format_summary(summary), flush=True)
        summaries.append(summary)
    rows = comparison_rows(summaries)
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

        series = {folder: s["evaluate"] for (folder, _), s in zip(runs, summaries)}
        over_time = combined_table(series, title)
        atomic_write_text(out / "compare_time.md", over_time)
        plot(series, out / "compare_time.png", title=f"{title}: after programming")
        print(over_time)
        files += ", compare_time.md, compare_time.png"
    print(f"comparison written to {out} ({files})")
    return 0
