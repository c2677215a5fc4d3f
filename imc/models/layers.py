"""The "layers" model: a network written as a layer list in the config.

::

    [model]
    name = "layers"
    layers = [
      {type = "conv", out = 16, kernel = 3, stride = 1, padding = 1},
      {type = "relu"},
      {type = "maxpool", kernel = 2},
      {type = "flatten"},
      {type = "linear", out = "classes"},
    ]

Layer types and their keys (defaults in brackets):

- ``linear``: ``out`` (int, or "classes"), ``bias`` [true]; needs flat inputs;
- ``conv``: ``out`` (int, "classes" or "channels"), ``kernel`` [3], ``stride`` [1],
  ``padding`` [0], ``bias`` [true]; needs (C, H, W) inputs;
- ``relu``, ``tanh``, ``sigmoid``;
- ``maxpool``, ``avgpool``: ``kernel`` [2] (non-overlapping; H and W must divide);
- ``flatten``;
- ``upsample``: ``factor`` (int or "factor"), ``mode`` ["bilinear"]; ``pixelshuffle``: ``factor``;
- ``residual``: ``body`` (a layer list), ``skip`` [[] = identity] (a layer list),
  ``scale`` [1.0]: ``skip(x) + scale * body(x)``.

"classes" is the number of classes of a classification task, "channels" the target
channels of an image task and "factor" the integer ratio of target to input size. Shapes
are followed through the list, so a mismatch is reported before anything is built, naming
the layer (``model.layers[3]``); the last layer must produce what the task's targets are.
"""

from __future__ import annotations

import math

from ..errors import ConfigValueError
from ..nn import AvgPool2d, Flatten, MaxPool2d, PixelShuffle, ReLU, Residual, Sequential, Sigmoid, Tanh, Upsample
from ..records import ModelInfo

ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}
KEYS = {
    "linear": {"out", "bias"},
    "conv": {"out", "kernel", "stride", "padding", "bias"},
    "maxpool": {"kernel"},
    "avgpool": {"kernel"},
    "flatten": set(),
    "upsample": {"factor", "mode"},
    "pixelshuffle": {"factor"},
    "residual": {"body", "skip", "scale"},
    **{name: set() for name in ACTIVATIONS},
}


def needs(data) -> dict:
    """Any data: the input sample shape and the target shape (the last layer must match it)."""
    target = (int(data.n_classes),) if data.kind == "classification" else tuple(int(s) for s in data.y_train.shape[1:])
    return {"input_shape": list(data.in_shape), "target_shape": list(target)}


