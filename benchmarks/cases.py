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
BATCHES = (8, 32)
HIDDEN = 128  # the digits MLP 64-128-10 of issue 15's measurements
TARGETS = {"B1-eapu-eapu-paper": 1.5, "B1-eapu-rram-realistic": 2.5, "B2": 1.3, "B3": 2.2, "B4": 1.2,
           "B6": 1.3, "B7": 1.5, "B8": 1.05}


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
def _trainer(rule: str, preset: str | None, compute_name: str, model: str = "mlp", batch: int = 32, seed: int = 0,
             **params) -> Trainer:
    compute = Compute.create(compute_name, seed)
    analog = AnalogConfig(preset=preset) if preset else None
    net = build(model, analog=analog, compute=compute, **params)
    return Trainer(net, CrossEntropyLoss(), SGD(lr=0.1), make_rule(rule), compute, batch_size=batch, seed=seed)


def _mlp_trainer(rule: str, preset: str, compute_name: str, seed: int = 0, batch: int = 32) -> Trainer:
    return _trainer(rule, preset, compute_name, batch=batch, seed=seed, hidden=HIDDEN)


def _batches(xp, x, y, batch: int):
    return [(xp.asarray(x[i : i + batch]), xp.asarray(y[i : i + batch])) for i in range(0, len(x) - batch + 1, batch)]


def _stepper(trainer: Trainer, x, y, batch: int = 32):
    it = itertools.cycle(_batches(trainer.xp, x, y, batch))

    def step():  # as Trainer.fit runs it: the data were validated once
        xb, yb = next(it)
        trainer.train_step(xb, yb, 0, checked=True)

    return step


def b1(compute_name: str, reps: int, rules=RULES, presets=PRESETS, batches=BATCHES) -> list[dict]:
    """Digits MLP (64-128-10) training step: each rule vs a fresh ideal digital step of its own.

    Every rule gets its own, freshly built ideal trainer as floor, so no figure depends on
    how many steps an earlier case already ran on a shared floor."""
    x, y = digits_arrays()
    out = []
    for preset in presets:
        for batch in batches:
            for rule in rules:
                floor = _stepper(_mlp_trainer("ideal", preset, compute_name, batch=batch), x, y, batch)
                trainer = _mlp_trainer(rule, preset, compute_name, batch=batch)
                res = against_floor(_stepper(trainer, x, y, batch), floor, reps=reps, sync=sync_of(trainer.compute))
                res.update(id=f"B1-{rule}-{preset}-b{batch}", case=f"B1 digits MLP step, {rule}, {preset}, batch {batch}",
                           floor="ideal digital step (fresh)", preset=preset, rule=rule, batch=batch,
                           update_ratio=float(np.mean(trainer.ledger.step_cells[-50:]) / trainer.ledger.n_weights),
                           target=TARGETS.get(f"B1-{rule}-{preset}"))
                out.append(res)
    return out


def b1_norule(compute_name: str, reps: int, presets=PRESETS, batches=BATCHES) -> list[dict]:
    """The analog product path's share of B1: the EaPU trainer's step with the rule's ``apply``
    replaced by a no-op (forward, loss, backward with the analog products, optimiser, ledger; no
    decision, no write) against a fresh ideal step; and the step's three analog products alone
    (forward of both layers, backward of the second, as the layers call them) against the same
    three bare float32 products of the ideal network."""
    from imc.nn.analog import WriteStats

    x, y = digits_arrays()
    out = []
    for preset in presets:
        for batch in batches:
            floor = _stepper(_mlp_trainer("ideal", preset, compute_name, batch=batch), x, y, batch)
            trainer = _mlp_trainer("eapu", preset, compute_name, batch=batch)
            trainer.rule.apply = lambda name, tile, delta: WriteStats(0, 0)
            res = against_floor(_stepper(trainer, x, y, batch), floor, reps=reps, sync=sync_of(trainer.compute))
            res.update(id=f"B1-norule-{preset}-b{batch}", case=f"B1 digits MLP step, rule's apply a no-op, {preset}, batch {batch}",
                       floor="ideal digital step (fresh)", preset=preset, batch=batch)
            out.append(res)
            t1, t2 = (layer.weight.tile for layer in trainer.model.modules() if isinstance(layer, Linear))
            xp = trainer.xp
            xb = xp.asarray(x[:batch])
            hb = xp.asarray(np.random.default_rng(0).random((batch, HIDDEN), dtype=np.float32))
            db = xp.asarray(np.random.default_rng(1).standard_normal((batch, 10)).astype(np.float32))
            w1, w2 = t1.peek_weights(), t2.peek_weights()

            def products(t1=t1, t2=t2, xb=xb, hb=hb, db=db):
                t1.forward(xb, checked=True)
                t2.forward(hb, checked=True)
                t2.backward(db, checked=True)

            def bare(w1=w1, w2=w2, xb=xb, hb=hb, db=db):
                xb @ w1
                hb @ w2
                db @ w2.T

            res = against_floor(products, bare, reps=reps, sync=sync_of(trainer.compute))
            res.update(id=f"B1-products-{preset}-b{batch}", case=f"B1's three analog products, {preset}, batch {batch}",
                       floor="the three bare float32 products", preset=preset, batch=batch)
            out.append(res)
            if trainer.compute.is_gpu:
                continue
            hand = _hand_products(t1, t2, xb, hb, db)
            res = against_floor(products, hand, reps=reps)
            res.update(id=f"B1-products-vs-hand-{preset}-b{batch}",
                       case=f"B1's three analog products / the same arithmetic hand-written, {preset}, batch {batch}",
                       floor="hand-written numpy: product, read-noise variance product, sqrt, one normal per output, scale",
                       preset=preset, batch=batch)
            out.append(res)
    return out


