"""The built-in models by name, each a preset with its own parameters:

- "mlp": digits classifier inputs -> hidden -> classes (ReLU), ``hidden`` (default 64),
  ``activation`` "relu", "tanh" or "sigmoid";
- "cnn": classifier on square images: conv3x3(ch1) ReLU conv3x3 stride 2 (ch2) ReLU
  flatten linear -> classes (``channels=(8, 16)``). The stride-1 variant of the EaPU
  authors' digits experiments is a layer list: examples/configs/digits-cnn-reference.toml;
- "dncnn": DnCNN-style denoiser (Zhang et al. 2017): conv ReLU, ``depth - 2`` x (conv ReLU),
  conv, and the output is ``noisy - predicted noise`` (residual learning);
- "srnet": a small SRNet-style 2x super-resolution net with a global upsampling skip:
  ``Upsample(factor, "bilinear")(x) + body(x)``, body = conv ReLU conv ReLU conv to
  ``channels_out * factor^2`` then PixelShuffle(factor), so the convolutions learn only
  the residual over a fixed bilinear upsampling. On examples/configs/superres.toml (seed 0)
  it reaches 37.89 dB ideal and 37.76 dB with EaPU, above bicubic's 37.40 dB; without the
  skip it stayed below bicubic (35.4-36.0 dB ideal).
"""

from __future__ import annotations

from ..errors import ConfigValueError, UnknownNameError
from ..limits import BYTES_PER_WEIGHT, check_memory
from ..nn import Flatten, PixelShuffle, ReLU, Residual, Sequential, Sigmoid, Tanh, Upsample
from ..records import ModelInfo
from ..spec import unknown_name_message
from . import needs

ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}


def _activation(name):
    if name not in ACTIVATIONS:
        raise UnknownNameError(unknown_name_message("activation", name, ACTIVATIONS))
    return ACTIVATIONS[name]()


def mlp(f, *, inputs: int = 64, hidden: int = 64, classes: int = 10, activation: str = "relu"):
    return Sequential(f.linear(inputs, hidden), _activation(activation), f.linear(hidden, classes))


def cnn(f, *, channels=(8, 16), classes: int = 10, size: int = 8, in_channels: int = 1):
    if not (isinstance(channels, (list, tuple)) and len(channels) == 2
            and all(isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in channels)):
        raise ConfigValueError(f"model.channels must be a list of two channel counts >= 1, e.g. [8, 16], got {channels!r}")
    c1, c2 = channels
    half = (size + 2 - 3) // 2 + 1
    return Sequential(
        f.conv(in_channels, c1), ReLU(),
        f.conv(c1, c2, stride=2), ReLU(),
        Flatten(), f.linear(c2 * half * half, classes),
    )


def dncnn(f, *, depth: int = 5, channels: int = 16, image_channels: int = 1):
    if depth < 2:
        raise ConfigValueError(f"model.depth of dncnn must be >= 2, got {depth}")
    check_memory(BYTES_PER_WEIGHT * 9 * channels * channels * (depth - 2), f"a dncnn of depth {depth} with {channels} "
                 "channels", "lower model.depth or model.channels")
    layers = [f.conv(image_channels, channels), ReLU()]
    for _ in range(depth - 2):
        layers += [f.conv(channels, channels), ReLU()]
    layers.append(f.conv(channels, image_channels))
    return Residual(Sequential(*layers), scale=-1.0)


def srnet(f, *, channels: int = 16, factor: int = 2, image_channels: int = 1):
    body = Sequential(
        f.conv(image_channels, channels), ReLU(),
        f.conv(channels, channels), ReLU(),
        f.conv(channels, image_channels * factor * factor),
        PixelShuffle(factor),
    )
    return Residual(body, skip=Upsample(factor, "bilinear"))


INFOS = (
    ModelInfo(name="mlp", factory=mlp, needs=needs.flat_classifier, data_params=("inputs", "classes"), flatten=True,
              description="two-layer perceptron classifier"),
    ModelInfo(name="cnn", factory=cnn, needs=needs.square_image_classifier, data_params=("size", "in_channels", "classes"),
              description="two convolutions (the second stride 2) and a linear classifier"),
    ModelInfo(name="dncnn", factory=dncnn, needs=needs.denoiser, data_params=("image_channels",),
              description="DnCNN-style residual denoiser"),
    ModelInfo(name="srnet", factory=srnet, needs=needs.super_resolver, data_params=("image_channels", "factor"),
              description="super-resolution with a bilinear skip and pixel shuffle"),
)
