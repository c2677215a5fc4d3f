"""``imc report RUN_DIR``: redraw a finished run's plots (and example images) from its files.

A run killed while plotting keeps its summary but misses plots; this draws them again from
config.toml, metrics.jsonl, summary.json and the final checkpoint. Exit codes: 0 drawn,
2 not a finished run folder (one line on stderr).
"""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "report",
        help="redraw the plots of a finished run folder (after a kill during plotting, say)",
        description="Redraw plots/*.png (and examples.png for image tasks) of a finished run from its files.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a finished run folder (with summary.json)")
    p.add_argument("--missing", action="store_true", help="only if some plot is missing")
    p.set_defaults(func=main)


def main(args) -> int:
    from imc.runner.report import redraw

    written = redraw(args.run_dir, only_missing=args.missing)
    if not written:
        print(f"every plot of {args.run_dir} is present; nothing redrawn")
    for path in written:
        print(f"plot: {path}")
    return 0
