"""The training loop: seeded, resumable at any step boundary, with per-step/epoch callbacks.

``Trainer(model, loss, optimizer, rule, compute, batch_size=..., seed=...)`` binds the
rule to the model, then ``fit(train=(x, y), test=(x, y), epochs=E)`` runs until E epochs
are complete. Each step: forward, loss, backward, then for every parameter the optimiser
proposes dW; analog matrices hand it to the update rule, digital vectors (biases) and
digital layers take it exactly. The batch order of epoch ``e`` is a permutation drawn
from ``(seed, e)`` alone, so a run restored with :meth:`Trainer.load_state` mid-epoch
continues exactly as if it had never stopped.

Callbacks are objects with optional ``on_step(trainer, metrics)`` and
``on_epoch_end(trainer, metrics)``; metrics are JSON-able dicts. A callback may set
``trainer.should_stop = True`` to end ``fit`` after the current step.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from .compute import Compute
from .errors import UserError
from .ledger import EnergyConstants, Ledger
from .nn.module import Module

if TYPE_CHECKING:
    from .arraytypes import Array
    from .nn.losses import Loss
    from .optim import Optimizer
    from .rules.base import UpdateRule

METRICS = ("accuracy", "psnr")
RULE_STREAM = 7919  # key of the rule's random stream, spawned from the trainer's compute


class TrainingDiverged(UserError, FloatingPointError):
    """The loss (or a proposed update) became NaN or infinite: a training outcome, exit code 3.

    ``step`` and ``epoch`` say where; the runner records them in summary.json.
    """

    exit_code = 3

    def __init__(self, message: str, step: int = -1, epoch: int = -1) -> None:
        super().__init__(message)
        self.step, self.epoch = int(step), int(epoch)


class Trainer:
    """See the module docstring."""

    def __init__(self, model: Module, loss: Loss, optimizer: Optimizer, rule: UpdateRule, compute: Compute, *,
                 batch_size: int, seed: int, metric: str = "accuracy", callbacks: Iterable[Any] = (),
                 eval_batch_size: int = 1024, energy: EnergyConstants | None = None, data_range: float = 1.0) -> None:
        if not isinstance(model, Module):
            raise TypeError(f"model must be an imc.nn.Module, got {type(model).__name__}")
        if not isinstance(compute, Compute):
            raise TypeError(f"compute must be an imc.Compute, got {type(compute).__name__}")
        for name, value in (("batch_size", batch_size), ("eval_batch_size", eval_batch_size)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
        self.model, self.loss, self.optimizer, self.rule = model, loss, optimizer, rule
        self.compute, self.xp = compute, compute.xp
        self.batch_size, self.eval_batch_size = int(batch_size), int(eval_batch_size)
        self.seed, self.metric, self.data_range = int(seed), metric, float(data_range)
        self.callbacks = tuple(callbacks)
        self.rule.attach(model, compute.spawn(RULE_STREAM))
        self.ledger = Ledger(model, optimizer, rule, energy)
        self._params = list(model.named_parameters())  # fixed once the model is built
        _skip_input_gradient(model)
        self.step = 0  # optimisation steps done
        self.epoch = 0  # epochs completed
        self.history: list[dict[str, Any]] = []  # end-of-epoch metrics
        self.step_losses: list[float] = []  # training loss of every step (the figures' curves, imc.plot)
        self.should_stop = False
        self._order_cache: tuple[int, int, np.ndarray[Any, Any]] | None = None

    # ------------------------------------------------------------------ data
    def batch_order(self, epoch: int, n: int) -> np.ndarray[Any, Any]:
        """The sample order of ``epoch``, from ``(seed, epoch)`` only."""
        if self._order_cache is None or self._order_cache[:2] != (epoch, n):
            perm = np.random.default_rng([self.seed, int(epoch)]).permutation(n)
            self._order_cache = (epoch, n, perm)
        return self._order_cache[2]

    def _arrays(self, data: Any, what: str) -> tuple[Array, Array]:
        if not isinstance(data, (tuple, list)) or len(data) != 2:
            raise ValueError(f"{what} must be a pair (x, y)")
        x, y = data
        if len(x) != len(y):
            raise ValueError(f"{what}: x has {len(x)} samples but y has {len(y)}; they must match")
        if len(x) == 0:
            raise ValueError(f"{what} is empty")
        x = self.compute.asarray(x)
        if self.metric == "accuracy":
            y = self.xp.asarray(y)
            if y.dtype.kind not in "iu":
                raise ValueError(f"{what}: accuracy needs integer class labels, got dtype {y.dtype}")
            lo, hi = (int(v) for v in self.compute.to_numpy(self.xp.stack([y.min(), y.max()])))  # once per fit
            if lo < 0:
                raise ValueError(f"{what}: class labels must be >= 0, got {lo}")
            self._label_max = max(hi, getattr(self, "_label_max", -1))
        else:
            y = self.compute.asarray(y)
        return x, y

    def steps_per_epoch(self, n: int) -> int:
        """Batches per epoch of ``n`` samples (the last one may be short)."""
        return -(-n // self.batch_size)

    # ------------------------------------------------------------------ training
    def fit(self, train: Sequence[Any], test: Sequence[Any] | None = None, epochs: int = 1) -> dict[str, Any]:
        """Train until ``epochs`` epochs are complete (continuing from the current step).

        ``train`` and ``test`` are pairs ``(x, y)`` of arrays (numpy, or cupy on a GPU): ``x``
        (samples, features...) float, ``y`` int64 class labels (accuracy) or float targets (psnr).
        Returns :meth:`summary`."""
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
        x, y = self._arrays(train, "train")
        test = self._arrays(test, "test") if test is not None else None
        n = len(x)
        spe = self.steps_per_epoch(n)
        self.should_stop = False
        while self.step < epochs * spe and not self.should_stop:
            epoch, i = divmod(self.step, spe)
            idx = self.batch_order(epoch, n)[i * self.batch_size : (i + 1) * self.batch_size]
            idx = self.xp.asarray(idx)
            loss = self.train_step(x[idx], y[idx], epoch, checked=True)
            metrics = {"step": self.step, "epoch": epoch, "loss": loss, **self.ledger.step_metrics()}
            for cb in self.callbacks:
                if hasattr(cb, "on_step"):
                    cb.on_step(self, metrics)
            if i == spe - 1:
                self.epoch = epoch + 1
                metrics = {"step": self.step, "epoch": self.epoch, "train_loss": loss, **self.ledger.step_metrics()}
                metrics["update_ratio_epoch"] = self.ledger.epoch_update_ratio(epoch)
                if test is not None:
                    metrics.update(self.evaluate(*test))
                self.history.append(metrics)
                for cb in self.callbacks:
                    if hasattr(cb, "on_epoch_end"):
                        cb.on_epoch_end(self, metrics)
        return self.summary()

    def train_step(self, xb: Array, yb: Array, epoch: int | None = None, *, checked: bool = False) -> float:
        """One optimisation step on a batch; returns the loss (before the update).

        ``checked=True``: the batch comes from data validated once (as ``fit`` does), so the
        loss skips its per-batch target checks. Either way the loss is read back once and
        checked for NaN/inf: the one check per step that stands in for per-product checks."""
        epoch = self.epoch if epoch is None else epoch
        model = self.model if self.model.training else self.model.train()
        out = model.forward(xb)
        if checked and hasattr(self.loss, "value"):
            if self.metric == "accuracy" and getattr(self, "_label_max", -1) >= out.shape[1]:
                raise ValueError(f"class labels go up to {self._label_max} but the model has {out.shape[1]} outputs")
            loss = float(self.loss.value(out, yb))
        else:
            loss = float(self.loss.forward(out, yb))
        if not math.isfinite(loss):
            raise TrainingDiverged(
                f"loss is {loss} at step {self.step} (epoch {epoch}); training stopped. "
                "Lower the learning rate or check the inputs for NaN/inf.", self.step, epoch,
            )
        model.backward(self.loss.backward())
        cells = pulses = 0
        decay = bool(getattr(self.optimizer, "weight_decay", 0))
        propose, apply = self.optimizer.propose, self.rule.apply
        self.rule.begin_step(int(xb.shape[0]), getattr(self.optimizer, "lr", None))
        for name, p in self._params:
            delta = propose(name, cast("Array", p.grad), p.value() if decay else None)  # grad: set by backward above
            if p.tile is not None:
                try:
                    stats = apply(name, p.tile, delta)
                    cells, pulses = cells + stats.cells, pulses + stats.pulses
                except ValueError:  # checked only on failure: no extra host sync per step
                    if bool(self.xp.isfinite(delta).all()):
                        raise
                    raise TrainingDiverged(  # an overflowing update: divergence, not bad input
                        f"the update of {name} is not finite at step {self.step} (epoch {epoch}, loss {loss:.4g}); "
                        "training stopped. Lower the learning rate.", self.step, epoch,
                    ) from None
            else:
                p.data += delta  # numpy casts within a kind in place (float64 proposals into float32)
        self.step += 1
        self.ledger.record_step(epoch, cells, pulses)
        self.step_losses.append(loss)
        return loss

    # ------------------------------------------------------------------ evaluation
    def predict(self, x: Array) -> Array:
        """Model outputs in eval mode, batched by ``eval_batch_size`` (counted as inference)."""
        model = self.model.eval()
        self.ledger.observe("train")
        outs = [model.forward(x[i : i + self.eval_batch_size]) for i in range(0, len(x), self.eval_batch_size)]
        self.ledger.observe("eval")
        return self.xp.concatenate(outs)

    def evaluate(self, x: Array, y: Array) -> dict[str, float]:
        """Loss and the metric ("accuracy" as a fraction, or "psnr" in dB) on (x, y)."""
        if len(x) != len(y):
            raise ValueError(f"evaluate: x has {len(x)} samples but y has {len(y)}")
        out = self.predict(x)
        result = {"test_loss": float(self.loss.forward(out, y))}
        if self.metric == "accuracy":
            result["accuracy"] = float((out.argmax(axis=1) == y).mean())
        else:
            result["psnr"] = psnr(self.xp, out, y, self.data_range)
        return result

    # ------------------------------------------------------------------ results
    def summary(self) -> dict[str, Any]:
        last = self.history[-1] if self.history else {}
        return {
            "steps": self.step,
            "epochs": self.epoch,
            "metric": self.metric,
            "final": {k: v for k, v in last.items() if k in ("accuracy", "psnr", "test_loss", "train_loss")},
            "history": list(self.history),
            "rule": {"name": self.rule.name, **self.rule.params()},
            "optimizer": {"name": self.optimizer.name, **self.optimizer.params()},
            "ledger": self.ledger.summary(),
            "identity": self.identity(),
            # per step, for figures without a run folder (imc.plot): loss, cells written, pulses
            "trace": {"loss": list(self.step_losses), "write_events_step": list(self.ledger.step_cells),
                      "pulses_step": list(self.ledger.step_pulses)},
        }

    def identity(self) -> dict[str, Any]:
        """What the run is, as far as the trainer knows: model class, backend, preset, rule, seed."""
        tiles = list(self.model.tiles())
        source = getattr(tiles[0].config, "device", None) if tiles else None
        return {"model": type(self.model).__name__, "backend": getattr(source, "backend", "") or "digital",
                "preset": getattr(source, "preset", "") or "", "rule": self.rule.name, "seed": self.seed}

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, np.ndarray[Any, Any]]:
        """Everything needed for an exact resume at this step boundary (plain numpy arrays)."""
        out = {}
        for prefix, part in (("model.", self.model), ("optim.", self.optimizer), ("rule.", self.rule), ("ledger.", self.ledger)):
            for key, arr in part.state().items():
                out[prefix + key] = arr
        out["trainer.counters"] = np.array([self.step, self.epoch, self.seed, self.batch_size], dtype=np.int64)
        out["trainer.history"] = np.array(json.dumps(self.history))
        out["trainer.step_losses"] = np.asarray(self.step_losses, dtype=np.float64)
        return out

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`state` export; on any error the trainer is left as it was."""
        if "trainer.counters" not in state:
            raise KeyError("trainer state is missing 'trainer.counters'")
        step, epoch, seed, batch = (int(v) for v in np.asarray(state["trainer.counters"]).tolist())
        if (seed, batch) != (self.seed, self.batch_size):
            raise ValueError(
                f"state was saved with seed {seed} and batch_size {batch}; this trainer has "
                f"seed {self.seed} and batch_size {self.batch_size}, so the run would not continue identically"
            )
        history = json.loads(str(state.get("trainer.history", "[]")))
        # a checkpoint from before losses were kept: the steps it covers have no recorded loss (NaN)
        losses = [float(v) for v in np.asarray(state.get("trainer.step_losses", np.full(step, np.nan)), dtype=np.float64)]
        parts = {p: {k[len(p) :]: v for k, v in state.items() if k.startswith(p)} for p in ("model.", "optim.", "rule.", "ledger.")}
        backup = self.state()
        try:
            self.model.load_state(parts["model."])
            self.optimizer.load_state(parts["optim."], xp=self.xp)
            self.rule.load_state(parts["rule."])
            self.ledger.load_state(parts["ledger."])
        except Exception:
            self._restore(backup)
            raise
        self.step, self.epoch, self.history, self.step_losses = step, epoch, history, losses

    def _restore(self, backup: Mapping[str, Any]) -> None:
        parts = {p: {k[len(p) :]: v for k, v in backup.items() if k.startswith(p)} for p in ("model.", "optim.", "rule.", "ledger.")}
        self.model.load_state(parts["model."])
        self.optimizer.load_state(parts["optim."], xp=self.xp)
        self.rule.load_state(parts["rule."])
        self.ledger.load_state(parts["ledger."])


def _skip_input_gradient(model: Module) -> None:
    """The first layer of a chain of Sequentials sees the data: no one needs its input gradient."""
    from .nn.layers import Conv2d, Linear
    from .nn.module import Sequential

    first = model
    while isinstance(first, Sequential) and first.layers:
        first = first.layers[0]
    if isinstance(first, (Linear, Conv2d)):
        first.input_grad = False


def psnr(xp: Any, pred: Array, target: Array, data_range: float = 1.0) -> float:
    """Mean per-image PSNR in dB, ``10 log10(range^2 / mse)`` (images on axis 0)."""
    if tuple(pred.shape) != tuple(target.shape):
        raise ValueError(f"psnr: prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    diff = (pred - target).reshape(len(pred), -1)
    mse = xp.maximum((diff * diff).mean(axis=1), 1e-12)
    return float((10 * xp.log10(data_range**2 / mse)).mean())
