"""Array types used in imc's annotations.

They are numpy types (``numpy.typing.NDArray`` with the dtype where it is fixed), but the
same code runs with cupy arrays on a GPU (and with :mod:`imc.cupy_standin` in tests): where
a signature says ``NDArray``, read "a numpy array, or a cupy array of the same dtype and
shape when the compute is a GPU". The array module of a call is ``compute.xp``.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeAlias

import numpy as np

# ``NDArray[T]`` with the shape typed as ints (numpy's alias leaves it Any, which makes
# mypy give up on numpy's overloads, e.g. ``x.reshape(x.shape[0], -1)``)
_Ints: TypeAlias = tuple[int, ...]
#: any array (numpy, or cupy on a GPU) of any dtype
Array: TypeAlias = np.ndarray[_Ints, np.dtype[Any]]
#: conductances and conductance changes, uS (float32)
Float32Array: TypeAlias = np.ndarray[_Ints, np.dtype[np.float32]]
#: host-side times and totals (float64), e.g. per-cell last-write times in s
Float64Array: TypeAlias = np.ndarray[_Ints, np.dtype[np.float64]]
#: flat cell indices and pulse counts (int64)
Int64Array: TypeAlias = np.ndarray[_Ints, np.dtype[np.int64]]
#: pulse directions, +1 (SET, up) or -1 (RESET, down) (int8)
Int8Array: TypeAlias = np.ndarray[_Ints, np.dtype[np.int8]]
#: boolean masks
BoolArray: TypeAlias = np.ndarray[_Ints, np.dtype[np.bool_]]
#: a shape: (rows, cols) for a device array, any length for activations
Shape: TypeAlias = tuple[int, ...]


class ArrayFunction(Protocol):
    """A member of an array module as the type checker sees it: a function returning an array
    (``xp.where``), a dtype (``xp.int64``, usable as ``dtype=``) or a submodule (``xp.random``)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Array: ...

    def __getattr__(self, name: str) -> ArrayFunction: ...

    @property
    def dtype(self) -> np.dtype[Any]: ...


class ArrayModule(Protocol):
    """The array module of a :class:`imc.Compute` (``compute.xp``): numpy, or cupy on a GPU.

    cupy has no type information, so both are described alike: every function returns an
    array (numpy's ``NDArray``, or the cupy array of the same dtype and shape)."""

    def __getattr__(self, name: str) -> ArrayFunction: ...

__all__ = ["Array", "ArrayFunction", "ArrayModule", "BoolArray", "Float32Array", "Float64Array", "Int64Array", "Int8Array", "Shape"]
