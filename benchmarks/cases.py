"""The benchmark cases B1-B5: each builds (measured, floor) callables on one compute.

Every case returns plain dicts (JSON-able) with the ratio against its floor; see
docs/performance.md for what each floor is and why.
"""

from __future__ import annotations

import itertools
import tracemalloc

import numpy as np

from imc.compute import Compute
from imc.models import build
from imc.nn import AnalogConfig, Conv2d, CrossEntropyLoss, Linear, Sequential
from imc.optim import SGD
from imc.rules import make_rule
from imc.train import RULE_STREAM, Trainer

from .timing import against_floor

RULES = ("original", "eapu", "mixed-precision", "manhattan")
PRESETS = ("eapu-paper", "rram-realistic")
TARGETS = {"B1-eapu": 1.5, "B2": 1.3, "B3": 1.5, "B4": 1.2}


def sync_of(compute: Compute):
    """A function that waits for queued device work (a no-op on numpy)."""
    if compute.is_gpu:
        return compute.xp.cuda.Stream.null.synchronize
    return lambda: None


def digits_arrays():
    """Digits inputs (N, 64) in [0, 1] and labels; random data of that shape without scikit-learn."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        rng = np.random.default_rng(0)
        return rng.random((1797, 64), dtype=np.float32), rng.integers(0, 10, 1797)
    bunch = load_digits()
    return (bunch.data / 16.0).astype(np.float32), bunch.target.astype(np.int64)


# ---------------------------------------------------------------------------- B1
def _mlp_trainer(rule: str, preset: str, compute_name: str, seed: int = 0) -> Trainer:
    compute = Compute.create(compute_name, seed)
    model = build("mlp", analog=AnalogConfig(preset=preset), compute=compute)
    return Trainer(model, CrossEntropyLoss(), SGD(lr=0.1), make_rule(rule), compute, batch_size=32, seed=seed)


def _stepper(trainer: Trainer, x, y, batch: int = 32):
    xp = trainer.xp
    batches = [(xp.asarray(x[i : i + batch]), xp.asarray(y[i : i + batch]))
               for i in range(0, len(x) - batch + 1, batch)]
    it = itertools.cycle(batches)

    def step():
        xb, yb = next(it)
        trainer.train_step(xb, yb, 0)

    return step


def b1(compute_name: str, reps: int, rules=RULES, presets=PRESETS) -> list[dict]:
    """Digits MLP (64-64-10) training step, batch 32: each rule vs imc's ideal digital step."""
    x, y = digits_arrays()
    out = []
    for preset in presets:
        floor_trainer = _mlp_trainer("ideal", preset, compute_name)
        floor = _stepper(floor_trainer, x, y)
        for rule in rules:
            trainer = _mlp_trainer(rule, preset, compute_name)
            res = against_floor(_stepper(trainer, x, y), floor, reps=reps,
                                sync=sync_of(trainer.compute))
            res.update(id=f"B1-{rule}", case=f"B1 digits MLP step, {rule}, {preset}",
                       floor="ideal digital step", preset=preset, rule=rule,
                       update_ratio=float(np.mean(trainer.ledger.step_cells[-50:]) / trainer.ledger.n_weights),
                       target=TARGETS.get(f"B1-{rule}"))
            out.append(res)
    return out


