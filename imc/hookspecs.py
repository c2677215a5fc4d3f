"""Every hook imc calls on its plugins. One marker, named imc; every hook starts with imc_.

A plugin is any module or object with functions marked ``@imc.hookimpl``, registered
under the entry-point group ``imc`` in its distribution's metadata::

    # pyproject.toml of a third-party backend
    [project.entry-points.imc]
    ecram = "imc_ecram"

    # imc_ecram/__init__.py
    import imc
    from imc_ecram.device import EcramDevice, PRESETS

    @imc.hookimpl
    def imc_backends():
        return [imc.BackendInfo(name="ecram", factory=EcramDevice, presets=PRESETS,
                                default_preset="default", description="ECRAM cell")]

Pluggy drops defaults on hook implementations: hooks take their arguments by keyword.
A hook may return None (it contributes nothing).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import imc.records
    import imc.registry
    import imc.rules

hookspec = pluggy.HookspecMarker("imc")
hookimpl = pluggy.HookimplMarker("imc")


# -- device backends -----------------------------------------------------------------
@hookspec
def imc_backends() -> Iterable[imc.registry.BackendInfo] | None:
    """Return the device backends this plugin provides, as :class:`imc.BackendInfo` records."""


# -- update rules --------------------------------------------------------------------
@hookspec
def imc_update_rules() -> Iterable[imc.rules.RuleInfo] | None:
    """Return update rules this plugin provides, as :class:`imc.rules.RuleInfo` records.

    ``RuleInfo(name="my-rule", factory=MyRule, description="...")`` where ``MyRule``
    subclasses :class:`imc.rules.UpdateRule` (``apply(name, tile, delta_w)`` turns a
    proposed weight change into writes on the tile's devices). Select it with
    ``imc.rules.make_rule("my-rule", **params)``.
    """


# -- the rest of the catalogue -------------------------------------------------------
@hookspec
def imc_optimizers() -> Iterable[imc.records.OptimizerInfo] | None:
    """Return digital optimisers, as :class:`imc.records.OptimizerInfo` records (``[optimizer] name``)."""


@hookspec
def imc_models() -> Iterable[imc.records.ModelInfo] | None:
    """Return models, as :class:`imc.records.ModelInfo` records (``[model] name``)."""


@hookspec
def imc_tasks() -> Iterable[imc.records.TaskInfo] | None:
    """Return tasks, as :class:`imc.records.TaskInfo` records (``[task] name``)."""


@hookspec
def imc_subcommands() -> Iterable[imc.records.SubcommandInfo] | None:
    """Return ``imc`` subcommands, as :class:`imc.records.SubcommandInfo` records."""
