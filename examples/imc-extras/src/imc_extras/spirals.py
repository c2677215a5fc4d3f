"""The "spirals" task: two interleaved spirals in the plane, one class each."""

from __future__ import annotations

import attrs
import numpy as np

from imc.fields import int_at_least, number_in, one_of, to_float
from imc.records import TaskInfo
from imc.tasks.base import CLASSIFICATION, TaskData, split_indices


@attrs.frozen(kw_only=True)
class SpiralsTask:
    """Two spirals of ``points`` points each, ``turns`` turns, Gaussian jitter ``noise`` (in units of the radius)."""

    name: str = attrs.field(default="spirals", validator=one_of("spirals"))
    points: int = attrs.field(default=400, validator=int_at_least(10, " points per spiral"))
    turns: float = attrs.field(default=1.5, converter=to_float, validator=number_in(0.25, 5.0, " turns"))
    noise: float = attrs.field(default=0.05, converter=to_float, validator=number_in(0.0, 0.5, " (fraction of the radius)"))
    test_fraction: float = attrs.field(default=0.25, converter=to_float, validator=number_in(0.05, 0.9))
    split_seed: int = attrs.field(default=0, validator=int_at_least(0))


def load(task: SpiralsTask) -> TaskData:
    """Inputs (N, 2) in about [-1, 1]; labels 0 and 1; a stratified split fixed by ``split_seed``."""
    rng = np.random.default_rng(task.split_seed)
    t = np.sqrt(rng.uniform(0.0, 1.0, task.points)) * task.turns * 2 * np.pi
    r = t / (task.turns * 2 * np.pi)
    arm = np.stack([r * np.cos(t), r * np.sin(t)], axis=1)
    x = np.concatenate([arm, -arm]) + rng.normal(0.0, task.noise, (2 * task.points, 2))
    y = np.repeat(np.arange(2, dtype=np.int64), task.points)
    train, test = split_indices(len(y), task.test_fraction, task.split_seed, labels=y)
    return TaskData(name="spirals", kind=CLASSIFICATION, x_train=x[train], y_train=y[train],
                    x_test=x[test], y_test=y[test], n_classes=2)


INFO = TaskInfo(name="spirals", config=SpiralsTask, load=load, description="two interleaved spirals (2-D, 2 classes)")
