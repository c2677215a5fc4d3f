"""Gaussian denoising: noisy gray patches in, clean patches out; PSNR on held-out images."""

from __future__ import annotations

import attrs
import numpy as np

from ..fields import MAX_SPLIT_SEED, int_at_least, number_in, one_of, path_string, to_float
from .base import IMAGE, TaskData, TaskInfo, psnr_db
from .images import random_patches, source_images, tiles


@attrs.frozen(kw_only=True)
class DenoiseTask:
    """Gaussian denoising on gray patches of natural images; PSNR on held-out images.

    ``image_dir`` (a folder of images) replaces scikit-image's bundled pictures; then the
    last ``test_images`` files (sorted by name) are held out.
    """

    name: str = attrs.field(default="denoise", validator=one_of("denoise"))
    noise_sigma: float = attrs.field(
        default=0.1, converter=to_float, validator=number_in(0.0, 1.0, " (fraction of the [0, 1] intensity range)", True)
    )
    patch_size: int = attrs.field(default=16, validator=int_at_least(4, " pixels"))
    patches: int = attrs.field(default=768, validator=int_at_least(1, " training patches"))
    test_size: int = attrs.field(default=64, validator=int_at_least(8, " pixels (side of each test crop)"))
    image_scale: float = attrs.field(
        default=0.5, converter=to_float, validator=number_in(0.05, 1.0, " (resize factor of the source images)")
    )
    image_dir: str = attrs.field(default="", validator=path_string)
    test_images: int = attrs.field(default=2, validator=int_at_least(1, " held-out images"))
    split_seed: int = attrs.field(default=0, validator=int_at_least(0, high=MAX_SPLIT_SEED))


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


INFO = TaskInfo(name="denoise", config=DenoiseTask, load=load, description="Gaussian denoising on gray patches of natural images; PSNR on held-out images.")
