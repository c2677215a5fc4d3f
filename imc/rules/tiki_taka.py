"""The Tiki-Taka family: gradients accumulate on a second device array A, then move into C.

Every analog weight matrix C (the model's own tile, the only one used in forward and
backward) gets a partner array A of the same shape, built with the same device backend,
preset and mapping (``AnalogMatrix(zeros, C.config)``), starting at weight 0. Each step:

1. **A update** (all variants): the proposed change ``lr_a * dW`` is written onto A exactly
   as the "analog-sgd" rule writes a weight array (stochastically rounded pulse counts,
   at most 31 per cell; the device's own physics, soft bounds included, decides what each
   pulse does);
2. **transfers**: one every ``transfer_every`` input vectors (``units_in_mbatch=False``,
   the default) or mini-batches (``units_in_mbatch=True``), as aihwkit counts them; the
   trainer tells the rule how many input vectors are behind each step's gradient
   (:meth:`UpdateRule.begin_step`). Each transfer reads ``reads_per_transfer`` consecutive
   lines of A, in turn and wrapping around, with a one-hot vector through the array
   (``transfer_columns``: one input's weights, aihwkit's "column", with a forward product;
   else one output's, with a backward product), read noise and converters included, then:

   - ``tiki-taka`` (TTv1, Gokmen & Haensch 2020): ``C_line += transfer_lr * A_line``,
     written onto C as stochastically rounded pulses like step 1;
   - ``tiki-taka-v2`` (TTv2, Gokmen 2021; aihwkit BufferedTransferCompound): a digital
     filter H (one float per weight) accumulates ``transfer_lr * A_line``; where
     ``|H|`` reaches ``threshold`` steps of C, one pulse is written to C in the sign of H
     (at most one per cell and transfer, aihwkit's ``desired_bl = 1``), and H is then
     multiplied by ``momentum`` (``forget_buffer=True``, aihwkit's default) or reduced by
     ``(1 - momentum)`` times what was written (``forget_buffer=False``);
   - ``c-tiki-taka`` (c-TTv2, Rasch et al. 2023; aihwkit ChoppedTransferCompound): TTv2
     plus a chopper, a sign per line: A receives ``chopper * lr_a * dW``, the line read is
     multiplied by its chopper again (undoing it) before entering H, and after each read
     the line's chopper flips with probability ``chop_prob``. A's own drift (e.g. towards
     a soft-bounds symmetry point) then averages out of H instead of being transferred.

The transfers of one step are read and written together (lines are distinct within one
read; more reads than lines in one step go in turns), after the step's A update: aihwkit
interleaves them with the per-vector updates of A, which differs by at most one
mini-batch of A's change. Writes take the library's trusted path (``checked=True``):
dense whole-matrix forms when ``rule.dense`` (GPU: no host synchronisation), sorted
index forms on the CPU. The transfer schedule is counted on the host from the batch
sizes alone, so it never waits for the device.

A's writes, reads and conversions are counted by A's devices and tiles like C's; the
ledger books them as array "A" and C's as array "C" (``device_arrays``). Randomness (the
rounding draws and chopper flips) comes from the rule's own stream; A's device noise from
A's devices' streams. ``state()`` holds A's arrays, H, the choppers and the transfer
counters, so a resumed run continues exactly.
"""

from __future__ import annotations

import math

import numpy as np

from .analog_sgd import DEFAULT_MAX_PULSES, AnalogSGDRule
from .base import UpdateRule, check_number

MIN_TRANSFER_EVERY = 0.01  # vectors (or mini-batches) between transfers
MAX_READS_PER_TRANSFER = 1024  # lines read per transfer (a tile's lines are read in passes)


def _check_int(name, value, low=1, high=None):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be a whole number >= {low}, got {value!r}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be a whole number <= {high}, got {value!r}")
    return int(value)


def _check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return bool(value)


