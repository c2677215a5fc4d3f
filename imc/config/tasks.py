"""The task tables of a config (``[task] name = "digits"`` ...): one attrs class per task."""

from __future__ import annotations

import attrs

from ..errors import ConfigValueError
from .checks import MAX_SPLIT_SEED, int_at_least, number_in, one_of, string, to_float


@attrs.frozen(kw_only=True)
class DigitsTask:
    """scikit-learn's 8x8 digits (1797 images, 10 classes); inputs scaled to [0, 1]."""

    name: str = attrs.field(default="digits", validator=one_of("digits"))
    test_fraction: float = attrs.field(default=0.25, converter=to_float, validator=number_in(0.05, 0.9))
    split_seed: int = attrs.field(default=0, validator=int_at_least(0, high=MAX_SPLIT_SEED))


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
    image_dir: str = attrs.field(default="", validator=string)
    test_images: int = attrs.field(default=2, validator=int_at_least(1, " held-out images"))
    split_seed: int = attrs.field(default=0, validator=int_at_least(0, high=MAX_SPLIT_SEED))


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
    image_dir: str = attrs.field(default="", validator=string)
    test_images: int = attrs.field(default=2, validator=int_at_least(1, " held-out images"))
    split_seed: int = attrs.field(default=0, validator=int_at_least(0, high=MAX_SPLIT_SEED))

    def __attrs_post_init__(self):
        if self.patch_size % self.scale or self.test_size % self.scale:
            raise ConfigValueError(
                f"patch_size ({self.patch_size}) and test_size ({self.test_size}) must be multiples of scale ({self.scale})"
            )


@attrs.frozen(kw_only=True)
class NpzTask:
    """The user's own arrays: a .npz with ``x`` and ``y`` (and optionally ``x_test``, ``y_test``).

    Integer ``y`` means classification (accuracy); float ``y`` shaped like an image means
    image-to-image regression (PSNR, values in [0, 1]).
    """

    name: str = attrs.field(default="npz", validator=one_of("npz"))
    path: str = attrs.field(default="", validator=string)
    test_fraction: float = attrs.field(default=0.2, converter=to_float, validator=number_in(0.05, 0.9))
    split_seed: int = attrs.field(default=0, validator=int_at_least(0, high=MAX_SPLIT_SEED))


@attrs.frozen(kw_only=True)
class ImageFolderTask:
    """Classification from a folder with one sub-folder of images per class."""

    name: str = attrs.field(default="images", validator=one_of("images"))
    path: str = attrs.field(default="", validator=string)
    size: int = attrs.field(default=16, validator=int_at_least(4, " pixels (images are resized to size x size)"))
    test_fraction: float = attrs.field(default=0.2, converter=to_float, validator=number_in(0.05, 0.9))
    split_seed: int = attrs.field(default=0, validator=int_at_least(0, high=MAX_SPLIT_SEED))


TASKS = {cls().name: cls for cls in (DigitsTask, DenoiseTask, SuperResTask, NpzTask, ImageFolderTask)}
TaskConfig = DigitsTask | DenoiseTask | SuperResTask | NpzTask | ImageFolderTask
