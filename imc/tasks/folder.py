"""Classification from the user's images: ``path/<class name>/<image files>``."""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np

from ..errors import DataError, InputFileError
from ..fields import MAX_SPLIT_SEED, int_at_least, number_in, one_of, path_string, to_float
from .base import CLASSIFICATION, TaskData, TaskInfo, split_indices
from .images import image_files, read_gray


@attrs.frozen(kw_only=True)
class ImageFolderTask:
    """Classification from a folder with one sub-folder of images per class."""

    name: str = attrs.field(default="images", validator=one_of("images"))
    path: str = attrs.field(default="", validator=path_string)
    size: int = attrs.field(default=16, validator=int_at_least(4, " pixels (images are resized to size x size)", high=4096))
    test_fraction: float = attrs.field(default=0.2, converter=to_float, validator=number_in(0.05, 0.9))
    split_seed: int = attrs.field(default=0, validator=int_at_least(0, high=MAX_SPLIT_SEED))


def load(task) -> TaskData:
    """Gray images resized to ``size`` x ``size``; classes are the sub-folders, sorted by name."""
    from skimage.transform import resize

    if not task.path:
        raise DataError("task 'images' needs task.path, a folder with one sub-folder of images per class")
    root = Path(task.path)
    if not root.is_dir():
        raise InputFileError(f"image folder not found: {root} (task.path)")
    classes = sorted(p for p in root.iterdir() if p.is_dir())
    if len(classes) < 2:
        raise DataError(f"{root}: needs at least two sub-folders (one per class), found {len(classes)}")
    images, labels = [], []
    for label, folder in enumerate(classes):
        for file in image_files(folder, "task.path"):
            image = read_gray(file)
            images.append(resize(image, (task.size, task.size), anti_aliasing=True).astype(np.float32))
            labels.append(label)
    x = np.stack(images)[:, None]
    y = np.asarray(labels, dtype=np.int64)
    train, test = split_indices(len(y), task.test_fraction, task.split_seed, labels=y)
    return TaskData(
        name="images", kind=CLASSIFICATION, x_train=x[train], y_train=y[train],
        x_test=x[test], y_test=y[test], n_classes=len(classes),
        baseline={"classes": [c.name for c in classes]},
    )


INFO = TaskInfo(name="images", config=ImageFolderTask, load=load, description="Classification from a folder with one sub-folder of images per class.")