class TikiTakaRule(UpdateRule):
    """TTv1: see the module docstring.

    transfer_every: input vectors (or mini-batches, ``units_in_mbatch``) between transfers
    (> 0; fractions give several transfers per vector or batch).
    units_in_mbatch: count ``transfer_every`` in mini-batches instead of input vectors.
    transfer_lr: weight change of C per unit of A read, per transfer (absolute); ``None``
    (default) = the optimiser's current learning rate (aihwkit: transfer_lr 1 scaled by it).
    lr_a: scale of the proposed change written onto A (relative: aihwkit's fast_lr with
    scale_fast_lr, the TransferCompound default since aihwkit PR #764).
    fast_lr: when > 0, A's learning rate in absolute terms (aihwkit's fast_lr without
    scale_fast_lr): A receives ``lr_a * fast_lr / lr * dW``, i.e. ``fast_lr`` times the
    optimiser's step direction, whatever the optimiser's learning rate; 0 = A follows the
    optimiser's learning rate (aihwkit's encoding too).
    reads_per_transfer: lines of A read and transferred per transfer.
    transfer_columns: read one input's weights (True) or one output's (False).
    """

    name = "tiki-taka"
    weight_array = "C"
    flops_per_weight = 3  # rounding decision on A (scale, floor, compare)

    default_fast_lr = 0.0

    def __init__(self, transfer_every: float = 1.0, transfer_lr: float | None = None, lr_a: float = 1.0,
                 reads_per_transfer: int = 1, transfer_columns: bool = True, units_in_mbatch: bool = False,
                 fast_lr: float | None = None):
        super().__init__()
        self.fast_lr = check_number("fast_lr", self.default_fast_lr if fast_lr is None else fast_lr, positive=False)
        if self.fast_lr < 0:
            raise ValueError(f"fast_lr must be >= 0 (0: A follows the optimiser's learning rate), got {fast_lr!r}")
        self.transfer_every = check_number("transfer_every", transfer_every)
        if self.transfer_every < MIN_TRANSFER_EVERY:  # each transfer is a read: more would not finish
            raise ValueError(f"transfer_every must be >= {MIN_TRANSFER_EVERY} (at most {1 / MIN_TRANSFER_EVERY:.0f} "
                             f"transfers per vector), got {transfer_every!r}")
        self.transfer_lr = None if transfer_lr is None else check_number("transfer_lr", transfer_lr)
        self.lr_a = check_number("lr_a", lr_a)
        self.reads_per_transfer = _check_int("reads_per_transfer", reads_per_transfer, high=MAX_READS_PER_TRANSFER)
        self.transfer_columns = _check_bool("transfer_columns", transfer_columns)
        self.units_in_mbatch = _check_bool("units_in_mbatch", units_in_mbatch)
        self.a: dict[str, object] = {}  # matrix name -> A (an AnalogMatrix)
        self.counters: dict[str, np.ndarray] = {}  # matrix name -> host [steps, vectors, next line]
        self._pulses = AnalogSGDRule(DEFAULT_MAX_PULSES)  # stochastic pulse counts, on this rule's stream

    def params(self) -> dict:
        return {"transfer_every": self.transfer_every, "units_in_mbatch": self.units_in_mbatch,
                "transfer_lr": self.transfer_lr, "lr_a": self.lr_a, "fast_lr": self.fast_lr,
                "reads_per_transfer": self.reads_per_transfer, "transfer_columns": self.transfer_columns}

    # ------------------------------------------------------------------ arrays
    def attach(self, model, compute) -> None:
        from ..nn.analog import AnalogMatrix

        super().attach(model, compute)
        self._pulses.attach(model, compute)  # shares this rule's random stream
        self.a, self.counters = {}, {}
        for key, (name, p) in enumerate(model.named_parameters()):
            if not p.analog:
                continue
            if p.tile.exact is not None:
                raise ValueError(f"{self.name}: matrix {name!r} is in exact (digital) mode; Tiki-Taka needs device arrays")
            zeros = compute.xp.zeros(p.tile.shape, dtype=np.float32)
            self.a[name] = AnalogMatrix(zeros, p.tile.config, compute.spawn(key + 1))
            self.counters[name] = np.zeros(3, dtype=np.int64)
            self._init_state(name, p.tile)

    def device_arrays(self) -> dict[str, list]:
        return {"A": list(self.a.values())}

    def _init_state(self, name, tile) -> None:
        """Per-matrix digital state beyond the counters (H, choppers)."""

    def _lines(self, tile) -> int:
        return tile.shape[0] if self.transfer_columns else tile.shape[1]

    def _lr(self, key: str) -> float:
        if self.step_lr is None or self.step_lr <= 0:
            raise ValueError(f"{self.name}: {key} needs the optimiser's learning rate and none was given "
                             "(call rule.begin_step(vectors, lr) before apply, or give {key} as a number)")
        return float(self.step_lr)

    def _transfer_lr(self) -> float:
        return self.transfer_lr if self.transfer_lr is not None else self._lr("transfer_lr")

    def _a_scale(self) -> np.float32:
        """What the proposed change is multiplied by before it is written onto A."""
        if self.fast_lr == 0:
            return np.float32(self.lr_a)
        return np.float32(self.lr_a * self.fast_lr / self._lr("fast_lr"))

    # ------------------------------------------------------------------ one step
    def transfers_due(self, counter) -> int:
        """Transfer events of this step (updates ``counter``: steps and vectors seen)."""
        steps, vectors = int(counter[0]), int(counter[1])
        before, after = (steps, steps + 1) if self.units_in_mbatch else (vectors, vectors + self.step_vectors)
        counter[0], counter[1] = steps + 1, vectors + self.step_vectors
        return math.floor(after / self.transfer_every) - math.floor(before / self.transfer_every)

    def apply(self, name, tile, delta_w):
        a = self.a.get(name)
        if a is None:
            raise KeyError(f"{self.name}: no array A for matrix {name!r} (the rule was attached to another model)")
        stats = self._pulses.apply(name, a, self._to_a(name, delta_w * self._a_scale()))
        counter = self.counters[name]
        reads = self.transfers_due(counter) * self.reads_per_transfer
        n_lines = self._lines(tile)
        line = int(counter[2])
        while reads > 0:  # lines are distinct within one read-out
            k = min(reads, n_lines)
            rows = (line + np.arange(k)) % n_lines
            stats += self._transfer(name, tile, a, rows)
            line, reads = (line + k) % n_lines, reads - k
        counter[2] = line
        return stats

    def _to_a(self, name, delta_w):
        """The change A receives (c-TTv2 multiplies it by the choppers)."""
        return delta_w

    def _read(self, a, rows):
        """Lines ``rows`` of A through the array (one-hot products): shape (len(rows), line length)."""
        n_in = a.shape[0] if self.transfer_columns else a.shape[1]
        onehot = np.zeros((len(rows), n_in), dtype=np.float32)
        onehot[np.arange(len(rows)), rows] = 1
        onehot = self.compute.asarray(onehot)  # an upload, no wait
        return a.forward(onehot, checked=True) if self.transfer_columns else a.backward(onehot, checked=True)

    def _dense(self, tile, rows, values):
        """A matrix of ``tile``'s shape holding ``values`` (lines x line length) at lines ``rows``, 0 elsewhere."""
        xp = self.xp
        full = xp.zeros(tile.shape, dtype=values.dtype)
        r = xp.asarray(rows, dtype=xp.int64)
        if self.transfer_columns:
            full[r] = values
        else:
            full[:, r] = values.T
        return full

    def _flat_index(self, tile, rows):
        """Flat weight indices (host) of lines ``rows`` of ``tile``, shape (len(rows), line length)."""
        n_out = tile.shape[1]
        r = np.asarray(rows, dtype=np.int64)[:, None]
        if self.transfer_columns:
            return r * n_out + np.arange(n_out, dtype=np.int64)[None, :]
        return np.arange(tile.shape[0], dtype=np.int64)[None, :] * n_out + r

    def _transfer(self, name, tile, a, rows):
        change = np.float32(self._transfer_lr()) * self._read(a, rows)
        if self.dense:
            return self._pulses.apply(name, tile, self._dense(tile, rows, change))
        xp = self.xp
        index = self._flat_index(tile, rows).reshape(-1)
        order = np.argsort(index)  # a wrapped-around read lists its lines out of order
        index, flat = xp.asarray(index[order]), change.reshape(-1)[xp.asarray(order)]
        dg = flat * np.float32(1.0 / tile.r_wg_per_us)
        n = self._pulses.counts(dg, tile.step_us())
        keep = xp.flatnonzero(n)
        signs = xp.where(dg[keep] > 0, 1, -1).astype(xp.int8)
        return tile.pulse(index[keep], n[keep], signs, checked=True)  # sorted unique, counts > 0

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, np.ndarray]:
        out = super().state()
        for name, counter in self.counters.items():
            out[f"count.{name}"] = counter.copy()
        for name, a in self.a.items():
            for key, arr in a.state().items():
                out[f"A.{name}.{key}"] = arr
        return out

    def load_state(self, state: dict) -> None:
        mine = {k: v for k, v in state.items() if not k.startswith(("A.", "count."))}
        parts = {name: {k[len(f"A.{name}.") :]: v for k, v in state.items() if k.startswith(f"A.{name}.")}
                 for name in self.a}
        missing = [name for name, part in parts.items() if not part or f"count.{name}" not in state]
        if missing:
            raise KeyError(f"rule {self.name!r} state has no array A or transfer counters for {missing}")
        known = {f"A.{name}.{k}" for name, part in parts.items() for k in part} | {f"count.{n}" for n in self.a}
        unknown = [k for k in state if k.startswith(("A.", "count.")) and k not in known]
        if unknown:
            raise KeyError(f"rule {self.name!r} state has unexpected entries {unknown[:3]}")
        counters = {}
        for name in self.a:
            c = np.asarray(state[f"count.{name}"], dtype=np.int64)
            if c.shape != (3,) or (c < 0).any():
                raise ValueError(f"rule {self.name!r} state: transfer counters of {name!r} must be 3 whole numbers >= 0")
            counters[name] = c.copy()
        backups = {name: a.state() for name, a in self.a.items()}
        try:
            for name, a in self.a.items():
                a.load_state(parts[name])
            super().load_state(mine)
        except Exception:
            for name, a in self.a.items():
                a.load_state(backups[name])
            raise
        self.counters = counters


