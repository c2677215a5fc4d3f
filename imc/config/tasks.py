"""The ``[task]`` table: one attrs class per task, found in the catalogue by the table's ``name``.

Each task's class lives with its loader (``imc/tasks/digits.py`` holds ``DigitsTask``); a
plugin's task brings its own. ``TASKS`` maps task names to those classes, looked up when used.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ..tasks.denoise import DenoiseTask
from ..tasks.digits import DigitsTask
from ..tasks.folder import ImageFolderTask
from ..tasks.npz import NpzTask
from ..tasks.superres import SuperResTask


def task_types() -> dict[str, type]:
    """Task name -> its config class, for every installed task."""
    from ..registry import get_registry

    return {name: info.config for name, info in get_registry().tasks().items()}


class _TaskTable(Mapping):
    """``TASKS``: a live view of :func:`task_types` (plugins may add tasks)."""

    def __getitem__(self, name: str) -> type:
        return task_types()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(task_types())

    def __len__(self) -> int:
        return len(task_types())


TASKS = _TaskTable()


class TaskConfig:
    """The type of ``TrainConfig.task``: any task's config class (the catalogue knows which by name)."""

__all__ = ["TASKS", "DenoiseTask", "DigitsTask", "ImageFolderTask", "NpzTask", "SuperResTask", "TaskConfig", "task_types"]
