"""Table-driven device: step and write noise per pulse as piecewise-linear functions of G.

The spec holds, per direction, a grid of conductances (uS) with the mean step and the
write-noise std of one pulse at each grid point (usually fitted from measured pulse
trains, :mod:`imc_table.fit`). Between grid points the tables are interpolated
linearly; beyond the ends they are held constant.

Physics: the step table defines a pulse coordinate x(G) = integral dG / step(G) per
direction (so n pulses move x by n, like NeuroSim's curve inversion with a measured
curve); a pulse from G lands at G(x(G) + n) plus Gaussian noise ``noise(G) * sqrt(n)``,
clipped to the cell's window. That noise accumulates: the next pulse starts from there.

Non-accumulating noise (``offset_noise_us``, the read / measurement noise or relaxation
a fit finds in the data): every write of a cell adds a fresh Gaussian offset of that std
to its conductance, which the next write does not inherit. The cell keeps its hidden
state (conductance minus offset) and moves that; products and reads see the offset until
the cell is written again (as aihwkit's ``write_noise_std``). Write-verify leaves no offset.
The declared write noise (what EaPU's threshold uses) is the accumulating part only.

Device-to-device: lognormal step scale (``step_d2d``), window spread (``bounds_d2d``, the
table is stretched affinely onto each cell's window), stuck cells (``stuck_low_prob`` /
``stuck_high_prob``).

The summary fields ``step_us``, ``write_noise_us``, ``nonlinearity_*`` and ``asymmetry``
describe the tables; the device does not read them, so :meth:`TableSpec.evolve` refuses to
change them (change the tables, or refit).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import ClassVar

import attrs
import numpy as np

from imc.device import UP
from imc.errors import SpecError, SpecTypeError
from imc.spec import DeviceSpec, float_field
from imc.variation import VariedDevice

_FINE = 4097  # points of the integrated pulse coordinate


class TableOverrideError(SpecError):
    """A spec field a table device does not read, asked to change (it would change nothing)."""


#: DeviceSpec fields a table device derives from its tables and never reads, and what to change instead
DERIVED = {
    "step_us": "the step tables step_up_us / step_down_us",
    "write_noise_us": "the noise tables noise_up_us / noise_down_us (accumulating) or offset_noise_us",
    "nonlinearity_up": "the step table step_up_us",
    "nonlinearity_down": "the step table step_down_us",
    "asymmetry": "the step tables step_up_us / step_down_us",
}


def _table(value):
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise SpecTypeError(f"a table must be a list of numbers, got {value!r}")
    return tuple(float(v) for v in value)


def _table_field(doc):
    return attrs.field(converter=_table, metadata={"doc": doc})


@attrs.frozen(kw_only=True)
class TableSpec(DeviceSpec):
    """DeviceSpec plus the per-direction step and noise tables (all in uS)."""

    #: the scalar fields the tables decide (DeviceSpec.settable_fields leaves them out)
    derived_fields: ClassVar[Mapping[str, str]] = {key: f"taken from {source}" for key, source in DERIVED.items()}

    grid_up_us: tuple = _table_field("conductances where the up tables are given, increasing, uS")
    step_up_us: tuple = _table_field("mean |dG| of one up pulse at each grid point, uS (> 0)")
    noise_up_us: tuple = _table_field("std of one up pulse's change at each grid point, uS")
    grid_down_us: tuple = _table_field("conductances where the down tables are given, increasing, uS")
    step_down_us: tuple = _table_field("mean |dG| of one down pulse at each grid point, uS (> 0)")
    noise_down_us: tuple = _table_field("std of one down pulse's change at each grid point, uS")
    offset_noise_us: float = float_field(
        0.0, doc="std of the non-accumulating noise of one write: redrawn at every write of a cell, "
        "not carried into the next (read / measurement noise or relaxation in fitted data), uS")

    def evolve(self, **overrides) -> TableSpec:
        """A copy with some fields changed; the summary fields the tables fix are refused."""
        for key, value in overrides.items():
            if key in DERIVED and value != getattr(self, key):
                raise TableOverrideError(
                    f"{key} cannot be overridden on table preset {self.name!r}: a table device takes its "
                    f"step and noise from its tables, so {key}={value!r} would change nothing; "
                    f"change {DERIVED[key]} instead (or refit with imc fit)"
                )
        return super().evolve(**overrides)

    def __attrs_post_init__(self):
        super().__attrs_post_init__()
        if self.offset_noise_us < 0:
            raise SpecError(f"offset_noise_us must be >= 0, got {self.offset_noise_us!r}")
        for d in ("up", "down"):
            grid, step, noise = (getattr(self, f"{k}_{d}_us") for k in ("grid", "step", "noise"))
            if not len(grid) == len(step) == len(noise):
                raise SpecError(f"grid_{d}_us, step_{d}_us and noise_{d}_us must have one length, "
                                 f"got {len(grid)}, {len(step)}, {len(noise)}")
            if len(grid) < 1:
                raise SpecError(f"grid_{d}_us needs at least one point")
            for name, values in ((f"grid_{d}_us", grid), (f"step_{d}_us", step), (f"noise_{d}_us", noise)):
                bad = [i for i, v in enumerate(values) if not math.isfinite(v)]
                if bad:
                    raise SpecError(f"{name}[{bad[0]}] is not finite")
            if any(b <= a for a, b in itertools.pairwise(grid)):
                raise SpecError(f"grid_{d}_us must be strictly increasing")
            if min(step) <= 0:
                raise SpecError(f"step_{d}_us must be > 0 everywhere (index {int(np.argmin(step))} is {min(step)})")
            if min(noise) < 0:
                raise SpecError(f"noise_{d}_us must be >= 0 (index {int(np.argmin(noise))} is {min(noise)})")

    def step_at(self, g, direction: int):
        """Tabulated mean step (uS) at ``g`` (numpy)."""
        d = "up" if direction > 0 else "down"
        return np.interp(g, getattr(self, f"grid_{d}_us"), getattr(self, f"step_{d}_us"))

    def noise_at(self, g, direction: int):
        """Tabulated write-noise std (uS) at ``g`` (numpy)."""
        d = "up" if direction > 0 else "down"
        return np.interp(g, getattr(self, f"grid_{d}_us"), getattr(self, f"noise_{d}_us"))

    @property
    def levels(self) -> int:
        """Mean-curve pulses that cross the window going up."""
        return round(float(_pulse_coordinate(self, UP)[1][-1]))


def _pulse_coordinate(spec: TableSpec, direction: int):
    """(G fine grid, x(G)) with x = pulses from the start of the motion (numpy float64)."""
    g = np.linspace(spec.g_min_us, spec.g_max_us, _FINE)
    inv = 1.0 / spec.step_at(g, direction)
    seg = (inv[1:] + inv[:-1]) / 2 * np.diff(g)
    if direction > 0:
        x = np.concatenate([[0.0], np.cumsum(seg)])
    else:
        x = np.concatenate([np.cumsum(seg[::-1])[::-1], [0.0]])
    return g, x


class TableDevice(VariedDevice):
    """An array of cells that follow a step / noise table; see the module docstring."""

    internal_path = True  # first-party: the library may drive the hooks without re-validation

    def __init__(self, spec: TableSpec, shape, compute):
        if not isinstance(spec, TableSpec):
            raise TypeError(f"the table backend needs a TableSpec, got {type(spec).__name__}")
        if spec.offset_noise_us > 0:  # the hidden state is conductance minus this per-cell offset
            self.cell_fields = (*VariedDevice.cell_fields, "offset")
        super().__init__(spec, shape, compute)
        xp = self.xp
        self._max_pulses = 2 * spec.levels + 2  # more pulses than this cannot move a cell further
        self._coord = {}
        for direction in (UP, -UP):
            g, x = _pulse_coordinate(spec, direction)
            self._coord[direction] = (xp.asarray(g, dtype=np.float32), xp.asarray(x, dtype=np.float32))
        g, x = _pulse_coordinate(spec, -UP)  # increasing x for the inverse lookup going down
        self._reversed = (xp.asarray(x[::-1].copy(), dtype=np.float32), xp.asarray(g[::-1].copy(), dtype=np.float32))
        self._noise = {
            d: (xp.asarray(getattr(spec, f"grid_{n}_us"), dtype=np.float32), xp.asarray(getattr(spec, f"noise_{n}_us"), dtype=np.float32))
            for d, n in ((UP, "up"), (-UP, "down"))
        }

    def _move(self, g_nominal, pulses, direction: int):
        """Nominal-window conductance after ``pulses`` (may be fractional) along the mean curve."""
        xp = self.xp
        grid, x = self._coord[direction]
        x_new = xp.interp(g_nominal, grid, x) + pulses
        if direction > 0:
            return xp.interp(x_new, x, grid)
        x_rev, grid_rev = self._reversed
        return xp.interp(x_new, x_rev, grid_rev)

    def _noise_at(self, g_nominal, direction: int):
        grid, noise = self._noise[direction]
        return self.xp.interp(g_nominal, grid, noise)

    def _init_cells(self) -> None:
        super()._init_cells()
        if "offset" in self.cell_fields:
            self.cell["offset"] = self.xp.zeros(self.shape, dtype=np.float32)

    def _program(self, g, idx, targets_us):
        """Write-verify: as :class:`VariedDevice`, and the verified state carries no offset."""
        if "offset" in self.cell_fields:
            self.cell["offset"].reshape(-1)[idx] = np.float32(0)
        return super()._program(g, idx, targets_us)

    def _pulse(self, g, idx, counts, signs):
        s, xp = self.spec, self.xp
        lo, hi, stuck = self._gather(idx)
        offsets = "offset" in self.cell_fields
        if offsets:  # move the hidden state; the visible one gets a fresh offset below
            visible, old = g, self.cell["offset"].reshape(-1)[idx]
            g = self._pin(g - old, lo, hi, stuck)
        scale = (hi - lo) / np.float32(s.range_us)  # this cell's window vs the nominal one
        g_nom = np.float32(s.g_min_us) + (g - lo) / scale
        n = counts.astype(np.float32)
        eff = n * self.cell["step_scale"].reshape(-1)[idx]
        up = signs > 0
        moved = xp.where(up, self._move(g_nom, eff, UP), self._move(g_nom, eff, -UP))
        sigma = xp.where(up, self._noise_at(g_nom, UP), self._noise_at(g_nom, -UP))
        new_nom = moved + sigma * xp.sqrt(n) * self.compute.normal(g.shape)
        new = self._pin(lo + (new_nom - np.float32(s.g_min_us)) * scale, lo, hi, stuck)
        if not offsets:
            return new
        seen = self._pin(new + np.float32(s.offset_noise_us) * self.compute.normal(g.shape), lo, hi, stuck)
        # cells given 0 pulses may be among idx (the dense internal path): they keep state and offset
        written = counts > 0
        self.cell["offset"].reshape(-1)[idx] = xp.where(written, seen - new, old)
        return xp.where(written, seen, visible)

    def max_update_pulses(self) -> int:
        """More pulses than this cannot move a cell further (update() caps its counts here)."""
        return self._max_pulses

    def declared_step_us(self, g, direction: int):
        """|dG| of one pulse along the mean curve from ``g`` (nominal window)."""
        xp = self.xp
        g = xp.clip(xp.asarray(g, dtype=np.float32), np.float32(self.spec.g_min_us), np.float32(self.spec.g_max_us))
        return xp.abs(self._move(g, np.float32(1), direction) - g).astype(np.float32)

    def declared_write_noise_us(self, g, direction: int = UP):
        """Tabulated write-noise std of one pulse from ``g`` in ``direction``."""
        return self._noise_at(self.xp.asarray(g, dtype=np.float32), direction).astype(np.float32)

    def declared_offset_noise_us(self, g):
        """Std of the non-accumulating offset every write adds (``offset_noise_us``), uS."""
        return self.xp.full(self.xp.shape(g), self.spec.offset_noise_us, dtype=np.float32)
