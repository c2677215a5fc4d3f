"""The device protocol: what an array of analog cells does, and nothing more.

:class:`Device` holds the true conductance of every cell (uS), per-cell parameters drawn
at creation (device-to-device spread, stuck cells), and the counters. Its public methods
validate their input completely before touching any state, so a bad call raises and leaves
the device exactly as it was. A backend subclasses it and fills in the physics hooks:

- ``_init_cells()``: draw per-cell parameters into ``self.cell`` and the initial state;
- ``_pulse(g, idx, counts, signs)``: new conductances of the selected cells after pulses
  (cells given 0 pulses may be among them: return anything finite for those, it is discarded);
- ``_update(g, idx, delta_us)``: new conductances and pulse counts for a requested change
  (default: translate into whole pulses with the declared step, then ``_pulse``); the count
  may be a Python int when every cell gets the same (an analog write: 1);
- ``_program(g, idx, targets_us)``: closed-loop write-verify result;
- ``declared_step_us`` / ``declared_write_noise_us``: what the spec promises, per state;
- ``_drift(g, age_s, seconds)``: conductances after ``seconds`` more of relaxation, for
  backends that declare the "drift" capability;
- ``_read_noise_rel()``: relative read-noise std now (scalar, or per cell when it depends on
  the state or on the time since the last write).

Time: the core keeps the simulated time ``time_s`` (seconds since the array was made) and
each cell's last-write time ``written_at_s``. Every write form (``pulse``, ``update``,
``pulse_probabilistic``, ``program``) sets the clock of exactly the cells it wrote to the
current time; nothing else touches it. Only :meth:`Device.drift` advances time, so
training (which never calls it) happens at one instant and a cell's age
``time_s - written_at_s`` is the time since it was last written. Both are part of
:meth:`Device.state`.

Selected cells are always handled as 1-D gathers (``idx`` are flat indices), so a sparse
update touches only its cells and untouched cells stay bit-identical.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar, cast

import attrs
import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .arraytypes import Array, ArrayModule, BoolArray, Float32Array, Float64Array, Int8Array, Int64Array, Shape
from .compute import Compute
from .spec import DRIFT, READ_NOISE, DeviceSpec

_T = TypeVar("_T")
#: a conductance bound: one number for every cell, or one per selected cell (float32, uS)
Bound = np.float32 | Float32Array

UP, DOWN = 1, -1


_HOST = (int, float, np.generic, np.ndarray)  # values already on the host (numpy)


@attrs.define(eq=False)
class Counters:
    """Per-cell wear and whole-array totals. Arrays live on the device's namespace
    (numpy, or cupy on a GPU), of the device's shape (rows, cols)."""

    pulses: Int64Array  # int64 per cell: every pulse applied (open loop and programming)
    writes: Int64Array  # int64 per cell: write events (times the cell was selected)
    cell_reads: int = 0  # cell reads (a product over B vectors reads every cell B times)
    products: int = 0  # vector products, forward and transposed
    # J by kind: open-loop pulses, closed-loop programming, reads of products, verify reads
    energy_j: dict[str, float] = attrs.field(factory=lambda: {"write": 0.0, "program": 0.0, "read": 0.0, "verify": 0.0})
    # running totals over all cells, so a caller can take the difference across one
    # operation without gathering per-cell counters (not part of the saved state)
    events: int = 0  # write events
    pulse_total: int = 0  # pulses
    # totals still on the device (GPU): (field, 0-d array) added by :func:`settle`, so a
    # write never waits for the device; host (numpy) values are added at once
    pending: list[tuple[str, Any]] = attrs.field(factory=list, repr=False)

    @classmethod
    def zeros(cls, xp: Any, shape: Shape) -> Counters:
        """Zero counters for an array of ``shape`` on the array module ``xp`` (numpy or cupy)."""
        return cls(xp.zeros(shape, dtype=xp.int64), xp.zeros(shape, dtype=xp.int64))

    def add(self, field: str, value: Any) -> None:
        """Add ``value`` to ``events``, ``pulse_total`` or ``energy_j[<key>]`` (field "energy_j.<key>").

        A device array (cupy) is kept pending until :func:`settle`; anything else is added now."""
        if isinstance(value, (int, float, np.generic, np.ndarray)):
            self._apply(field, value)
        else:
            self.pending.append((field, value))

    def add_write(self, events: Any, pulses: Any, category: str, energy_j: Any) -> None:
        """One write's ``events``, ``pulses`` and energy (J) of ``category``: :meth:`add` three times."""
        if isinstance(pulses, _HOST) and isinstance(events, _HOST) and isinstance(energy_j, _HOST):
            self.events += int(events)
            self.pulse_total += int(pulses)
            self.energy_j[category] = self.energy_j.get(category, 0.0) + float(energy_j)
        else:
            self.add("events", events)
            self.add("pulse_total", pulses)
            self.add(f"energy_j.{category}", energy_j)

    def _apply(self, field: str, value: Any) -> None:
        if field.startswith("energy_j."):
            key = field[len("energy_j.") :]
            self.energy_j[key] = self.energy_j.get(key, 0.0) + float(value)
        else:
            setattr(self, field, getattr(self, field) + int(value))

    @property
    def total_energy_j(self) -> float:
        """Energy of every kind added up, J."""
        return float(sum(self.energy_j.values()))


def settle(xp: Any, counters: Sequence[Counters], extra: Sequence[Any] = ()) -> list[float]:
    """Bring every pending device total of ``counters`` to the host in ONE transfer.

    ``extra`` are more values (0-d arrays or numbers) to fetch in the same transfer; their
    host values are returned (floats), in order. On numpy nothing is pending and nothing waits."""
    host_types = (int, float, np.generic, np.ndarray)
    if all(isinstance(v, host_types) for v in extra) and not any(c.pending for c in counters):
        return [float(v) for v in extra]  # numpy: nothing to wait for
    pending = [(c, f, v) for c in counters for f, v in c.pending]
    device = [v for v in extra if not isinstance(v, host_types)]
    values = [v for _, _, v in pending] + device
    host = xp.stack([xp.asarray(v, dtype=np.float64).reshape(()) for v in values]).get().tolist()
    for c in counters:
        c.pending.clear()
    for (c, f, _), v in zip(pending, host):
        c._apply(f, round(v) if f in ("events", "pulse_total") else v)
    fetched = iter(host[len(pending) :])
    return [float(v) if isinstance(v, (int, float, np.generic, np.ndarray)) else next(fetched) for v in extra]


