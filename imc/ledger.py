"""The ledger: what training cost in writes, wear, energy and lifetime.

Updated every step by the trainer. It records per step the write events and pulses of
the update rule (from the devices' own counters), and reads energy from the devices'
counters, DAC/ADC conversions from the tiles and digital operations from the layers,
optimiser and rule. Work done during evaluation is booked separately ("inference"), so
training totals hold only training.

Energy is reported per accounting boundary (docs/energy.md has every constant's source):

- ``array``: cell writes (SET/RESET apart where the spec declares them), verify reads of
  closed-loop writes, reads of the products, and the initial programming, all from the
  device spec's ``energy_per_pulse_j`` / ``energy_set_j`` / ``energy_reset_j`` /
  ``energy_per_read_j`` (per preset);
- ``chip``: array + DAC and ADC conversions (Walden figure of merit ``FoM * 2**bits``;
  ADC 10 fJ/step, B. Murmann's ADC survey; DAC 1 fJ/step, assumed, as in ISAAC) + the write
  drivers (``driver_j_per_pulse`` per pulse, assumed: charging a line);
- ``system``: chip + the digital periphery's work: weight-gradient products and digital
  layers ("digital_compute"), optimiser and rule decision ("digital_update"), 2.3 pJ per
  float32 operation (Horowitz, ISSCC 2014), and the SRAM traffic they need ("memory",
  ``sram_j_per_word`` per 32-bit word, Horowitz: 10 pJ per 64-bit 8 KB SRAM access).

A GPU reference is given two ways: FLOP-bound (every operation at the A100's 400 W TDP
over 19.5 TFLOP/s: 20 pJ/flop, optimistic for the GPU) and power x time (a small network
at a small batch is launch-bound: ``gpu_kernels_per_tensor`` kernels per parameter tensor
plus ``gpu_kernels_fixed`` per step, ``gpu_launch_s`` each, at ``gpu_board_power_w``).

Wear is counted three ways (write events, distinct cells written in training, pulses);
lifetime is endurance over the worst cell's pulses and over the mean cell's pulses
(per-cell counts include the initial programming of the weights).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import attrs
import numpy as np

from .device import settle

if TYPE_CHECKING:
    from .device import Device
    from .nn.analog import AnalogMatrix
    from .nn.module import Module
    from .optim import Optimizer
    from .rules.base import UpdateRule


def _non_negative(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{attribute.name} must be a finite number >= 0, got {value!r}")


def _constant(default: float, unit: str) -> Any:
    return attrs.field(default=default, converter=lambda v: float(v) if isinstance(v, int) and not isinstance(v, bool) else v,
                       validator=_non_negative, metadata={"unit": unit})


@attrs.frozen(kw_only=True)
class EnergyConstants:
    """Energy figures beyond the device spec's (the ``[energy]`` config table); sources in docs/energy.md."""

    adc_fom_j_per_step: float = _constant(10e-15, "J per conversion step (chip)")
    dac_fom_j_per_step: float = _constant(1e-15, "J per conversion step (chip)")
    default_bits: int = attrs.field(  # float32 holds 24 bits; 2**bits sizes the converter energy
        default=8, validator=attrs.validators.and_(attrs.validators.instance_of(int), attrs.validators.ge(1), attrs.validators.le(24))
    )
    driver_j_per_pulse: float = _constant(50e-15, "J per write pulse, line driver (chip)")
    digital_j_per_flop: float = _constant(2.3e-12, "J per float32 operation (system)")
    sram_j_per_word: float = _constant(5e-12, "J per 32-bit SRAM word moved (system)")
    gpu_j_per_flop: float = _constant(20e-12, "J per flop, FLOP-bound GPU reference")
    gpu_board_power_w: float = _constant(100.0, "W, GPU board power while launch-bound")
    gpu_launch_s: float = _constant(4e-6, "s per kernel launch")
    gpu_kernels_per_tensor: float = _constant(5.0, "kernels per parameter tensor per step")
    gpu_kernels_fixed: float = _constant(10.0, "kernels per step besides the parameters (loss, ...)")

    def adc_j(self, bits: int | None) -> float:
        """Energy of one ADC conversion at ``bits`` (None: ``default_bits``), J."""
        return self.adc_fom_j_per_step * 2.0 ** (bits or self.default_bits)

    def dac_j(self, bits: int | None) -> float:
        """Energy of one DAC conversion at ``bits`` (None: ``default_bits``), J."""
        return self.dac_fom_j_per_step * 2.0 ** (bits or self.default_bits)


