"""scikit-learn's digits: 1797 gray 8x8 images of handwritten digits, 10 classes."""

from __future__ import annotations

import numpy as np

from .base import CLASSIFICATION, TaskData, split_indices


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
