"""Losses: ``forward(prediction, target) -> float`` and ``backward() -> d loss / d prediction``.

``forward`` checks its inputs and returns a Python float. ``value(prediction, target)``
computes the same loss without checks and without leaving the device (a 0-d array): the
trainer uses it on data it validated once, and reads the loss back once per step.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from ..arraytypes import Array
from ..compute import namespace_of


class Loss(Protocol):
    """What the trainer needs of a loss (MSELoss and CrossEntropyLoss are two)."""

    def forward(self, pred: Array, target: Array) -> float:
        """The loss of ``pred`` against ``target``, checked, as a Python float."""
        ...

    def backward(self) -> Array:
        """d loss / d prediction of the last call (the prediction's shape)."""
        ...


class MSELoss:
    """Mean of squared errors over all elements."""

    def forward(self, pred: Array, target: Array) -> float:
        """The loss (a Python float); shapes must match."""
        if tuple(pred.shape) != tuple(target.shape):
            raise ValueError(f"MSELoss: prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
        return float(self.value(pred, target))

    def value(self, pred: Array, target: Array) -> Any:
        """The loss as a 0-d array (no checks: shapes must match)."""
        self._diff = pred - target
        return (self._diff * self._diff).mean()

    def backward(self) -> Array:
        """d loss / d prediction of the last forward/value call (the prediction's shape)."""
        return cast(Array, self._diff * self._diff.dtype.type(2.0 / self._diff.size))

    __call__ = forward


class CrossEntropyLoss:
    """Softmax cross-entropy of logits (N, classes) against integer labels (N,), batch mean."""

    def forward(self, logits: Array, labels: Array) -> float:
        """The loss (a Python float); logits (N, classes) float, labels (N,) int64 in [0, classes)."""
        xp = namespace_of(logits)
        if logits.ndim != 2:
            raise ValueError(f"CrossEntropyLoss expects logits (batch, classes), got {tuple(logits.shape)}")
        labels = xp.asarray(labels)
        if labels.shape != (logits.shape[0],):
            raise ValueError(f"CrossEntropyLoss: labels must have shape ({logits.shape[0]},), got {tuple(labels.shape)}")
        if labels.dtype.kind not in "iu":
            raise ValueError(f"CrossEntropyLoss: labels must be integers, got dtype {labels.dtype}")
        if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= logits.shape[1]):
            raise ValueError(f"CrossEntropyLoss: labels must lie in [0, {logits.shape[1]})")
        return float(self.value(logits, labels))

    def value(self, logits: Array, labels: Array) -> Any:
        """The loss as a 0-d array (no checks: integer labels in range, on the logits' device)."""
        xp = namespace_of(logits)
        shifted = logits - logits.max(axis=1, keepdims=True)
        e = xp.exp(shifted)
        z = e.sum(axis=1, keepdims=True)
        rows = xp.arange(logits.shape[0])
        e /= z  # the softmax, in place
        self._p, self._labels, self._rows = e, labels, rows
        # -log p[label] = log z - shifted[label]
        return (xp.log(z[:, 0]) - shifted[rows, labels]).sum() * logits.dtype.type(1.0 / logits.shape[0])

    def backward(self) -> Array:
        """d loss / d logits of the last forward/value call, (N, classes)."""
        g = self._p.copy()
        g[self._rows, self._labels] -= 1
        return cast(Array, g * g.dtype.type(1.0 / g.shape[0]))

    __call__ = forward


LOSSES = {"mse": MSELoss, "cross-entropy": CrossEntropyLoss}
