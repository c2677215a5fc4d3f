"""A CPU stand-in for cupy, for tests: numpy underneath, cupy's rules on top.

No GPU is needed to find the code that would break or stall on one. ``Compute.create("standin")``
gives a compute whose ``xp`` is a :class:`Namespace` wrapping numpy; its arrays behave like
``cupy.ndarray`` where it matters:

- implicit conversion to the host refuses (``np.asarray(a)`` raises TypeError, as
  ``cupy.ndarray.__array__`` does); ``a.get()`` is the explicit transfer;
- mixing a host ``numpy.ndarray`` into a device operation (arithmetic, ufuncs, assigned
  values, functions of the namespace) refuses, as cupy does; numpy *scalars* and Python
  numbers are fine, ``xp.asarray(host_array)`` is the explicit upload, and host index arrays
  are accepted as cupy accepts them (uploaded);
- reductions return 0-d device arrays, not Python or numpy scalars;
- every host synchronisation is counted in ``xp.syncs`` by kind: ``bool()``, ``int()``,
  ``float()``, ``.item()``, ``.tolist()``, ``.get()``, boolean-mask indexing and the
  functions whose output size depends on the data (``flatnonzero``, ``nonzero``,
  ``argwhere``, ``unique``, one-argument ``where``...). ``xp.sync_sites`` keeps where each
  came from (file:line outside this module), for failure messages.

Random numbers come from ``xp.random.RandomState(seed)`` (cupy's API, numpy's PCG64 inside).
What it cannot show: speed, memory, kernels that cupy lacks, and cupy's own numerics.
"""

from __future__ import annotations

import collections
import os
import sys

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

#: namespace functions whose output size depends on the data: on a GPU they wait for it
SYNCING_FUNCTIONS = frozenset({"flatnonzero", "nonzero", "argwhere", "unique", "extract", "compress"})
_HERE = os.path.abspath(__file__)


class HostArrayError(TypeError):
    """A host numpy array met a device array (cupy refuses this too)."""


def _refuse_host(value):
    raise HostArrayError(
        f"a host numpy array (shape {value.shape}, dtype {value.dtype}) was mixed into a device operation; "
        "cupy refuses this: put it on the device first (xp.asarray) or keep the computation on the host"
    )