#: energy categories inside each accounting boundary (each boundary includes the ones before it)
BOUNDARIES = {
    "array": ("array_write", "array_verify", "array_read", "array_program"),
    "chip": ("dac", "adc", "write_drivers"),
    "system": ("digital_compute", "digital_update", "memory"),
}


def boundary_totals(categories: Mapping[str, float]) -> dict[str, float]:
    """{"array", "chip", "system"} J from the per-category energies (cumulative boundaries)."""
    out: dict[str, float] = {}
    running = 0.0
    for boundary, names in BOUNDARIES.items():
        running += sum(float(categories.get(n, 0.0)) for n in names)
        out[boundary] = running
    return out


_SNAPSHOT = ("write", "program", "read", "dac", "adc", "model_flops", "analog_macs", "verify", "pulses", "conversions")
_ARRAY_KEYS = ("write", "program", "read", "dac", "adc", "verify")
_PHASES = ("train", "eval")


class Ledger:
    """Per-step and cumulative cost of a training run on ``model`` (see module docstring)."""

    def __init__(self, model: Module, optimizer: Optimizer, rule: UpdateRule, constants: EnergyConstants | None = None) -> None:
        self.model, self.optimizer, self.rule = model, optimizer, rule
        self.constants = constants or EnergyConstants()
        params = model.parameters()
        # device arrays by name: the model's weights, then any the rule owns (Tiki-Taka's A)
        self._groups: dict[str, list[AnalogMatrix]] = {rule.weight_array: model.tiles(), **rule.device_arrays()}
        self._tiles = [t for tiles in self._groups.values() for t in tiles]  # fixed once built
        self._counters = [dev.counters for dev in self._devices()]
        self._xp: Any = self._tiles[0].xp if self._tiles else np
        self._modules = list(model.modules())
        self.n_weights = sum(p.size for p in params if p.analog)
        self.n_digital = sum(p.size for p in params if not p.analog)
        self.step_cells: list[int] = []
        self.step_pulses: list[int] = []
        self.epoch_of_step: list[int] = []
        self.digital_flops = 0  # optimiser + rule flops in training
        self._reset_running()
        self.totals = {phase: dict.fromkeys(_SNAPSHOT, 0.0) for phase in _PHASES}
        self.array_totals = {phase: {g: dict.fromkeys(_ARRAY_KEYS, 0.0) for g in self._groups} for phase in _PHASES}
        self._last = self._snapshot()
        self._array_last = {g: self._array_snapshot(tiles) for g, tiles in self._groups.items()}
        self.initial_program_j = self._last["program"]  # loading the weights (0 for exact tiles)
        self.initial_program_pulses = self._last["pulses"]
        self.memory_words = 0  # SRAM words moved by the digital periphery in training (besides conversions)
        # per-cell write events before training (the initial programming): distinct cells written
        self._initial_writes = self._cell_counts("writes").copy()
        self._array_base = {g: self._array_wear(tiles) for g, tiles in self._groups.items()}  # writes, pulses so far

    # ------------------------------------------------------------------ recording
    def _reset_running(self) -> None:
        """Running sums over the per-step history, so a step costs O(1) whatever the run's length."""
        self.cells_total = sum(self.step_cells)
        self.pulses_total = sum(self.step_pulses)
        self._epoch_cells: dict[int, list[int]] = {}  # epoch -> [cells written, steps]
        for cells, epoch in zip(self.step_cells, self.epoch_of_step):
            acc = self._epoch_cells.setdefault(epoch, [0, 0])
            acc[0] += cells
            acc[1] += 1

    def _snapshot(self, settled: bool = False) -> dict[str, float]:
        if not settled:
            self._settle()
        write = program = read = verify = pulses = dac = adc = conversions = macs = flops = 0.0
        for tile, dac_j, adc_j in self._tile_costs():
            if tile.exact is None:
                for dev in tile.devices:
                    counters = dev.counters
                    energy = counters.energy_j
                    write += energy.get("write", 0.0)
                    program += energy.get("program", 0.0)
                    read += energy.get("read", 0.0)
                    verify += energy.get("verify", 0.0)
                    pulses += counters.pulse_total
            conv = tile.conversions
            dac += conv["dac"] * dac_j
            conversions += conv["dac"] + conv["adc"]
            adc += conv["adc"] * adc_j
            macs += tile.macs
            flops += tile.flops
        flops += sum(m.flops for m in self._modules)
        return {"write": write, "program": program, "read": read, "dac": dac, "adc": adc, "model_flops": flops,
                "analog_macs": macs, "verify": verify, "pulses": pulses, "conversions": conversions}

    def _tile_costs(self) -> list[tuple[AnalogMatrix, float, float]]:
        """(tile, J per DAC conversion, J per ADC conversion) of every tile; computed once
        (the constants and each tile's converter bits are frozen)."""
        if getattr(self, "_costs", None) is None:
            c = self.constants
            self._costs = [(t, c.dac_j(t.config.dac_bits), c.adc_j(t.config.adc_bits)) for t in self._tiles]
        return self._costs

    def _array_snapshot(self, tiles: Sequence[AnalogMatrix]) -> dict[str, float]:
        """Energy counters (J) of one named group of device arrays."""
        snap = dict.fromkeys(_ARRAY_KEYS, 0.0)
        c = self.constants
        for tile in tiles:
            for dev in tile.devices if tile.exact is None else ():
                for key in ("write", "program", "read", "verify"):
                    snap[key] += dev.counters.energy_j.get(key, 0.0)
            snap["dac"] += tile.conversions["dac"] * c.dac_j(tile.config.dac_bits)
            snap["adc"] += tile.conversions["adc"] * c.adc_j(tile.config.adc_bits)
        return snap

    def _array_wear(self, tiles: Sequence[AnalogMatrix]) -> tuple[int, int]:
        """(write events, pulses) summed over every cell of a group, programming included."""
        devs = [dev for t in tiles if t.exact is None for dev in t.devices]
        return (sum(int(dev.counters.writes.sum()) for dev in devs), sum(int(dev.counters.pulses.sum()) for dev in devs))

    def observe(self, phase: str, settled: bool = False) -> None:
        """Book everything the devices, converters and layers did since the last call to ``phase``."""
        if phase not in _PHASES:
            raise ValueError(f"phase must be one of {_PHASES}, got {phase!r}")
        now = self._snapshot(settled)
        totals, last = self.totals[phase], self._last
        for key, value in now.items():
            totals[key] += value - last[key]
        self._last = now
        if len(self._groups) > 1:  # one group: its totals are the totals above
            for group, tiles in self._groups.items():
                snap = self._array_snapshot(tiles)
                for key in _ARRAY_KEYS:
                    self.array_totals[phase][group][key] += snap[key] - self._array_last[group][key]
                self._array_last[group] = snap

    def _settle(self, extra: Sequence[Any] = ()) -> list[float]:
        """Every device total still on the GPU (and ``extra``) to the host in one transfer."""
        if self._xp is np:  # numpy devices add their totals at once: nothing is ever pending
            return [float(v) for v in extra]
        self._counters = [dev.counters for dev in self._devices()]  # load_state replaces them
        return settle(self._xp, self._counters, extra)

    def record_step(self, epoch: int, cells: Any, pulses: Any) -> None:
        """Close a training step: what the rule wrote, plus optimiser/rule digital work.

        ``cells``/``pulses`` may be 0-d device arrays: they come back with the devices'
        totals in one transfer, the only one the ledger makes per step."""
        if self._xp is not np:
            cells, pulses = self._settle((cells, pulses))
        cells, pulses, epoch = round(float(cells)), round(float(pulses)), int(epoch)
        self.step_cells.append(cells)
        self.step_pulses.append(pulses)
        self.epoch_of_step.append(epoch)
        self.cells_total += cells
        self.pulses_total += pulses
        acc = self._epoch_cells.setdefault(epoch, [0, 0])
        acc[0] += cells
        acc[1] += 1
        flops, words = self._step_work()
        self.digital_flops += flops
        self.memory_words += words
        self.observe("train", settled=True)

    def _step_work(self) -> tuple[int, int]:
        """(digital flops, SRAM words) of one step's optimiser and rule work (fixed for a run)."""
        key = (self.optimizer.flops_per_weight, self.rule.flops_per_weight)
        if getattr(self, "_work", (None,))[0] != key:
            n_all = self.n_weights + self.n_digital
            flops = self.optimizer.flops_per_weight * n_all + self.rule.flops_per_weight * self.n_weights
            # gradient, proposal and each optimiser slot written and read once; rule state read and written
            slots = len(getattr(self.optimizer, "slots", ()))
            words = (4 + 2 * slots) * n_all + 2 * getattr(self.rule, "words_per_weight", 0) * self.n_weights
            self._work = (key, (flops, words))
        return self._work[1]

    # ------------------------------------------------------------------ reporting
    @property
    def steps(self) -> int:
        """Training steps recorded."""
        return len(self.step_cells)

    def update_ratio(self, step: int = -1) -> float:
        """Fraction of the analog weights written at ``step`` (default: the last one)."""
        return self.step_cells[step] / self.n_weights if self.n_weights and self.step_cells else 0.0

    def epoch_update_ratio(self, epoch: int) -> float:
        """Mean fraction of the weights written per step during ``epoch`` (0 for an epoch with no steps)."""
        cells, steps = self._epoch_cells.get(int(epoch), (0, 0))
        return cells / steps / self.n_weights if steps and self.n_weights else 0.0

    def energy_j(self, phase: str = "train") -> dict[str, float]:
        """Energy by category (J); :data:`BOUNDARIES` groups them, :meth:`boundary_j` sums them."""
        t, c = self.totals[phase], self.constants
        train = phase == "train"
        pulses = t["pulses"] + (self.initial_program_pulses if train else 0.0)
        return {
            "array_write": t["write"],
            "array_verify": t["verify"],
            "array_read": t["read"],
            "array_program": t["program"] + (self.initial_program_j if train else 0.0),
            "dac": t["dac"],
            "adc": t["adc"],
            "write_drivers": pulses * c.driver_j_per_pulse,
            "digital_compute": t["model_flops"] * c.digital_j_per_flop,
            "digital_update": (self.digital_flops if train else 0) * c.digital_j_per_flop,
            # every converted value is buffered once and read once (activations and errors)
            "memory": ((self.memory_words if train else 0) + 2 * t["conversions"]) * c.sram_j_per_word,
        }

    def boundary_j(self, phase: str = "train") -> dict[str, float]:
        """{"array", "chip", "system"}: energy inside each accounting boundary, J."""
        return boundary_totals(self.energy_j(phase))

    def gpu_energy_j(self, phase: str = "train") -> dict[str, float]:
        """The same run on a GPU, two ways: FLOP-bound and power x time (see module docstring)."""
        t, c = self.totals[phase], self.constants
        flops = t["model_flops"] + 2 * t["analog_macs"]
        steps = self.steps if phase == "train" else 0
        if phase == "train":
            flops += (self.optimizer.flops_per_weight + 1) * (self.n_weights + self.n_digital) * steps
        kernels = c.gpu_kernels_per_tensor * len(self.model.parameters()) + c.gpu_kernels_fixed
        step_s = kernels * c.gpu_launch_s
        return {
            "flop_bound": flops * c.gpu_j_per_flop,
            "power_time": steps * step_s * c.gpu_board_power_w,
            "step_time_s": step_s,
        }

    def step_metrics(self) -> dict[str, Any]:
        """The figures the trainer logs every step: update ratio, write events, pulses, energy per boundary (J)."""
        e = self.boundary_j("train")
        return {
            "update_ratio": self.update_ratio(),
            "write_events_step": self.step_cells[-1] if self.step_cells else 0,
            "write_events": self.cells_total,
            "pulses": self.pulses_total,
            "energy_array_j": e["array"],
            "energy_chip_j": e["chip"],
            "energy_system_j": e["system"],
        }

    def _devices(self) -> list[Device]:
        """Devices that hold weights (exact-mode tiles hold none)."""
        return [dev for t in self._tiles if t.exact is None for dev in t.devices]

    def _cell_counts(self, name: str) -> np.ndarray[Any, Any]:
        arrays = [dev.compute.to_numpy(getattr(dev.counters, name)).reshape(-1) for dev in self._devices()]
        return np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)

    def wear(self) -> dict[str, Any]:
        """Per-cell wear: write events and pulses (including the initial programming)."""
        writes, pulses = self._cell_counts("writes"), self._cell_counts("pulses")
        if writes.size == 0:
            return {"cells": 0, "cells_written_distinct": 0, "max_writes": 0, "mean_writes": 0.0,
                    "max_pulses": 0, "mean_pulses": 0.0, "histogram": {"edges": [], "counts": []}}
        top = int(writes.max())
        edges = [0, 1] + [2**k for k in range(1, max(1, math.ceil(math.log2(top + 1))) + 1)]
        edges = sorted(set(edges + [top + 1]))
        counts, _ = np.histogram(writes, bins=edges)
        initial = self._initial_writes if self._initial_writes.shape == writes.shape else np.zeros_like(writes)
        return {
            "cells": int(writes.size),
            "cells_written_distinct": int((writes > initial).sum()),  # written at least once in training
            "max_writes": top,
            "mean_writes": float(writes.mean()),
            "max_pulses": int(pulses.max()),
            "mean_pulses": float(pulses.mean()),
            "histogram": {"edges": [int(e) for e in edges], "counts": [int(c) for c in counts]},
        }

    def lifetime(self, epochs: float, wear: dict[str, Any] | None = None) -> dict[str, float]:
        """Endurance over the worst cell's and over the mean cell's pulses: trainings the array survives."""
        wear = wear or self.wear()
        endurance = min((dev.spec.endurance_cycles for dev in self._devices()), default=math.inf)
        worst, mean = wear["max_pulses"], wear["mean_pulses"]
        per_epoch = worst / epochs if epochs else 0.0
        return {
            "endurance_cycles": endurance,
            "worst_cell_pulses": worst,
            "mean_cell_pulses": mean,
            "worst_cell_pulses_per_epoch": per_epoch,
            "trainings_worst_cell": endurance / worst if worst else math.inf,
            "trainings_mean_cell": endurance / mean if mean else math.inf,
            "epochs_worst_cell": endurance / per_epoch if per_epoch else math.inf,
        }

    def arrays(self) -> dict[str, dict[str, Any]]:
        """Per named device array (the weights, or Tiki-Taka's "C" and "A"): training writes,
        pulses. energy and wear. The arrays' figures add up to the ledger's totals."""
        out: dict[str, dict[str, Any]] = {}
        for group, tiles in self._groups.items():
            devs = [dev for t in tiles if t.exact is None for dev in t.devices]
            if len(self._groups) > 1:
                t = self.array_totals["train"][group]
            else:
                t = {k: self.totals["train"][k] for k in _ARRAY_KEYS}
            writes, pulses = self._array_wear(tiles)
            base_w, base_p = self._array_base[group]
            energy = {"array_write": t["write"], "array_verify": t["verify"], "array_read": t["read"], "array_program": t["program"],
                      "dac": t["dac"], "adc": t["adc"]}
            energy["total"] = float(sum(energy.values()))
            worst = max((int(dev.counters.pulses.max()) for dev in devs), default=0)
            endurance = min((dev.spec.endurance_cycles for dev in devs), default=math.inf)
            out[group] = {
                "cells": sum(int(dev.counters.pulses.size) for dev in devs),
                "writes": writes - base_w,
                "pulses": pulses - base_p,
                "energy_j": energy,
                "worst_cell_pulses": worst,
                "trainings": endurance / worst if worst else math.inf,
            }
        if out:  # the initial programming of every array is booked with the first (the ledger's convention)
            first = next(iter(out.values()))["energy_j"]
            first["array_program"] += self.initial_program_j
            first["total"] += self.initial_program_j
        return out

    def summary(self) -> dict[str, Any]:
        """Everything as plain JSON-able values (inf is reported as None)."""
        ratios = np.asarray(self.step_cells, dtype=np.float64) / max(self.n_weights, 1)
        epochs = np.asarray(self.epoch_of_step)
        n_epochs = int(epochs.max()) + 1 if epochs.size else 0
        later = ratios[epochs >= 1] if n_epochs > 1 else ratios
        categories = self.energy_j("train")
        boundary = boundary_totals(categories)
        gpu = self.gpu_energy_j("train")
        wear = self.wear()
        out = {
            "steps": self.steps,
            "weights": self.n_weights,
            "digital_parameters": self.n_digital,
            "write_events": self.cells_total,
            "cells_written_distinct": wear["cells_written_distinct"],
            "pulses": self.pulses_total,
            "update_ratio_mean": float(ratios.mean()) if ratios.size else 0.0,
            "update_ratio_mean_after_first_epoch": float(later.mean()) if later.size else 0.0,
            "update_ratio_max": float(ratios.max()) if ratios.size else 0.0,
            "wear": wear,
            "lifetime": self.lifetime(n_epochs, wear),
            "energy_by_category_j": categories,
            "energy_by_boundary_j": boundary,
            "inference_energy_by_category_j": self.energy_j("eval"),
            "inference_energy_by_boundary_j": self.boundary_j("eval"),
            "digital_state_words": {
                "optimizer": len(getattr(self.optimizer, "slots", ())) * (self.n_weights + self.n_digital),
                "rule": getattr(self.rule, "words_per_weight", 0) * self.n_weights,
            },
            "gpu_energy_flop_bound_j": gpu["flop_bound"],
            "gpu_energy_power_time_j": gpu["power_time"],
            "gpu_step_time_s": gpu["step_time_s"],
            "gpu_flop_bound_over_system": _ratio(gpu["flop_bound"], boundary["system"]),
            "gpu_power_time_over_system": _ratio(gpu["power_time"], boundary["system"]),
            "arrays": self.arrays(),
            "constants": attrs.asdict(self.constants),
        }
        return cast(dict[str, Any], _json_safe(out))

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, np.ndarray[Any, Any]]:
        """Everything needed to resume the ledger, as host numpy arrays."""
        totals = np.array([[self.totals[p][k] for k in _SNAPSHOT] for p in _PHASES], dtype=np.float64)
        return {
            "step_cells": np.asarray(self.step_cells, dtype=np.int64),
            "step_pulses": np.asarray(self.step_pulses, dtype=np.int64),
            "epoch_of_step": np.asarray(self.epoch_of_step, dtype=np.int64),
            "totals": totals,
            "last": np.array([self._last[k] for k in _SNAPSHOT], dtype=np.float64),
            "initial_writes": np.array(self._initial_writes, copy=True),
            "scalars": np.array(
                [self.digital_flops, self.initial_program_j, self.initial_program_pulses, self.memory_words], dtype=np.float64
            ),
            "array_totals": np.array([[[self.array_totals[p][g][k] for k in _ARRAY_KEYS] for g in self._groups]
                                      for p in _PHASES], dtype=np.float64),
            "array_last": np.array([[self._array_last[g][k] for k in _ARRAY_KEYS] for g in self._groups], dtype=np.float64),
            "array_base": np.array([self._array_base[g] for g in self._groups], dtype=np.int64),
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state` (older, shorter states load with zeros for the newer figures)."""
        need = ["step_cells", "step_pulses", "epoch_of_step", "totals", "last", "scalars",
                "array_totals", "array_last", "array_base"]
        missing = [k for k in need if k not in state]
        if missing:
            raise KeyError(f"ledger state is missing {missing}")
        totals = _widen(np.asarray(state["totals"], dtype=np.float64), 2)
        last = _widen(np.asarray(state["last"], dtype=np.float64), 1)
        if totals.shape != (len(_PHASES), len(_SNAPSHOT)):
            raise ValueError(f"ledger totals must have shape {(len(_PHASES), len(_SNAPSHOT))}, got {totals.shape}")
        groups = list(self._groups)
        shapes = {"array_totals": (len(_PHASES), len(groups), len(_ARRAY_KEYS)),
                  "array_last": (len(groups), len(_ARRAY_KEYS)), "array_base": (len(groups), 2)}
        for key, shape in shapes.items():
            if np.shape(state[key]) != shape:
                raise ValueError(f"ledger {key} must have shape {shape} (arrays {groups}), got {np.shape(state[key])}")
        arrays = np.asarray(state["array_totals"], dtype=np.float64)
        self.array_totals = {p: {g: dict(zip(_ARRAY_KEYS, arrays[i, j].tolist())) for j, g in enumerate(groups)}
                             for i, p in enumerate(_PHASES)}
        array_last = np.asarray(state["array_last"], dtype=np.float64)
        self._array_last = {g: dict(zip(_ARRAY_KEYS, array_last[j].tolist())) for j, g in enumerate(groups)}
        self._array_base = {g: cast(tuple[int, int], tuple(int(v) for v in row)) for g, row in zip(groups, np.asarray(state["array_base"]).tolist())}
        self.step_cells = [int(v) for v in np.asarray(state["step_cells"]).tolist()]
        self.step_pulses = [int(v) for v in np.asarray(state["step_pulses"]).tolist()]
        self.epoch_of_step = [int(v) for v in np.asarray(state["epoch_of_step"]).tolist()]
        self.totals = {p: dict(zip(_SNAPSHOT, totals[i].tolist())) for i, p in enumerate(_PHASES)}
        self._last = dict(zip(_SNAPSHOT, last.tolist()))
        scalars = np.asarray(state["scalars"], dtype=np.float64).tolist() + [0.0, 0.0]  # older states: 2 values
        flops, program, program_pulses, words = scalars[:4]
        self.digital_flops, self.initial_program_j = int(flops), float(program)
        self.initial_program_pulses, self.memory_words = float(program_pulses), int(words)
        if "initial_writes" in state:  # older states lack it: keep the one taken when this ledger was built
            self._initial_writes = np.asarray(state["initial_writes"], dtype=np.int64).copy()
        self._reset_running()


def _widen(values: np.ndarray[Any, Any], ndim: int) -> np.ndarray[Any, Any]:
    """Pad a saved snapshot from an older, shorter ``_SNAPSHOT`` with zeros (keys were appended)."""
    if values.ndim == ndim and values.shape[-1] < len(_SNAPSHOT):
        pad = [(0, 0)] * (ndim - 1) + [(0, len(_SNAPSHOT) - values.shape[-1])]
        values = np.pad(values, pad)
    return values


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    return value