class _Builder:
    def __init__(self, f, input_shape, target_shape):
        self.f = f
        self.input_shape = tuple(int(s) for s in input_shape)
        self.target = tuple(int(s) for s in target_shape)

    def placeholder(self, value, where: str, key: str):
        if isinstance(value, str):
            named = {"classes": self.target[0] if len(self.target) == 1 else None,
                     "channels": self.target[0] if len(self.target) == 3 else None,
                     "factor": self._factor()}
            if value not in named:
                raise ConfigValueError(f"{where}.{key}: {value!r} is not a number nor one of classes, channels, factor")
            if named[value] is None:
                raise ConfigValueError(f"{where}.{key}: {value!r} does not apply to this task's targets {self.target}")
            return named[value]
        return value

    def _factor(self):
        if len(self.target) != 3 or len(self.input_shape) != 3:
            return None
        ratio = self.target[1] // self.input_shape[1]
        return ratio if ratio >= 1 and self.target[1] == ratio * self.input_shape[1] else None

    def integer(self, spec, key, where, default=None, low=1):
        value = self.placeholder(spec.get(key, default), where, key)
        if value is None:
            raise ConfigValueError(f"{where}: needs {key}")
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigValueError(f"{where}.{key}: must be an integer >= {low}, got {value!r}")
        return value

    def sequence(self, specs, shape, where):
        if not isinstance(specs, list):
            raise ConfigValueError(f"{where}: must be a list of layer tables, got {specs!r}")
        modules = []
        for i, spec in enumerate(specs):
            module, shape = self.layer(spec, shape, f"{where}[{i}]")
            modules.append(module)
        return modules, shape

    def layer(self, spec, shape, where):
        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
            raise ConfigValueError(f"{where}: a layer is a table with a type, e.g. {{type = \"relu\"}}; got {spec!r}")
        kind = spec["type"]
        if kind not in KEYS:
            raise ConfigValueError(f"{where}: unknown layer type {kind!r} (known: {', '.join(sorted(KEYS))})")
        extra = sorted(set(spec) - KEYS[kind] - {"type"})
        if extra:
            raise ConfigValueError(f"{where}: {kind} takes {', '.join(sorted(KEYS[kind])) or 'no keys'}, not {', '.join(extra)}")
        where = f"{where} ({kind})"
        if kind in ACTIVATIONS:
            return ACTIVATIONS[kind](), shape
        if kind == "flatten":
            return Flatten(), (math.prod(shape),)
        if kind == "linear":
            if len(shape) != 1:
                raise ConfigValueError(f"{where}: needs flat inputs, got {shape}; add {{type = \"flatten\"}} before it")
            out = self.integer(spec, "out", where)
            return self.f.linear(shape[0], out, bias=bool(spec.get("bias", True))), (out,)
        if len(shape) != 3:
            raise ConfigValueError(f"{where}: needs image inputs (C, H, W), got {shape}")
        c, h, w = shape
        if kind == "conv":
            out = self.integer(spec, "out", where)
            k = self.integer(spec, "kernel", where, 3)
            stride = self.integer(spec, "stride", where, 1)
            pad = self.integer(spec, "padding", where, 0, low=0)
            oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
            if oh < 1 or ow < 1:
                raise ConfigValueError(f"{where}: a {k}x{k} kernel with padding {pad} does not fit {h}x{w} inputs")
            conv = self.f.conv(c, out, k, stride=stride, padding=pad, bias=bool(spec.get("bias", True)))
            return conv, (out, oh, ow)
        if kind in ("maxpool", "avgpool"):
            k = self.integer(spec, "kernel", where, 2)
            if h % k or w % k:
                raise ConfigValueError(f"{where}: {h}x{w} inputs do not divide into {k}x{k} blocks")
            return (MaxPool2d if kind == "maxpool" else AvgPool2d)(k), (c, h // k, w // k)
        if kind == "upsample":
            r = self.integer(spec, "factor", where)
            return Upsample(r, spec.get("mode", "bilinear")), (c, h * r, w * r)
        if kind == "pixelshuffle":
            r = self.integer(spec, "factor", where)
            if c % (r * r):
                raise ConfigValueError(f"{where}: needs channels divisible by {r * r}, got {c}")
            return PixelShuffle(r), (c // (r * r), h * r, w * r)
        # residual
        body, body_shape = self.sequence(spec.get("body"), shape, f"{where}.body")
        skip, skip_shape = self.sequence(spec.get("skip", []), shape, f"{where}.skip")
        if body_shape != skip_shape:
            raise ConfigValueError(f"{where}: body gives {body_shape} but the skip gives {skip_shape}")
        scale = spec.get("scale", 1.0)
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale):
            raise ConfigValueError(f"{where}.scale: must be a finite number, got {scale!r}")
        return Residual(Sequential(*body), skip=Sequential(*skip) if skip else None, scale=scale), body_shape


def layers_model(f, *, layers: list = (), input_shape=(), target_shape=()):
    """Build ``layers`` (a list of layer tables, see the module docstring) for inputs of ``input_shape``."""
    builder = _Builder(f, input_shape, target_shape)
    if not layers:
        raise ConfigValueError("model.layers: give at least one layer, e.g. [{type = \"flatten\"}, {type = \"linear\", out = \"classes\"}]")
    modules, shape = builder.sequence(list(layers), builder.input_shape, "model.layers")
    if builder.target and shape != builder.target:
        raise ConfigValueError(f"model.layers: the network gives {shape} per sample, the task's targets are {builder.target}")
    return Sequential(*modules)


INFO = ModelInfo(name="layers", factory=layers_model, needs=needs, data_params=("input_shape", "target_shape"),
                 description="a layer list written in the config (linear, conv, pooling, activations, residual)")
