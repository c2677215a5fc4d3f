"""The ledger: what training cost in writes, wear, energy and lifetime.

Updated every step by the trainer. It records per step the cells written and pulses
applied by the update rule (from the devices' own counters), and reads energy from the
devices' counters, DAC/ADC conversions from the tiles and digital operations from the
layers, optimiser and rule. Work done during evaluation is booked separately
("inference"), so training totals hold only training.

Energy constants (all overridable through :class:`EnergyConstants`):

- array writes, reads and write-verify: the device spec's ``energy_per_pulse_j`` and
  ``energy_per_read_j`` (counted by the devices themselves);
- ADC: Walden figure of merit ``E = FoM * 2**bits`` with FoM = 10 fJ/conversion-step, a
  typical value for SAR ADCs in B. Murmann's "ADC Performance Survey 1997-2024"
  (8 bits: 2.56 pJ per conversion);
- DAC: ``E = FoM * 2**bits`` with FoM = 1 fJ/step [assumed: input drivers are an order of
  magnitude cheaper than ADCs, as in ISAAC (Shafiee et al., ISCA 2016)];
  converters without configured bits are costed at ``default_bits`` = 8;
- digital periphery work, booked as "digital_compute" (weight-gradient outer products and
  any digital layer products) and "digital_update" (optimiser and rule decision): 2.3 pJ per
  float32 operation, the mean of a 32-bit float add (0.9 pJ) and multiply (3.7 pJ) in
  45 nm (M. Horowitz, ISSCC 2014); memory traffic is not included (a lower bound);
- digital GPU estimate for the same run: every operation done digitally (analog
  products as 2 flops per multiply-accumulate) at 20 pJ/flop, NVIDIA A100's 400 W
  TDP over its 19.5 TFLOP/s float32 peak (an optimistic figure for the GPU).

Lifetime: ``endurance_cycles / worst-cell pulses`` is how many such trainings the array
survives (per-cell counts include the initial programming of the weights).
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from .device import settle


@attrs.frozen(kw_only=True)
class EnergyConstants:
    """Energy figures the ledger uses (J); see the module docstring for the sources."""

    adc_fom_j_per_step: float = 10e-15
    dac_fom_j_per_step: float = 1e-15
    default_bits: int = 8
    digital_j_per_flop: float = 2.3e-12
    gpu_j_per_flop: float = 20e-12

    def adc_j(self, bits: int | None) -> float:
        return self.adc_fom_j_per_step * 2 ** (bits or self.default_bits)

    def dac_j(self, bits: int | None) -> float:
        return self.dac_fom_j_per_step * 2 ** (bits or self.default_bits)


_SNAPSHOT = ("write", "program", "read", "dac", "adc", "model_flops", "analog_macs")
_ARRAY_KEYS = ("write", "program", "read", "dac", "adc")
_PHASES = ("train", "eval")


class Ledger:
    """Per-step and cumulative cost of a training run on ``model`` (see module docstring)."""

    def __init__(self, model, optimizer, rule, constants: EnergyConstants | None = None):
        self.model, self.optimizer, self.rule = model, optimizer, rule
        self.constants = constants or EnergyConstants()
        params = model.parameters()
        # device arrays by name: the model's weights, then any the rule owns (Tiki-Taka's A)
        self._groups = {rule.weight_array: model.tiles(), **rule.device_arrays()}
        self._tiles = [t for tiles in self._groups.values() for t in tiles]  # fixed once built
        self._counters = [dev.counters for dev in self._devices()]
        self._xp = self._tiles[0].xp if self._tiles else np
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

    def _snapshot(self) -> dict[str, float]:
        self._settle()
        snap = dict.fromkeys(_SNAPSHOT, 0.0)
        c = self.constants
        for tile in self._tiles:
            for dev in tile.devices if tile.exact is None else ():
                for key in ("write", "program", "read"):
                    snap[key] += dev.counters.energy_j.get(key, 0.0)
            snap["dac"] += tile.conversions["dac"] * c.dac_j(tile.config.dac_bits)
            snap["adc"] += tile.conversions["adc"] * c.adc_j(tile.config.adc_bits)
            snap["analog_macs"] += tile.macs
            snap["model_flops"] += tile.flops
        snap["model_flops"] += sum(m.flops for m in self._modules)
        return snap

    def _array_snapshot(self, tiles) -> dict[str, float]:
        """Energy counters (J) of one named group of device arrays."""
        snap = dict.fromkeys(_ARRAY_KEYS, 0.0)
        c = self.constants
        for tile in tiles:
            for dev in tile.devices if tile.exact is None else ():
                for key in ("write", "program", "read"):
                    snap[key] += dev.counters.energy_j.get(key, 0.0)
            snap["dac"] += tile.conversions["dac"] * c.dac_j(tile.config.dac_bits)
            snap["adc"] += tile.conversions["adc"] * c.adc_j(tile.config.adc_bits)
        return snap

    def _array_wear(self, tiles) -> tuple[int, int]:
        """(write events, pulses) summed over every cell of a group, programming included."""
        devs = [dev for t in tiles if t.exact is None for dev in t.devices]
        return (sum(int(dev.counters.writes.sum()) for dev in devs), sum(int(dev.counters.pulses.sum()) for dev in devs))

    def observe(self, phase: str) -> None:
        """Book everything the devices, converters and layers did since the last call to ``phase``."""
        if phase not in _PHASES:
            raise ValueError(f"phase must be one of {_PHASES}, got {phase!r}")
        now = self._snapshot()
        for key in _SNAPSHOT:
            self.totals[phase][key] += now[key] - self._last[key]
        self._last = now
        if len(self._groups) > 1:  # one group: its totals are the totals above
            for group, tiles in self._groups.items():
                snap = self._array_snapshot(tiles)
                for key in _ARRAY_KEYS:
                    self.array_totals[phase][group][key] += snap[key] - self._array_last[group][key]
                self._array_last[group] = snap

    def _settle(self, extra=()) -> list:
        """Every device total still on the GPU (and ``extra``) to the host in one transfer."""
        self._counters = [dev.counters for dev in self._devices()]  # load_state replaces them
        return settle(self._xp, self._counters, extra)

    def record_step(self, epoch: int, cells, pulses) -> dict:
        """Close a training step: what the rule wrote, plus optimiser/rule digital work.

        ``cells``/``pulses`` may be 0-d device arrays: they come back with the devices'
        totals in one transfer, the only one the ledger makes per step."""
        cells, pulses = self._settle((cells, pulses))
        cells, pulses, epoch = round(cells), round(pulses), int(epoch)
        self.step_cells.append(cells)
        self.step_pulses.append(pulses)
        self.epoch_of_step.append(epoch)
        self.cells_total += cells
        self.pulses_total += pulses
        acc = self._epoch_cells.setdefault(epoch, [0, 0])
        acc[0] += cells
        acc[1] += 1
        n_all = self.n_weights + self.n_digital
        self.digital_flops += self.optimizer.flops_per_weight * n_all + self.rule.flops_per_weight * self.n_weights
        self.observe("train")
        return self.step_metrics()

    # ------------------------------------------------------------------ reporting
    @property
    def steps(self) -> int:
        return len(self.step_cells)

    def update_ratio(self, step: int = -1) -> float:
        return self.step_cells[step] / self.n_weights if self.n_weights and self.step_cells else 0.0

    def epoch_update_ratio(self, epoch: int) -> float:
        """Mean fraction of the weights written per step during ``epoch`` (0 for an epoch with no steps)."""
        cells, steps = self._epoch_cells.get(int(epoch), (0, 0))
        return cells / steps / self.n_weights if steps and self.n_weights else 0.0

    def energy_j(self, phase: str = "train") -> dict[str, float]:
        t, c = self.totals[phase], self.constants
        out = {
            "array_write": t["write"],
            "array_read": t["read"],
            "array_program": t["program"] + (self.initial_program_j if phase == "train" else 0.0),
            "dac": t["dac"],
            "adc": t["adc"],
            "digital_compute": t["model_flops"] * c.digital_j_per_flop,
            "digital_update": (self.digital_flops if phase == "train" else 0) * c.digital_j_per_flop,
        }
        out["total"] = float(sum(out.values()))
        return out

    def gpu_energy_j(self, phase: str = "train") -> float:
        """The same run done entirely on a GPU (see module docstring)."""
        t = self.totals[phase]
        flops = t["model_flops"] + 2 * t["analog_macs"]
        if phase == "train":
            flops += (self.optimizer.flops_per_weight + 1) * (self.n_weights + self.n_digital) * self.steps
        return flops * self.constants.gpu_j_per_flop

    def step_metrics(self) -> dict:
        e = self.energy_j("train")
        return {
            "update_ratio": self.update_ratio(),
            "cells_written": self.step_cells[-1] if self.step_cells else 0,
            "writes": self.cells_total,
            "pulses": self.pulses_total,
            "energy_j": e["total"],
        }

    def _devices(self) -> list:
        """Devices that hold weights (exact-mode tiles hold none)."""
        return [dev for t in self._tiles if t.exact is None for dev in t.devices]

    def _cell_counts(self, name: str) -> np.ndarray:
        arrays = [dev.compute.to_numpy(getattr(dev.counters, name)).reshape(-1) for dev in self._devices()]
        return np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)

    def wear(self) -> dict:
        """Per-cell write events and pulses (including the initial programming)."""
        writes, pulses = self._cell_counts("writes"), self._cell_counts("pulses")
        if writes.size == 0:
            return {"cells": 0, "max_writes": 0, "mean_writes": 0.0, "max_pulses": 0, "histogram": {"edges": [], "counts": []}}
        top = int(writes.max())
        edges = [0, 1] + [2**k for k in range(1, max(1, math.ceil(math.log2(top + 1))) + 1)]
        edges = sorted(set(edges + [top + 1]))
        counts, _ = np.histogram(writes, bins=edges)
        return {
            "cells": int(writes.size),
            "max_writes": top,
            "mean_writes": float(writes.mean()),
            "max_pulses": int(pulses.max()),
            "histogram": {"edges": [int(e) for e in edges], "counts": [int(c) for c in counts]},
        }

    def lifetime(self, epochs: float) -> dict:
        """Endurance over worst-cell wear: trainings and epochs the array survives."""
        wear = self.wear()
        endurance = min((dev.spec.endurance_cycles for dev in self._devices()), default=math.inf)
        worst = wear["max_pulses"]
        per_epoch = worst / epochs if epochs else 0.0
        return {
            "endurance_cycles": endurance,
            "worst_cell_pulses": worst,
            "worst_cell_pulses_per_epoch": per_epoch,
            "trainings": endurance / worst if worst else math.inf,
            "epochs": endurance / per_epoch if per_epoch else math.inf,
        }

    def arrays(self) -> dict:
        """Per named device array (the weights, or Tiki-Taka's "C" and "A"): training writes,
        pulses, energy and wear. The arrays' figures add up to the ledger's totals."""
        out = {}
        for group, tiles in self._groups.items():
            devs = [dev for t in tiles if t.exact is None for dev in t.devices]
            if len(self._groups) > 1:
                t = self.array_totals["train"][group]
            else:
                t = {k: self.totals["train"][k] for k in _ARRAY_KEYS}
            writes, pulses = self._array_wear(tiles)
            base_w, base_p = self._array_base[group]
            energy = {"array_write": t["write"], "array_read": t["read"], "array_program": t["program"],
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

    def summary(self) -> dict:
        """Everything as plain JSON-able values (inf is reported as None)."""
        ratios = np.asarray(self.step_cells, dtype=np.float64) / max(self.n_weights, 1)
        epochs = np.asarray(self.epoch_of_step)
        n_epochs = int(epochs.max()) + 1 if epochs.size else 0
        later = ratios[epochs >= 1] if n_epochs > 1 else ratios
        train_e, gpu = self.energy_j("train"), self.gpu_energy_j("train")
        out = {
            "steps": self.steps,
            "weights": self.n_weights,
            "digital_parameters": self.n_digital,
            "cells_written": self.cells_total,
            "pulses": self.pulses_total,
            "update_ratio_mean": float(ratios.mean()) if ratios.size else 0.0,
            "update_ratio_mean_after_first_epoch": float(later.mean()) if later.size else 0.0,
            "update_ratio_max": float(ratios.max()) if ratios.size else 0.0,
            "wear": self.wear(),
            "lifetime": self.lifetime(n_epochs),
            "energy_j": train_e,
            "inference_energy_j": self.energy_j("eval"),
            "digital_state_words": {
                "optimizer": len(getattr(self.optimizer, "slots", ())) * (self.n_weights + self.n_digital),
                "rule": getattr(self.rule, "words_per_weight", 0) * self.n_weights,
            },
            "arrays": self.arrays(),
            "gpu_energy_j": gpu,
            "gpu_over_imc_energy": gpu / train_e["total"] if train_e["total"] > 0 else None,
            "constants": attrs.asdict(self.constants),
        }
        return _json_safe(out)

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, np.ndarray]:
        totals = np.array([[self.totals[p][k] for k in _SNAPSHOT] for p in _PHASES], dtype=np.float64)
        return {
            "step_cells": np.asarray(self.step_cells, dtype=np.int64),
            "step_pulses": np.asarray(self.step_pulses, dtype=np.int64),
            "epoch_of_step": np.asarray(self.epoch_of_step, dtype=np.int64),
            "totals": totals,
            "last": np.array([self._last[k] for k in _SNAPSHOT], dtype=np.float64),
            "scalars": np.array([self.digital_flops, self.initial_program_j], dtype=np.float64),
            "array_totals": np.array([[[self.array_totals[p][g][k] for k in _ARRAY_KEYS] for g in self._groups]
                                      for p in _PHASES], dtype=np.float64),
            "array_last": np.array([[self._array_last[g][k] for k in _ARRAY_KEYS] for g in self._groups], dtype=np.float64),
            "array_base": np.array([self._array_base[g] for g in self._groups], dtype=np.int64),
        }

    def load_state(self, state: dict) -> None:
        need = ["step_cells", "step_pulses", "epoch_of_step", "totals", "last", "scalars",
                "array_totals", "array_last", "array_base"]
        missing = [k for k in need if k not in state]
        if missing:
            raise KeyError(f"ledger state is missing {missing}")
        totals = np.asarray(state["totals"], dtype=np.float64)
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
        last = np.asarray(state["array_last"], dtype=np.float64)
        self._array_last = {g: dict(zip(_ARRAY_KEYS, last[j].tolist())) for j, g in enumerate(groups)}
        self._array_base = {g: tuple(int(v) for v in row) for g, row in zip(groups, np.asarray(state["array_base"]).tolist())}
        self.step_cells = [int(v) for v in np.asarray(state["step_cells"]).tolist()]
        self.step_pulses = [int(v) for v in np.asarray(state["step_pulses"]).tolist()]
        self.epoch_of_step = [int(v) for v in np.asarray(state["epoch_of_step"]).tolist()]
        self.totals = {p: dict(zip(_SNAPSHOT, totals[i].tolist())) for i, p in enumerate(_PHASES)}
        self._last = dict(zip(_SNAPSHOT, np.asarray(state["last"], dtype=np.float64).tolist()))
        flops, program = np.asarray(state["scalars"], dtype=np.float64).tolist()
        self.digital_flops, self.initial_program_j = int(flops), float(program)
        self._reset_running()


def _json_safe(value):
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    return value
