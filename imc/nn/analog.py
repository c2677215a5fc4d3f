"""Weight matrices stored on device tiles: mapping, tiling, periphery conversions.

An :class:`AnalogMatrix` holds a logical weight matrix ``W`` of shape (inputs, outputs)
on one or more :class:`imc.Device` arrays of at most ``max_tile_rows x max_tile_cols``
cells (inputs drive rows, outputs are column currents). Weights map to conductances with
the ratio ``r_wg_per_us`` (weight per uS):

- "reference" mapping (default for devices without the BOUNDS capability, the EaPU
  paper's setting): ``W = r * (G - G_ref)`` with ``G_ref`` the middle of the nominal
  window (80 uS for the "eapu-paper" memristor, so ``r = 1/80`` maps 0..160 uS to -1..+1).
  The reference column is a fixed, never-written column whose current ``G_ref * sum(x)``
  is subtracted in the periphery; it is modelled as exact.
- "pair" mapping (default for bounded devices): ``W = r * (G+ - G-)`` on two arrays.
  A requested change is written to ONE device of the pair: the one with more headroom in
  the needed direction (raise G+ or lower G- for an increase, the mirror for a decrease),
  decided from the selected cells' stored state (a read-before-write of those cells only).
  On a device with capability "abrupt-reset" (PCM: any down pulse is a RESET to the low
  state) the pair only ever raises conductances: an increase SETs G+, a decrease SETs G-,
  weights are programmed one-sided (the other device of the pair at the low state), and a
  pair where either device has climbed past ``REFRESH_FRACTION`` of the window is refreshed:
  both are read and re-programmed one-sided to the weight they held (Boybat et al., Nat.
  Commun. 2018; Nandakumar et al. 2020). Such devices refuse the "reference" mapping, which
  would need decreases on a single device.

Forward ``x @ W`` and backward ``d @ W.T`` run through ``Device.forward``/``backward``
(read noise included), with optional DAC quantisation of the driven vectors and ADC
quantisation of each tile's sensed outputs (see :mod:`imc.nn.quant`). The digital
periphery computes the weight gradient from the same vectors.

In ``exact`` mode (used by the "ideal" update rule) the matrix is a plain float32 array
with digital products and exact updates: the noiseless upper bound, with no device work.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, cast

import attrs
import numpy as np
from numpy.typing import ArrayLike

from ..arraytypes import Array, ArrayModule, BoolArray, Float32Array, Shape
from ..compute import Compute
from ..device import Device, settle
from ..spec import ABRUPT_RESET, BOUNDS, NATIVE_PROBABILISTIC, DeviceSpec
from .quant import RowQuantizer, levels, quantize_rows

MAPPINGS = ("reference", "pair")
PAPER_R_WG_PER_US = 1.0 / 80.0
#: abrupt-reset pairs are refreshed when a device climbs past this fraction of the window
REFRESH_FRACTION = 0.9


def _optional_positive_int(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{attribute.name} must be a positive integer or None, got {value!r}")


def _optional_bits(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        try:
            levels(value)
        except ValueError as exc:
            raise ValueError(f"{attribute.name}: {exc}") from None


def _optional_positive_float(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{attribute.name} must be a positive finite number or None, got {value!r}")


@attrs.frozen(kw_only=True)
class DeviceSource:
    """The cells a layer's weights live on: a resolved spec and the factory that builds arrays.

    ``factory(spec=..., shape=..., compute=...)`` returns an :class:`imc.Device`; it need not
    be registered anywhere (a backend under development, a conformance target).
    :meth:`from_registry` resolves an installed backend by name, once.
    """

    spec: DeviceSpec = attrs.field(validator=attrs.validators.instance_of(DeviceSpec))
    factory: Callable[..., Device] = attrs.field(validator=attrs.validators.is_callable())
    backend: str = ""  # where it came from, for records only ("" = not from the registry)
    preset: str = ""

    @classmethod
    def from_registry(cls, backend: str = "memristor", preset: str | None = None, **overrides: Any) -> DeviceSource:
        """Resolve an installed backend, preset and spec overrides (unknown names raise a UserError)."""
        from ..registry import get_registry

        info = get_registry().get(backend).info
        spec = info.spec(preset, **overrides)
        return cls(spec=spec, factory=info.factory, backend=backend, preset=preset or info.default_preset)

    def label(self) -> str:
        """``backend:preset`` (e.g. ``memristor:eapu-paper``), or the spec's name when not from the registry."""
        return f"{self.backend}:{self.preset}" if self.backend else self.spec.name

    def create(self, shape: Shape, compute: Compute) -> Device:
        """A device array of ``shape`` cells on ``compute``."""
        return self.factory(spec=self.spec, shape=tuple(shape), compute=compute)


