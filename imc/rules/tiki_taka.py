"""The Tiki-Taka family: gradients accumulate on a second device array A, then move into C.

Every analog weight matrix C (the model's own tile, the only one used in forward and
backward) gets a partner array A of the same shape, built with the same device backend,
preset and mapping (``AnalogMatrix(zeros, C.config)``), starting at weight 0. Each step:

1. **A update** (all variants): the proposed change ``lr_a * dW`` is written onto A the way
   the "analog-sgd" rule writes a weight array (aihwkit's stochastic pulse-train outer
   product on average): each cell gets ``|dW| / step_A`` pulses, stochastically rounded, at
   most 31 (the device's own physics, soft bounds included, decides what each pulse does);
2. **transfer** every ``transfer_every`` steps (a fraction: several per step), of
   ``reads_per_transfer`` consecutive lines of A, in turn and wrapping around. A line is read
   from A with a one-hot vector through the array (``transfer_columns``: one input's
   weights, aihwkit's "column", with a forward product; else one output's, with a
   backward product), read noise and converters included, then:

   - ``tiki-taka`` (TTv1, Gokmen & Haensch 2020): ``C_line += transfer_lr * A_line``,
     written onto C as stochastically rounded pulses like step 1;
   - ``tiki-taka-v2`` (TTv2, Gokmen 2021): a digital filter H (one float per weight)
     accumulates ``transfer_lr * A_line``; where ``|H|`` reaches ``threshold`` steps of C, one
     pulse is written to C in the sign of H and H is reduced by one step (at most one pulse
     per cell per transfer, aihwkit's ``desired_BL = 1``; the rest waits in H);
   - ``c-tiki-taka`` (c-TTv2, Rasch et al. 2023): TTv2 plus a chopper, a sign per line:
     A receives ``chopper * lr_a * dW``, the line read is multiplied by its chopper again
     (undoing it) before entering H, and after each read the line's chopper flips with
     probability ``chop_prob``. A's own drift (e.g. towards a soft-bounds symmetry point)
     then averages out of H instead of being transferred.

A's writes, reads and conversions are counted by A's devices and tiles like C's; the
ledger books them as array "A" and C's as array "C" (``device_arrays``). Randomness (the
rounding draws and chopper flips) comes from the rule's own stream; A's device noise from
A's devices' streams. ``state()`` holds A's arrays, H, the choppers and the transfer
positions, so a resumed run continues exactly.
"""

from __future__ import annotations

import numpy as np

from .analog_sgd import DEFAULT_MAX_PULSES, AnalogSGDRule
from .base import UpdateRule, check_number


