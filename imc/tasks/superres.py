"""Super-resolution: bicubic-downsampled gray patches in, the originals out; PSNR vs bicubic."""

from __future__ import annotations

import numpy as np

from .base import IMAGE, TaskData, psnr_db
from .images import random_patches, source_images, tiles


def downsample(images: np.ndarray, scale: int) -> np.ndarray:
    """Bicubic, anti-aliased downsampling of (N, H, W) images by an integer factor."""
    from skimage.transform import resize

    _, h, w = images.shape
    return np.stack([resize(im, (h // scale, w // scale), order=3, anti_aliasing=True) for im in images]).astype(
        np.float32
    )


def upsample(images: np.ndarray, scale: int) -> np.ndarray:
    """Bicubic upsampling of (N, h, w) images by an integer factor: the baseline."""
    from skimage.transform import resize

    _, h, w = images.shape
    return np.stack([resize(im, (h * scale, w * scale), order=3) for im in images]).astype(np.float32)


def load(task) -> TaskData:
    """Inputs (N, 1, s/scale, s/scale), targets (N, 1, s, s); test on held-out image tiles."""
    train_images, test_images = source_images(task)
    rng = np.random.default_rng(task.split_seed)
    hr_train = random_patches(train_images, task.patches, task.patch_size, rng)
    hr_test = tiles(test_images, task.test_size)
    lr_train = downsample(hr_train, task.scale)
    lr_test = downsample(hr_test, task.scale)
    bicubic = upsample(lr_test, task.scale)
    return TaskData(
        name="superres", kind=IMAGE, x_train=lr_train[:, None], y_train=hr_train[:, None],
        x_test=lr_test[:, None], y_test=hr_test[:, None],
        baseline={"bicubic_psnr_db": psnr_db(bicubic, hr_test)},
    )
