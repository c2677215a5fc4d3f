"""Gray images for the image tasks: scikit-image's bundled pictures or a user folder."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..errors import DataError, InputFileError, ResourceLimitError

# scikit-image ships these with the package (no download). The last two are held out.
BUNDLED = ("astronaut", "coffee", "chelsea", "rocket", "coins", "clock", "camera", "moon")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif")


def to_gray(image) -> np.ndarray:
    """A 2-D float32 image in [0, 1] from gray, RGB or RGBA input of any dtype."""
    from skimage.color import rgb2gray, rgba2rgb
    from skimage.util import img_as_float32

    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 4:
        image = rgba2rgb(image)
    if image.ndim == 3 and image.shape[-1] == 3:
        image = rgb2gray(image)
    if image.ndim != 2:
        raise DataError(f"expected a gray or RGB(A) image, got an array of shape {image.shape}")
    return np.clip(img_as_float32(image), 0.0, 1.0).astype(np.float32)


def bundled_images() -> list[tuple[str, np.ndarray]]:
    """(name, gray image) for scikit-image's bundled natural images."""
    import skimage.data

    return [(name, to_gray(getattr(skimage.data, name)())) for name in BUNDLED]


def image_files(folder, key: str = "task.image_dir") -> list[Path]:
    """Image files directly in ``folder``, sorted by name (a clear error naming ``key`` if there are none)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileError(f"image folder not found: {folder} ({key})")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputFileError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {folder} ({key})")
    return files


def read_gray(path) -> np.ndarray:
    """One image file as a gray float32 array in [0, 1]."""
    import skimage.io
    from PIL import Image

    try:
        with warnings.catch_warnings():  # PIL warns above its pixel limit and refuses at twice it
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return to_gray(skimage.io.imread(path))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ResourceLimitError(f"image {path} is too large to read safely ({' '.join(str(exc).split())})") from None
    except MemoryError:
        raise ResourceLimitError(f"image {path} does not fit in memory") from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError) as exc:
        raise DataError(f"cannot read image {path}: {' '.join(str(exc).split())}") from None


def source_images(task) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(train images, held-out test images), resized by ``task.image_scale``."""
    from skimage.transform import rescale

    if task.image_dir:
        images = [read_gray(p) for p in image_files(task.image_dir)]
        where = f"folder {task.image_dir}"
    else:
        images = [image for _, image in bundled_images()]
        where = "the bundled images"
    if len(images) <= task.test_images:
        raise DataError(
            f"{where} holds {len(images)} images but task.test_images = {task.test_images}; "
            "at least one must remain for training"
        )
    if task.image_scale != 1.0:
        images = [rescale(im, task.image_scale, anti_aliasing=True).astype(np.float32) for im in images]
    return images[: -task.test_images], images[-task.test_images :]


def random_patches(images, count: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` square patches (count, size, size) from random images and positions."""
    usable = [im for im in images if min(im.shape) >= size]
    if not usable:
        raise DataError(f"no training image is at least {size} pixels on each side; lower patch_size")
    out = np.empty((count, size, size), dtype=np.float32)
    which = rng.integers(len(usable), size=count)
    for i, k in enumerate(which):
        im = usable[k]
        r = rng.integers(im.shape[0] - size + 1)
        c = rng.integers(im.shape[1] - size + 1)
        out[i] = im[r : r + size, c : c + size]
    return out


def tiles(images, size: int) -> np.ndarray:
    """All non-overlapping ``size`` x ``size`` tiles of the images (count, size, size)."""
    out = [
        im[r : r + size, c : c + size]
        for im in images
        for r in range(0, im.shape[0] - size + 1, size)
        for c in range(0, im.shape[1] - size + 1, size)
    ]
    if not out:
        raise DataError(f"no held-out image is at least {size} pixels on each side; lower test_size")
    return np.stack(out).astype(np.float32)
