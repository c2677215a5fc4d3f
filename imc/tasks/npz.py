"""The user's own arrays: a .npz file with ``x`` and ``y`` (optionally ``x_test``, ``y_test``)."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import attrs
import numpy as np

from ..errors import DataError, InputFileError
from ..fields import MAX_SPLIT_SEED, int_at_least, number_in, one_of, path_string, to_float
from ..limits import check_memory, format_bytes
from .base import CLASSIFICATION, IMAGE, TaskData, TaskInfo, split_indices


def _as_inputs(x: np.ndarray, key: str, path) -> np.ndarray:
    if x.dtype.kind not in "biuf":
        raise DataError(f"{path}: array {key!r} must be numeric, got dtype {x.dtype}")
    if x.ndim == 3:  # (N, H, W) gray images
        x = x[:, None]
    if x.ndim not in (2, 4):
        raise DataError(f"{path}: array {key!r} must be (N, features), (N, H, W) or (N, C, H, W), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise DataError(f"{path}: array {key!r} contains NaN or inf")
    return x.astype(np.float32)


def _read(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise InputFileError(f"data file not found: {path} (task.path)")
    unreadable = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)
    try:
        loaded = np.load(path, allow_pickle=False)
    except unreadable as exc:  # not a zip / object arrays (which need pickle) / cut short
        raise DataError(f"{path}: not a readable .npz of numeric arrays ({_one_line(exc)})") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: holds a single .npy array, not an .npz archive of x and y; "
                        "save it with np.savez(path, x=..., y=...)")
    with loaded as archive:
        unpacked = sum(info.file_size for info in archive.zip.infolist())  # what loading allocates
        check_memory(2 * unpacked, f"the arrays in {path} ({format_bytes(unpacked)} unpacked, plus float32 copies)")
        try:
            return {key: archive[key] for key in archive.files}
        except unreadable as exc:
            raise DataError(f"{path}: not a readable .npz of numeric arrays ({_one_line(exc)})") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


@attrs.frozen(kw_only=True)
class NpzTask:
    """The user's own arrays: a .npz with ``x`` and ``y`` (and optionally ``x_test``, ``y_test``).

    Integer ``y`` means classification (accuracy); float ``y`` shaped like an image means
    image-to-image regression (PSNR, values in [0, 1]).
    """

    name: str = attrs.field(default="npz", validator=one_of("npz"))
    path: str = attrs.field(default="", validator=path_string)
    test_fraction: float = attrs.field(default=0.2, converter=to_float, validator=number_in(0.05, 0.9))
    split_seed: int = attrs.field(default=0, validator=int_at_least(0, high=MAX_SPLIT_SEED))


def load(task) -> TaskData:
    """Integer ``y`` -> classification; float ``y`` with image shape -> image regression."""
    if not task.path:
        raise DataError("task 'npz' needs task.path, the .npz file with arrays x and y")
    path = Path(task.path)
    arrays = _read(path)
    missing = [k for k in ("x", "y") if k not in arrays]
    if missing:
        raise DataError(f"{path}: missing array(s) {', '.join(missing)}; found {', '.join(arrays) or 'none'}")
    has_test = "x_test" in arrays or "y_test" in arrays
    if has_test and not ("x_test" in arrays and "y_test" in arrays):
        raise DataError(f"{path}: give both x_test and y_test, or neither")
    x = _as_inputs(arrays["x"], "x", path)
    y = arrays["y"]
    if len(x) != len(y):
        raise DataError(f"{path}: x has {len(x)} samples but y has {len(y)}; they must match")
    classification = y.dtype.kind in "iub"
    if classification:
        if y.ndim != 1 or (y < 0).any():
            raise DataError(f"{path}: integer y must be 1-D class labels >= 0, got shape {y.shape}")
        y = y.astype(np.int64)
    else:
        y = _as_inputs(y, "y", path)
        if y.ndim != 4 or x.ndim != 4:
            raise DataError(f"{path}: float y means image-to-image; x and y must be images (N, C, H, W)")
        if y.min() < 0 or y.max() > 1:
            raise DataError(f"{path}: image targets y must lie in [0, 1] (PSNR uses a data range of 1)")
    if has_test:
        x_test = _as_inputs(arrays["x_test"], "x_test", path)
        y_test = arrays["y_test"].astype(np.int64) if classification else _as_inputs(arrays["y_test"], "y_test", path)
        x_train, y_train = x, y
    else:
        train, test = split_indices(len(y), task.test_fraction, task.split_seed, labels=y if classification else None)
        x_train, y_train, x_test, y_test = x[train], y[train], x[test], y[test]
    if x_test.shape[1:] != x_train.shape[1:]:
        raise DataError(f"{path}: x_test samples have shape {x_test.shape[1:]}, x has {x_train.shape[1:]}")
    n_classes = int(max(y_train.max(), y_test.max())) + 1 if classification else 0
    return TaskData(
        name="npz", kind=CLASSIFICATION if classification else IMAGE,
        x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, n_classes=n_classes,
    )


INFO = TaskInfo(name="npz", config=NpzTask, load=load, description="The user's own arrays: a .npz with ``x`` and ``y`` (and optionally ``x_test``, ``y_test``).")
