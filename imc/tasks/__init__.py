"""Tasks: the data a run trains and tests on, all available offline.

``load_task(task_config)`` returns a :class:`TaskData` with float32 inputs (NCHW for
images), targets (int64 class labels, or float32 images in [0, 1]) and what the report
needs (the metric, a baseline to beat). One module per task:

- ``digits``: scikit-learn's 8x8 digits (classification);
- ``denoise``: Gaussian denoising of natural-image patches (PSNR on held-out images);
- ``superres``: 2x super-resolution of bicubic-downsampled patches (PSNR vs bicubic);
- ``npz``: the user's arrays in a .npz file (x/y);
- ``folder``: the user's images, one sub-folder per class.
"""

from __future__ import annotations

from . import denoise, digits, folder, npz, superres
from .base import TaskData

LOADERS = {
    "digits": digits.load,
    "denoise": denoise.load,
    "superres": superres.load,
    "npz": npz.load,
    "images": folder.load,
}


def load_task(task) -> TaskData:
    """Load the data of a task config (``imc.config.DigitsTask`` etc.), refusing one whose
    patches would not fit in memory before any is cut."""
    from ..limits import check_memory

    patches, side = getattr(task, "patches", 0), getattr(task, "patch_size", 0)
    if patches and side:  # inputs and targets, float32, plus the copies batching makes
        check_memory(3 * 2 * 4 * patches * side * side, f"task {task.name!r}: {patches} patches of {side} x {side}",
                     "lower task.patches or task.patch_size")
    return LOADERS[task.name](task)


__all__ = ["LOADERS", "TaskData", "load_task"]
