"""scikit-learn's digits: 1797 gray 8x8 images of handwritten digits, 10 classes."""

from __future__ import annotations

import attrs
import numpy as np

from ..fields import MAX_SPLIT_SEED, int_at_least, number_in, one_of, to_float
from .base import CLASSIFICATION, TaskData, TaskInfo, split_indices


@attrs.frozen(kw_only=True)
class DigitsTask:
    """scikit-learn's 8x8 digits (1797 images, 10 classes); inputs scaled to [0, 1]."""

    name: str = attrs.field(default="digits", validator=one_of("digits"))
    test_fraction: float = attrs.field(default=0.25, converter=to_float, validator=number_in(0.05, 0.9))
    split_seed: int = attrs.field(default=0, validator=int_at_least(0, high=MAX_SPLIT_SEED))


def load(task) -> TaskData:
    """Inputs (N, 1, 8, 8) scaled to [0, 1]; a stratified split fixed by ``split_seed``."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[:, None, :, :]
    y = bunch.target.astype(np.int64)
    train, test = split_indices(len(y), task.test_fraction, task.split_seed, labels=y)
    return TaskData(
        name="digits", kind=CLASSIFICATION, x_train=x[train], y_train=y[train],
        x_test=x[test], y_test=y[test], n_classes=10,
    )


INFO = TaskInfo(name="digits", config=DigitsTask, load=load, description="scikit-learn's 8x8 digits (1797 images, 10 classes); inputs scaled to [0, 1].")
