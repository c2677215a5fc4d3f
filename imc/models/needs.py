"""What a model takes from a task's data: the ``needs(data)`` functions of :class:`imc.records.ModelInfo`.

Each returns the size parameters the model factory gets from the data and refuses data the
model cannot handle with a :class:`imc.errors.ConfigValueError` saying what would fit.
"""

from __future__ import annotations

import math

from ..errors import ConfigValueError


def classes(data, model: str) -> int:
    if data.kind != "classification":
        raise ConfigValueError(f"model {model!r} is a classifier; task {data.name!r} is image-to-image (use dncnn or srnet)")
    return int(data.n_classes)


def image_shape(data, model: str) -> tuple[int, int, int]:
    shape = tuple(data.in_shape)
    if len(shape) != 3:
        raise ConfigValueError(f"model {model!r} needs image inputs (C, H, W); task {data.name!r} gives samples of shape {shape}")
    return shape


def image_to_image(data, model: str) -> int:
    """Channels of an image-to-image task (refuses classification)."""
    channels = image_shape(data, model)[0]
    if data.kind != "image":
        raise ConfigValueError(f"model {model!r} is image-to-image; task {data.name!r} is classification (use mlp or cnn)")
    return channels


def upscale_factor(data, model: str) -> int:
    """The integer factor between target and input size (super-resolution)."""
    height = image_shape(data, model)[1]
    target = data.y_train.shape[2]
    factor = target // height
    if factor < 2 or target != factor * height:
        raise ConfigValueError(
            f"model {model!r} needs targets an integer factor >= 2 larger than inputs; "
            f"got {tuple(data.in_shape)} -> {tuple(data.y_train.shape[1:])}"
        )
    return factor


def flat_classifier(data) -> dict:
    return {"inputs": int(math.prod(data.in_shape)), "classes": classes(data, "mlp")}


def square_image_classifier(data) -> dict:
    channels, height, width = image_shape(data, "cnn")
    if height != width:
        raise ConfigValueError(f"model 'cnn' needs square images; task {data.name!r} gives {height}x{width}")
    return {"size": height, "in_channels": channels, "classes": classes(data, "cnn")}


def denoiser(data) -> dict:
    return {"image_channels": image_to_image(data, "dncnn")}


def super_resolver(data) -> dict:
    return {"image_channels": image_to_image(data, "srnet"), "factor": upscale_factor(data, "srnet")}
