"""``imc config show|check``: print the fully resolved config (TOML or JSON), or validate it completely.

``show`` validates the config's keys and values; ``check`` goes on to build everything a run
needs (data, model on its device, optimiser, rule, trainer) without training or writing
anything, so a config that passes ``check`` is refused by ``imc train`` only for what
happens while training (divergence, a full disk).
"""

from __future__ import annotations

import argparse
import json

from imc.cli import UsageError
from imc.cli.train import add_config_arguments, resolve_config


def register(sub) -> None:
    p = sub.add_parser(
        "config",
        help="show the fully resolved training config, or check it completely (imc config show|check [CONFIG])",
        description="Print a training config with every default filled in (show), or build everything a run "
                    "needs from it without training or writing anything (check).",
        epilog="examples:\n  imc config show\n  imc config show examples/configs/superres.toml --set rule.k=1.5 --json\n"
               "  imc config check examples/configs/denoise.toml --set model.depth=8",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("action", choices=["show", "check"], help="what to do (show, check)")
    add_config_arguments(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of TOML (show)")
    p.set_defaults(func=main)


def main(args) -> int:
    from imc.config import resolved_dict, to_toml

    if args.action not in ("show", "check"):  # argparse already restricts it; kept for clarity
        raise UsageError(f"unknown action {args.action!r}: use 'show' or 'check'")
    if args.action == "check" and args.json:
        raise UsageError("--json belongs to `imc config show`; `imc config check` prints one line")
    cfg = resolve_config(args)
    if args.action == "check":
        from imc.runner import Run

        run = Run(cfg)
        print(f"config ok: {cfg.run_name} ({cfg.task.name}, {cfg.model.name} on {run.device.label()}, "
              f"{cfg.optimizer.name}, {cfg.rule.name}; {run.steps_total()} steps)")
        return 0
    if args.json:
        print(json.dumps(resolved_dict(cfg), indent=2))
    else:
        print(to_toml(cfg), end="")
    return 0
