"""Super-resolution: bicubic-downsampled gray patches in, the originals out; PSNR vs bicubic."""

from __future__ import annotations

import attrs
import numpy as np

from ..errors import ConfigValueError
from ..fields import MAX_SPLIT_SEED, int_at_least, number_in, one_of, path_string, to_float
from .base import IMAGE, TaskData, TaskInfo, psnr_db
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


@attrs.frozen(kw_only=True)
class SuperResTask:
    """2x super-resolution: bicubic-downsampled gray patches in, the originals out."""

    name: str = attrs.field(default="superres", validator=one_of("superres"))
    scale: int = attrs.field(default=2, validator=int_at_least(2, " (upscaling factor)"))
    patch_size: int = attrs.field(default=16, validator=int_at_least(4, " pixels (high-resolution side)"))
    patches: int = attrs.field(default=768, validator=int_at_least(1, " training patches"))
    test_size: int = attrs.field(default=64, validator=int_at_least(8, " pixels (high-resolution test crop side)"))
    image_scale: float = attrs.field(
        default=0.5, converter=to_float, validator=number_in(0.05, 1.0, " (resize factor of the source images)")
    )
    image_dir: str = attrs.field(default="", validator=path_string)
    test_images: int = attrs.field(default=2, validator=int_at_least(1, " held-out images"))
    split_seed: int = attrs.field(default=0, validator=int_at_least(0, high=MAX_SPLIT_SEED))

    def __attrs_post_init__(self):
        if self.patch_size % self.scale or self.test_size % self.scale:
            raise ConfigValueError(
                f"patch_size ({self.patch_size}) and test_size ({self.test_size}) must be multiples of scale ({self.scale})"
            )


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


INFO = TaskInfo(name="superres", config=SuperResTask, load=load, description="2x super-resolution: bicubic-downsampled gray patches in, the originals out.")
