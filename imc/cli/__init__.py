"""The ``imc`` command line. Each subcommand lives in its own module of this package.

Subcommands come from the catalogue (hook ``imc_subcommands``; imc's own are listed in
:mod:`imc.cli.commands`). Each defines ``register(subparsers)``, which adds its parser and
sets ``func`` (taking the parsed args, returning an exit code). Errors a user can fix are
raised as :class:`imc.errors.UserError` (``UsageError`` for arguments) and printed as one
line on stderr with exit code 2. Any other exception is a bug and keeps its traceback;
``IMC_DEBUG=1`` shows the traceback of user errors too.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

from imc.errors import UsageError, UserError

__all__ = ["UsageError", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    from imc import __version__

    parser = argparse.ArgumentParser(
        prog="imc", description="Train neural networks on simulated analog in-memory-computing hardware."
    )
    parser.add_argument("--version", action="version", version=f"imc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from imc.registry import get_registry

    for info in get_registry().subcommands().values():  # imc's own and plugins', one catalogue
        info.register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):  # plain `imc`: the help is the answer, not an error
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        if os.environ.get("IMC_DEBUG", "").strip() not in ("", "0"):
            traceback.print_exc()
        print(f"imc {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"imc {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
