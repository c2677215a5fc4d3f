"""Gaussian denoising: noisy gray patches in, clean patches out; PSNR on held-out images."""

from __future__ import annotations

import numpy as np

from .base import IMAGE, TaskData, psnr_db
from .images import random_patches, source_images, tiles


def load(task) -> TaskData:
    """Train on random patches, test on tiles of the held-out images (noise fixed by split_seed)."""
    train_images, test_images = source_images(task)
    rng = np.random.default_rng(task.split_seed)
    clean_train = random_patches(train_images, task.patches, task.patch_size, rng)[:, None]
    clean_test = tiles(test_images, task.test_size)[:, None]
    sigma = np.float32(task.noise_sigma)
    noisy_train = clean_train + sigma * rng.standard_normal(clean_train.shape, dtype=np.float32)
    noisy_test = clean_test + sigma * rng.standard_normal(clean_test.shape, dtype=np.float32)
    return TaskData(
        name="denoise", kind=IMAGE, x_train=noisy_train, y_train=clean_train,
        x_test=noisy_test, y_test=clean_test,
        baseline={"noisy_psnr_db": psnr_db(noisy_test, clean_test)},
    )
