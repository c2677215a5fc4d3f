"""What every update rule is: a small object that turns a proposed dW into device writes.

``rule.attach(model, compute)`` is called once by the trainer (a rule may switch the
model's tiles to another mode or allocate state); ``rule.apply(name, tile, delta_w)``
is called every step for every analog weight matrix and returns the
:class:`~imc.nn.WriteStats` of what the devices actually wrote. Vectors (biases) never
reach a rule: the trainer updates them exactly in digital periphery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..arraytypes import Array, ArrayModule, Float32Array
from ..compute import Compute
from ..records import RuleInfo  # noqa: F401  (re-exported: imc.rules.RuleInfo)

if TYPE_CHECKING:
    from ..nn.analog import AnalogMatrix, WriteStats
    from ..nn.module import Module


class UpdateRule:
    """Base class. Subclasses set ``name``, implement :meth:`apply`, and may keep arrays in ``self.arrays``.

    Arrays are numpy, or cupy on a GPU (``self.xp``); ``compute`` is set by :meth:`attach`."""

    name = "base"
    #: digital operations per weight per step spent on the decision (ledger energy)
    flops_per_weight = 1
    #: digital words of state per weight (mixed precision's accumulator)
    words_per_weight = 0
    #: the ledger's name for the model's own weight arrays (Tiki-Taka calls them "C")
    weight_array = "weights"

    def __init__(self) -> None:
        self.compute: Compute = None  # type: ignore[assignment]  # set by attach(), before any other call
        self.arrays: dict[str, Array] = {}
        #: input vectors (samples) behind the current step's gradient, and the optimiser's
        #: learning rate for it (None: not told); set by :meth:`begin_step`
        self.step_vectors: int = 1
        self.step_lr: float | None = None

    def params(self) -> dict[str, Any]:
        """The rule's parameters (JSON-able)."""
        return {}

    def attach(self, model: Module, compute: Compute) -> None:
        """Bind to a model before training; ``compute`` is this rule's own random stream."""
        self.compute = compute

    def device_arrays(self) -> dict[str, list[AnalogMatrix]]:
        """Device arrays the rule owns besides the model's (name -> AnalogMatrix list); the ledger counts them."""
        return {}

    def begin_step(self, vectors: int, lr: float | None = None) -> None:
        """The trainer's word before a step's :meth:`apply` calls: ``vectors`` input vectors
        (samples of the mini-batch) are behind its gradient, ``lr`` is the optimiser's learning
        rate. Rules that count in input vectors (Tiki-Taka's transfers) use it; without a
        call, every step counts as one vector."""
        if isinstance(vectors, bool) or not isinstance(vectors, (int, np.integer)) or vectors < 1:
            raise ValueError(f"vectors must be a whole number >= 1, got {vectors!r}")
        self.step_vectors, self.step_lr = int(vectors), (None if lr is None else float(lr))

    def apply(self, name: str, tile: AnalogMatrix, delta_w: Float32Array) -> WriteStats:
        """Ask ``tile`` (an AnalogMatrix) to realise the proposed change ``delta_w`` (weights, float32, the
        matrix's shape); returns what was written (an :class:`imc.nn.WriteStats`)."""
        raise NotImplementedError

    @property
    def xp(self) -> ArrayModule:
        """The array module (numpy or cupy) of the rule's compute."""
        return self.compute.xp

    def accumulator(self, name: str, tile: AnalogMatrix) -> Float32Array:
        """The float32 array of pending weight change (uS) kept per matrix ``name`` (zeros at first)."""
        key = f"chi.{name}"
        if key not in self.arrays:
            self.arrays[key] = self.xp.zeros(tile.shape, dtype=np.float32)
        chi = self.arrays[key]
        if tuple(chi.shape) != tuple(tile.shape):
            raise ValueError(f"accumulator {key!r} has shape {tuple(chi.shape)}, the matrix is {tile.shape}")
        return chi

    @property
    def dense(self) -> bool:
        """Write in the dense form (whole matrices, 0 = untouched) rather than by index.

        On a GPU a sparse index costs a host synchronisation (its length is data-dependent)
        and the dense form costs nothing extra; on the CPU the index form touches only the
        selected cells. The library's rules pass ``checked=True``: their inputs are valid by
        construction, so the devices skip re-validation."""
        return self.compute.is_gpu

    # -- state ---------------------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray[Any, Any]]:
        """The rule's arrays and random state, as host numpy arrays."""
        out = {f"array.{k}": np.array(self.compute.to_numpy(v), copy=True) for k, v in self.arrays.items()}
        if self.compute is not None and not self.compute.is_gpu:
            out["rng_state"] = np.array(self.compute.rng_state())
        return out

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state`; unknown entries raise KeyError before anything changes."""
        unknown = [k for k in state if k != "rng_state" and not k.startswith("array.")]
        if unknown:
            raise KeyError(f"rule {self.name!r} state has unexpected entries {unknown}")
        arrays = {k[len("array.") :]: self.compute.xp.asarray(v).copy() for k, v in state.items() if k.startswith("array.")}
        if "rng_state" in state and not self.compute.is_gpu:
            self.compute.set_rng_state(str(state["rng_state"]))
        self.arrays = arrays


def check_number(name: str, value: Any, positive: bool = True) -> float:
    """``value`` as a float if it is a finite number (and > 0 when ``positive``), else ValueError."""
    import math

    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return float(value)
