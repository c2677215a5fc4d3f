"""Tasks: the data a run trains and tests on, all available offline.

A task is one module holding its ``[task]`` config class, its ``load(config) -> TaskData``
and an ``INFO`` :class:`imc.records.TaskInfo` record; imc registers its own tasks through the
``imc_tasks`` hook like a plugin's. ``load_task(task_config)`` returns a :class:`TaskData`
with float32 inputs (NCHW for images), targets (int64 class labels, or float32 images in
[0, 1]) and what the report needs (the metric, a baseline to beat). Built in:

- ``digits``: scikit-learn's 8x8 digits (classification);
- ``denoise``: Gaussian denoising of natural-image patches (PSNR on held-out images);
- ``superres``: 2x super-resolution of bicubic-downsampled patches (PSNR vs bicubic);
- ``npz``: the user's arrays in a .npz file (x/y);
- ``images``: the user's images, one sub-folder per class.
"""

from __future__ import annotations

from ..hookspecs import hookimpl
from . import denoise, digits, folder, npz, superres
from .base import TaskData, TaskInfo

BUILTIN_TASKS = (digits.INFO, denoise.INFO, superres.INFO, npz.INFO, folder.INFO)


@hookimpl
def imc_tasks():
    """imc's own tasks, registered like a plugin's."""
    return list(BUILTIN_TASKS)


def tasks(pm=None) -> dict[str, TaskInfo]:
    """Every available task by name: imc's own and those plugins register."""
    from ..registry import Registry, get_registry

    return (get_registry() if pm is None else Registry(pm)).tasks()


def check_task_size(task) -> None:
    """Refuse a task whose ``patches`` of ``patch_size`` would not fit in memory (imc.limits)."""
    from ..limits import check_memory

    patches, side = getattr(task, "patches", 0), getattr(task, "patch_size", 0)
    if isinstance(patches, int) and isinstance(side, int) and patches and side:  # x and y, float32, copies
        check_memory(3 * 2 * 4 * patches * side * side, f"task {task.name!r}: {patches} patches of {side} x {side}",
                     "lower task.patches or task.patch_size")


def load_task(task, pm=None) -> TaskData:
    """Load the data of a task config (``imc.tasks.digits.DigitsTask`` etc.) through its task's ``load``.

    A task with ``patches`` of ``patch_size`` is refused before any is cut when they would not fit
    in memory (:func:`check_task_size`)."""
    check_task_size(task)
    from ..registry import Registry, get_registry

    return (get_registry() if pm is None else Registry(pm)).lookup("task", task.name).load(task)


__all__ = ["BUILTIN_TASKS", "TaskData", "TaskInfo", "check_task_size", "load_task", "tasks"]
