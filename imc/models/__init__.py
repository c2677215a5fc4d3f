"""Models, built by name from the catalogue: ``build("mlp", analog=AnalogConfig(), compute=c)``.

A model is a :class:`imc.records.ModelInfo`: a factory ``factory(f, **params)`` that builds
the network from a :class:`LayerFactory` ``f``, and ``needs(data)``, which declares what the
model takes from the task's data (sizes such as ``inputs`` and ``classes``) and refuses data
it cannot handle. imc's own models are registered through the ``imc_models`` hook like a
plugin's:

- "layers": any network written as a layer list in the config (:mod:`imc.models.layers`);
- "mlp", "cnn", "dncnn", "srnet": presets (:mod:`imc.models.presets`).

``analog=None`` gives an all-digital model; otherwise every linear and convolution weight
matrix lives on device tiles (biases digital). Each layer draws its initial weights and
device streams from its own child of ``compute`` (keyed by layer position), so a model
is the same for the same seed whichever rule trains it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping

from ..compute import Compute
from ..errors import ConfigValueError, UnknownNameError
from ..hookspecs import hookimpl
from ..nn import AnalogConfig, Conv2d, Linear
from ..records import ModelInfo
from ..spec import unknown_name_message


class LayerFactory:
    """Layers keyed by creation order so every layer has its own reproducible stream."""

    def __init__(self, compute: Compute, analog: AnalogConfig | None):
        if not isinstance(compute, Compute):
            raise TypeError(f"compute must be an imc.Compute, got {type(compute).__name__}")
        if analog is not None and not isinstance(analog, AnalogConfig):
            raise TypeError(f"analog must be an AnalogConfig or None, got {type(analog).__name__}")
        self.compute, self.analog, self.keys = compute, analog, itertools.count(1)

    def linear(self, n_in, n_out, bias: bool = True):
        return Linear(n_in, n_out, compute=self.compute.spawn(next(self.keys)), bias=bias, analog=self.analog)

    def conv(self, c_in, c_out, k=3, stride=1, padding=1, bias: bool = True):
        return Conv2d(c_in, c_out, k, compute=self.compute.spawn(next(self.keys)), stride=stride,
                      padding=padding, bias=bias, analog=self.analog)


_Factory = LayerFactory  # its former private name

from . import layers, presets  # noqa: E402  (they use LayerFactory)

BUILTIN_MODELS = (layers.INFO, *presets.INFOS)


@hookimpl
def imc_models():
    """imc's own models, registered like a plugin's."""
    return list(BUILTIN_MODELS)


def models(pm=None) -> dict[str, ModelInfo]:
    """Every available model by name: imc's own and those plugins register."""
    from ..registry import Registry, get_registry

    return (get_registry() if pm is None else Registry(pm)).models()


class _ModelTable(Mapping):
    """``MODELS``: name -> factory, a live view of the catalogue."""

    def __getitem__(self, name):
        return models()[name].factory

    def __iter__(self) -> Iterator[str]:
        return iter(models())

    def __len__(self) -> int:
        return len(models())


MODELS = _ModelTable()


def available_models() -> list[str]:
    return sorted(models())


def build(name: str, *, analog: AnalogConfig | None, compute: Compute, pm=None, **params):
    """Build a model by name; an unknown name or parameter is a clear error."""
    table = models(pm)
    if not isinstance(name, str) or name not in table:
        raise UnknownNameError(unknown_name_message("model", name, table))
    try:
        return table[name].factory(LayerFactory(compute, analog), **params)
    except TypeError as exc:
        raise ConfigValueError(f"model {name!r}: {exc}") from None


__all__ = ["BUILTIN_MODELS", "MODELS", "LayerFactory", "ModelInfo", "available_models", "build", "models"]