def _hand_products(t1, t2, xb, hb, db):
    """The arithmetic of the three analog products of ``b1_norule`` written directly in numpy on
    the matrices' current operands (``G - G_ref`` or ``G+ - G-``, the read-noise variance): what
    any implementation of this read-noise model pays, without the framework's calls and counts."""
    rng = np.random.default_rng(0)

    def operands(tile):  # what the devices' products use: G - G_ref or G+ - G-, and the summed variance
        devices = tile.tiles[0].devices
        w = devices[0].g - (devices[1].g if len(devices) == 2 else tile.g_ref_us)
        noisy = [d._read_var() for d in devices if d.spec.read_noise_rel > 0 and d.spec.has("read-noise")]
        var = None if not noisy else noisy[0] if len(noisy) == 1 else noisy[0] + noisy[1]
        return w, var, np.asarray(np.float32(tile.r_wg_per_us))

    ops = [(xb, *operands(t1), False), (hb, *operands(t2), False), (db, *operands(t2), True)]

    def hand():
        for x, w, var, scale, transposed in ops:
            y = x @ (w.T if transposed else w)
            if var is not None:
                s = (x * x) @ (var.T if transposed else var)
                np.sqrt(s, out=s)
                s *= rng.standard_normal(y.shape, dtype=np.float32)
                y += s
            y *= scale

    return hand


# ---------------------------------------------------------------------------- B6 / B7 / B8
def b6(compute_name: str, reps: int, batches=BATCHES) -> list[dict]:
    """imc's ideal digits MLP step (Trainer.train_step) vs a hand-written numpy step of the same network."""
    from .handwritten import MLPStep

    x, y = digits_arrays()
    out = []
    for batch in batches:
        trainer = _mlp_trainer("ideal", "eapu-paper", compute_name, batch=batch)
        hand, data = MLPStep(hidden=HIDDEN), itertools.cycle(_batches(np, x, y, batch))
        res = against_floor(_stepper(trainer, x, y, batch), lambda hand=hand, data=data: hand(*next(data)), reps=reps,
                            sync=sync_of(trainer.compute))
        res.update(id=f"B6-b{batch}", case=f"B6 digits MLP 64-{HIDDEN}-10 ideal step, batch {batch}",
                   floor="hand-written numpy step", batch=batch, target=TARGETS["B6"])
        out.append(res)
    return out


def b1_bound(compute_name: str, reps: int, batches=BATCHES) -> list[dict]:
    """What bounds B1 on eapu-paper: EaPU written by hand in numpy (``EaPUMLPStep``) against the
    hand-written SGD step (no framework: the least any numpy implementation pays for EaPU's
    decision and write per layer); the same with every layer in one buffer
    (``FusedEaPUMLPStep``: one decision and one write per step); and imc's EaPU step against
    the per-layer hand-written EaPU step."""
    from .handwritten import EaPUMLPStep, FusedEaPUMLPStep, MLPStep

    x, y = digits_arrays()
    out = []
    for batch in batches:
        hand, sgd = EaPUMLPStep(hidden=HIDDEN), MLPStep(hidden=HIDDEN)
        d1, d2 = itertools.cycle(_batches(np, x, y, batch)), itertools.cycle(_batches(np, x, y, batch))
        res = against_floor(lambda hand=hand, d=d1: hand(*next(d)), lambda sgd=sgd, d=d2: sgd(*next(d)), reps=reps)
        res.update(id=f"B1-hand-b{batch}", case=f"B1 bound: hand-written numpy EaPU step, eapu-paper, batch {batch}",
                   floor="hand-written numpy SGD step", batch=batch,
                   update_ratio=hand.cells / max(hand.steps, 1) / (hand.w1.size + hand.w2.size))
        out.append(res)
        fused, sgd = FusedEaPUMLPStep(hidden=HIDDEN), MLPStep(hidden=HIDDEN)
        d1, d2 = itertools.cycle(_batches(np, x, y, batch)), itertools.cycle(_batches(np, x, y, batch))
        res = against_floor(lambda fused=fused, d=d1: fused(*next(d)), lambda sgd=sgd, d=d2: sgd(*next(d)), reps=reps)
        res.update(id=f"B1-hand-fused-b{batch}",
                   case=f"B1 bound: hand-written numpy EaPU, all layers in one buffer, eapu-paper, batch {batch}",
                   floor="hand-written numpy SGD step", batch=batch,
                   update_ratio=fused.cells / max(fused.steps, 1) / fused.flat.size)
        out.append(res)
        trainer = _mlp_trainer("eapu", "eapu-paper", compute_name, batch=batch)
        hand, d3 = EaPUMLPStep(hidden=HIDDEN), itertools.cycle(_batches(np, x, y, batch))
        res = against_floor(_stepper(trainer, x, y, batch), lambda hand=hand, d=d3: hand(*next(d)), reps=reps,
                            sync=sync_of(trainer.compute))
        res.update(id=f"B1-vs-hand-b{batch}", case=f"B1 imc EaPU step / hand-written EaPU step, eapu-paper, batch {batch}",
                   floor="hand-written numpy EaPU step", batch=batch)
        out.append(res)
    return out


