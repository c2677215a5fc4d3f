"""Linear and 2-D convolution layers, digital or with their weights on device tiles.

Weights are matrices of shape (inputs, outputs) in both kinds (for a convolution the
inputs are C*kh*kw patch values), so the same update rules handle both. Digital layers
keep a float array (float32 by default; pass ``dtype=np.float64`` for gradient checks).
Analog layers keep the matrix on an :class:`~imc.nn.analog.AnalogMatrix`: forward and
input-gradient products go through the devices, the weight gradient ``x.T @ d`` is
computed digitally from the same vectors, and biases stay digital.
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
from numpy.typing import DTypeLike

from ..arraytypes import Array, Shape
from ..compute import Compute
from ..limits import BYTES_PER_WEIGHT, check_elements
from .analog import AnalogConfig, AnalogMatrix
from .conv import col2im, im2col
from .module import Module, Parameter


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def init_uniform(compute: Compute, shape: Shape, fan_in: int, dtype: DTypeLike = np.float32) -> Array:
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's default for linear and conv layers)."""
    bound = 1.0 / math.sqrt(fan_in)
    return ((compute.uniform(shape, dtype=np.float32) * 2 - 1) * np.float32(bound)).astype(dtype)


def _add_bias(y: Array, b: Array) -> Array:
    """``y + b`` in place where the types allow: ``y`` is a product the layer just made."""
    if y.dtype == b.dtype:
        y += b
        return y
    return y + b


class _MatrixLayer(Module):
    """Shared machinery: a weight matrix (digital or analog) and an optional digital bias."""

    def __init__(self, n_in: int, n_out: int, bias: bool, compute: Compute, analog: AnalogConfig | None, dtype: DTypeLike) -> None:
        super().__init__()
        if not isinstance(compute, Compute):
            raise TypeError(f"compute must be an imc.Compute, got {type(compute).__name__}")
        self.compute, self.xp = compute, compute.xp
        check_elements((n_in, n_out), f"a {n_in} x {n_out} weight matrix", BYTES_PER_WEIGHT,
                       "use fewer units, channels or classes")
        w = init_uniform(compute, (n_in, n_out), n_in, dtype)
        if analog is None:
            self.weight = self.add_parameter("weight", Parameter(data=w))
        else:
            if not isinstance(analog, AnalogConfig):
                raise TypeError(f"analog must be an AnalogConfig, got {type(analog).__name__}")
            self.weight = self.add_parameter("weight", Parameter(tile=AnalogMatrix(w, analog, compute.spawn(1))))
        self.bias: Parameter | None = None
        if bias:
            b = init_uniform(compute, (n_out,), n_in, dtype)
            self.bias = self.add_parameter("bias", Parameter(data=b))

    #: False when nothing needs the gradient of this layer's input (the first layer of a
    #: trained model: its input is the data); backward then skips that product and returns None
    input_grad = True

    @property
    def analog(self) -> bool:
        """True when the weight matrix lives on device tiles."""
        return self.weight.analog

    def _weights_repr(self) -> str:
        """``analog backend:preset`` or ``digital``, plus ``no bias`` when there is none."""
        where = f"analog {self.weight.tile.label()}" if self.weight.analog else "digital"
        return where + (", no bias" if self.bias is None else "")

    def _matmul(self, x: Array) -> Array:
        """x (B, in) @ W."""
        if self.weight.analog:
            return cast(Array, self.weight.tile.forward(x, checked=True))
        self.flops += 2 * x.shape[0] * x.shape[1] * self.weight.data.shape[1]
        return cast(Array, x @ self.weight.data)

    def _matmul_t(self, d: Array) -> Array:
        """d (B, out) @ W.T."""
        if self.weight.analog:
            return cast(Array, self.weight.tile.backward(d, checked=True))
        self.flops += 2 * d.shape[0] * d.shape[1] * self.weight.data.shape[0]
        return cast(Array, d @ self.weight.data.T)

    def _grads(self, x: Array, d: Array) -> None:
        """Weight and bias gradients from the layer input x (B, in) and output gradient d (B, out)."""
        self.flops += 2 * x.shape[0] * x.shape[1] * d.shape[1]
        self.weight.grad = x.T @ d
        if self.bias is not None:
            self.bias.grad = d.sum(axis=0)


