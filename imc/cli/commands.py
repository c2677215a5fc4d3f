"""imc's own subcommands, registered through the ``imc_subcommands`` hook like a plugin's.

Each lives in its own module of :mod:`imc.cli` (imported when the parser is built); a
plugin adds a subcommand by returning :class:`imc.records.SubcommandInfo` records from its
own ``imc_subcommands`` hook (``imc fit`` comes from the table plugin that way).
"""

from __future__ import annotations

import functools
import importlib

from imc.hookspecs import hookimpl
from imc.records import SubcommandInfo

BUILTIN_SUBCOMMANDS = {
    "backends": "list installed device backends and presets",
    "characterize": "measure a backend's pulse response against its declarations",
    "conformance": "check that a backend keeps the device protocol's promises",
    "config": "show the fully resolved training config",
    "train": "train a network on a simulated device",
    "compare": "train a config once per update rule / backend and tabulate",
    "sweep": "run a grid of trainings on Dask, or report on one",
    "report": "redraw the plots of a finished run folder",
}


def _register(name: str, subparsers) -> None:
    importlib.import_module(f"imc.cli.{name}").register(subparsers)


@hookimpl
def imc_subcommands():
    return [
        SubcommandInfo(name=name, register=functools.partial(_register, name), description=text)
        for name, text in BUILTIN_SUBCOMMANDS.items()
    ]