# ---------------------------------------------------------------------------- B2 / B4
class LinearStep:
    """One analog linear layer (n x n, no bias) trained by ``rule``: forward, backward, update.

    The learning rate is set from the first gradient so that EaPU selects about
    ``update_ratio`` of the cells per step (the paper's sparse regime).
    """

    def __init__(self, n: int, batch: int, rule: str, compute_name: str, preset: str = "eapu-paper",
                 update_ratio: float = 0.01, seed: int = 0):
        c = Compute.create(compute_name, seed)
        self.compute, self.xp, self.n, self.batch = c, c.xp, n, batch
        self.layer = Linear(n, n, compute=c.spawn(1), bias=False, analog=AnalogConfig(preset=preset))
        self.rule = make_rule(rule)
        self.rule.attach(Sequential(self.layer), c.spawn(RULE_STREAM))
        self.x = c.uniform((batch, n))
        self.d = c.normal((batch, n))
        tile = self.layer.weight.tile
        self.layer.forward(self.x)
        self.layer.backward(self.d)
        mean_grad = float(self.xp.abs(self.layer.weight.grad).mean())
        th_w = 2.0 * tile.r_wg_per_us  # eapu-paper: dG_th = 2 uS
        self.opt = SGD(lr=update_ratio * th_w / max(mean_grad, 1e-30))
        self.cells = 0

    def __call__(self):
        layer = self.layer
        layer.forward(self.x)
        layer.backward(self.d)
        delta = self.opt.propose("w", layer.weight.grad)
        stats = self.rule.apply("w", layer.weight.tile, delta)
        self.cells = stats.cells

    def floor(self):
        """The three bare float32 products of the same shapes."""
        w = self._w
        self.x @ w
        self.d @ w.T
        self.x.T @ self.d

    @property
    def _w(self):
        if not hasattr(self, "_w_cache"):
            self._w_cache = self.compute.normal((self.n, self.n))
        return self._w_cache


def b2(compute_name: str, reps: int, n: int = 4096, batch: int = 256) -> list[dict]:
    """Analog linear layer step (forward + backward + EaPU update) vs its three bare products."""
    step = LinearStep(n, batch, "eapu", compute_name)
    res = against_floor(step, step.floor, reps=reps, target_s=0.5, sync=sync_of(step.compute))
    res.update(id="B2", case=f"B2 analog linear {n}x{n}, batch {batch}: fwd+bwd+EaPU",
               floor="3 bare float32 matmuls", update_ratio=step.cells / (n * n), target=TARGETS["B2"])
    return [res]


def b2_vs_numpy(reps: int, n: int = 8192, batch: int = 256) -> list[dict]:
    """The B2 step on cupy against the same step on numpy (GPU machines only)."""
    gpu, cpu = LinearStep(n, batch, "eapu", "gpu"), LinearStep(n, batch, "eapu", "cpu")
    res = against_floor(gpu, cpu, reps=reps, target_s=2.0, sync=sync_of(gpu.compute))
    res.update(id="B2-gpu-vs-numpy", case=f"B2 step {n}x{n}, batch {batch}: cupy vs numpy",
               floor="the same step on numpy", update_ratio=gpu.cells / (n * n))
    return [res]


def b4(compute_name: str, reps: int, sizes, batch: int = 64, mem_size: int = 1024) -> list[dict]:
    """Scaling of the EaPU step with the weight count, and memory per weight for each rule."""
    out = []
    for n in sizes:
        step = LinearStep(n, batch, "eapu", compute_name)
        res = against_floor(step, step.floor, reps=reps, target_s=0.3, sync=sync_of(step.compute))
        res.update(id=f"B4-{n}", case=f"B4 EaPU step {n}x{n}, batch {batch}", floor="3 bare float32 matmuls",
                   weights=n * n, ns_per_weight=res["measured_s"] / (n * n) * 1e9,
                   floor_ns_per_weight=res["floor_s"] / (n * n) * 1e9)
        out.append(res)
    per_weight = [r["ns_per_weight"] for r in out]
    for r in out:
        r["vs_largest"] = r["ns_per_weight"] / per_weight[-1]
    if not compute_name.startswith(("gpu", "cupy", "cuda")):
        for rule in ("ideal",) + RULES:
            out.append(_memory(rule, mem_size, batch))
    return out


