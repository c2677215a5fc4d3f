"""The "deep-mlp" model: a perceptron with any number of hidden layers."""

from __future__ import annotations

import math

from imc.errors import ConfigValueError
from imc.nn import ReLU, Sequential, Tanh
from imc.records import ModelInfo

ACTIVATIONS = {"relu": ReLU, "tanh": Tanh}


def deep_mlp(f, *, inputs: int = 2, classes: int = 2, hidden: list = (32, 32), activation: str = "tanh"):
    """inputs -> hidden[0] -> ... -> hidden[-1] -> classes, ``activation`` between layers."""
    if activation not in ACTIVATIONS:
        raise ConfigValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
    sizes = [int(inputs), *(int(h) for h in hidden), int(classes)]
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [f.linear(n_in, n_out), ACTIVATIONS[activation]()]
    return Sequential(*layers[:-1])


def needs(data) -> dict:
    """A classifier on flat features: the feature count and the number of classes."""
    if data.kind != "classification":
        raise ConfigValueError(f"model 'deep-mlp' is a classifier; task {data.name!r} is not")
    return {"inputs": int(math.prod(data.in_shape)), "classes": int(data.n_classes)}


INFO = ModelInfo(name="deep-mlp", factory=deep_mlp, needs=needs, data_params=("inputs", "classes"), flatten=True,
                 description="perceptron with any number of hidden layers")
