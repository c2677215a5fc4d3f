"""What a task hands the trainer: arrays, the metric, and a baseline for the report."""

from __future__ import annotations

import attrs
import numpy as np

from ..errors import DataError
from ..records import TaskInfo  # noqa: F401  (re-exported for task modules)

CLASSIFICATION = "classification"
IMAGE = "image"  # image-to-image regression (denoising, super-resolution)


def _float32(x):
    return np.ascontiguousarray(x, dtype=np.float32)


@attrs.frozen(kw_only=True, eq=False)
class TaskData:
    """Train and test arrays of one task (numpy, on the host).

    ``kind`` is "classification" (targets int64 labels, metric accuracy) or "image"
    (targets float32 images in [0, 1], metric PSNR in dB). ``baseline`` holds reference
    figures for the report, e.g. ``{"bicubic_psnr_db": 27.1}``.
    """

    name: str
    kind: str = attrs.field(validator=attrs.validators.in_((CLASSIFICATION, IMAGE)))
    x_train: np.ndarray = attrs.field(converter=_float32)
    y_train: np.ndarray
    x_test: np.ndarray = attrs.field(converter=_float32)
    y_test: np.ndarray
    n_classes: int = 0
    baseline: dict = attrs.field(factory=dict)

    def __attrs_post_init__(self):
        for split, x, y in (("train", self.x_train, self.y_train), ("test", self.x_test, self.y_test)):
            if len(x) != len(y):
                raise DataError(f"task {self.name}: {split} inputs ({len(x)}) and targets ({len(y)}) differ in count")
            if len(x) == 0:
                raise DataError(f"task {self.name}: the {split} split is empty; provide more samples")

    @property
    def metric(self) -> str:
        return "accuracy" if self.kind == CLASSIFICATION else "psnr"

    @property
    def in_shape(self) -> tuple[int, ...]:
        """Shape of one input sample (C, H, W) or (features,)."""
        return tuple(self.x_train.shape[1:])

    @property
    def out_channels(self) -> int:
        return int(self.y_train.shape[1]) if self.kind == IMAGE else 0


def psnr_db(prediction, target, data_range: float = 1.0) -> float:
    """Mean PSNR (dB) over the samples of a batch of images in [0, data_range]."""
    prediction = np.clip(np.asarray(prediction, dtype=np.float64), 0.0, data_range)
    target = np.asarray(target, dtype=np.float64)
    mse = ((prediction - target) ** 2).reshape(len(target), -1).mean(axis=1)
    mse = np.maximum(mse, 1e-12)
    return float(np.mean(10.0 * np.log10(data_range**2 / mse)))


def split_indices(n: int, test_fraction: float, seed: int, labels=None) -> tuple[np.ndarray, np.ndarray]:
    """Reproducible train/test indices (stratified when labels are given)."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(n)
    stratify = labels if labels is not None and np.bincount(labels).min() >= 2 else None
    train, test = train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=stratify)
    return np.sort(train), np.sort(test)
