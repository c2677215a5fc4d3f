"""``imc train``: train one config (the built-in default without an argument) into a run folder.

    imc train [CONFIG.toml] [--set KEY=VALUE ...] [--output RUN_DIR] [--checkpoint-every N]
    imc train --resume RUN_DIR

Exit codes: 0 done, 2 bad input (one line on stderr), 3 training diverged (the loss or an
update became NaN/inf: the step is on stderr and in summary.json), 130 interrupted (resume
with --resume).
"""

from __future__ import annotations

import argparse
import sys

from imc.cli import UsageError

EPILOG = """\
examples:
  imc train                                   the built-in default (digits, memristor, EaPU)
  imc train examples/configs/denoise.toml     a config file
  imc train --set rule.name=original --set backend.overrides.write_noise_us=2.4
  imc train --checkpoint-every 100 --output runs/mine
  imc train --resume runs/mine                continue a killed run from its checkpoint

The run folder (default runs/<name>-<time>) gets config.toml, metrics.jsonl, summary.json,
plots/*.png, examples.png (image tasks) and checkpoint.json + checkpoint-<step>.npz.
"""


def add_config_arguments(p) -> None:
    """CONFIG and --set, shared by train, compare and config show."""
    p.add_argument("config", nargs="?", metavar="CONFIG.toml", help="training config (default: the built-in one)")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a config key, e.g. --set rule.k=1.5 (repeatable; values are TOML)",
    )


def resolve_config(args):
    """The config named on the command line, with --set overrides applied."""
    from imc.config import apply_overrides, default_config, load_config, parse_override

    cfg = load_config(args.config) if args.config else default_config()
    if args.overrides:
        cfg = apply_overrides(cfg, dict(parse_override(text) for text in args.overrides))
    return cfg


def register(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a network on a simulated device (the built-in default without CONFIG)",
        description="Train one config into a run folder and print a summary.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arguments(p)
    p.add_argument("--output", "-o", metavar="RUN_DIR", help="run folder (default: <output_dir>/<name>-<time>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint")
    p.add_argument("--checkpoint-every", type=int, metavar="N", help="checkpoint every N steps (default: the config's)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output (bar on a terminal, a line per epoch elsewhere)")
    p.set_defaults(func=main)


def main(args) -> int:
    from imc.runner import default_run_dir, format_summary, train_run

    quiet = args.quiet
    if args.checkpoint_every is not None and args.checkpoint_every < 0:
        raise UsageError(f"--checkpoint-every must be >= 0 steps, got {args.checkpoint_every}")
    if args.resume:
        if args.config or args.overrides or args.output:
            raise UsageError("--resume takes the config from the run folder; drop CONFIG, --set and --output")
        cfg, run_dir = None, args.resume
    else:
        cfg = resolve_config(args)
        if args.checkpoint_every is not None:  # into the config, so that the run folder records what runs
            from imc.config import apply_overrides

            cfg = apply_overrides(cfg, {"checkpoint_every": args.checkpoint_every})
        run_dir = args.output or default_run_dir(cfg)
    try:
        summary = train_run(cfg, run_dir, quiet=quiet, resume=bool(args.resume), checkpoint_every=args.checkpoint_every)
    except KeyboardInterrupt:
        from imc import checkpoint

        hint = f"; continue with: imc train --resume {run_dir}" if checkpoint.exists(run_dir) else ""
        print(f"imc train: interrupted{hint}", file=sys.stderr)
        return 130
    print(format_summary(summary))
    print(f"  run folder: {run_dir}")
    return 0