def b7(compute_name: str, reps: int, batches=(32,)) -> list[dict]:
    """imc's digits CNN step (ideal rule, and EaPU on eapu-paper) vs a hand-written numpy im2col step."""
    from .handwritten import CNNStep

    x, y = digits_arrays()
    x = x.reshape(-1, 1, 8, 8)
    out = []
    for batch in batches:
        for rule, preset in (("ideal", "eapu-paper"), ("ideal", None), ("eapu", "eapu-paper")):
            trainer = _trainer(rule, preset, compute_name, model="cnn", batch=batch)
            hand, data = CNNStep(), itertools.cycle(_batches(np, x, y, batch))
            res = against_floor(_stepper(trainer, x, y, batch), lambda hand=hand, data=data: hand(*next(data)),
                                reps=reps, sync=sync_of(trainer.compute))
            what = f"{rule}, {preset}" if preset else "all-digital layers"
            res.update(id=f"B7-{rule}-{preset or 'digital'}-b{batch}", case=f"B7 digits CNN step ({what}), batch {batch}",
                       floor="hand-written numpy im2col step", batch=batch,
                       target=TARGETS["B7"] if (rule, preset) == ("ideal", "eapu-paper") else None)
            out.append(res)
    return out


def b8(compute_name: str, epochs: int = 30, batch: int = 8) -> list[dict]:
    """The ledger's per-step cost over a run: last epoch / first epoch (digits MLP, ideal rule).

    Times ``Ledger.record_step`` and ``Ledger.step_metrics`` (what the trainer calls every
    step) on the benchmark clock; the ratio compares the median per-step cost of the last
    epoch with the first. A ledger whose step cost grows with the history shows up here."""
    import statistics

    from . import timing

    trainer = _mlp_trainer("ideal", "eapu-paper", compute_name, batch=batch)
    ledger, per_step = trainer.ledger, []
    record, metrics = ledger.record_step, ledger.step_metrics

    def timed(fn):
        def wrapper(*args, **kwargs):
            t0 = timing.CLOCK()
            out = fn(*args, **kwargs)
            per_step.append(timing.CLOCK() - t0)
            return out
        return wrapper

    ledger.record_step, ledger.step_metrics = timed(record), timed(metrics)
    x, y = digits_arrays()
    trainer.fit((x, y), epochs=epochs)
    spe = trainer.steps_per_epoch(len(x))
    calls = len(per_step) // trainer.step  # ledger calls per step (record + metrics, one more at an epoch end)
    first = [sum(per_step[i * calls : (i + 1) * calls]) for i in range(spe)]
    last = [sum(per_step[i * calls : (i + 1) * calls]) for i in range((epochs - 1) * spe, epochs * spe)]
    f, la = statistics.median(first), statistics.median(last)
    return [{"id": "B8", "case": f"B8 ledger cost per step, epoch {epochs} / epoch 1 (digits MLP, batch {batch}, "
             f"{spe} steps/epoch)", "ratio": la / f, "ratio_min": la / f, "ratio_max": la / f,
             "measured_s": la, "floor_s": f, "floor": "the same ledger in epoch 1", "target": TARGETS["B8"]}]


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
        self.cells = stats.cells  # may be a 0-d device array: read it only when reporting

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
               floor="3 bare float32 matmuls", update_ratio=float(step.cells) / (n * n), target=TARGETS["B2"])
    return [res]


def b2_vs_numpy(reps: int, n: int = 8192, batch: int = 256, compute_name: str = "gpu") -> list[dict]:
    """The B2 step on cupy (or the stand-in) against the same step on numpy."""
    gpu, cpu = LinearStep(n, batch, "eapu", compute_name), LinearStep(n, batch, "eapu", "cpu")
    res = against_floor(gpu, cpu, reps=reps, target_s=2.0, sync=sync_of(gpu.compute))
    res.update(id="B2-gpu-vs-numpy", case=f"B2 step {n}x{n}, batch {batch}: cupy vs numpy",
               floor="the same step on numpy", update_ratio=float(gpu.cells) / (n * n))
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
            tile.forward(x, checked=True)  # as the layers call it

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
