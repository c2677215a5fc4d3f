"""Shared test setup: GPU tests skip cleanly unless cupy imports and a CUDA device exists."""

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_collection_modifyitems(config, items):
    gpu_items = [item for item in items if "gpu" in item.keywords]
    if not gpu_items:
        return
    from imc.compute import gpu_available

    if gpu_available():
        return
    skip = pytest.mark.skip(reason="needs cupy and a CUDA device (pip install 'imc[gpu]' on a GPU machine)")
    for item in gpu_items:
        item.add_marker(skip)
