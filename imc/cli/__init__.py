"""The ``imc`` command line. Each subcommand lives in its own module of this package.

Subcommands come from the catalogue (hook ``imc_subcommands``; imc's own are listed in
:mod:`imc.cli.commands`). Each defines ``register(subparsers)``, which adds its parser and
sets ``func`` (taking the parsed args, returning an exit code). Errors a user can fix are
raised as :class:`imc.errors.UserError` (``UsageError`` for arguments) and printed as one
line on stderr with exit code 2. Any other exception is a bug and keeps its traceback;
``IMC_DEBUG=1`` shows the traceback of user errors too.

Whatever goes wrong, stderr gets one line: argparse's usage + error pair becomes one line,
a library's multi-line message is joined, warnings raised by a command that then fails are
dropped (a command that succeeds passes them on as they came), and running out of memory or
disk is a one-line :class:`~imc.errors.ResourceLimitError` (exit 2).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings

from imc.errors import UsageError, UserError

__all__ = ["UsageError", "build_parser", "main"]


class OneLineParser(argparse.ArgumentParser):
    """argparse with errors as one line (``imc train: error: ... (see imc train --help)``), exit 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def one_line(text) -> str:
    """A message on one line: lines joined, runs of whitespace collapsed."""
    return " ".join(str(text).split())


def build_parser() -> argparse.ArgumentParser:
    from imc import __version__

    parser = OneLineParser(
        prog="imc", description="Train neural networks on simulated analog in-memory-computing hardware."
    )
    parser.add_argument("--version", action="version", version=f"imc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from imc.registry import get_registry

    for info in get_registry().subcommands().values():  # imc's own and plugins', one catalogue
        info.register(sub)
    return parser


def main(argv=None) -> int:
    with warnings.catch_warnings(record=True) as caught:  # plugin warnings while building the parser too
        warnings.simplefilter("default")
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):  # plain `imc`: the help is the answer, not an error
            parser.print_help()
            return 0
        try:
            code = int(args.func(args) or 0)
        except UserError as exc:
            return _fail(args.command, exc, exc.exit_code)
        except KeyboardInterrupt:
            print(f"imc {args.command}: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # output piped into e.g. `head`, which closed early
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except MemoryError as exc:
            from imc.limits import out_of_memory

            return _fail(args.command, out_of_memory(exc, f"imc {args.command}"), 2)
        except OSError as exc:
            from imc.limits import disk_full, is_disk_full

            if not is_disk_full(exc):
                raise
            return _fail(args.command, disk_full(exc, exc.filename or "a file"), 2)
    for w in caught:  # a finished command's warnings go on as they came (a failed one's are dropped)
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return code


def _fail(command: str, exc: BaseException, code: int) -> int:
    """Print a failed command's one line (its traceback too with IMC_DEBUG=1)."""
    if os.environ.get("IMC_DEBUG", "").strip() not in ("", "0"):
        traceback.print_exception(exc)
    print(f"imc {command}: error: {one_line(exc)}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
