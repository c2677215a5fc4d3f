"""Digital optimisers: full-precision state, each PROPOSES a change dW and does not apply it.

``opt.propose(name, grad, weight=None) -> dW`` keeps per-parameter state under ``name``
(the parameter's dotted name). ``weight`` is needed only for weight decay. The update rule
(:mod:`imc.rules`) decides what the array is actually asked to write.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, cast

import numpy as np

from .arraytypes import Array
from .compute import namespace_of, to_host
from .errors import ConfigValueError, UnknownNameError
from .hookspecs import hookimpl
from .records import OptimizerInfo
from .spec import unknown_name_message


def _check(name: str, value: Any, low: float = 0.0, high: float | None = None, open_low: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if (value <= low) if open_low else (value < low):
        raise ValueError(f"{name} must be {'>' if open_low else '>='} {low}, got {value!r}")
    if high is not None and value >= high:
        raise ValueError(f"{name} must be < {high}, got {value!r}")
    return float(value)


class Optimizer:
    """Base: named per-parameter state arrays plus a step counter per parameter.

    Gradients, weights and proposals are float arrays of the parameter's shape (numpy, or
    cupy on a GPU); state arrays live where the gradients do."""

    name = "base"
    #: digital floating-point operations per weight per step (for the ledger)
    flops_per_weight = 0
    slots: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.buffers: dict[str, dict[str, Array]] = {}  # param name -> slot -> array
        self.steps: dict[str, int] = {}

    def propose(self, name: str, grad: Array, weight: Array | None = None) -> Array:
        """The proposed change dW for parameter ``name`` (``grad``'s shape and dtype); ``weight``
        (the current weights) is needed only for weight decay."""
        raise NotImplementedError

    def _slot(self, name: str, slot: str, like: Array) -> Array:
        bufs = self.buffers.setdefault(name, {})
        if slot not in bufs:
            xp = namespace_of(like)
            bufs[slot] = xp.zeros(like.shape, dtype=like.dtype)
        return bufs[slot]

    def params(self) -> dict[str, Any]:
        """The optimiser's parameters (JSON-able)."""
        return {}

    def state(self) -> dict[str, np.ndarray[Any, Any]]:
        """Every state array (``<param>.<slot>``) and step count (``<param>.step``), host numpy."""
        out: dict[str, np.ndarray[Any, Any]] = {}
        for name, bufs in self.buffers.items():
            for slot, arr in bufs.items():
                out[f"{name}.{slot}"] = to_host(arr)
            out[f"{name}.step"] = np.array(self.steps.get(name, 0), dtype=np.int64)
        return out

    def load_state(self, state: Mapping[str, Any], xp: Any = np) -> None:
        """Restore :meth:`state` (arrays go to ``xp``); replaces all current state."""
        buffers: dict[str, dict[str, Array]] = {}
        steps: dict[str, int] = {}
        for key, arr in state.items():
            name, _, slot = key.rpartition(".")
            if not name or (slot != "step" and slot not in self.slots):
                raise KeyError(f"optimizer {self.name!r} state has unexpected entry {key!r}")
            if slot == "step":
                steps[name] = int(np.asarray(arr))
            else:
                buffers.setdefault(name, {})[slot] = xp.asarray(arr).copy()
        self.buffers, self.steps = buffers, steps


class SGD(Optimizer):
    """dW = -lr * v with v = momentum * v + (grad + weight_decay * W) (PyTorch convention)."""

    name = "sgd"
    slots = ("velocity",)

    def __init__(self, lr: float = 0.01, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        super().__init__()
        self.lr = _check("lr", lr, open_low=True)
        self.momentum = _check("momentum", momentum, high=1.0)
        self.weight_decay = _check("weight_decay", weight_decay)
        self.flops_per_weight = 2 + (2 if self.momentum else 0) + (2 if self.weight_decay else 0)

    def params(self) -> dict[str, Any]:
        return {"lr": self.lr, "momentum": self.momentum, "weight_decay": self.weight_decay}

    def propose(self, name: str, grad: Array, weight: Array | None = None) -> Array:
        g = _decayed(grad, weight, self.weight_decay) if self.weight_decay else grad
        self.steps[name] = self.steps.get(name, 0) + 1
        if self.momentum:
            v = self._slot(name, "velocity", g)
            v *= v.dtype.type(self.momentum)
            v += g
            g = v
        return cast(Array, g * g.dtype.type(-self.lr))


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias correction; weight decay added to the gradient (L2)."""

    name = "adam"
    slots = ("m", "v")

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__()
        self.lr = _check("lr", lr, open_low=True)
        self.beta1 = _check("beta1", beta1, high=1.0)
        self.beta2 = _check("beta2", beta2, high=1.0)
        self.eps = _check("eps", eps, open_low=True)
        self.weight_decay = _check("weight_decay", weight_decay)
        self.flops_per_weight = 12 + (2 if self.weight_decay else 0)

    def params(self) -> dict[str, Any]:
        return {"lr": self.lr, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps,
                "weight_decay": self.weight_decay}

    def propose(self, name: str, grad: Array, weight: Array | None = None) -> Array:
        g = _decayed(grad, weight, self.weight_decay)
        t = self.steps[name] = self.steps.get(name, 0) + 1
        m, v = self._slot(name, "m", g), self._slot(name, "v", g)
        ty = g.dtype.type
        m *= ty(self.beta1)
        m += ty(1 - self.beta1) * g
        v *= ty(self.beta2)
        v += ty(1 - self.beta2) * (g * g)
        step = self.lr * math.sqrt(1 - self.beta2**t) / (1 - self.beta1**t)
        return cast(Array, m * ty(-step) / (namespace_of(v).sqrt(v) + ty(self.eps * math.sqrt(1 - self.beta2**t))))


def _decayed(grad: Array, weight: Array | None, weight_decay: float) -> Array:
    if not weight_decay:
        return grad
    if weight is None:
        raise ValueError("weight decay needs the current weights: pass weight=")
    return cast(Array, grad + grad.dtype.type(weight_decay) * weight)


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


@hookimpl
def imc_optimizers() -> list[OptimizerInfo]:
    """imc's own optimisers, registered like a plugin's."""
    return [
        OptimizerInfo(name="sgd", factory=SGD, description="SGD with momentum and weight decay"),
        OptimizerInfo(name="adam", factory=Adam, description="Adam (Kingma and Ba 2015)"),
    ]


def optimizers(pm: Any = None) -> dict[str, OptimizerInfo]:
    """Every available optimiser by name: imc's own and those plugins register."""
    from .registry import Registry, get_registry

    return (get_registry() if pm is None else Registry(pm)).optimizers()


def available_optimizers() -> list[str]:
    """Names of every available optimiser, sorted."""
    return sorted(optimizers())


def make_optimizer(name: str, pm: Any = None, **params: Any) -> Optimizer:
    """Build an optimiser by name ("sgd", "adam"); an unknown name lists the available ones."""
    table = optimizers(pm)
    if not isinstance(name, str) or name not in table:
        raise UnknownNameError(unknown_name_message("optimizer", name, table))
    try:
        return cast(Optimizer, table[name].factory(**params))
    except TypeError as exc:
        raise ConfigValueError(f"optimizer {name!r}: {exc}") from None