class Linear(_MatrixLayer):
    """``y = x @ W + b`` for x of shape (batch, in_features), float32 (numpy, or cupy on a GPU).

    ``W`` is (in_features, out_features): a digital array, or device tiles when ``analog`` is
    given. ``repr`` reads like ``Linear(64 -> 128, analog memristor:eapu-paper)``."""

    def __init__(self, in_features: int, out_features: int, *, compute: Compute, bias: bool = True,
                 analog: AnalogConfig | None = None, dtype: DTypeLike = np.float32) -> None:
        self.in_features = _positive_int("in_features", in_features)
        self.out_features = _positive_int("out_features", out_features)
        super().__init__(self.in_features, self.out_features, bias, compute, analog, dtype)

    def extra_repr(self) -> str:
        return f"{self.in_features} -> {self.out_features}, {self._weights_repr()}"

    def forward(self, x: Array) -> Array:
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"{type(self).__name__} expects input (batch, {self.in_features}), got {tuple(x.shape)}")
        self._x = x
        y = self._matmul(x)
        if self.bias is not None:
            y = _add_bias(y, self.bias.data)
        return y

    def backward(self, grad_out: Array) -> Array | None:
        if grad_out.ndim != 2 or grad_out.shape != (self._x.shape[0], self.out_features):
            raise ValueError(f"grad_out must have shape {(self._x.shape[0], self.out_features)}, got {tuple(grad_out.shape)}")
        self._grads(self._x, grad_out)
        return self._matmul_t(grad_out) if self.input_grad else None


class Conv2d(_MatrixLayer):
    """2-D convolution on NCHW images through im2col: ``cols @ W`` with W (C*k*k, out).

    Input (N, in_channels, H, W), output (N, out_channels, Ho, Wo), float32 (numpy, or cupy on
    a GPU). ``repr`` reads like ``Conv2d(1 -> 8, kernel 3, stride 1, padding 1, digital)``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, compute: Compute,
                 stride: int = 1, padding: int = 0, bias: bool = True, analog: AnalogConfig | None = None,
                 dtype: DTypeLike = np.float32) -> None:
        self.in_channels = _positive_int("in_channels", in_channels)
        self.out_channels = _positive_int("out_channels", out_channels)
        self.kernel_size = _positive_int("kernel_size", kernel_size)
        self.stride = _positive_int("stride", stride)
        if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
            raise ValueError(f"padding must be an integer >= 0, got {padding!r}")
        self.padding = int(padding)
        k = self.kernel_size
        super().__init__(self.in_channels * k * k, self.out_channels, bias, compute, analog, dtype)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels} -> {self.out_channels}, kernel {self.kernel_size}, stride {self.stride}, "
            f"padding {self.padding}, {self._weights_repr()}"
        )

    def forward(self, x: Array) -> Array:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"{type(self).__name__} expects NCHW input with {self.in_channels} channels, got {tuple(x.shape)}"
            )
        k = self.kernel_size
        cols, (ho, wo) = im2col(self.xp, x, k, k, self.stride, self.padding)
        self._cols, self._x_shape = cols, x.shape
        y = self._matmul(cols)
        if self.bias is not None:
            y = _add_bias(y, self.bias.data)
        n = x.shape[0]
        return y.reshape(n, ho, wo, self.out_channels).transpose(0, 3, 1, 2)

    def backward(self, grad_out: Array) -> Array | None:
        n = self._x_shape[0]
        if grad_out.ndim != 4 or grad_out.shape[:2] != (n, self.out_channels):
            raise ValueError(f"grad_out must be (N={n}, {self.out_channels}, H, W), got {tuple(grad_out.shape)}")
        d = grad_out.transpose(0, 2, 3, 1).reshape(-1, self.out_channels)
        if d.shape[0] != self._cols.shape[0]:
            raise ValueError(f"grad_out spatial size {tuple(grad_out.shape[2:])} does not match the forward output")
        self._grads(self._cols, d)
        if not self.input_grad:
            return None
        dcols = self._matmul_t(d)
        k = self.kernel_size
        return col2im(self.xp, dcols, self._x_shape, k, k, self.stride, self.padding)


class AnalogLinear(Linear):
    """:class:`Linear` whose weight matrix lives on device tiles (``analog`` config required)."""

    def __init__(self, in_features: int, out_features: int, analog: AnalogConfig, *, compute: Compute,
                 bias: bool = True) -> None:
        super().__init__(in_features, out_features, compute=compute, bias=bias, analog=analog)


class AnalogConv2d(Conv2d):
    """:class:`Conv2d` whose kernel matrix lives on device tiles (``analog`` config required)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, analog: AnalogConfig, *,
                 compute: Compute, stride: int = 1, padding: int = 0, bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, kernel_size, compute=compute, stride=stride,
                         padding=padding, bias=bias, analog=analog)
