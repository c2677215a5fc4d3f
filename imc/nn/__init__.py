"""Layers, losses and analog tiles: numpy/cupy (via ``compute.xp``), float32, NCHW images."""

from .analog import AnalogConfig, AnalogMatrix, DeviceSource, WriteStats
from .layers import AnalogConv2d, AnalogLinear, Conv2d, Linear
from .losses import CrossEntropyLoss, MSELoss
from .module import (
    AvgPool2d,
    Flatten,
    MaxPool2d,
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
    "AvgPool2d",
    "MaxPool2d",
    "AnalogConv2d",
    "AnalogLinear",
    "AnalogMatrix",
    "DeviceSource",
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