class TikiTakaV2Rule(TikiTakaRule):
    """TTv2: TTv1 with a digital filter H between A and C and threshold transfer.

    threshold: |H| (in steps of C) at which one pulse is written to C (aihwkit thres_scale).
    momentum: the fraction of H kept after a pulse was written (aihwkit BufferedTransferCompound 0.1).
    forget_buffer: after a pulse, H becomes ``momentum * H`` (True, aihwkit's default) rather
    than ``H - (1 - momentum) * written`` (False).
    Other parameters as :class:`TikiTakaRule`.
    """

    name = "tiki-taka-v2"
    words_per_weight = 1  # H
    default_momentum = 0.1

    def __init__(self, transfer_every: float = 1.0, transfer_lr: float | None = None, lr_a: float = 1.0,
                 reads_per_transfer: int = 1, transfer_columns: bool = True, units_in_mbatch: bool = False,
                 fast_lr: float | None = None, threshold: float = 1.0, momentum: float | None = None,
                 forget_buffer: bool = True):
        super().__init__(transfer_every, transfer_lr, lr_a, reads_per_transfer, transfer_columns, units_in_mbatch,
                         fast_lr)
        self.threshold = check_number("threshold", threshold)
        momentum = self.default_momentum if momentum is None else momentum
        self.momentum = check_number("momentum", momentum, positive=False)
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum is the fraction of H kept after a transfer and must lie in [0, 1), got {momentum!r}")
        self.forget_buffer = _check_bool("forget_buffer", forget_buffer)

    def params(self) -> dict:
        return {**super().params(), "threshold": self.threshold, "momentum": self.momentum,
                "forget_buffer": self.forget_buffer}

    def _init_state(self, name, tile) -> None:
        super()._init_state(name, tile)
        self.arrays[f"H.{name}"] = self.xp.zeros(tile.shape, dtype=np.float32)

    def _line_sign(self, name, rows):
        """Multiplier of each read line before it enters H (c-TTv2: its chopper)."""
        return None

    def _transfer(self, name, tile, a, rows):
        xp = self.xp
        h_all = self.arrays[f"H.{name}"]
        r = xp.asarray(rows, dtype=xp.int64)
        read = self._read(a, rows)
        sign = self._line_sign(name, r)
        if sign is not None:
            read = read * sign[:, None]
        h = (h_all[r] if self.transfer_columns else h_all[:, r].T) + np.float32(self._transfer_lr()) * read
        th = np.float32(self.threshold * tile.step_us() * tile.r_wg_per_us)
        fire = xp.abs(h) >= th  # one pulse at most (aihwkit desired_bl = 1)
        steps = xp.where(fire, xp.where(h > 0, np.float32(1), np.float32(-1)), np.float32(0))
        if self.forget_buffer:
            h = xp.where(fire, h * np.float32(self.momentum), h)
        else:
            h = h - steps * np.float32((1 - self.momentum) * th)
        if self.transfer_columns:
            h_all[r] = h
        else:
            h_all[:, r] = h.T
        signs = steps.astype(xp.int8)
        if self.dense:  # whole matrices: 0 pulses off the fired cells, signs +-1 everywhere
            full = self._dense(tile, rows, steps)
            return tile.pulse(None, (full != 0).astype(xp.int64), xp.where(full < 0, -1, 1).astype(xp.int8),
                              checked=True)
        index = self._flat_index(tile, rows).reshape(-1)
        order = np.argsort(index)
        index, o = xp.asarray(index[order]), xp.asarray(order)
        fire, signs = fire.reshape(-1)[o], signs.reshape(-1)[o]
        where = xp.flatnonzero(fire)
        return tile.pulse(index[where], xp.ones(where.shape, dtype=xp.int64), signs[where], checked=True)