def _check_int(name, value, low=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be a whole number >= {low}, got {value!r}")
    return int(value)


def _check_bool(name, value):
    if value not in (True, False):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return bool(value)


class TikiTakaRule(UpdateRule):
    """TTv1: see the module docstring.

    transfer_every: steps between transfers (> 0; 0.5 = two transfers per step).
    transfer_lr: weight change of C per unit of A read, per transfer (absolute; aihwkit's
    transfer_lr times the SGD learning rate).
    lr_a: scale of the proposed change written onto A (aihwkit's fast_lr, relative).
    reads_per_transfer: lines of A read and transferred per transfer.
    transfer_columns: read one input's weights (True) or one output's (False).
    """

    name = "tiki-taka"
    weight_array = "C"
    flops_per_weight = 3  # rounding decision on A (scale, floor, compare)

    def __init__(self, transfer_every: float = 1.0, transfer_lr: float = 0.1, lr_a: float = 1.0,
                 reads_per_transfer: int = 1, transfer_columns: bool = True):
        super().__init__()
        self.transfer_every = check_number("transfer_every", transfer_every)
        self.transfer_lr = check_number("transfer_lr", transfer_lr)
        self.lr_a = check_number("lr_a", lr_a)
        self.reads_per_transfer = _check_int("reads_per_transfer", reads_per_transfer)
        self.transfer_columns = _check_bool("transfer_columns", transfer_columns)
        self.a: dict[str, object] = {}  # matrix name -> A (an AnalogMatrix)
        self._pulses = AnalogSGDRule(DEFAULT_MAX_PULSES)  # stochastic pulse counts, on this rule's stream

    def params(self) -> dict:
        return {"transfer_every": self.transfer_every, "transfer_lr": self.transfer_lr, "lr_a": self.lr_a,
                "reads_per_transfer": self.reads_per_transfer, "transfer_columns": self.transfer_columns}

    # ------------------------------------------------------------------ arrays
    def attach(self, model, compute) -> None:
        from ..nn.analog import AnalogMatrix

        super().attach(model, compute)
        self._pulses.attach(model, compute)  # shares this rule's random stream
        self.a = {}
        for key, (name, p) in enumerate(model.named_parameters()):
            if not p.analog:
                continue
            if p.tile.exact is not None:
                raise ValueError(f"{self.name}: matrix {name!r} is in exact (digital) mode; Tiki-Taka needs device arrays")
            zeros = compute.xp.zeros(p.tile.shape, dtype=np.float32)
            self.a[name] = AnalogMatrix(zeros, p.tile.config, compute.spawn(key + 1))
            self._init_state(name, p.tile)

    def device_arrays(self) -> dict[str, list]:
        return {"A": list(self.a.values())}

    def _init_state(self, name, tile) -> None:
        # [steps taken, next line to read]
        self.arrays[f"pos.{name}"] = self.xp.zeros(2, dtype=np.int64)

    def _lines(self, tile) -> int:
        return tile.shape[0] if self.transfer_columns else tile.shape[1]

    # ------------------------------------------------------------------ one step
    def apply(self, name, tile, delta_w):
        a = self.a.get(name)
        if a is None:
            raise KeyError(f"{self.name}: no array A for matrix {name!r} (the rule was attached to another model)")
        stats = self._write_rounded(a, self._to_a(name, delta_w * np.float32(self.lr_a)))
        pos = self.arrays[f"pos.{name}"]
        steps, line = int(pos[0]) + 1, int(pos[1])
        n_lines = self._lines(tile)
        events = int(steps // self.transfer_every) - int((steps - 1) // self.transfer_every)
        for _ in range(events):
            rows = (line + np.arange(min(self.reads_per_transfer, n_lines))) % n_lines
            stats += self._transfer(name, tile, a, rows)
            line = int((line + len(rows)) % n_lines)
        pos[0], pos[1] = steps, line
        return stats

    def _to_a(self, name, delta_w):
        """The change A receives (c-TTv2 multiplies it by the choppers)."""
        return delta_w

    def _read(self, a, rows):
        """Lines ``rows`` of A through the array (one-hot products): shape (len(rows), line length)."""
        xp = self.xp
        n_in = a.shape[0] if self.transfer_columns else a.shape[1]
        onehot = xp.zeros((len(rows), n_in), dtype=np.float32)
        onehot[np.arange(len(rows)), rows] = 1
        return a.forward(onehot) if self.transfer_columns else a.backward(onehot)

    def _flat_index(self, tile, rows):
        """Flat weight indices of lines ``rows`` of ``tile``, shape (len(rows), line length)."""
        xp = self.xp
        n_out = tile.shape[1]
        r = xp.asarray(rows, dtype=xp.int64)[:, None]
        if self.transfer_columns:
            return r * n_out + xp.arange(n_out, dtype=xp.int64)[None, :]
        return xp.arange(tile.shape[0], dtype=xp.int64)[None, :] * n_out + r

    def _transfer(self, name, tile, a, rows):
        index = self._flat_index(tile, rows).reshape(-1)
        change = np.float32(self.transfer_lr) * self._read(a, rows).reshape(-1)
        return self._write_rounded(tile, change, index)

    def _write_rounded(self, tile, delta_w, index=None):
        """Write ``delta_w`` (weights; dense, or at flat ``index``) as analog-sgd's stochastic pulse counts."""
        xp = self.xp
        flat = delta_w.reshape(-1)
        nonzero = xp.flatnonzero(flat)
        dg = flat[nonzero] * np.float32(1.0 / tile.r_wg_per_us)
        n = self._pulses.counts(dg, tile.step_us())
        keep = xp.flatnonzero(n)
        where = nonzero[keep] if index is None else index[nonzero[keep]]
        n, dg = n[keep], dg[keep]
        if index is not None and where.size > 1:
            order = xp.argsort(where)  # a wrapped-around transfer lists its lines out of order
            where, n, dg = where[order], n[order], dg[order]
        return tile.pulse(where, n, xp.where(dg > 0, 1, -1).astype(xp.int8))

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, np.ndarray]:
        out = super().state()
        for name, a in self.a.items():
            for key, arr in a.state().items():
                out[f"A.{name}.{key}"] = arr
        return out

    def load_state(self, state: dict) -> None:
        mine = {k: v for k, v in state.items() if not k.startswith("A.")}
        parts = {name: {k[len(f"A.{name}.") :]: v for k, v in state.items() if k.startswith(f"A.{name}.")}
                 for name in self.a}
        missing = [name for name, part in parts.items() if not part]
        if missing:
            raise KeyError(f"rule {self.name!r} state has no array A for {missing}")
        known = {f"A.{name}.{k}" for name, part in parts.items() for k in part}
        unknown = [k for k in state if k.startswith("A.") and k not in known]
        if unknown:
            raise KeyError(f"rule {self.name!r} state has unexpected entries {unknown[:3]}")
        backups = {name: a.state() for name, a in self.a.items()}
        try:
            for name, a in self.a.items():
                a.load_state(parts[name])
            super().load_state(mine)
        except Exception:
            for name, a in self.a.items():
                a.load_state(backups[name])
            raise


class TikiTakaV2Rule(TikiTakaRule):
    """TTv2: TTv1 with a digital filter H between A and C and threshold transfer.

    threshold: |H| (in steps of C) at which one pulse is written to C (aihwkit thres_scale).
    Other parameters as :class:`TikiTakaRule`.
    """

    name = "tiki-taka-v2"
    words_per_weight = 1  # H

    def __init__(self, transfer_every: float = 1.0, transfer_lr: float = 0.1, lr_a: float = 1.0,
                 reads_per_transfer: int = 1, transfer_columns: bool = True, threshold: float = 1.0):
        super().__init__(transfer_every, transfer_lr, lr_a, reads_per_transfer, transfer_columns)
        self.threshold = check_number("threshold", threshold)

    def params(self) -> dict:
        return {**super().params(), "threshold": self.threshold}

    def _init_state(self, name, tile) -> None:
        super()._init_state(name, tile)
        self.arrays[f"H.{name}"] = self.xp.zeros(tile.shape, dtype=np.float32)

    def _line_sign(self, name, rows):
        """Multiplier of each read line before it enters H (c-TTv2: its chopper)."""
        return None

    def _transfer(self, name, tile, a, rows):
        xp = self.xp
        h = self.arrays[f"H.{name}"].reshape(-1)
        index = self._flat_index(tile, rows)
        read = self._read(a, rows)
        sign = self._line_sign(name, rows)
        if sign is not None:
            read = read * sign[:, None]
        index = index.reshape(-1)
        h[index] += np.float32(self.transfer_lr) * read.reshape(-1)
        th = np.float32(self.threshold * tile.step_us() * tile.r_wg_per_us)
        fire = xp.flatnonzero(xp.abs(h[index]) >= th)
        where = index[fire]
        if where.size > 1:
            where = xp.sort(where)
        signs = xp.where(h[where] > 0, 1, -1).astype(xp.int8)
        h[where] -= signs.astype(np.float32) * th
        return tile.pulse(where, xp.ones(where.shape, dtype=xp.int64), signs)


class ChoppedTikiTakaRule(TikiTakaV2Rule):
    """c-TTv2: TTv2 with a random sign chopper per line of A.

    chop_prob: probability that a line's chopper flips after the line is read (aihwkit in_chop_prob).
    Other parameters as :class:`TikiTakaV2Rule`.
    """

    name = "c-tiki-taka"
    flops_per_weight = 4  # rounding decision plus the chopper sign

    def __init__(self, transfer_every: float = 1.0, transfer_lr: float = 0.1, lr_a: float = 1.0,
                 reads_per_transfer: int = 1, transfer_columns: bool = True, threshold: float = 1.0,
                 chop_prob: float = 0.1):
        super().__init__(transfer_every, transfer_lr, lr_a, reads_per_transfer, transfer_columns, threshold)
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
        sign = chop[rows].copy()
        flip = self.compute.uniform((len(rows),)) < np.float32(self.chop_prob)
        chop[rows] = self.xp.where(flip, -sign, sign)
        return sign
