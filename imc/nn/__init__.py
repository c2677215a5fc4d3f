"""Layers, losses and analog tiles: numpy/cupy (via ``compute.xp``), float32, NCHW images."""

from .analog import AnalogConfig, AnalogMatrix, WriteStats
from .layers import AnalogConv2d, AnalogLinear, Conv2d, Linear
from .losses import CrossEntropyLoss, MSELoss
from .module import (
    Flatten,
    Module,
    Parameter,
    PixelShuffle,
    ReLU,
    Residual,
    Sequential,
    Sigmoid,
    Tanh,
    Upsample,
)

__all__ = [
    "AnalogConfig",
    "AnalogConv2d",
    "AnalogLinear",
    "AnalogMatrix",
    "Conv2d",
    "CrossEntropyLoss",
    "Flatten",
    "Linear",
    "MSELoss",
    "Module",
    "Parameter",
    "PixelShuffle",
    "ReLU",
    "Residual",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "Upsample",
    "WriteStats",
]
