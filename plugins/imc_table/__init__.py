"""First-party table-driven backend for imc: devices fitted from measured pulse trains.

``imc fit DATA.csv --name mydev`` fits a preset and stores it; then
``imc.backend("table", preset="mydev")`` (or ``preset="path/to/fit.json"``) builds it like
any other backend. Registered through the ``imc`` entry point like any third-party backend;
the ``imc fit`` subcommand comes from this plugin too (hook ``imc_subcommands``), so with
the plugin disabled (``IMC_DISABLED_PLUGINS=table``) imc works without it.
"""

import functools

from imc import BackendInfo, hookimpl
from imc.records import SubcommandInfo

from . import store
from .device import TableDevice, TableSpec
from .presets import BUILTIN, DEFAULT_PRESET

__all__ = ["TableDevice", "TableSpec", "imc_backends", "imc_subcommands", "store"]


@hookimpl
def imc_backends():
    presets = dict(store.stored())
    presets.update(BUILTIN)  # built-in names win over stored files of the same name
    return [
        BackendInfo(
            name="table",
            factory=TableDevice,
            presets=presets,
            default_preset=DEFAULT_PRESET,
            description="table-driven device fitted from measured pulse trains (imc fit); presets by name or .json path",
            load_preset=functools.partial(store.resolve, builtin=BUILTIN),
        )
    ]


def _register_fit(subparsers) -> None:
    from . import cli

    cli.register(subparsers)


@hookimpl
def imc_subcommands():
    return [SubcommandInfo(name="fit", register=_register_fit, description="fit a table-driven device preset to a pulse-response CSV")]