class ChoppedTikiTakaRule(TikiTakaV2Rule):
    """c-TTv2: TTv2 with a random sign chopper per line of A.

    chop_prob: probability that a line's chopper flips after the line is read (aihwkit in_chop_prob).
    Other parameters as :class:`TikiTakaV2Rule`; defaults of aihwkit's ChoppedTransferCompound:
    momentum 0 and an absolute fast_lr of 1.
    """

    name = "c-tiki-taka"
    flops_per_weight = 4  # rounding decision plus the chopper sign
    default_momentum = 0.0
    default_fast_lr = 1.0

    def __init__(self, transfer_every: float = 1.0, transfer_lr: float | None = None, lr_a: float = 1.0,
                 reads_per_transfer: int = 1, transfer_columns: bool = True, units_in_mbatch: bool = False,
                 fast_lr: float | None = None, threshold: float = 1.0, momentum: float | None = None,
                 forget_buffer: bool = True, chop_prob: float = 0.1):
        super().__init__(transfer_every, transfer_lr, lr_a, reads_per_transfer, transfer_columns, units_in_mbatch,
                         fast_lr, threshold, momentum, forget_buffer)
        self.chop_prob = check_number("chop_prob", chop_prob, positive=False)
        if not 0 <= self.chop_prob <= 1:
            raise ValueError(f"chop_prob is a probability and must lie in [0, 1], got {chop_prob!r}")

    def params(self) -> dict:
        return {**super().params(), "chop_prob": self.chop_prob}

    def _init_state(self, name, tile) -> None:
        super()._init_state(name, tile)
        self.arrays[f"chop.{name}"] = self.xp.ones(self._lines(tile), dtype=np.float32)

    def _to_a(self, name, delta_w):
        chop = self.arrays[f"chop.{name}"]
        return delta_w * (chop[:, None] if self.transfer_columns else chop[None, :])

    def _line_sign(self, name, rows):
        chop = self.arrays[f"chop.{name}"]
        sign = chop[rows]
        flip = self.compute.uniform((rows.shape[0],)) < np.float32(self.chop_prob)
        chop[rows] = self.xp.where(flip, -sign, sign)
        return sign