@attrs.frozen(kw_only=True)
class AnalogConfig:
    """How analog layers put their weights on devices: which cells, and the mapping onto them.

    device: a :class:`DeviceSource` (resolved spec + factory, registered or not). When it is
    not given, backend/preset/overrides name an installed backend and are resolved here,
    once (``AnalogConfig(preset="eapu-paper")``); layers never look a backend up by name.
    r_wg_per_us: weight per uS; None = 1/80 for unbounded devices (the paper), and for
    bounded ones ``w_max / window`` (pair; ``2 w_max / window`` with a reference column)
    so the window maps to ``|w| <= w_max``.
    mapping: "reference", "pair" or None (pair when the device declares BOUNDS).
    max_tile_rows / max_tile_cols: largest array; bigger matrices are tiled (None = one array).
    dac_bits / adc_bits: converter resolution (None = ideal, no quantisation).
    """

    device: DeviceSource | None = attrs.field(default=None)
    backend: str = attrs.field(default="memristor", validator=attrs.validators.instance_of(str))
    preset: str | None = attrs.field(default=None)
    overrides: dict[str, Any] = attrs.field(factory=dict, converter=dict, hash=False)
    r_wg_per_us: float | None = attrs.field(default=None, validator=_optional_positive_float)
    w_max: float = attrs.field(default=1.0, converter=float, validator=_optional_positive_float)
    mapping: str | None = attrs.field(default=None, validator=attrs.validators.optional(attrs.validators.in_(MAPPINGS)))
    max_tile_rows: int | None = attrs.field(default=None, validator=_optional_positive_int)
    max_tile_cols: int | None = attrs.field(default=None, validator=_optional_positive_int)
    dac_bits: int | None = attrs.field(default=None, validator=_optional_bits)
    adc_bits: int | None = attrs.field(default=None, validator=_optional_bits)

    def __attrs_post_init__(self) -> None:
        if self.device is None:
            object.__setattr__(self, "device", DeviceSource.from_registry(self.backend, self.preset, **self.overrides))
        elif not isinstance(self.device, DeviceSource):
            raise TypeError(f"device must be an imc.nn.DeviceSource, got {type(self.device).__name__}")

    def spec(self) -> DeviceSpec:
        """The resolved device spec."""
        return cast(DeviceSource, self.device).spec  # resolved in __attrs_post_init__

    def resolved_mapping(self, spec: DeviceSpec) -> str:
        """The mapping in force: the one asked for, else 'pair' for bounded devices and 'reference' otherwise."""
        if self.mapping is not None:
            return self.mapping
        return "pair" if spec.has(BOUNDS) else "reference"

    def resolved_r_wg(self, spec: DeviceSpec) -> float:
        """The weight per uS in force (see ``r_wg_per_us``)."""
        if self.r_wg_per_us is not None:
            return float(self.r_wg_per_us)
        if not spec.has(BOUNDS):
            return PAPER_R_WG_PER_US
        span = spec.range_us if self.resolved_mapping(spec) == "pair" else spec.range_us / 2
        return self.w_max / span


@attrs.define
class WriteStats:
    """Cells written and pulses applied by one operation (from the devices' counters)."""

    cells: int = 0
    pulses: int = 0

    def __iadd__(self, other: WriteStats) -> WriteStats:
        self.cells += other.cells
        self.pulses += other.pulses
        return self


@attrs.define(eq=False)
class _Tile:
    rows: slice
    cols: slice
    devices: list[Device]  # [G] (reference) or [G+, G-] (pair)


def _base_product(dev: Device) -> bool:
    """True when ``dev`` reads through the base class's product and read counting (a subclass
    that overrides them is driven through its own methods, never around them)."""
    kind = type(dev)
    return (kind._product is Device._product and kind._pair_product is Device._pair_product
            and kind._product_operands is Device._product_operands and kind._pair_operands is Device._pair_operands
            and kind._count_reads is Device._count_reads)


