"""``imc config show``: print the fully resolved config (defaults filled in) as TOML or JSON."""

from __future__ import annotations

import argparse
import json

from imc.cli import UsageError
from imc.cli.train import add_config_arguments, resolve_config


def register(sub) -> None:
    p = sub.add_parser(
        "config",
        help="show the fully resolved training config (imc config show [CONFIG])",
        description="Print a training config with every default filled in; it validates the file on the way.",
        epilog="examples:\n  imc config show\n  imc config show examples/configs/superres.toml --set rule.k=1.5 --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("action", choices=["show"], help="what to do (show)")
    add_config_arguments(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of TOML")
    p.set_defaults(func=main)


def main(args) -> int:
    from imc.config import resolved_dict, to_toml

    if args.action != "show":  # argparse already restricts it; kept for clarity
        raise UsageError(f"unknown action {args.action!r}: use 'show'")
    cfg = resolve_config(args)
    if args.json:
        print(json.dumps(resolved_dict(cfg), indent=2))
    else:
        print(to_toml(cfg), end="")
    return 0
