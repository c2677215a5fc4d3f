"""A short EaPU training run on the backend lowers the loss, through imc's own training engine.

The task is a linear regression that every device can represent at least coarsely: 16
inputs, 4 outputs, a teacher with weights uniform in +-0.8 (the mapping puts +-w_max = 1
across the window; a large teacher keeps the learnable part of the loss well above the
floor that stuck cells leave), 256 training samples; the loss is measured on 2048 fresh
samples. The layer starts from weights programmed to zero and trains for 10 epochs of SGD (lr 0.3, batch 32) with update rule "eapu". The loss must fall
significantly: the mean per-sample drop must exceed Z standard errors of the paired drops.
"""

from __future__ import annotations

import numpy as np

from .registry import check, fail
from .stats import Z, mean_and_se

N_IN, N_OUT, SAMPLES, EVAL_SAMPLES, EPOCHS, LR, BATCH = 16, 4, 256, 2048, 10, 0.3, 32
TEACHER = 0.8  # teacher weights uniform in +-TEACHER (w_max = 1)


@check("eapu_training_lowers_loss")
def eapu_training_lowers_loss(target):
    """A short EaPU training run (imc.train.Trainer, rule 'eapu') lowers a regression loss significantly."""
    from imc.compute import Compute
    from imc.nn.analog import AnalogConfig, DeviceSource
    from imc.nn.layers import AnalogLinear
    from imc.nn.losses import MSELoss
    from imc.nn.module import Sequential
    from imc.optim import make_optimizer
    from imc.rules import make_rule
    from imc.train import Trainer

    seed = target.device_seed(100)
    compute = Compute.create(target.compute, seed=seed)
    rng = np.random.default_rng(seed)
    config = AnalogConfig(device=DeviceSource(spec=target.spec, factory=target.factory))  # registered or not
    model = Sequential(AnalogLinear(N_IN, N_OUT, config, compute=compute, bias=False))
    for _, param in model.named_parameters():
        param.tile.program(compute.asarray(np.zeros(param.tile.shape)))
    teacher = rng.uniform(-TEACHER, TEACHER, (N_IN, N_OUT)).astype(np.float32)
    x = rng.standard_normal((SAMPLES, N_IN)).astype(np.float32)
    y = x @ teacher
    trainer = Trainer(model, MSELoss(), make_optimizer("sgd", lr=LR), make_rule("eapu"), compute,
                      batch_size=BATCH, seed=seed, metric="psnr")
    xd, yd = compute.asarray(x), compute.asarray(y)
    x_eval = rng.standard_normal((EVAL_SAMPLES, N_IN)).astype(np.float32)
    y_eval = x_eval @ teacher

    def per_sample_loss():
        pred = compute.to_numpy(trainer.predict(compute.asarray(x_eval))).astype(np.float64)
        return ((pred - y_eval) ** 2).mean(axis=1)

    before = per_sample_loss()
    trainer.fit((xd, yd), epochs=EPOCHS)
    after = per_sample_loss()
    if not np.isfinite(after).all():
        fail("EaPU training produced a non-finite loss")
    drop, se = mean_and_se(before - after)
    if drop <= Z * se:
        fail(
            f"EaPU training did not lower the loss: {before.mean():.4g} -> {after.mean():.4g} "
            f"(drop {drop:.3g}, {drop / se:.1f} standard errors over {EVAL_SAMPLES} samples; needs > {Z:g})"
        )
    return f"loss {before.mean():.4g} -> {after.mean():.4g} ({after.mean() / before.mean():.2f}x, {drop / se:.1f} SE)"