class _ProductPlan:
    """What every product of a one-tile matrix on internal-path devices needs, worked out once
    (:meth:`AnalogMatrix._plain_product`): the devices, the converters with their constants,
    each device's read count and energy per vector, and the output scale as a 0-d array."""

    __slots__ = ("dev", "other", "k", "cells", "reads", "dac", "adc", "_xp", "_r", "_scale_for", "_scale")

    def __init__(self, matrix: AnalogMatrix) -> None:
        devices = matrix.tiles[0].devices
        xp, cfg = matrix.xp, matrix.config
        self.dev: Device = devices[0]
        self.other: Device | None = devices[1] if len(devices) == 2 else None  # a pair: G+ - G-
        self.k = len(devices)
        self.cells = self.dev.shape[0] * self.dev.shape[1]  # cells read per vector, each device
        self.reads = [(d, d.spec.energy_per_read_j) for d in devices]
        self.dac = None if cfg.dac_bits is None else RowQuantizer(xp, cfg.dac_bits)
        self.adc = None if cfg.adc_bits is None else RowQuantizer(xp, cfg.adc_bits)
        self._xp, self._r = xp, matrix.r_wg_per_us
        self._scale_for: float | None = None
        self._scale: Array | None = None

    def scale(self, output_scale: float) -> Array:
        """``float32(r_wg_per_us * output_scale)`` as a 0-d array, remade when the gain changes."""
        scale = self._scale
        if scale is None or output_scale != self._scale_for:
            scale = self._scale = self._xp.asarray(np.float32(self._r * output_scale))
            self._scale_for = output_scale
        return scale