class ndarray(NDArrayOperatorsMixin):  # noqa: N801  (cupy's name)
    """A device array of the stand-in: a numpy array that refuses to leave implicitly."""

    __slots__ = ("_a", "_ns")
    __array_priority__ = 1000

    def __init__(self, a: np.ndarray, ns: Namespace):
        self._a, self._ns = a, ns

    # -- what makes it a device array ------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct a NumPy array explicitly."
        )

    def __array_namespace__(self, api_version=None):
        return self._ns

    def get(self, stream=None, order="C", out=None, blocking=True):
        self._ns._sync("get")
        return np.array(self._a, copy=True)

    def __bool__(self):
        self._ns._sync("bool")
        return bool(self._a)

    def __int__(self):
        self._ns._sync("int")
        return int(self._a)

    def __float__(self):
        self._ns._sync("float")
        return float(self._a)

    def __index__(self):
        self._ns._sync("index")
        return self._a.__index__()

    def __complex__(self):
        self._ns._sync("complex")
        return complex(self._a)

    def item(self, *args):
        self._ns._sync("item")
        return self._a.item(*args)

    def tolist(self):
        self._ns._sync("tolist")
        return self._a.tolist()

    def tobytes(self, order="C"):
        self._ns._sync("tobytes")
        return self._a.tobytes(order)

    # -- numpy protocols: compute on the wrapped arrays, refuse host arrays ---------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        ns = self._ns
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = tuple(ns._unwrap(o) for o in out)
        result = getattr(ufunc, method)(*(ns._unwrap(x) for x in inputs), **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return ns._wrap(result)

    def __array_function__(self, func, types, args, kwargs):
        name = getattr(func, "__name__", "")
        if name in SYNCING_FUNCTIONS:
            self._ns._sync(name)
        return self._ns._wrap(func(*self._ns._unwrap(args), **self._ns._unwrap(kwargs)))

    # -- attributes ------------------------------------------------------------------------
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    nbytes = property(lambda self: self._a.nbytes)
    itemsize = property(lambda self: self._a.itemsize)
    strides = property(lambda self: self._a.strides)
    T = property(lambda self: ndarray(self._a.T, self._ns))

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        for i in range(len(self._a)):
            yield self[i]

    def __getitem__(self, key):
        return self._ns._wrap(self._a[self._ns._key(key)])

    def __setitem__(self, key, value):
        self._a[self._ns._key(key)] = self._ns._unwrap(value)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        attr = getattr(self._a, name)
        if not callable(attr):
            return self._ns._wrap(attr)
        ns = self._ns

        def method(*args, **kwargs):
            return ns._wrap(attr(*ns._unwrap(args), **ns._unwrap(kwargs)))

        return method

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        out = self._a.astype(dtype, order=order, casting=casting, copy=copy)
        return self if out is self._a else ndarray(out, self._ns)

    def __repr__(self):
        return f"standin.array({np.array2string(self._a)}, dtype={self._a.dtype})"

    __str__ = __repr__


class RandomState:
    """cupy.random.RandomState's API on numpy's PCG64 (device arrays out)."""

    def __init__(self, seed: int, ns: Namespace):
        self._rng, self._ns = np.random.Generator(np.random.PCG64(int(seed))), ns

    def _out(self, value):
        return self._ns._wrap(value)

    def standard_normal(self, size=None, dtype=np.float64):
        return self._out(self._rng.standard_normal(size=size, dtype=dtype))

    def random_sample(self, size=None, dtype=np.float64):
        return self._out(self._rng.random(size=size, dtype=dtype))

    def uniform(self, low=0.0, high=1.0, size=None, dtype=np.float64):
        return self._out(self._rng.uniform(self._ns._unwrap(low), self._ns._unwrap(high), size=size).astype(dtype))

    def normal(self, loc=0.0, scale=1.0, size=None, dtype=np.float64):
        return self._out(self._rng.normal(self._ns._unwrap(loc), self._ns._unwrap(scale), size=size).astype(dtype))

    def binomial(self, n, p, size=None, dtype=np.int64):
        return self._out(self._rng.binomial(self._ns._unwrap(n), self._ns._unwrap(p), size=size).astype(dtype))

    def geometric(self, p, size=None, dtype=np.int64):
        return self._out(self._rng.geometric(self._ns._unwrap(p), size=size).astype(dtype))

    def randint(self, low, high=None, size=None, dtype=np.int64):
        return self._out(self._rng.integers(low, high, size=size, dtype=dtype))

    def permutation(self, n):
        return self._out(self._rng.permutation(self._ns._unwrap(n)))


class _Stream:
    def __init__(self, ns):
        self._ns = ns

    def synchronize(self):
        self._ns._sync("synchronize")


class _Cuda:
    """Just enough of ``cupy.cuda`` for code that waits for the device (benchmarks)."""

    def __init__(self, ns):
        self.Stream = type("Stream", (), {"null": _Stream(ns)})


class Namespace:
    """The stand-in's ``xp``: numpy's functions on device arrays, with host syncs counted."""

    __name__ = "imc.cupy_standin"
    ndarray = ndarray

    def __init__(self):
        self.syncs: collections.Counter = collections.Counter()
        self.sync_sites: collections.Counter = collections.Counter()
        self.random = type("random", (), {"RandomState": lambda _self, seed=0: RandomState(seed, self)})()
        self.cuda = _Cuda(self)

    # -- counting ----------------------------------------------------------------------
    @property
    def sync_count(self) -> int:
        return sum(self.syncs.values())

    def _sync(self, kind: str) -> None:
        self.syncs[kind] += 1
        frame = sys._getframe(1)
        while frame is not None and os.path.abspath(frame.f_code.co_filename) == _HERE:
            frame = frame.f_back
        where = f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame is not None else "?"
        self.sync_sites[(kind, where)] += 1

    def reset(self) -> None:
        self.syncs.clear()
        self.sync_sites.clear()

    # -- wrapping ----------------------------------------------------------------------
    def _wrap(self, value):
        if isinstance(value, np.ndarray):
            return ndarray(value, self)
        if isinstance(value, np.generic) and not isinstance(value, (np.str_, np.bytes_)):
            return ndarray(np.asarray(value), self)  # cupy reductions give 0-d arrays
        if isinstance(value, tuple):
            return tuple(self._wrap(v) for v in value)
        if isinstance(value, list):
            return [self._wrap(v) for v in value]
        return value

    def _unwrap(self, value):
        if isinstance(value, ndarray):
            return value._a
        if isinstance(value, np.ndarray):
            _refuse_host(value)
        if isinstance(value, tuple):
            return tuple(self._unwrap(v) for v in value)
        if isinstance(value, list):
            return [self._unwrap(v) for v in value]
        if isinstance(value, dict):
            return {k: self._unwrap(v) for k, v in value.items()}
        return value

    def _key(self, key):
        """An index into a device array: boolean masks wait for the device.

        Host numpy index arrays are accepted (cupy uploads them), unlike host operands."""
        keys = key if isinstance(key, tuple) else (key,)
        for k in keys:
            if isinstance(k, (ndarray, np.ndarray)) and k.dtype == bool:
                self._sync("boolean-mask")
        out = tuple(k if isinstance(k, np.ndarray) else self._unwrap(k) for k in keys)
        return out if isinstance(key, tuple) else out[0]

    # -- the namespace -----------------------------------------------------------------
    def asarray(self, a, dtype=None, order=None):
        if isinstance(a, ndarray):
            return a if dtype is None or a.dtype == dtype else a.astype(dtype)
        return ndarray(np.array(self._upload(a), dtype=dtype, order=order, copy=True), self)

    def array(self, a, dtype=None, copy=True, order="K", ndmin=0):
        if isinstance(a, ndarray):
            return ndarray(np.array(a._a, dtype=dtype, copy=True, order=order, ndmin=ndmin), self)
        return ndarray(np.array(self._upload(a), dtype=dtype, copy=True, order=order, ndmin=ndmin), self)

    def _upload(self, a):
        """Host data on its way to the device (an explicit transfer): device arrays inside lists are unwrapped."""
        if isinstance(a, (list, tuple)):
            return [self._upload(v) for v in a]
        return a._a if isinstance(a, ndarray) else a

    def asnumpy(self, a):
        return a.get() if isinstance(a, ndarray) else np.asarray(a)

    def get_array_module(self, *args):
        return self

    def where(self, condition, *args):
        if not args:
            self._sync("where")
        return self._wrap(np.where(*self._unwrap((condition, *args))))

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        attr = getattr(np, name)
        if isinstance(attr, type) or not callable(attr):
            return attr  # dtypes, constants (float32, int64, pi, newaxis, inf...)
        syncs = name in SYNCING_FUNCTIONS

        def function(*args, **kwargs):
            if syncs:
                self._sync(name)
            return self._wrap(attr(*self._unwrap(args), **self._unwrap(kwargs)))

        function.__name__ = name
        return function


def create() -> Namespace:
    """A fresh stand-in namespace (each compute gets its own sync counter)."""
    return Namespace()
