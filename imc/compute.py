"""Where arrays live: numpy on the CPU or cupy on a GPU, with a seeded generator.

A :class:`Compute` is created once at the boundary (``Compute.create("cpu", seed=0)``)
and passed down to everything that allocates arrays or draws random numbers. There is
no process-wide backend: two computes can coexist in one process. cupy is imported
only when a GPU compute is asked for.

``Compute.create("standin")`` is for tests: the CPU stand-in for cupy
(:mod:`imc.cupy_standin`), which runs the GPU code paths on numpy, refuses what cupy
refuses and counts every host synchronisation (``compute.xp.syncs``).
"""

from __future__ import annotations

import json
from typing import Any, cast

import attrs
import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .arraytypes import Array, ArrayModule, Float32Array, Int64Array, Shape
from .errors import ComputeUnavailable, ConfigValueError

CPU_NAMES = ("cpu", "numpy")
GPU_NAMES = ("gpu", "cupy", "cuda")
STANDIN_NAMES = ("standin",)


def _load_cupy(device_id: int) -> Any:
    """Import cupy and select a CUDA device, or raise a clear error saying why not."""
    try:
        import cupy  # noqa: PLC0415  (lazy on purpose: CPU installs never import it)
    except ImportError as exc:
        raise ComputeUnavailable(
            "compute 'gpu' needs cupy, which is not installed: "
            "pip install 'imc[gpu]' (or the cupy-cudaXXx wheel matching your CUDA)"
        ) from exc
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # cupy raises its own CUDARuntimeError types
        raise ComputeUnavailable(
            f"compute 'gpu': cupy is installed but no CUDA device is usable ({exc}); "
            "use compute 'cpu' on this machine"
        ) from exc
    if count == 0:
        raise ComputeUnavailable("compute 'gpu': cupy is installed but no CUDA device was found; use 'cpu'")
    if not 0 <= device_id < count:
        raise ComputeUnavailable(f"compute 'gpu': device {device_id} requested but only {count} present")
    cupy.cuda.Device(device_id).use()
    return cupy


def namespace_of(x: Any) -> ArrayModule:
    """The array module (numpy or cupy) an array belongs to; cupy is only named, never imported here."""
    if type(x) is np.ndarray:
        return np
    module = type(x).__module__
    if module.startswith("cupy"):
        import cupy  # noqa: PLC0415  (already imported by whoever made the array)

        return cast(ArrayModule, cupy)
    if module == "imc.cupy_standin":
        return cast(ArrayModule, x.__array_namespace__())
    return np


def to_host(x: Any) -> np.ndarray[Any, Any]:
    """A host numpy copy of an array from either namespace (never a view of live state)."""
    return x.get() if hasattr(x, "get") and not isinstance(x, np.ndarray) else np.array(x, copy=True)


def gpu_available() -> bool:
    """True when cupy imports and sees at least one CUDA device (imports cupy if present)."""
    import importlib.util

    if importlib.util.find_spec("cupy") is None:
        return False
    try:
        _load_cupy(0)
    except RuntimeError:
        return False
    return True


@attrs.define(eq=False)
class Compute:
    """The array namespace (numpy or cupy), a seeded random generator and the device.

    ``xp`` is the array module; ``rng`` draws on that module's device; ``device`` is
    "cpu" or "cuda:N"; ``seed`` is the seed the generator was made from.
    """

    xp: ArrayModule  # numpy, or cupy on a GPU
    rng: Any  # numpy Generator, or cupy RandomState
    device: str
    seed: int

    @classmethod
    def create(cls, name: str = "cpu", seed: int = 0, device_id: int = 0) -> Compute:
        """Make a compute by name: "cpu"/"numpy", "gpu"/"cupy"/"cuda", or "standin" (tests: cupy's rules on numpy)."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        key = str(name).lower()
        if key in CPU_NAMES:
            return cls(np, np.random.Generator(np.random.PCG64(int(seed))), "cpu", int(seed))
        if key in GPU_NAMES:
            cupy = _load_cupy(device_id)
            return cls(cupy, cupy.random.RandomState(int(seed)), f"cuda:{device_id}", int(seed))
        if key in STANDIN_NAMES:
            from . import cupy_standin  # noqa: PLC0415

            xp = cupy_standin.create()
            return cls(xp, xp.random.RandomState(int(seed)), "standin", int(seed))
        raise ConfigValueError(f"unknown compute {name!r}: use 'cpu' (numpy) or 'gpu' (cupy)")

    @property
    def is_gpu(self) -> bool:
        return self.device != "cpu"

    @property
    def name(self) -> str:
        return "gpu" if self.is_gpu else "cpu"

    def spawn(self, key: int) -> Compute:
        """A child compute on the same device with an independent, reproducible stream."""
        child_seed = int(np.random.SeedSequence([self.seed, int(key)]).generate_state(1)[0])
        rng: Any
        if self.is_gpu:
            rng = self.xp.random.RandomState(child_seed)
        else:
            rng = np.random.Generator(np.random.PCG64(child_seed))
        return Compute(self.xp, rng, self.device, child_seed)

    # -- random numbers, float32 by default, same call on both namespaces -------------
    def normal(self, shape: int | Shape, dtype: DTypeLike = np.float32) -> Float32Array:
        """Standard normal draws (float32 unless ``dtype`` says otherwise)."""
        return cast(Float32Array, self.rng.standard_normal(size=shape, dtype=dtype))

    def uniform(self, shape: int | Shape, dtype: DTypeLike = np.float32) -> Float32Array:
        """Uniform draws in [0, 1) (float32 unless ``dtype`` says otherwise)."""
        if self.is_gpu:
            return cast(Float32Array, self.rng.random_sample(size=shape, dtype=dtype))
        return cast(Float32Array, self.rng.random(size=shape, dtype=dtype))

    def binomial(self, n: ArrayLike, p: ArrayLike, shape: int | Shape | None = None) -> Int64Array:
        """Binomial draws (counts as int64)."""
        return cast(Int64Array, self.rng.binomial(n, p, size=shape))

    # -- arrays ------------------------------------------------------------------------
    def asarray(self, x: ArrayLike, dtype: DTypeLike = np.float32) -> Array:
        """Put x on this compute's device (a copy only where needed)."""
        return self.xp.asarray(x, dtype=dtype)

    def to_numpy(self, x: Any) -> np.ndarray[Any, Any]:
        """Bring an array back to the host as numpy."""
        if self.is_gpu and not isinstance(x, np.ndarray):
            return cast(np.ndarray[Any, Any], x.get())
        return np.asarray(x)

    # -- generator state (numpy only: cupy's cuRAND state is not exportable) ------------
    def rng_state(self) -> str:
        """The generator state as JSON text, so a checkpoint can restore it exactly."""
        if self.is_gpu:
            raise NotImplementedError(
                "cupy generators cannot export their state; GPU runs resume by reseeding"
            )
        return json.dumps(self.rng.bit_generator.state)

    def set_rng_state(self, state: str) -> None:
        """Restore a state produced by :meth:`rng_state`."""
        if self.is_gpu:
            raise NotImplementedError("cupy generators cannot import a state")
        self.rng.bit_generator.state = json.loads(state)


def as_compute(compute: Compute | str | None, seed: int = 0) -> Compute:
    """Accept a Compute, a name, or None (meaning "cpu")."""
    if isinstance(compute, Compute):
        return compute
    return Compute.create(compute or "cpu", seed=seed)
