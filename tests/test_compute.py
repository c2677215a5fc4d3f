import subprocess
import sys

import numpy as np
import pytest

from imc.compute import Compute, as_compute


def test_cpu_compute_by_either_name():
    for name in ("cpu", "numpy", "CPU"):
        c = Compute.create(name, seed=3)
        assert c.xp is np and c.device == "cpu" and not c.is_gpu


def test_same_seed_same_numbers_other_seed_different():
    a, b, c = (Compute.create("cpu", seed=s) for s in (7, 7, 8))
    xa, xb, xc = a.normal((1000,)), b.normal((1000,)), c.normal((1000,))
    assert xa.dtype == np.float32
    np.testing.assert_array_equal(xa, xb)
    assert not np.array_equal(xa, xc)


def test_spawned_streams_are_reproducible_and_independent():
    parent = Compute.create("cpu", seed=1)
    one, again, other = parent.spawn(0), Compute.create("cpu", seed=1).spawn(0), parent.spawn(1)
    np.testing.assert_array_equal(one.uniform((50,)), again.uniform((50,)))
    assert not np.array_equal(parent.spawn(0).uniform((50,)), other.uniform((50,)))


def test_rng_state_round_trip():
    c = Compute.create("cpu", seed=5)
    c.normal((10,))
    saved = c.rng_state()
    first = c.normal((20,))
    c.set_rng_state(saved)
    np.testing.assert_array_equal(first, c.normal((20,)))


@pytest.mark.parametrize("bad", [-1, 1.5, "x", True])
def test_bad_seed(bad):
    with pytest.raises(ValueError, match="seed"):
        Compute.create("cpu", seed=bad)


def test_unknown_compute_name():
    with pytest.raises(ValueError, match="unknown compute 'tpu'"):
        Compute.create("tpu")


def test_gpu_without_cupy_or_device_is_a_clear_error():
    from imc.compute import gpu_available

    if gpu_available():
        pytest.skip("a GPU is present here")
    with pytest.raises(RuntimeError, match="cupy|CUDA"):
        Compute.create("gpu")


def test_as_compute_accepts_names_and_objects():
    c = Compute.create("cpu", seed=2)
    assert as_compute(c) is c
    assert as_compute("cpu", seed=4).seed == 4
    assert as_compute(None).device == "cpu"


def test_importing_imc_does_not_import_cupy():
    code = (
        "import sys, imc, imc.registry, imc.cli, imc_memristor\n"
        "imc.get_registry().backends()\n"
        "print('cupy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.gpu
def test_gpu_compute_same_seed_same_numbers():
    a, b = Compute.create("gpu", seed=3), Compute.create("gpu", seed=3)
    x = a.normal((100,))
    assert a.xp.__name__ == "cupy" and str(x.dtype) == "float32"
    np.testing.assert_array_equal(a.to_numpy(x), b.to_numpy(b.normal((100,))))