class Device:
    """An array of ``shape = (rows, cols)`` cells of one technology.

    Inputs drive rows and outputs are column currents: ``forward(x) = x @ G`` with
    ``x`` of shape (batch, rows), ``backward(d) = d @ G.T`` with ``d`` (batch, cols).
    Conductances ``G`` (``self.g``) are float32 in uS. Arrays are numpy, or cupy on a GPU:
    ``self.xp`` is the matching module and ``self.compute`` draws random numbers; where a
    type says ``NDArray`` it means either.

    Hooks a backend implements (docs/writing-a-backend.md, "The device: the physics hooks").
    The base class validates input, gathers the selected cells, commits results and counts
    pulses, writes, reads and energy; the hooks only compute. In the write hooks, ``n`` is the
    number of selected cells and

    - ``g``: float32 (n,), their current conductances, uS;
    - ``idx``: int64 (n,), their flat indices into the device, sorted, no repeats;
    - ``counts``: int64 (n,), pulses per cell, >= 0 (0 only on the internal path);
    - ``signs``: int8 (n,), +1 (SET, up) or -1 (RESET, down);
    - ``delta_us`` / ``targets_us``: float32 (n,), requested change / target, uS;
    - ``direction``: ``UP`` (+1) or ``DOWN`` (-1).

    ``_init_cells() -> None``
        Draw per-cell parameters into ``self.cell`` (arrays of the device's shape, names
        listed in ``cell_fields`` so they are saved). Default: none.
    ``_pulse(g, idx, counts, signs) -> float32 (n,) uS``
        New conductances after ``counts`` pulses of ``signs``. Required.
    ``_update(g, idx, delta_us) -> (float32 (n,) uS, int64 (n,) pulses, or an int for all)``
        Realise requested changes. Default: the nearest whole number of declared steps
        (capped by ``max_update_pulses()``), then ``_pulse``.
    ``_program(g, idx, targets_us) -> float32 (n,) uS``
        Closed-loop write-verify result. Default: target + ``program_noise_us`` noise, clipped.
    ``declared_step_us(g, direction) -> float32, g's shape, uS``
        Mean |dG| of one pulse from state ``g`` (any shape). Default: ``step_us`` x asymmetry.
    ``declared_write_noise_us(g, direction) -> float32, g's shape, uS``
        Std of one pulse's error from state ``g``. Default: ``write_noise_us``.
    ``window_at(idx) -> (low, high) uS``
        Per-cell conductance bounds (float32 scalars or (n,) arrays). Default: the spec window.
    ``max_update_pulses() -> int | None``
        The most pulses one ``update`` may give a cell. Default: None (no cap).
    ``_drift(g, age_s, seconds) -> float32 (rows, cols) uS``
        Capability "drift": conductances after ``seconds`` (float, s) more of relaxation;
        ``g`` float32 (rows, cols) uS, ``age_s`` float64 (rows, cols) s since each cell's write.
    ``_read_noise_rel() -> float or float32 (rows, cols)``
        Relative std of read noise now (dimensionless). Default: the spec's ``read_noise_rel``
        when "read-noise" is declared, else 0.

    Capability hooks (only for devices that declare them): ``pulse_probabilistic``
    ("native-probabilistic"), ``switching_probability`` and ``current_for_probability``
    ("switching-law").
    """

    #: set by subclasses: names of per-cell parameter arrays kept in ``self.cell``
    cell_fields: tuple[str, ...] = ()
    #: True for backends whose hooks the library may drive through the internal path
    #: (:meth:`_write_internal`, ``_product(..., checked=True)``): inputs validated once by the
    #: caller, no re-validation, no host synchronisation. First-party backends set it; any
    #: other backend keeps the validating public API (and conformance tests through it).
    internal_path = False

    def __init__(self, spec: DeviceSpec, shape: Iterable[int], compute: Compute) -> None:
        if not isinstance(spec, DeviceSpec):
            raise TypeError(f"spec must be a DeviceSpec, got {type(spec).__name__}")
        shape = tuple(int(s) for s in shape)
        if len(shape) != 2 or min(shape) < 1:
            raise ValueError(f"a device array has shape (rows, cols) with both >= 1, got {shape}")
        self.spec = spec
        self.shape: tuple[int, int] = (shape[0], shape[1])
        self.compute = compute
        self.xp: ArrayModule = compute.xp
        self.g: Float32Array = self.xp.full(shape, (spec.g_min_us + spec.g_max_us) / 2, dtype=np.float32)
        self.cell: dict[str, Array] = {}
        self.counters = Counters.zeros(self.xp, shape)
        self.time_s = 0.0  # simulated time, s (advanced only by drift)
        self.written_at_s: Float64Array = self.xp.zeros(shape, dtype=np.float64)  # per-cell last write, s
        self._init_cells()

    # ------------------------------------------------------------------ physics hooks
    def _init_cells(self) -> None:
        """Hook: draw per-cell parameters into ``self.cell`` (default: none).

        Each is an array of the device's shape (rows, cols), drawn through ``self.compute``;
        list their names in ``cell_fields`` so :meth:`state` saves them."""

    def _pulse(self, g: Float32Array, idx: Int64Array, counts: Int64Array, signs: Int8Array) -> Float32Array:
        """Hook (required): conductances of cells ``idx`` (currently ``g``) after ``counts`` pulses of ``signs``.

        ``g`` float32 (n,) uS; ``idx`` int64 (n,) flat indices, sorted, unique; ``counts``
        int64 (n,) >= 0; ``signs`` int8 (n,) +1 (SET, up) or -1 (RESET, down). Returns float32
        (n,) in uS, new arrays (never modify the inputs)."""
        raise NotImplementedError

    def max_update_pulses(self) -> int | None:
        """Hook: most pulses one update may give a cell (an int, or None: no cap); more could not move it further."""
        return None

    def _update(self, g: Float32Array, idx: Int64Array, delta_us: Float32Array) -> tuple[Float32Array, Int64Array | int]:
        """Hook: (new g, pulses per cell) for a requested change; default: whole nominal pulses.

        ``g`` float32 (n,) uS; ``idx`` int64 (n,); ``delta_us`` float32 (n,) uS. Returns float32
        (n,) uS and int64 (n,) pulse counts (or one Python int for every cell: an analog write is 1)."""
        counts, signs = self.pulses_for(g, delta_us, max_pulses=self.max_update_pulses())
        return self._pulse_moved(g, idx, counts, signs), counts

    def _pulse_moved(self, g: Float32Array, idx: Int64Array, counts: Int64Array, signs: Int8Array) -> Float32Array:
        """``_pulse`` applied where ``counts > 0``; the other cells keep ``g``."""
        return self._where_moved(counts, g, self._pulse, idx, counts, signs)

    def _where_moved(self, counts: Array, g: Float32Array, physics: Callable[..., Float32Array],
                     *per_cell: Array) -> Float32Array:
        """``physics(g, *per_cell)`` for the cells with ``counts > 0``; the other cells keep ``g``.

        ``per_cell`` arrays hold one entry per cell along their last axis. On the host only the
        moved cells are gathered (a mask costs nothing there); on a GPU every cell goes through
        the physics and a ``where`` keeps the unmoved ones, so nothing waits for the device."""
        xp = self.xp
        if self.compute.is_gpu:
            return cast(Float32Array, xp.where(counts > 0, physics(g, *per_cell), g))
        moved = xp.flatnonzero(counts)
        if moved.size == counts.size:
            return physics(g, *per_cell)
        new = g.copy()
        if moved.size:
            new[moved] = physics(g[moved], *(xp.take(a, moved, axis=-1) for a in per_cell))
        return new

    def _program(self, g: Float32Array, idx: Int64Array, targets_us: Float32Array) -> Float32Array:
        """Hook: write-verify result, float32 (n,) uS; default: the target plus the declared programming error.

        ``g`` float32 (n,) uS; ``idx`` int64 (n,); ``targets_us`` float32 (n,) uS, inside the window."""
        noise = self.compute.normal(targets_us.shape) * np.float32(self.spec.program_noise_us)
        lo, hi = self.window_at(idx)
        return self.xp.clip(targets_us + noise, lo, hi)

    def declared_step_us(self, g: Float32Array, direction: int) -> Float32Array:
        """Hook: nominal |dG| of one pulse (uS) from state ``g`` in ``direction`` (+1 up, -1 down).

        ``g`` float32 of any shape, uS; returns float32 of ``g``'s shape, uS (0 where a cell cannot move)."""
        bias = 1.0 + direction * self.spec.asymmetry
        return self.xp.full(self.xp.shape(g), self.spec.step_us * bias, dtype=np.float32)

    def _declared_step_toward(self, g: Float32Array, signs: Int8Array) -> Float32Array:
        """Declared step of each cell in its own direction (``signs`` +1/-1 per cell).

        Default: both directions, then the one asked for; a backend whose
        ``declared_step_us`` takes a per-cell direction array may override it to pay once."""
        return self.xp.where(signs > 0, self.declared_step_us(g, UP), self.declared_step_us(g, DOWN))

    def declared_write_noise_us(self, g: Float32Array, direction: int = UP) -> Float32Array:
        """Hook: std of the error of one pulse (or one analog write) from state ``g``, uS.

        ``g`` float32 of any shape, uS; returns float32 of ``g``'s shape, uS.

        ``direction`` (+1 up, -1 down) matters for backends whose noise differs by
        direction (e.g. noise proportional to a nonlinear step); the default ignores it."""
        return self.xp.full(self.xp.shape(g), self.spec.write_noise_us, dtype=np.float32)

    def window_at(self, idx: Int64Array) -> tuple[Bound, Bound]:
        """Hook: (low, high) conductance bounds of cells ``idx``, uS; the spec window by default.

        ``idx`` int64 (n,); each bound is a float32 scalar or a float32 (n,) array."""
        return np.float32(self.spec.g_min_us), np.float32(self.spec.g_max_us)

    def pulse_probabilistic(self, probabilities: ArrayLike, signs: ArrayLike, index: ArrayLike | None = None) -> None:
        """One pulse per selected cell that takes effect with the given probability.

        For cells that switch stochastically by nature (capability
        "native-probabilistic", e.g. MTJs whose pulse amplitude/width sets P_sw), the
        pulse itself realises the probability; no digital random number is needed.
        Cells with probability 0 are untouched. Dense or sparse form as :meth:`pulse`.
        """
        raise NotImplementedError(
            f"{self.spec.name} has no native probabilistic switching (capability 'native-probabilistic' absent)"
        )

    def switching_probability(self, current_ua: ArrayLike, direction: int) -> Float32Array:
        """Population-averaged switching probability of one pulse at ``current_ua`` (uA).

        Declared by devices with capability "switching-law" (e.g. MTJs); others raise."""
        raise NotImplementedError(f"{self.spec.name} declares no switching law (capability 'switching-law' absent)")

    def current_for_probability(self, probability: ArrayLike, direction: int) -> Float32Array:
        """Pulse current (uA) whose population-averaged switching probability is ``probability``.

        Declared by devices with capability "switching-law"; others raise."""
        raise NotImplementedError(f"{self.spec.name} declares no switching law (capability 'switching-law' absent)")

    def _drift(self, g: Float32Array, age_s: Float64Array, seconds: float) -> Float32Array:
        """Hook (capability "drift"): conductances (all cells, device shape) after ``seconds`` more of relaxation.

        ``g`` float32 (rows, cols) uS; ``age_s`` float64 (rows, cols) s; ``seconds`` float, s.
        Returns float32 (rows, cols) uS.

        ``g`` is the current state and ``age_s`` each cell's time since its last write
        (before this step), both of the device's shape. Return new conductances inside
        each cell's window; the core advances the clock afterwards. A law should compose:
        relaxing for a then b should give (in distribution) what a + b gives.
        """
        raise NotImplementedError(f"{self.spec.name} does not model drift (capability 'drift' absent)")

    def _read_noise_rel(self) -> float | Float32Array:
        """Hook: relative std of read noise now (dimensionless): a float, or float32 (rows, cols).

        Default: the spec's ``read_noise_rel`` when "read-noise" is declared, else 0. A
        backend whose read noise depends on the state or on the cells' age overrides it
        (it may use :meth:`age_s`).
        """
        return self.spec.read_noise_rel if self.spec.has(READ_NOISE) else 0.0

    def age_s(self) -> Float64Array:
        """Seconds since each cell was last written (float64, the device's shape)."""
        return np.float64(self.time_s) - self.written_at_s

    def drift(self, seconds: float) -> None:
        """Let the stored state relax for ``seconds`` and advance the simulated time.

        Needs capability "drift". The backend's law sees each cell's age (time since its
        last write); reads and products afterwards see the drifted conductances. No write
        is counted and no clock is reset. ``seconds`` must be a finite number >= 0.
        """
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float, np.integer, np.floating)):
            raise TypeError(f"seconds must be a number, got {type(seconds).__name__}")
        seconds = float(seconds)
        if not np.isfinite(seconds) or seconds < 0:
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
        if not self.spec.has(DRIFT):
            raise NotImplementedError(f"{self.spec.name} does not model drift (capability 'drift' absent)")
        if seconds == 0:
            return
        new = self.xp.asarray(self._drift(self.g, self.age_s(), seconds), dtype=np.float32)
        if tuple(new.shape) != self.shape:
            raise ValueError(f"{self.spec.name}: _drift returned shape {tuple(new.shape)}, the device has {self.shape}")
        if not bool(self.xp.isfinite(new).all()):
            raise FloatingPointError(f"{self.spec.name}: drift produced non-finite conductances")
        self.g = new
        self.time_s += seconds

    # ------------------------------------------------------------------ helpers
    def pulses_for(self, g: Float32Array, delta_us: Float32Array, max_pulses: int | None = None) -> tuple[Int64Array, Int8Array]:
        """Whole pulses (count, sign) that best realise ``delta_us`` from ``g`` nominally.

        The count is rounded to the nearest integer, so a request under half a step writes
        nothing: every pulsed backend behaves alike, and an update rule that wants small
        changes realised must make them whole pulses itself (as EaPU does).
        ``max_pulses`` caps the count. Where the declared step is 0 (a cell at its bound
        in that direction) the count is 0: no number of pulses realises the request.
        """
        xp = self.xp
        signs = xp.where(delta_us >= 0, UP, DOWN).astype(xp.int8)
        step = self._declared_step_toward(g, signs)
        ratio = xp.where(step > 0, xp.abs(delta_us) / xp.maximum(step, np.float32(1e-12)), np.float32(0))
        if max_pulses is not None:
            ratio = xp.minimum(ratio, np.float32(max_pulses))
        counts = xp.rint(ratio)
        return counts.astype(xp.int64), signs

    # ------------------------------------------------------------------ validation
    def _as_array(self, name: str, value: ArrayLike, dtype: DTypeLike = np.float32) -> Array:
        try:
            arr = self.xp.asarray(value, dtype=dtype)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be numeric: {exc}") from exc
        return arr

    def _check_finite(self, name: str, arr: Array) -> None:
        if not bool(self.xp.isfinite(arr).all()):
            raise ValueError(f"{name} contains NaN or inf; pass finite values")

    def _select(self, name: str, values: Array, index: ArrayLike | None) -> tuple[Int64Array, Array]:
        """Turn (dense values) or (values at flat index) into (idx, values) 1-D arrays."""
        xp = self.xp
        if index is None:
            if tuple(values.shape) != self.shape:
                raise ValueError(f"{name} has shape {tuple(values.shape)}, the device has {self.shape}")
            flat = values.reshape(-1)
            idx = xp.flatnonzero(flat)
            return idx, flat[idx]
        idx = xp.asarray(index)
        if idx.ndim != 1 or values.ndim != 1 or idx.shape[0] != values.shape[0]:
            raise ValueError(
                f"index and {name} must be 1-D of one length, got {tuple(idx.shape)} and {tuple(values.shape)}"
            )
        if idx.size and idx.dtype.kind not in "iu":
            raise ValueError(f"index must hold integers, got dtype {idx.dtype}")
        size = self.shape[0] * self.shape[1]
        if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= size):
            raise ValueError(f"index out of range for a device of {size} cells")
        if idx.size > 1 and not bool((idx[1:] > idx[:-1]).all()):  # sorted unique (the usual case) is O(n)
            ordered = xp.sort(idx)
            if bool((ordered[1:] == ordered[:-1]).any()):
                raise ValueError("index lists a cell more than once")
        keep = values != 0
        return idx[keep].astype(xp.int64), values[keep]

    def _select_signed(self, name: str, values: Array, signs: ArrayLike, index: ArrayLike | None) -> tuple[Int64Array, Array, Int8Array]:
        """:meth:`_select` plus each selected cell's sign (int8), which must be +1 or -1."""
        xp = self.xp
        signs = xp.broadcast_to(self._as_array("signs", signs, dtype=np.float64), values.shape)
        if bool(((signs != 1) & (signs != -1) & (values != 0)).any()):
            raise ValueError(f"signs must be +1 or -1 for every cell with nonzero {name}")
        idx, selected = self._select(name, values, index)
        s = signs.reshape(-1)[idx] if index is None else signs[values != 0]
        return idx, selected, s.astype(xp.int8)

    # ------------------------------------------------------------------ operations
    def program(self, targets_us: ArrayLike, mask: ArrayLike | None = None) -> None:
        """Closed-loop write-verify of cells to target conductances (uS).

        ``mask`` (bool, same shape) selects cells; by default every cell is programmed.
        Targets must be finite and inside the spec window.
        """
        xp = self.xp
        targets = self._as_array("targets_us", targets_us)
        if tuple(targets.shape) != self.shape:
            raise ValueError(f"targets_us has shape {tuple(targets.shape)}, the device has {self.shape}")
        self._check_finite("targets_us", targets)
        lo, hi = self.spec.g_min_us, self.spec.g_max_us
        if bool((targets < lo).any()) or bool((targets > hi).any()):
            raise ValueError(
                f"targets_us outside the window [{lo}, {hi}] uS "
                f"(min {float(targets.min()):.4g}, max {float(targets.max()):.4g}); clip or rescale them"
            )
        if mask is None:
            idx = xp.arange(self.g.size)
        else:
            mask = xp.asarray(mask)
            if tuple(mask.shape) != self.shape or mask.dtype != bool:
                raise ValueError(f"mask must be a bool array of shape {self.shape}")
            idx = xp.flatnonzero(mask)
        flat = self.g.reshape(-1)
        old = flat[idx]
        new = self._program(old, idx, targets.reshape(-1)[idx])
        self._commit(idx, new)
        n_pulses = int(round(self.spec.program_pulses))
        signs = xp.where(targets.reshape(-1)[idx] >= old, UP, DOWN).astype(xp.int8)  # SET toward a higher target
        self._count_writes(idx, xp.full(idx.shape, n_pulses, dtype=xp.int64), "program", signs=signs)
        reads = n_pulses * int(idx.size)
        self.counters.cell_reads += reads
        self.counters.energy_j["program"] += reads * self.spec.energy_per_read_j

    def pulse(self, counts: ArrayLike, signs: ArrayLike, index: ArrayLike | None = None) -> None:
        """Open-loop pulses: ``counts`` (>= 0 integers) in direction ``signs`` (+1 / -1).

        Dense form: arrays of the device's shape (cells with count 0 are untouched).
        Sparse form: 1-D ``counts`` and ``signs`` at flat cell ``index``.
        """
        xp = self.xp
        counts = self._as_array("counts", counts, dtype=np.float64)
        self._check_finite("counts", counts)
        if bool((counts < 0).any()):
            raise ValueError("counts must be >= 0 (give the direction in signs)")
        if bool((counts != xp.rint(counts)).any()):
            raise ValueError("counts must be whole numbers of pulses")
        idx, n, s = self._select_signed("counts", counts, signs, index)
        if idx.size == 0:
            return
        flat = self.g.reshape(-1)
        new = self._pulse(flat[idx], idx, n.astype(xp.int64), s)
        self._commit(idx, new)
        self._count_writes(idx, n.astype(xp.int64), "write", signs=s)

    def update(self, delta_us: ArrayLike, index: ArrayLike | None = None) -> None:
        """Request conductance changes (uS); the device realises them with its own physics.

        Cells whose request is exactly 0 are not touched. Pulsed devices realise a request
        as the nearest whole number of declared steps (see :meth:`pulses_for`); devices with
        capability "analog-write" write it in one event. Dense form: an array of the
        device's shape. Sparse form: 1-D ``delta_us`` at flat cell ``index``.
        """
        delta = self._as_array("delta_us", delta_us)
        self._check_finite("delta_us", delta)
        idx, d = self._select("delta_us", delta, index)
        if idx.size == 0:
            return
        flat = self.g.reshape(-1)
        new, n = self._update(flat[idx], idx, d)
        self._commit(idx, new)
        n = self.xp.full(idx.shape, n, dtype=self.xp.int64) if isinstance(n, int) else n.astype(self.xp.int64)
        signs = self.xp.where(d > 0, UP, DOWN).astype(self.xp.int8)
        self._count_writes(idx, n, "write", written=n > 0, signs=signs)

    def read_cells(self, index: ArrayLike) -> Float32Array:
        """Verify read of the cells at flat ``index`` (1-D ints): their conductances as the
        periphery senses them (read noise redrawn), uS. Counted as one read of each cell and
        booked as "verify" energy (closed-loop programming by an update rule)."""
        xp = self.xp
        idx = xp.asarray(index)
        if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
            raise ValueError(f"index must be a 1-D array of flat cell numbers, got shape {tuple(idx.shape)}, dtype {idx.dtype}")
        size = self.shape[0] * self.shape[1]
        if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= size):
            raise ValueError(f"index out of range for a device of {size} cells")
        n = int(idx.size)
        c = self.counters
        c.cell_reads += n
        c.add("energy_j.verify", n * self.spec.energy_per_read_j)
        cells = idx.astype(xp.int64)
        return self._with_read_noise(self.g.reshape(-1)[cells], cells)

    def read_masked(self, mask: BoolArray) -> Float32Array:
        """Verify read of the cells where ``mask`` (bool, flat over every cell) is set, in the
        dense form (no host synchronisation): all conductances as sensed, uS, of which only the
        masked ones are counted as reads and booked as "verify" energy."""
        n = mask.sum()
        c = self.counters
        c.add("cell_reads", n)
        c.add("energy_j.verify", n * self.spec.energy_per_read_j)
        return self._with_read_noise(self.g.reshape(-1))

    def read(self) -> Float32Array:
        """Conductances as the periphery senses them (read noise redrawn), uS."""
        self._count_reads(1)
        return self._with_read_noise(self.g)

    def forward(self, x: ArrayLike) -> Float32Array:
        """Batched product ``x @ G`` (uS * input units), x of shape (batch, rows) or (rows,)."""
        return self._product(x, transposed=False)

    def backward(self, d: ArrayLike) -> Float32Array:
        """Batched transposed product ``d @ G.T``, d of shape (batch, cols) or (cols,)."""
        return self._product(d, transposed=True)

    def peek(self) -> Float32Array:
        """The exact stored conductances (a copy). Simulation-only: not counted, no noise."""
        return self.g.copy()

    # ------------------------------------------------------------------ products
    def _product(self, x: Any, transposed: bool, checked: bool = False, offset_us: float | np.float32 | None = None) -> Float32Array:
        """The product; ``checked=True`` (the library's own callers) skips the input checks.

        ``x``: a float32 array of shape (batch, n) or (n,) when ``checked``, else anything array-like.

        ``offset_us`` (internal path): the product of ``G - offset_us`` (a reference column's
        current folded in, from a copy cached between writes); read noise is still that of G."""
        xp = self.xp
        if not checked:
            x = self._as_array("input", x)
            need = self.shape[1] if transposed else self.shape[0]
            if x.ndim not in (1, 2) or x.shape[-1] != need:
                raise ValueError(f"input must have shape (batch, {need}) or ({need},), got {tuple(x.shape)}")
            self._check_finite("input", x)
        x2 = x.reshape(1, -1) if x.ndim == 1 else x
        y: Float32Array
        if checked and self.internal_path:  # G - offset and the noise variance cached between writes
            w, var = self._product_operands(offset_us)
            y = x2 @ (w.T if transposed else w)
            if var is not None:
                y += xp.sqrt((x2 * x2) @ (var.T if transposed else var)) * self.compute.normal(y.shape)
            self._count_reads(x2.shape[0])
            return cast(Float32Array, y[0] if x.ndim == 1 else y)
        g = self.g.T if transposed else self.g
        y = x2 @ g
        if offset_us is not None:
            y -= np.float32(offset_us) * x2.sum(axis=1, keepdims=True)
        rel: Any = self._read_noise_rel()  # a number or a per-cell array
        if np.ndim(rel) != 0 or rel > 0:
            # i.i.d. cell noise N(0, (rel*G)^2) per product, summed over the inputs:
            # the output-referred std is sqrt(x^2 @ (rel*G)^2), drawn per vector.
            # ``rel`` may be per cell (state- or age-dependent read noise).
            sg = g * (np.float32(rel) if np.ndim(rel) == 0 else (rel.T if transposed else rel).astype(np.float32))
            y += xp.sqrt((x2 * x2) @ (sg * sg)) * self.compute.normal(y.shape)
        self._count_reads(x2.shape[0])
        return cast(Float32Array, y[0] if x.ndim == 1 else y)

    def _cached(self, name: str, key: object, make: Callable[[], _T]) -> _T:
        """``make()`` cached under ``name`` until a write (``_store``) or a new ``self.g``.

        Only for the internal path: first-party backends change conductances only through
        ``_store`` or by assigning ``self.g``, so the cache cannot go stale."""
        cache = self.__dict__.setdefault("_cache", {})
        full = self._cache_key(key)
        hit = cache.get(name)
        if hit is not None and hit[0][0] is full[0] and hit[0][1:] == full[1:]:
            return cast(_T, hit[1])
        value = make()
        cache[name] = (full, value)
        return value

    def _cache_key(self, key: object) -> tuple[Float32Array, int, float, object]:
        """What a :meth:`_cached` value depends on: this array's conductances (identity and write
        version), the clock, and ``key``."""
        return (self.g, self.__dict__.get("_version", 0), getattr(self, "time_s", 0.0), key)

    def _read_var(self) -> Float32Array:
        """Read-noise variance of every cell, ``(rel * G)^2`` (uS^2), cached between writes
        and clock moves (``rel`` from :meth:`_read_noise_rel`, a number or per cell)."""

        def make() -> Float32Array:
            rel: Any = self._read_noise_rel()  # a number or a per-cell array
            rel2 = np.float32(rel) ** 2 if np.ndim(rel) == 0 else (rel * rel).astype(np.float32)
            return (self.g * self.g) * rel2

        return self._cached("read_var", None, make)

    def _product_operands(self, offset_us: float | np.float32 | None = None) -> tuple[Float32Array, Float32Array | None]:
        """(``G - offset_us`` or G, read-noise variance or None when reads are noiseless now),
        cached between writes (internal path only). A sparse write of a noiseless array updates
        the cached copy in place (:meth:`_store`) instead of recomputing it."""
        key = None if offset_us is None else float(offset_us)
        cache = self.__dict__.get("_cache")
        hit = cache.get("operands") if cache else None
        if hit is not None:  # the common case, checked as _cached does without its call
            held = hit[0]
            if held[0] is self.g and held[1] == self.__dict__.get("_version", 0) and held[2] == self.time_s and held[3] == key:
                return cast("tuple[Float32Array, Float32Array | None]", hit[1])

        def make() -> tuple[Float32Array, Float32Array | None]:
            rel: Any = self._read_noise_rel()  # a number or a per-cell array
            var = None if np.ndim(rel) == 0 and not rel > 0 else self._read_var()
            return (self.g if key is None else self.g - np.float32(key)), var

        return self._cached("operands", key, make)

    def _pair_product(self, other: Device, x: Float32Array, transposed: bool) -> Float32Array:
        """``x @ (G_self - G_other)`` for a differential pair in ONE product (internal path).

        Both arrays' read noises are independent Gaussians per output, so their difference is
        one Gaussian with the summed variance: ``sqrt(x^2 @ (var_self + var_other))``, drawn
        once (from this array's stream). Both arrays are counted as read."""
        xp = self.xp
        diff, var = self._pair_operands(other)
        y = x @ (diff.T if transposed else diff)
        if var is not None:
            y += xp.sqrt((x * x) @ (var.T if transposed else var)) * self.compute.normal(y.shape)
        self._count_reads(x.shape[0])
        other._count_reads(x.shape[0])
        return y

    def _pair_operands(self, other: Device) -> tuple[Float32Array, Float32Array | None]:
        """(``G_self - G_other``, the summed read-noise variance of both or None when neither is
        noisy), cached between writes of either array (internal path; see :meth:`_pair_product`)."""
        cache = self.__dict__.get("_cache")
        hit = cache.get("pair") if cache else None
        if hit is not None:  # the common case, checked as _cached does without building the key
            held, theirs = hit[0], hit[0][3]  # theirs: _pair_key(other) when cached
            if (held[0] is self.g and held[1] == self.__dict__.get("_version", 0) and held[2] == self.time_s
                    and theirs[0] == id(other.g) and theirs[1] == other.__dict__.get("_version", 0)
                    and theirs[2] == getattr(other, "time_s", 0.0)):
                return hit[1][0], hit[1][1]
        noisy = [d for d in (self, other) if d.spec.read_noise_rel > 0 and d.spec.has(READ_NOISE)]

        def make() -> tuple[Float32Array, Float32Array | None, Float32Array, list[np.float32] | None]:
            var: Float32Array | None = None
            for d in noisy:
                var = d._read_var() if var is None else var + d._read_var()
            # a sparse write may patch the cached arrays in place where they are this pair's own
            # and follow from G by a scalar relative noise (see _pair_patch): keep each rel^2
            rels = [d._read_noise_rel() for d in noisy]
            own = len(noisy) != 1 and all(np.ndim(r) == 0 for r in rels)
            return self.g - other.g, var, other.g, [np.float32(r) ** 2 for r in rels] if own else None

        diff, var = self._cached("pair", self._pair_key(other), make)[:2]
        return diff, var

    @staticmethod
    def _pair_key(other: Device) -> tuple[int, int, float]:
        # id() is safe: the cached value holds other.g, so the id cannot be reused meanwhile
        return (id(other.g), other.__dict__.get("_version", 0), getattr(other, "time_s", 0.0))

    def _pair_cached(self, other: Device) -> Any:
        """The cached pair product arrays if current and patchable (call before a pair write), else None."""
        hit = self.__dict__.get("_cache", {}).get("pair")
        if hit is None or hit[1][3] is None:
            return None
        full = self._cache_key(self._pair_key(other))
        return hit[1] if hit[0][0] is full[0] and hit[0][1:] == full[1:] else None

    def _pair_patch(self, other: Device, cached: Any, where: Array, g_self: Float32Array, g_other: Float32Array) -> None:
        """After a write of the pair's cells ``where`` (now ``g_self`` / ``g_other``, uS), bring the
        cached product arrays of :meth:`_pair_cached` up to date at those cells only (the same
        arithmetic as a rebuild, so bit-identical) instead of rebuilding them on the next product."""
        diff, var, _, rel2 = cached
        diff.reshape(-1)[where] = g_self - g_other
        if var is not None:  # both arrays noisy, each with its scalar rel^2
            var.reshape(-1)[where] = (g_self * g_self) * rel2[0] + (g_other * g_other) * rel2[1]
        self.__dict__["_cache"]["pair"] = (self._cache_key(self._pair_key(other)), cached)

    def _with_read_noise(self, g: Float32Array, cells: Int64Array | None = None) -> Float32Array:
        """``g`` as sensed: each cell plus Gaussian read noise of std ``rel * |g|``.

        ``g`` holds every cell (the device's shape, or flat), or the cells at flat ``cells``;
        a per-cell ``rel`` (:meth:`_read_noise_rel`) is taken at the same cells."""
        rel: Any = self._read_noise_rel()  # a number or a per-cell array
        if np.ndim(rel) == 0:
            if rel > 0:
                return g + self.xp.abs(g) * np.float32(rel) * self.compute.normal(g.shape)
            return g.copy()
        rel = rel.astype(np.float32).reshape(-1)
        rel = rel[cells] if cells is not None else rel.reshape(g.shape)
        return cast(Float32Array, g + self.xp.abs(g) * rel * self.compute.normal(g.shape))

    # ------------------------------------------------------------------ internal path
    def _write_internal(self, op: str, idx: Int64Array | None, values: Array, signs: Int8Array | None = None) -> tuple[Any, Any]:
        """Write without re-validating: the library's own callers (AnalogMatrix, rules).

        ``op`` "update" (``values`` = requested change, uS) or "pulse" (``values`` = int64
        counts, ``signs`` int8 +1/-1). ``idx``: sorted unique flat int64 indices with
        ``values`` at them, or None for the dense form (``values`` flat over every cell,
        0 = untouched), which never synchronises with a GPU. Goes through the same hooks,
        store and bookkeeping (:meth:`_count_writes`) as the public methods; returns the
        (cells written, pulses) of this write, as numbers or 0-d device arrays.
        """
        xp = self.xp
        flat = self.g.reshape(-1)
        where: Int64Array | slice
        if idx is None:
            where, cells, g = slice(None), self._every_cell(), flat
        else:
            where, cells, g = idx, idx, flat[idx]
        if op == "update":
            new, n = self._update(g, cells, values)
            if isinstance(n, int) and idx is not None:  # one pulse (write event) for every cell
                self._store(where, new)
                signs = xp.where(values > 0, UP, DOWN).astype(xp.int8) if self.spec.declares_set_reset else None
                return self._count_writes(where, n, "write", signs=signs)
            n = xp.zeros(values.shape, dtype=xp.int64) + n if isinstance(n, int) else n.astype(xp.int64)
            if idx is None:
                n = xp.where(values != 0, n, 0)
            signs = xp.where(values > 0, UP, DOWN).astype(xp.int8) if self.spec.declares_set_reset else None
        elif op == "pulse":
            n = values
            new = self._pulse(g, cells, n, cast(Int8Array, signs))  # "pulse" always comes with signs
        else:
            raise ValueError(f"unknown internal write {op!r}")
        written = n > 0
        self._store(where, xp.where(written, new, g))
        return self._count_writes(where, n, "write", written=written, signs=signs)

    def _every_cell(self) -> Int64Array:
        """Flat indices of every cell (cached: the shape never changes)."""
        if getattr(self, "_all_cells", None) is None:
            self._all_cells: Int64Array | None = self.xp.arange(self.shape[0] * self.shape[1], dtype=self.xp.int64)
        return cast(Int64Array, self._all_cells)

    # ------------------------------------------------------------------ bookkeeping
    def _commit(self, idx: Int64Array, new_values: ArrayLike) -> None:
        new_values = self.xp.asarray(new_values, dtype=np.float32)
        if not bool(self.xp.isfinite(new_values).all()):
            raise FloatingPointError(f"{self.spec.name}: physics produced non-finite conductances")
        self._store(idx, new_values)

    def _store(self, idx: Int64Array | slice, new_values: Array) -> None:
        """Put new conductances of cells ``idx`` (flat indices, or ``slice(None)`` for all) in place."""
        self.g.reshape(-1)[idx] = new_values
        version = self.__dict__.get("_version", 0)
        self._version = version + 1  # invalidates what _cached holds ...
        cache: Any = self.__dict__.get("_cache")
        hit = cache.get("operands") if cache else None
        if hit is not None and hit[0][1] == version and hit[0][3] is not None and hit[1][1] is None:
            if hit[0][0] is self.g and hit[0][2] == self.time_s:
                # ... except a noiseless array's G - offset for the products, which follows the write
                hit[1][0].reshape(-1)[idx] = new_values - np.float32(hit[0][3])
                cache["operands"] = ((self.g, version + 1, *hit[0][2:]), hit[1])

    def _count_writes(
        self, idx: Int64Array | slice, pulses: Int64Array | int, category: str, written: BoolArray | None = None, signs: Int8Array | None = None
    ) -> tuple[Any, Any]:
        """Book a write: per-cell pulses and write events, running totals, energy, clocks.

        Every write form (public and internal) ends here. ``idx``: flat indices or
        ``slice(None)``; ``written`` (bool per entry of ``idx``) marks the cells actually
        written (default: all of them); a cell given no pulse is not a write. This is also
        where each written cell's last-write time is set to now (and only theirs).
        Returns (cells written, pulses) as numbers or 0-d device arrays (no host sync)."""
        if self.time_s != 0.0:  # at time 0 every clock reads 0 already (0 <= written_at_s <= time_s)
            clock = self.written_at_s.reshape(-1)
            if written is None:
                clock[idx] = self.time_s
            else:
                clock[idx] = self.xp.where(written, np.float64(self.time_s), clock[idx])
        c = self.counters
        c.pulses.reshape(-1)[idx] += pulses
        if isinstance(pulses, int):  # the same count for every cell of a sparse idx
            c.writes.reshape(-1)[idx] += 1
            events = int(cast(Int64Array, idx).size)
            n = pulses * events
        elif written is None:
            c.writes.reshape(-1)[idx] += 1
            events = int(pulses.size)
            n = pulses.sum()
        else:
            c.writes.reshape(-1)[idx] += written
            events = written.sum()
            n = pulses.sum()
        spec = self.spec
        if signs is None or not spec.declares_set_reset:
            energy = n * spec.energy_per_pulse_j
        else:  # SET (+1) and RESET (-1) pulses at their declared energies
            n_set = self.xp.where(self.xp.asarray(signs) > 0, pulses, 0).sum()
            energy = n_set * spec.pulse_energy_j(UP) + (n - n_set) * spec.pulse_energy_j(DOWN)
        c.add_write(events, n, category, energy)
        return events, n

    def _count_reads(self, vectors: int) -> None:
        cells = vectors * self.shape[0] * self.shape[1]
        self.counters.cell_reads += cells
        self.counters.products += vectors
        self.counters.energy_j["read"] += cells * self.spec.energy_per_read_j

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, np.ndarray[Any, Any]]:
        """Everything needed to restore this device, as host numpy arrays (no pickle).

        The arrays are copies: later writes to the device do not change an exported state."""

        def to_np(x: Array) -> np.ndarray[Any, Any]:
            return np.array(self.compute.to_numpy(x), copy=True)

        settle(self.xp, [self.counters])
        c = self.counters
        out = {
            "g_us": to_np(self.g),
            "pulses": to_np(c.pulses),
            "writes": to_np(c.writes),
            "totals": np.array([c.cell_reads, c.products], dtype=np.int64),
            "energy_j": np.array([c.energy_j[k] for k in sorted(c.energy_j)], dtype=np.float64),
            "energy_keys": np.array(sorted(c.energy_j)),
            "spec_json": np.array(json.dumps(self.spec.to_dict(), sort_keys=True)),
            "time_s": np.array([self.time_s], dtype=np.float64),
            "written_at_s": to_np(self.written_at_s),
        }
        for name in self.cell_fields:
            out[f"cell.{name}"] = to_np(self.cell[name])
        if not self.compute.is_gpu:
            out["rng_state"] = np.array(self.compute.rng_state())
        return out

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`state` export; checks everything before changing anything.

        A state of another spec, shape or dtype is refused with ValueError (a missing key
        with KeyError) and the device is left exactly as it was."""
        xp = self.xp
        needed = ["g_us", "pulses", "writes", "totals", "energy_j", "energy_keys"]
        needed += [f"cell.{n}" for n in self.cell_fields]
        missing = [k for k in needed if k not in state]
        if missing:
            raise KeyError(f"device state is missing {missing}")
        timed = [k for k in ("time_s", "written_at_s") if k in state]
        if len(timed) == 1:
            raise KeyError(f"device state has {timed[0]!r} without its partner ('time_s' and 'written_at_s' go together)")
        arrays = {k: np.asarray(state[k]) for k in needed}
        for key in ["g_us", "pulses", "writes"] + timed[1:] + [f"cell.{n}" for n in self.cell_fields]:
            if tuple(np.shape(state[key])) != self.shape:
                raise ValueError(f"state[{key!r}] has shape {np.shape(state[key])}, the device has {self.shape}")
        kinds = {"g_us": np.dtype(np.float32), "pulses": np.dtype(np.int64), "writes": np.dtype(np.int64)}
        kinds.update({f"cell.{n}": np.dtype(self.cell[n].dtype) for n in self.cell_fields})
        for key, dtype in kinds.items():
            if arrays[key].dtype != dtype:
                raise ValueError(f"state[{key!r}] has dtype {arrays[key].dtype}, the device stores {dtype}")
        if arrays["totals"].shape != (2,) or arrays["totals"].dtype.kind not in "iu":
            raise ValueError(f"state['totals'] must be 2 integers (cell reads, products), got {arrays['totals']!r}")
        keys = [str(k) for k in arrays["energy_keys"].reshape(-1).tolist()]
        energy = arrays["energy_j"].reshape(-1)
        if energy.shape != (len(keys),) or energy.dtype.kind != "f" or not np.isfinite(energy).all():
            raise ValueError("state['energy_j'] must hold one finite float per name in state['energy_keys']")
        if "spec_json" in state:
            saved = json.loads(str(state["spec_json"]))
            if saved != json.loads(json.dumps(self.spec.to_dict(), sort_keys=True)):
                raise ValueError("state was saved from a device with a different spec")
        g = xp.asarray(arrays["g_us"], dtype=np.float32)
        self._check_finite("state['g_us']", g)
        time_s, written_at = 0.0, xp.zeros(self.shape, dtype=np.float64)  # states from before the clock
        if timed:
            if np.shape(state["time_s"]) != (1,):
                raise ValueError(f"state['time_s'] must hold one time (shape (1,)), got shape {np.shape(state['time_s'])}")
            time_s = float(np.asarray(state["time_s"], dtype=np.float64)[0])
            written_at = xp.asarray(state["written_at_s"], dtype=np.float64)
            if not (np.isfinite(time_s) and time_s >= 0):
                raise ValueError(f"state['time_s'] must be a finite time >= 0 s, got {time_s!r}")
            self._check_finite("state['written_at_s']", written_at)
            if bool((written_at > time_s).any()) or bool((written_at < 0).any()):
                raise ValueError("state['written_at_s'] holds write times outside [0, time_s]")
        rng_state = str(state["rng_state"]) if "rng_state" in state else None
        if rng_state is not None:
            json.loads(rng_state)  # malformed text fails here, before anything changes
        new_g = g.copy()
        new_cell = {n: xp.asarray(arrays[f"cell.{n}"]).copy() for n in self.cell_fields}
        totals = [int(v) for v in arrays["totals"].tolist()]
        pulses = xp.asarray(arrays["pulses"], dtype=xp.int64).copy()
        writes = xp.asarray(arrays["writes"], dtype=xp.int64).copy()
        counters = Counters(
            pulses,
            writes,
            totals[0],
            totals[1],
            dict(zip(keys, (float(v) for v in energy.tolist()))),
            events=int(writes.sum()),  # the running totals are the per-cell sums
            pulse_total=int(pulses.sum()),
        )
        if rng_state is not None and not self.compute.is_gpu:
            self.compute.set_rng_state(rng_state)  # the last step that can fail
        self.g, self.cell, self.counters = new_g, new_cell, counters
        self.time_s, self.written_at_s = time_s, written_at.copy()
        self._all_cells = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec.name} {self.shape[0]}x{self.shape[1]} on {self.compute.device}>"