class AnalogMatrix:
    """A (inputs, outputs) weight matrix on device tiles; see the module docstring.

    Weights are float32 (dimensionless), conductances float32 in uS, flat weight indices
    int64; arrays are numpy, or cupy on a GPU (``self.xp``)."""

    def __init__(self, weights: ArrayLike, config: AnalogConfig, compute: Compute) -> None:
        xp = compute.xp
        w = xp.asarray(weights, dtype=np.float32)
        if w.ndim != 2:
            raise ValueError(f"an analog matrix needs 2-D weights, got shape {tuple(w.shape)}")
        self.config = config
        self.compute = compute
        self.xp: ArrayModule = xp
        self.shape: tuple[int, int] = (int(w.shape[0]), int(w.shape[1]))
        self.size = self.shape[0] * self.shape[1]
        self.spec = config.spec()
        self.mapping = config.resolved_mapping(self.spec)
        self.r_wg_per_us = config.resolved_r_wg(self.spec)
        self.g_ref_us = np.float32((self.spec.g_min_us + self.spec.g_max_us) / 2)
        self.native_probabilistic = self.spec.has(NATIVE_PROBABILISTIC)
        self.set_only = self.spec.has(ABRUPT_RESET)
        if self.set_only and self.mapping != "pair":
            from ..errors import ConfigValueError

            raise ConfigValueError(
                f"{self.spec.name} resets abruptly (a down pulse takes a cell to its low state), so it cannot hold "
                f"weights with mapping {self.mapping!r}; use mapping = 'pair' (or leave it automatic)"
            )
        self.output_scale = 1.0  # digital gain on the outputs (global drift compensation), 1 = none
        self.refreshes = 0  # cells re-programmed by pair refresh (abrupt-reset devices)
        self.exact: Float32Array | None = None  # float32 weights in exact (digital) mode
        self.conversions = {"dac": 0, "adc": 0}
        self.macs = 0  # analog multiply-accumulates performed (for the digital-equivalent count)
        self.flops = 0  # digital flops of products in exact mode
        self._memo: dict[str, float] = {}  # declared values at mid-window (specs are frozen)
        tr = config.max_tile_rows or self.shape[0]
        tc = config.max_tile_cols or self.shape[1]
        self.tiles: list[_Tile] = []
        key = 0
        for r0 in range(0, self.shape[0], tr):
            for c0 in range(0, self.shape[1], tc):
                rows, cols = slice(r0, min(r0 + tr, self.shape[0])), slice(c0, min(c0 + tc, self.shape[1]))
                tshape = (rows.stop - rows.start, cols.stop - cols.start)
                devices = []
                for _ in range(2 if self.mapping == "pair" else 1):
                    devices.append(cast(DeviceSource, config.device).create(tshape, compute.spawn(key)))
                    key += 1
                self.tiles.append(_Tile(rows, cols, devices))
        self._tile_rows, self._tile_cols = tr, tc
        self._tiles_per_row = -(-self.shape[1] // tc)
        self.program(w)

    def label(self) -> str:
        """Where the weights live, e.g. ``memristor:eapu-paper`` (``... exact`` in exact mode)."""
        name = cast(DeviceSource, self.config.device).label()
        return name + " exact" if self.exact is not None else name

    def __repr__(self) -> str:
        arrays = sum(len(t.devices) for t in self.tiles)
        return (
            f"AnalogMatrix({self.shape[0]} x {self.shape[1]} on {self.label()}, {self.mapping} mapping, "
            f"{len(self.tiles)} tile{'s' if len(self.tiles) != 1 else ''}, {arrays} arrays)"
        )

    # ------------------------------------------------------------------ loading weights
    def targets_us(self, w: Float32Array) -> list[Float32Array]:
        """Conductance targets (per device of a tile) for weights ``w``, clipped to the window."""
        xp, s = self.xp, self.spec
        lo, hi = np.float32(s.g_min_us), np.float32(s.g_max_us)
        g = w * np.float32(1.0 / self.r_wg_per_us)
        if self.mapping == "pair" and self.set_only:  # one-sided: the other device stays low
            zero = np.float32(0)
            return [xp.clip(lo + xp.maximum(g, zero), lo, hi), xp.clip(lo + xp.maximum(-g, zero), lo, hi)]
        if self.mapping == "pair":
            half = g * np.float32(0.5)
            return [xp.clip(self.g_ref_us + half, lo, hi), xp.clip(self.g_ref_us - half, lo, hi)]
        return [xp.clip(self.g_ref_us + g, lo, hi)]

    def program(self, weights: ArrayLike) -> None:
        """Write-verify every cell to represent ``weights`` (initial load or re-programming)."""
        w = self.xp.asarray(weights, dtype=np.float32)
        if tuple(w.shape) != self.shape:
            raise ValueError(f"weights have shape {tuple(w.shape)}, the matrix is {self.shape}")
        if not bool(self.xp.isfinite(w).all()):
            raise ValueError("weights contain NaN or inf")
        if self.exact is not None:
            self.exact = w.copy()
            return
        for tile in self.tiles:
            for dev, target in zip(tile.devices, self.targets_us(w[tile.rows, tile.cols])):
                dev.program(target)

    def leave_exact(self) -> None:
        """Program the exact weights onto the devices once and use the devices from now on
        (the "ideal-then-programmed" deployment: train digitally, write-verify, then read)."""
        if self.exact is None:
            raise RuntimeError("the matrix is not in exact mode")
        w, self.exact = self.exact, None
        self.program(w)

    def set_exact(self, weights: ArrayLike | None = None) -> None:
        """Switch to exact digital weights (the "ideal" rule); default: the current array weights."""
        w = self.peek_weights() if weights is None else self.xp.asarray(weights, dtype=np.float32)
        self.exact = w.copy()

    @property
    def devices(self) -> list[Device]:
        """Every device array of every tile, in tile order."""
        return [d for t in self.tiles for d in t.devices]

    # ------------------------------------------------------------------ reading
    def _weights(self, getter: Callable[[Device], Float32Array]) -> Float32Array:
        if self.exact is not None:
            return self.exact.copy()
        out = self.xp.empty(self.shape, dtype=np.float32)
        r = np.float32(self.r_wg_per_us)
        for tile in self.tiles:
            g = getter(tile.devices[0])
            g = g - (getter(tile.devices[1]) if self.mapping == "pair" else self.g_ref_us)
            out[tile.rows, tile.cols] = g * r
        return out

    def peek_weights(self) -> Float32Array:
        """The weights the cells hold exactly (simulation-only: no read, no noise)."""
        return self._weights(lambda d: d.peek())

    def read_weights(self) -> Float32Array:
        """The weights as the periphery reads them (read noise, counted as reads)."""
        return self._weights(lambda d: d.read())

    def read_at(self, index: ArrayLike) -> Float32Array:
        """Weights at flat ``index`` as verify reads sense them (the cell, or both cells of a
        pair, read once each; counted as "verify" reads on the devices)."""
        if self.exact is not None:
            raise RuntimeError("the matrix is in exact mode; there are no cells to read")
        xp = self.xp
        index = xp.asarray(index, dtype=xp.int64)
        out = xp.empty(index.shape, dtype=np.float32)
        r, c = index // self.shape[1], index % self.shape[1]
        tid = (r // self._tile_rows) * self._tiles_per_row + c // self._tile_cols
        for t, tile in enumerate(self.tiles):
            pos = xp.flatnonzero(tid == t) if len(self.tiles) > 1 else xp.arange(index.size)
            if pos.size:
                width = tile.cols.stop - tile.cols.start
                local = (r[pos] - tile.rows.start) * width + (c[pos] - tile.cols.start)
                g = tile.devices[0].read_cells(local)
                g = g - (tile.devices[1].read_cells(local) if self.mapping == "pair" else self.g_ref_us)
                out[pos] = g * np.float32(self.r_wg_per_us)
        return out

    def read_masked(self, mask: BoolArray) -> Float32Array:
        """Weights as verify reads sense them, dense form: only cells where ``mask`` (bool, the
        matrix shape) is set are counted as reads (values elsewhere are not meaningful)."""
        if self.exact is not None:
            raise RuntimeError("the matrix is in exact mode; there are no cells to read")
        out = self.xp.empty(self.shape, dtype=np.float32)
        for tile in self.tiles:
            m = mask[tile.rows, tile.cols].reshape(-1)
            shape = (tile.rows.stop - tile.rows.start, tile.cols.stop - tile.cols.start)
            g = tile.devices[0].read_masked(m)
            g = g - (tile.devices[1].read_masked(m) if self.mapping == "pair" else self.g_ref_us)
            out[tile.rows, tile.cols] = (g * np.float32(self.r_wg_per_us)).reshape(shape)
        return out

    # ------------------------------------------------------------------ products
    def forward(self, x: Float32Array, *, checked: bool = False) -> Float32Array:
        """``x @ W`` for x of shape (batch, inputs).

        ``checked=True``: the caller vouches that ``x`` is a finite float32 array on this
        compute (the library's layers do; the trainer checks the loss once per step), so
        devices with the internal path skip their per-product checks."""
        return self._product(x, transposed=False, checked=checked)

    def backward(self, d: Float32Array, *, checked: bool = False) -> Float32Array:
        """``d @ W.T`` for d of shape (batch, outputs); ``checked`` as in :meth:`forward`."""
        return self._product(d, transposed=True, checked=checked)

    def _product(self, x: Float32Array, transposed: bool, checked: bool = False) -> Float32Array:
        xp = self.xp
        n_in = self.shape[1] if transposed else self.shape[0]
        if x.ndim != 2 or x.shape[1] != n_in:
            raise ValueError(f"input must have shape (batch, {n_in}), got {tuple(x.shape)}")
        if self.exact is not None:
            w = self.exact.T if transposed else self.exact
            self.flops += 2 * x.shape[0] * w.shape[0] * w.shape[1]
            return x @ (w if w.dtype == x.dtype else w.astype(x.dtype))
        if checked and self._plain is not None:  # the common case, without the general loop's work
            return self._plain_product(x, transposed)
        cfg = self.config
        x = quantize_rows(xp, xp.asarray(x, dtype=np.float32), cfg.dac_bits)
        batch = x.shape[0]
        single = len(self.tiles) == 1
        y: Any = None if single else xp.zeros((batch, self.shape[0] if transposed else self.shape[1]), dtype=np.float32)
        internal = checked and self._internal

        def product(dev: Device, xs: Float32Array, offset: float | np.float32 | None = None) -> Float32Array:
            if internal:
                return dev._product(xs, transposed, checked=True, offset_us=offset)
            return dev.backward(xs) if transposed else dev.forward(xs)

        for tile in self.tiles:
            src, dst = (tile.cols, tile.rows) if transposed else (tile.rows, tile.cols)
            xs = x if single else x[:, src]
            if self.mapping == "pair" and internal:  # one product of G+ - G-, noise of both
                part = tile.devices[0]._pair_product(tile.devices[1], xs, transposed)
            elif internal:  # the reference column folded into one product of G - G_ref
                part = product(tile.devices[0], xs, self.g_ref_us)
            else:
                part = product(tile.devices[0], xs)
            if self.mapping == "pair":
                if not internal:
                    part -= product(tile.devices[1], xs)
            elif not internal:
                part -= self.g_ref_us * xs.sum(axis=1, keepdims=True)
            part = quantize_rows(xp, part, cfg.adc_bits)
            n_src, n_dst = xs.shape[1], part.shape[1]
            self.conversions["dac"] += batch * n_src * len(tile.devices)
            self.conversions["adc"] += batch * n_dst
            self.macs += batch * n_src * n_dst * len(tile.devices)
            if single:
                y = part
            else:
                y[:, dst] += part
        y *= np.float32(self.r_wg_per_us * self.output_scale)
        return cast(Float32Array, y)

    @property
    def _plain(self) -> _ProductPlan | None:
        """The product plan of a matrix on ONE tile whose devices take the internal path with the
        base class's product (any converters); None otherwise (worked out once: nothing here changes)."""
        if not hasattr(self, "_plain_cache"):
            plain = len(self.tiles) == 1 and self._internal and all(_base_product(d) for d in self.tiles[0].devices)
            self._plain_cache = _ProductPlan(self) if plain else None
        return self._plain_cache

    def _plain_product(self, x: Float32Array, transposed: bool) -> Float32Array:
        """:meth:`_product` for a :attr:`_plain` matrix and a trusted ``x`` (bit for bit the same
        result, random draws and counts): one product of ``G - G_ref`` or of ``G+ - G-`` from the
        devices' cached operands, the read noise and the converters in place, the reads counted
        with the plan's constants."""
        plan = cast(_ProductPlan, self._plain_cache)  # callers checked self._plain
        xp = self.xp
        if x.dtype != np.float32:
            x = x.astype(np.float32)
        if plan.dac is not None:
            x = plan.dac(x)  # a new array: the caller keeps its x
        dev = plan.dev
        if plan.other is None:
            w, var = dev._product_operands(self.g_ref_us)
        else:
            w, var = dev._pair_operands(plan.other)
        y = x @ (w.T if transposed else w)
        if var is not None:  # read noise: one Gaussian per output, std sqrt(x^2 @ var)
            s = (x * x) @ (var.T if transposed else var)
            xp.sqrt(s, out=s)
            s *= dev.compute.normal(y.shape)
            y += s
        if plan.adc is not None:
            y = plan.adc(y, overwrite=True)
        batch, n_src = x.shape
        cells = batch * plan.cells
        for d, read_j in plan.reads:  # as Device._count_reads
            c = d.counters
            c.cell_reads += cells
            c.products += batch
            c.energy_j["read"] += cells * read_j
        k, n_dst = plan.k, y.shape[1]
        conv = self.conversions
        conv["dac"] += batch * n_src * k
        conv["adc"] += batch * n_dst
        self.macs += batch * n_src * n_dst * k
        y *= plan.scale(self.output_scale)
        return y

    # ------------------------------------------------------------------ properties for rules
    def _declared(self, fn: Callable[[Device, Float32Array], Float32Array]) -> Float32Array:
        dev = self.tiles[0].devices[0]
        g = self.xp.asarray([self.g_ref_us], dtype=np.float32)
        return fn(dev, g)

    def write_noise_us(self) -> float:
        """Declared write noise (std of one write, uS) at the middle of the window, mean of up and down."""
        if "write_noise_us" not in self._memo:
            up = self._declared(lambda d, g: d.declared_write_noise_us(g, 1))[0]
            down = up if self.set_only else self._declared(lambda d, g: d.declared_write_noise_us(g, -1))[0]
            self._memo["write_noise_us"] = float((up + down) / 2)
        return self._memo["write_noise_us"]

    def step_us(self) -> float:
        """Declared nominal step of one pulse at the middle of the window (mean of up and down), uS."""
        if "step_us" not in self._memo:
            up = self._declared(lambda d, g: d.declared_step_us(g, 1))[0]
            down = up if self.set_only else self._declared(lambda d, g: d.declared_step_us(g, -1))[0]
            self._memo["step_us"] = float((up + down) / 2)
        return self._memo["step_us"]

    def switch_us(self) -> float:
        """Change of one native probabilistic pulse that takes effect, uS.

        A native-probabilistic backend declares it as ``spec.level_us`` (MRAM: one junction
        flip, G_P - G_AP); otherwise the declared step is used.
        """
        level = self.spec.level_us
        return float(level) if level else self.step_us()

    # ------------------------------------------------------------------ writes
    def add_exact(self, delta_w: Float32Array) -> None:
        """Exact digital update (exact mode only)."""
        if self.exact is None:
            raise RuntimeError("add_exact needs exact mode (set_exact); analog weights change only through writes")
        self.exact += delta_w

    @property
    def _internal(self) -> bool:
        """True when every device takes the internal (non-revalidating) path."""
        if not hasattr(self, "_internal_cache"):
            self._internal_cache = all(getattr(d, "internal_path", False) for d in self.devices)
        return self._internal_cache

    def update(self, index: ArrayLike | None, delta_us: ArrayLike, *, checked: bool = False) -> WriteStats:
        """Request changes ``delta_us`` (uS, in weight direction) at flat weight ``index``.

        ``index=None``: dense form, ``delta_us`` of the matrix shape, 0 = untouched (what a
        GPU run uses: no host synchronisation). ``checked=True``: the caller (the library's
        own rules) vouches for the inputs (sorted unique in-range indices, finite values),
        so devices with the internal path are written without re-validation."""
        return self._write("update", index, delta_us, None, checked)

    def pulse(self, index: ArrayLike | None, counts: ArrayLike, signs: ArrayLike, *, checked: bool = False) -> WriteStats:
        """``counts`` pulses in weight direction ``signs`` (+1 raises the weight) at ``index``.

        Dense form and ``checked`` as in :meth:`update` (counts 0 = untouched)."""
        return self._write("pulse", index, signs, counts, checked)

    def pulse_probabilistic(self, index: ArrayLike | None, probabilities: ArrayLike, signs: ArrayLike) -> WriteStats:
        """One native probabilistic pulse per cell (capability native-probabilistic)."""
        if not self.native_probabilistic:
            raise NotImplementedError(f"{self.spec.name} has no native probabilistic switching")
        return self._write("pulse_probabilistic", index, signs, probabilities, False)

    def _write(self, op: str, index: Any, signed: Any, amount: Any, checked: bool = False) -> WriteStats:
        """Route a write to tiles (and to one device of a pair), counting what was written.

        ``signed`` carries the direction (delta for "update", +-1 signs otherwise) in weight
        terms; ``amount`` is the count or probability for pulse ops. ``index`` None: dense.
        """
        if self.exact is not None:
            raise RuntimeError("the matrix is in exact mode; use add_exact")
        xp = self.xp
        internal = checked and self._internal and op != "pulse_probabilistic"
        if internal and index is not None and self.mapping == "reference" and len(self.tiles) == 1:
            # one array, by index, trusted: straight to the device (what _write_tile would do)
            index = xp.asarray(index, dtype=xp.int64)
            if index.size == 0:
                return WriteStats()
            if op == "update":
                return WriteStats(*self.tiles[0].devices[0]._write_internal(op, index, signed))
            return self._apply(op, self.tiles[0].devices[0], index, signed, amount, True)
        stats = WriteStats()
        if index is None:
            signed = xp.asarray(signed)
            if tuple(signed.shape) != self.shape:
                raise ValueError(f"a dense write needs values of the matrix shape {self.shape}, got {tuple(signed.shape)}")
            single = len(self.tiles) == 1
            for tile in self.tiles:
                s = signed.reshape(-1) if single else signed[tile.rows, tile.cols].reshape(-1)
                a = None if amount is None else (amount.reshape(-1) if single else amount[tile.rows, tile.cols].reshape(-1))
                stats += self._write_tile(op, tile, None, s, a, internal)
            return stats
        index = xp.asarray(index, dtype=xp.int64)
        if index.size == 0:
            return stats
        single = len(self.tiles) == 1
        groups: list[tuple[_Tile, Array, Any]]  # (tile, local indices, positions in index or None)
        if single:
            groups = [(self.tiles[0], index, None)]
        else:
            r, c = index // self.shape[1], index % self.shape[1]
            tid = (r // self._tile_rows) * self._tiles_per_row + c // self._tile_cols
            groups = []
            for t, tile in enumerate(self.tiles):
                pos = xp.flatnonzero(tid == t)
                if pos.size:
                    width = tile.cols.stop - tile.cols.start
                    local = (r[pos] - tile.rows.start) * width + (c[pos] - tile.cols.start)
                    groups.append((tile, local, pos))
        for tile, local, pos in groups:
            s = signed if pos is None else signed[pos]
            a = amount if (pos is None or amount is None) else amount[pos]
            stats += self._write_tile(op, tile, local, s, a, internal)
        return stats

    def _write_tile(self, op: str, tile: _Tile, local: Array | None, s: Array, a: Array | None, internal: bool) -> WriteStats:
        if self.mapping == "pair":
            return self._write_pair(op, tile, local, s, a, internal)
        return self._apply(op, tile.devices[0], local, s, a, internal)

    def _write_pair(self, op: str, tile: _Tile, local: Array | None, s: Array, a: Array | None, internal: bool) -> WriteStats:
        xp = self.xp
        plus, minus = tile.devices
        lo, hi = np.float32(self.spec.g_min_us), np.float32(self.spec.g_max_us)
        if local is None:
            gp, gm = plus.g.reshape(-1), minus.g.reshape(-1)
        else:
            gp, gm = plus.g.reshape(-1)[local], minus.g.reshape(-1)[local]
        up = s > 0
        if self.set_only:  # only SETs: an increase raises G+, a decrease raises G-
            use_plus = up
        else:  # headroom of each choice: raise G+ vs lower G- (increase), lower G+ vs raise G- (decrease)
            use_plus = xp.where(up, (hi - gp) >= (gm - lo), (gp - lo) >= (hi - gm))
        stats = WriteStats()
        if op != "pulse_probabilistic" and internal and getattr(plus, "_fuses_pair", lambda other: False)(minus):
            fused: Any = plus  # a backend that fuses pair writes (_fuses_pair) has _write_pair_internal
            stats += WriteStats(*fused._write_pair_internal(minus, local, s, use_plus, gp, gm, a))  # one pass for both
            if self.set_only:
                stats += self._refresh(tile)
            return stats
        if local is None:  # dense: each device gets the whole array, 0 where the other one writes
            zero = xp.zeros((), dtype=(s if a is None else a).dtype)
            for dev, choose, flip in ((plus, use_plus, 1), (minus, ~use_plus, -1)):
                if a is None:
                    stats += self._apply(op, dev, None, xp.where(choose, s * flip, zero), None, internal)
                else:
                    stats += self._apply(op, dev, None, s * flip, xp.where(choose, a, zero), internal)
            if self.set_only:
                stats += self._refresh(tile)
            return stats
        for dev, choose, flip in ((plus, use_plus, 1), (minus, ~use_plus, -1)):
            pos = xp.flatnonzero(choose)
            if pos.size:
                stats += self._apply(op, dev, local[pos], s[pos] * flip, None if a is None else a[pos], internal)
        if self.set_only:
            stats += self._refresh(tile)
        return stats

    def _refresh(self, tile: _Tile) -> WriteStats:
        """Re-program one-sided every pair of the tile where a device passed REFRESH_FRACTION of
        the window: the periphery reads the weight (read noise included), then write-verify.

        Dense and without a host synchronisation (a GPU never waits for the decision): pairs
        below the limit are left bit-identical and uncounted; refreshed cells are counted as
        programmed (pulses, verify reads, energy) and their clocks reset."""
        xp = self.xp
        plus, minus = tile.devices
        limit = np.float32(self.spec.g_min_us + REFRESH_FRACTION * self.spec.range_us)
        over = ((plus.g > limit) | (minus.g > limit)).reshape(-1)
        held = (plus._with_read_noise(plus.g) - minus._with_read_noise(minus.g)) * np.float32(self.r_wg_per_us)
        lo, hi = np.float32(self.spec.g_min_us), np.float32(self.spec.g_max_us)
        n_verify = int(round(self.spec.program_pulses))
        stats = WriteStats()
        for dev, target in zip(tile.devices, self.targets_us(held)):
            flat = dev.g.reshape(-1)
            new = dev._program(flat, dev._every_cell(), xp.clip(target, lo, hi).reshape(-1))
            dev._store(slice(None), xp.where(over, xp.asarray(new, dtype=np.float32), flat))
            pulses = xp.where(over, n_verify, 0).astype(xp.int64)
            stats += WriteStats(*dev._count_writes(slice(None), pulses, "program", written=over))
            reads = over.sum() * n_verify  # verify reads of the refreshed cells
            dev.counters.add("cell_reads", reads)
            dev.counters.add("energy_j.program", reads * dev.spec.energy_per_read_j)
        self.refreshes = self.refreshes + over.sum()
        return stats

    def _apply(self, op: str, dev: Device, local: Array | None, s: Array, a: Array | None, internal: bool) -> WriteStats:
        if internal:
            values = s if op == "update" else cast(Array, a)  # pulse ops always carry their amounts
            signs = None if op == "update" else s.astype(self.xp.int8, copy=False)
            return WriteStats(*dev._write_internal(op, local, values, signs))
        if local is None:  # dense form through the public API
            shape = dev.shape
            s = s.reshape(shape)
            a = None if a is None else a.reshape(shape)
        c = dev.counters
        settle(self.xp, [c])
        w0, p0 = c.events, c.pulse_total  # running totals: no per-cell gathers
        if op == "update":
            dev.update(s, index=local)
        elif op == "pulse":
            dev.pulse(cast(Array, a), s, index=local)
        else:
            dev.pulse_probabilistic(cast(Array, a), s, index=local)
        settle(self.xp, [c])
        return WriteStats(c.events - w0, c.pulse_total - p0)

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, np.ndarray[Any, Any]]:
        """Plain arrays: every device's state (keys ``dev{k}.<name>``) and the exact weights."""
        out: dict[str, np.ndarray[Any, Any]] = {}
        for k, dev in enumerate(self.devices):
            for name, arr in dev.state().items():
                out[f"dev{k}.{name}"] = arr
        out["conversions"] = np.array(
            [self.conversions["dac"], self.conversions["adc"], self.macs, self.flops], dtype=np.int64
        )
        if self.exact is not None:
            out["exact"] = np.array(self.compute.to_numpy(self.exact), copy=True)
        return out

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state`; on any failure every device is put back as it was."""
        devs = self.devices
        parts = [{k[len(f"dev{i}.") :]: v for k, v in state.items() if k.startswith(f"dev{i}.")} for i in range(len(devs))]
        if any(not p for p in parts) or "conversions" not in state:
            raise KeyError(f"analog matrix state needs dev0..dev{len(devs) - 1} and conversions")
        if "exact" in state and tuple(np.shape(state["exact"])) != self.shape:
            raise ValueError(f"exact weights have shape {np.shape(state['exact'])}, the matrix is {self.shape}")
        backups = [d.state() for d in devs]
        try:
            for dev, part in zip(devs, parts):
                dev.load_state(part)
        except Exception:
            for dev, backup in zip(devs, backups):
                dev.load_state(backup)
            raise
        dac, adc, macs, flops = (int(v) for v in np.asarray(state["conversions"]).tolist())
        self.conversions = {"dac": dac, "adc": adc}
        self.macs, self.flops = macs, flops
        self.exact = self.xp.asarray(state["exact"], dtype=np.float32).copy() if "exact" in state else None
