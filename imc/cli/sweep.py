"""``imc sweep``: run a sweep file's grid of trainings on Dask, or report on a finished sweep.

    imc sweep SWEEP.toml [--workers N | --scheduler tcp://HOST:PORT] [--out DIR]
    imc sweep report SWEEP_DIR [--metrics a,b]

Exit codes: 0 every point ok, 1 some point failed (recorded in the table), 2 bad input,
75 the Dask scheduler was lost mid-sweep, 130 interrupted (in both of the last two the
finished points are kept; run the same command again to continue).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from imc.cli import UsageError

EPILOG = """\
examples:
  imc sweep examples/sweeps/noise.toml --workers 2     run on a local Dask cluster
  imc sweep noise.toml --scheduler tcp://10.0.0.5:8786  run on a running Dask cluster
  imc sweep report runs/sweeps/noise                      table + plots along each axis

The sweep folder (default runs/sweeps/<name>) gets results.jsonl, results.csv, sweep.json and
runs/<point id>/ per point. Re-running the same command skips finished points.
See docs/sweeps.md for the sweep file format.
"""


def register(sub) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a grid of trainings on Dask (imc sweep SWEEP.toml), or report on one (imc sweep report DIR)",
        description="Run every point of a sweep file as a task on Dask distributed, or with "
        "'report SWEEP_DIR' write the table and plots of a sweep folder.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("target", metavar="SWEEP.toml|report", help="the sweep file to run, or the word 'report'")
    p.add_argument("sweep_dir", nargs="?", metavar="SWEEP_DIR", help="with 'report': the sweep folder")
    run = p.add_argument_group("running a sweep")
    run.add_argument("--out", metavar="DIR", help="sweep folder (default: runs/sweeps/<sweep name>)")
    run.add_argument("--workers", type=int, metavar="N", help="local cluster worker processes (default: CPU count)")
    run.add_argument("--scheduler", metavar="ADDRESS", help="use a running Dask cluster, e.g. tcp://HOST:8786")
    run.add_argument(
        "--timeout", type=float, default=10.0, metavar="SECONDS", help="how long to wait for --scheduler (default 10)"
    )
    run.add_argument("--retry-failed", action="store_true", help="run again the points recorded as failed")
    run.add_argument("--dry-run", action="store_true", help="list the points and exit without running anything")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    rep = p.add_argument_group("report")
    rep.add_argument("--metrics", metavar="A,B", help="summary values to report (default: every numeric one)")
    p.set_defaults(func=main)


def main(args) -> int:
    if args.target == "report":
        return _report(args)
    if args.sweep_dir is not None:
        raise UsageError(f"unexpected argument {args.sweep_dir!r}: use `imc sweep SWEEP.toml` or `imc sweep report SWEEP_DIR`")
    if args.metrics:
        raise UsageError("--metrics belongs to `imc sweep report SWEEP_DIR`")
    return _run(args)


def _run(args) -> int:
    from imc.sweep import SchedulerUnreachable, load_sweep, run_sweep

    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")
    if args.workers is not None and args.scheduler:
        raise UsageError("--workers sizes the local cluster; a --scheduler cluster has its own workers")
    if not (math.isfinite(args.timeout) and args.timeout > 0):
        raise UsageError(f"--timeout must be > 0 seconds (and finite), got {args.timeout}")
    most = max(8, 4 * (os.cpu_count() or 1))
    if args.workers is not None and args.workers > most:
        raise UsageError(f"--workers {args.workers} is more than {most} (each local worker is a process; at most "
                         f"4 per CPU, {os.cpu_count()} here)")
    if args.scheduler:
        _check_address(args.scheduler)
    sweep = load_sweep(args.target)
    out = Path(args.out) if args.out else Path("runs") / "sweeps" / sweep.name
    if args.dry_run:
        print(f"sweep {sweep.name!r} ({sweep.mode}): {len(sweep.points)} points -> {out}")
        for key, values in sweep.axes.items():  # ranges include their stop: say what they expanded to
            print(f"  {key}: {len(values)} values: {', '.join(str(v) for v in values)}")
        for point in sweep.points:
            print(f"  {point.index:4d}  {point.point_id}  {point.label()}")
        return 0
    try:
        outcome = run_sweep(
            sweep,
            out,
            workers=args.workers,
            scheduler=args.scheduler,
            connect_timeout=args.timeout,
            retry_failed=args.retry_failed,
            progress=not args.quiet,
            on_failure=lambda message: print(message, file=sys.stderr),
        )
    except SchedulerUnreachable as exc:
        raise UsageError(str(exc)) from None
    except KeyboardInterrupt:
        print(f"imc sweep: interrupted; finished points are kept in {out}; run the same command to continue", file=sys.stderr)
        return 130
    earlier = f" ({outcome.skipped_failed} of them failed; --retry-failed runs those again)" if outcome.skipped_failed else ""
    print(
        f"sweep {sweep.name!r}: {outcome.total} points: {outcome.ok} done now, {outcome.failed} failed now, "
        f"{outcome.skipped} already recorded{earlier} -> {outcome.out_dir / 'results.csv'}"
    )
    print(f"report: imc sweep report {outcome.out_dir}")
    return 1 if outcome.failed or outcome.skipped_failed else 0


NETWORK_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")  # a scheduler in another process: HOST:PORT


def _check_address(address: str) -> None:
    """Refuse a --scheduler address Dask cannot parse (before any connection is tried)."""
    from distributed.comm import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        if scheme not in NETWORK_SCHEMES:
            raise ValueError(f"{scheme}:// is not a network address ({', '.join(NETWORK_SCHEMES)})")
        parse_host_port(location)
    except ValueError as exc:
        raise UsageError(f"--scheduler {address!r}: {' '.join(str(exc).split())}; give an address like "
                         "tcp://HOST:8786") from None


def _report(args) -> int:
    from imc.sweep import write_report

    if args.sweep_dir is None:
        raise UsageError("give the sweep folder: imc sweep report SWEEP_DIR")
    for flag in ("out", "workers", "scheduler"):
        if getattr(args, flag) is not None:
            raise UsageError(f"--{flag} belongs to running a sweep, not to `imc sweep report`")
    for flag in ("dry_run", "retry_failed"):  # switches a report would silently ignore
        if getattr(args, flag):
            raise UsageError(f"--{flag.replace('_', '-')} belongs to running a sweep, not to `imc sweep report`")
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    report = write_report(args.sweep_dir, metrics=metrics)
    print(report.table)
    print(f"summary: {report.summary_csv}")
    for path in report.plots:
        print(f"plot: {path}")
    return 0
