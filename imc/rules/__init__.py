"""Update rules, selected by name and extensible by plugins (hook ``imc_update_rules``).

Built-in: "ideal", "original", "analog-sgd", "write-verify", "eapu", "mixed-precision",
"manhattan", and the Tiki-Taka family "tiki-taka", "tiki-taka-v2", "c-tiki-taka". A plugin adds
rules by returning :class:`RuleInfo` records from ``imc_update_rules()``::

    @imc.hookimpl
    def imc_update_rules():
        return [RuleInfo(name="my-rule", factory=MyRule, description="...")]
"""

from __future__ import annotations

from ..errors import ConfigValueError, UnknownNameError
from ..hookspecs import hookimpl
from ..spec import unknown_name_message
from .analog_sgd import AnalogSGDRule
from .base import RuleInfo, UpdateRule
from .eapu import EaPURule
from .ideal import IdealRule
from .manhattan import ManhattanRule
from .mixed_precision import MixedPrecisionRule
from .original import OriginalRule
from .tiki_taka import ChoppedTikiTakaRule, TikiTakaRule, TikiTakaV2Rule
from .write_verify import WriteVerifyRule

BUILTIN_RULES = {
    info.name: info
    for info in (
        RuleInfo(name="ideal", factory=IdealRule, description="digital training with exact weights (upper bound)"),
        RuleInfo(name="original", factory=OriginalRule, description="write every nonzero change every step"),
        RuleInfo(name="analog-sgd", factory=AnalogSGDRule, description="stochastic pulse counts, E[count] = request / step (aihwkit)"),
        RuleInfo(name="write-verify", factory=WriteVerifyRule, description="every change programmed closed-loop to a tolerance"),
        RuleInfo(name="eapu", factory=EaPURule, description="error-aware probabilistic update (Liu et al. 2025)"),
        RuleInfo(name="mixed-precision", factory=MixedPrecisionRule, description="digital accumulator, whole pulses"),
        RuleInfo(name="manhattan", factory=ManhattanRule, description="one sign pulse per cell per step"),
        RuleInfo(name="tiki-taka", factory=TikiTakaRule,
                 description="gradient on array A, lines of A transferred into C (Gokmen & Haensch 2020)"),
        RuleInfo(name="tiki-taka-v2", factory=TikiTakaV2Rule,
                 description="Tiki-Taka with a digital filter H and threshold transfer (Gokmen 2021)"),
        RuleInfo(name="c-tiki-taka", factory=ChoppedTikiTakaRule,
                 description="TTv2 with random sign choppers on A (Rasch et al. 2023)"),
    )
}


@hookimpl
def imc_update_rules():
    """imc's own rules, registered like a plugin's."""
    return list(BUILTIN_RULES.values())


def rules(pm=None) -> dict[str, RuleInfo]:
    """Every available rule by name: imc's own and those plugins register (one catalogue)."""
    from ..registry import Registry, get_registry

    return (get_registry() if pm is None else Registry(pm)).rules()


def available_rules(pm=None) -> list[str]:
    return sorted(rules(pm))


def make_rule(name: str, pm=None, **params) -> UpdateRule:
    """Build a rule by name; an unknown name is a KeyError listing the available ones."""
    table = rules(pm)
    if name not in table:
        raise UnknownNameError(unknown_name_message("update rule", name, table))
    try:
        return table[name].factory(**params)
    except TypeError as exc:
        raise ConfigValueError(f"update rule {name!r}: {exc}") from None


__all__ = ["BUILTIN_RULES", "RuleInfo", "UpdateRule", "available_rules", "make_rule", "rules"]