def _memory(rule: str, n: int, batch: int) -> dict:
    """Bytes per weight: persistent (layer + devices + rule + optimiser) and a step's transient peak.

    numpy reports its buffers to tracemalloc, so both include every array allocated."""
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    step = LinearStep(n, batch, rule, "cpu")
    step()
    step()
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    weights = n * n
    inputs = step.x.nbytes + step.d.nbytes
    rule_bytes = sum(a.nbytes for a in step.rule.arrays.values())
    return {
        "id": f"B4-mem-{rule}", "case": f"B4 memory {n}x{n}, {rule}", "rule": rule, "weights": weights,
        "persistent_bytes_per_weight": (held - base - inputs) / weights,
        "step_peak_bytes_per_weight": (peak - held) / weights,
        "rule_state_bytes_per_weight": rule_bytes / weights,
    }


# ---------------------------------------------------------------------------- B3
def b3(compute_name: str, reps: int, n: int = 1024, batch: int = 64) -> list[dict]:
    """Forward product with read noise and an 8-bit ADC vs the bare product (one array, reference column)."""
    from imc.nn import AnalogMatrix

    out = []
    variants = (("B3", "read noise 1% + 8-bit ADC", {}), ("B3-adc", "8-bit ADC, no read noise", {"read_noise_rel": 0.0}))
    for key, what, overrides in variants:
        c = Compute.create(compute_name, 0)
        w = (c.uniform((n, n)) - np.float32(0.5)).astype(np.float32)
        cfg = AnalogConfig(preset="rram-realistic", mapping="reference", adc_bits=8, overrides=overrides)
        tile = AnalogMatrix(w, cfg, c.spawn(1))
        x = c.uniform((batch, n))

        def measured(tile=tile, x=x):
            tile.forward(x)

        def floor(w=w, x=x):
            x @ w

        res = against_floor(measured, floor, reps=reps, target_s=0.3, sync=sync_of(c))
        res.update(id=key, case=f"{key} forward {n}x{n}, batch {batch}, {what}", floor="bare product x @ W",
                   target=TARGETS["B3"] if key == "B3" else None)
        out.append(res)
    return out


# ---------------------------------------------------------------------------- B5
class ConvStep:
    """A DnCNN middle layer (16 -> 16 channels, 3x3, padding 1) on a batch of 16x16 patches."""

    def __init__(self, preset: str | None, compute_name: str, batch: int = 32, size: int = 16, channels: int = 16):
        c = Compute.create(compute_name, 0)
        self.compute, self.xp = c, c.xp
        analog = AnalogConfig(preset=preset) if preset else None  # None: the digital layer, for reference
        self.layer = Conv2d(channels, channels, 3, padding=1, compute=c.spawn(1), analog=analog)
        self.rule = make_rule("eapu")
        self.rule.attach(Sequential(self.layer), c.spawn(RULE_STREAM))
        self.opt = SGD(lr=0.01)
        self.x = c.uniform((batch, channels, size, size))
        self.g = c.normal((batch, channels, size, size)) * np.float32(1e-3)
        cols = batch * size * size
        self.cols = c.uniform((cols, channels * 9))
        self.d = c.normal((cols, channels))
        self.w = c.normal((channels * 9, channels))

    def __call__(self):
        layer = self.layer
        layer.forward(self.x)
        layer.backward(self.g)
        delta = self.opt.propose("w", layer.weight.grad)
        if layer.analog:
            self.rule.apply("w", layer.weight.tile, delta)
        else:
            layer.weight.data += delta

    def floor(self):
        self.cols @ self.w
        self.d @ self.w.T
        self.cols.T @ self.d


def b5(compute_name: str, reps: int, presets=PRESETS) -> list[dict]:
    """A denoising-network conv layer step (EaPU) vs its three bare im2col products."""
    out = []
    for preset in (None,) + tuple(presets):
        step = ConvStep(preset, compute_name)
        res = against_floor(step, step.floor, reps=reps, sync=sync_of(step.compute))
        what = f"EaPU, {preset}" if preset else "digital layer + SGD (reference: im2col/col2im cost)"
        res.update(id=f"B5-{preset or 'digital'}", case=f"B5 DnCNN conv 16->16 3x3, 32 patches 16x16, {what}",
                   floor="3 bare im2col matmuls", preset=preset)
        out.append(res)
    return out
