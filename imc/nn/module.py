"""Module and Parameter: the minimal layer protocol, plus containers and shape-only layers.

Every module has ``forward(x)``, ``backward(grad_out) -> grad_in`` (using what forward
cached), ``named_parameters()`` and ``state()``/``load_state()``. Arrays are numpy or cupy
(the module's ``xp``), float32 unless a layer was built with another dtype; NCHW for
images. ``flops`` counts the digital floating-point operations the module performed
(for the ledger's energy estimate).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..arraytypes import Array, Shape
from ..compute import namespace_of, to_host

if TYPE_CHECKING:
    from .analog import AnalogMatrix


class Parameter:
    """A trainable tensor: digital (``data``, an array) or analog (``tile``, an AnalogMatrix).

    ``data`` is a float array (numpy, or cupy on a GPU); ``grad`` holds its gradient after a
    backward pass (same shape), or None."""

    def __init__(self, data: Array | None = None, tile: AnalogMatrix | None = None) -> None:
        if (data is None) == (tile is None):
            raise ValueError("a Parameter holds either data (digital) or a tile (analog)")
        self.data: Any = data  # an array when digital, else None
        self.tile: Any = tile  # an AnalogMatrix when analog, else None
        self.grad: Array | None = None

    @property
    def analog(self) -> bool:
        """True when the weights live on device tiles."""
        return self.tile is not None

    @property
    def shape(self) -> Shape:
        """Shape of the weights: (inputs, outputs) for a matrix."""
        return tuple(self.tile.shape) if self.analog else tuple(self.data.shape)

    @property
    def size(self) -> int:
        """Number of weights."""
        return int(np.prod(self.shape))

    def __repr__(self) -> str:
        if self.analog:
            return f"Parameter(analog {self.shape}, {self.tile.label()})"
        return f"Parameter(digital {self.shape}, {self.data.dtype})"

    def value(self) -> Array:
        """The current weights: the array itself, or the tile's weights as read by the periphery."""
        return cast(Array, self.tile.read_weights() if self.analog else self.data)


class Module:
    """Base class: override ``forward``/``backward``; register params and children in __init__.

    Arrays are float32 (numpy, or cupy on a GPU), NCHW for images. ``repr(module)`` lists the
    module and its children, one per line (as torch does)."""

    def __init__(self) -> None:
        self._params: dict[str, Parameter] = {}
        self._children: dict[str, Module] = {}
        self.training = True
        self.flops = 0

    # -- structure --------------------------------------------------------------------
    def add_parameter(self, name: str, param: Parameter) -> Parameter:
        """Register ``param`` under ``name`` (saved in :meth:`state`, seen by the optimiser)."""
        self._params[name] = param
        return param

    def add_child(self, name: str, module: Module) -> Module:
        """Register a child module under ``name``."""
        if not isinstance(module, Module):
            raise TypeError(f"child {name!r} must be a Module, got {type(module).__name__}")
        self._children[name] = module
        return module

    def modules(self) -> Iterator[Module]:
        """This module and all descendants, depth first."""
        yield self
        for child in self._children.values():
            yield from child.modules()

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter) for every parameter, in a fixed order."""
        for name, p in self._params.items():
            yield prefix + name, p
        for name, child in self._children.items():
            yield from child.named_parameters(f"{prefix}{name}.")

    def parameters(self) -> list[Parameter]:
        """Every parameter, in the order of :meth:`named_parameters`."""
        return [p for _, p in self.named_parameters()]

    def tiles(self) -> list[AnalogMatrix]:
        """Every analog matrix in the model."""
        return [p.tile for p in self.parameters() if p.analog]

    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and its descendants; returns self."""
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode (``train(False)``); returns self."""
        return self.train(False)

    def total_flops(self) -> int:
        """Digital floating-point operations performed by this module and its descendants."""
        return sum(m.flops for m in self.modules())

    # -- computation --------------------------------------------------------------------
    def forward(self, x: Array) -> Array:
        """The output for input ``x`` (caches what :meth:`backward` needs)."""
        raise NotImplementedError

    def backward(self, grad_out: Array) -> Array | None:
        """Gradient of the loss w.r.t. the input of the last forward, from ``grad_out`` (same
        shape as that forward's output); sets parameter gradients. None when nothing needs
        the input gradient (a first layer with ``input_grad = False``)."""
        raise NotImplementedError

    def __call__(self, x: Array) -> Array:
        return self.forward(x)

    # -- description ------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The settings ``repr`` shows between the parentheses (override; default: none)."""
        return ""

    def __repr__(self) -> str:
        """``Name(settings)``, with each child on its own line as ``(name): repr``, like torch."""
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not self._children:
            return head + ")"
        lines = [head]
        for name, child in self._children.items():
            lines.append(f"  ({name}): " + repr(child).replace("\n", "\n  "))
        return "\n".join(lines) + "\n)"

    # -- state ----------------------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray[Any, Any]]:
        """Digital parameters as ``name``, tiles as ``name.<tile key>``, flop counters; host numpy."""
        out: dict[str, np.ndarray[Any, Any]] = {}
        for name, p in self.named_parameters():
            if p.analog:
                for key, arr in p.tile.state().items():
                    out[f"{name}.{key}"] = arr
            else:
                out[name] = to_host(p.data)
        out["flops"] = np.array([m.flops for m in self.modules()], dtype=np.int64)
        return out

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state`; checks names and shapes before changing anything."""
        params = list(self.named_parameters())
        for name, p in params:
            if not p.analog:
                if name not in state:
                    raise KeyError(f"model state is missing parameter {name!r}")
                if tuple(np.shape(state[name])) != p.shape:
                    raise ValueError(f"state[{name!r}] has shape {np.shape(state[name])}, the parameter has {p.shape}")
        flops = np.asarray(state.get("flops", []))
        mods = list(self.modules())
        if flops.shape != (len(mods),):
            raise ValueError(f"model state 'flops' must list {len(mods)} modules, got shape {flops.shape}")
        for name, p in params:
            if p.analog:
                prefix = name + "."
                p.tile.load_state({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})
        for name, p in params:
            if not p.analog:
                xp = namespace_of(p.data)
                p.data[...] = xp.asarray(state[name], dtype=p.data.dtype)
        for m, f in zip(mods, flops.tolist()):
            m.flops = int(f)


class Sequential(Module):
    """Modules applied in order; children are named "0", "1", ..."""

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        for i, layer in enumerate(layers):
            self.add_child(str(i), layer)

    @property
    def layers(self) -> list[Module]:
        """The layers, in order."""
        return list(self._children.values())

    def forward(self, x: Array) -> Array:
        for layer in self._children.values():
            x = layer.forward(x)
        return x

    def backward(self, grad_out: Any) -> Array | None:
        for layer in reversed(self._children.values()):
            grad_out = layer.backward(grad_out)
        return grad_out  # type: ignore[no-any-return]


class Residual(Module):
    """``skip(x) + scale * block(x)``; skip is the identity unless given (DnCNN uses scale=-1)."""

    def __init__(self, block: Module, skip: Module | None = None, scale: float = 1.0) -> None:
        super().__init__()
        self.block = self.add_child("block", block)
        self.skip = self.add_child("skip", skip) if skip is not None else None
        self.scale = float(scale)

    def extra_repr(self) -> str:
        return "" if self.scale == 1.0 else f"scale={self.scale:g}"

    def forward(self, x: Array) -> Array:
        out = self.block.forward(x)
        if self.scale != 1.0:
            out = out * out.dtype.type(self.scale)
        base = x if self.skip is None else self.skip.forward(x)
        if tuple(base.shape) != tuple(out.shape):
            raise ValueError(f"residual block output {tuple(out.shape)} does not match skip {tuple(base.shape)}")
        return out + base

    def backward(self, grad_out: Array) -> Array:
        g_block = grad_out * grad_out.dtype.type(self.scale) if self.scale != 1.0 else grad_out
        g = cast(Array, self.block.backward(g_block))  # a block inside a model always passes its gradient on
        return g + (grad_out if self.skip is None else self.skip.backward(grad_out))


class ReLU(Module):
    """``max(x, 0)`` elementwise."""

    def forward(self, x: Array) -> Array:
        self._mask = x > 0
        return x * self._mask

    def backward(self, grad_out: Array) -> Array:
        return grad_out * self._mask


class Tanh(Module):
    """``tanh(x)`` elementwise."""

    def forward(self, x: Array) -> Array:
        self._y: Array = namespace_of(x).tanh(x)
        return self._y

    def backward(self, grad_out: Array) -> Array:
        return cast(Array, grad_out * (1 - self._y * self._y))


class Sigmoid(Module):
    """``1 / (1 + exp(-x))`` elementwise."""

    def forward(self, x: Array) -> Array:
        xp = namespace_of(x)
        self._y: Array = 1 / (1 + xp.exp(-x))
        return self._y

    def backward(self, grad_out: Array) -> Array:
        return cast(Array, grad_out * self._y * (1 - self._y))


class Flatten(Module):
    """(N, ...) -> (N, prod(...))."""

    def forward(self, x: Array) -> Array:
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_out: Array) -> Array:
        return grad_out.reshape(self._shape)


class PixelShuffle(Module):
    """(N, C*r*r, H, W) -> (N, C, H*r, W*r), as in sub-pixel convolution (Shi et al. 2016)."""

    def __init__(self, factor: int) -> None:
        super().__init__()
        if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
            raise ValueError(f"pixel shuffle factor must be a positive integer, got {factor!r}")
        self.r = factor

    def extra_repr(self) -> str:
        return str(self.r)

    def forward(self, x: Array) -> Array:
        n, c, h, w = x.shape
        r = self.r
        if c % (r * r):
            raise ValueError(f"PixelShuffle({r}) needs channels divisible by {r * r}, got {c}")
        self._shape = x.shape
        return x.reshape(n, c // (r * r), r, r, h, w).transpose(0, 1, 4, 2, 5, 3).reshape(n, c // (r * r), h * r, w * r)

    def backward(self, grad_out: Array) -> Array:
        n, c, h, w = self._shape
        r = self.r
        g = grad_out.reshape(n, c // (r * r), h, r, w, r).transpose(0, 1, 3, 5, 2, 4)
        return g.reshape(n, c, h, w)


class Upsample(Module):
    """Parameter-free upsampling (N, C, H, W) -> (N, C, H*r, W*r).

    ``mode="nearest"`` copies each pixel into an r x r block (the backward pass sums each
    block). ``mode="bilinear"`` interpolates between pixel centres with edges clamped (as
    ``torch.nn.Upsample(mode="bilinear", align_corners=False)``): ``y = A_h x A_w^T`` with
    fixed interpolation matrices, so the backward pass is ``A_h^T g A_w``.
    """

    MODES = ("nearest", "bilinear")

    def __init__(self, factor: int, mode: str = "nearest") -> None:
        super().__init__()
        if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
            raise ValueError(f"upsample factor must be a positive integer, got {factor!r}")
        if mode not in self.MODES:
            raise ValueError(f"upsample mode must be one of {', '.join(self.MODES)}, got {mode!r}")
        self.r, self.mode = factor, mode

    def extra_repr(self) -> str:
        return f"{self.r}, mode={self.mode!r}"

    def _matrix(self, xp: Any, n: int, dtype: Any) -> Array:
        """(n*r, n) bilinear interpolation weights along one axis."""
        src = np.clip((np.arange(n * self.r) + 0.5) / self.r - 0.5, 0, n - 1)
        lo = np.floor(src).astype(np.int64)
        hi = np.minimum(lo + 1, n - 1)
        frac = src - lo
        a = np.zeros((n * self.r, n))
        rows = np.arange(n * self.r)
        np.add.at(a, (rows, lo), 1 - frac)
        np.add.at(a, (rows, hi), frac)
        return cast(Array, xp.asarray(a, dtype=dtype))

    def forward(self, x: Array) -> Array:
        if x.ndim != 4:
            raise ValueError(f"Upsample expects NCHW input, got shape {tuple(x.shape)}")
        xp = namespace_of(x)
        self._shape = x.shape
        if self.mode == "nearest":
            return xp.repeat(xp.repeat(x, self.r, axis=2), self.r, axis=3)
        self._ah, self._aw = self._matrix(xp, x.shape[2], x.dtype), self._matrix(xp, x.shape[3], x.dtype)
        self.flops += self._interp_flops()
        return self._ah @ x @ self._aw.T

    def _interp_flops(self) -> int:
        """Two taps (multiply-add) per output value, along H then along W."""
        n, c, h, w = self._shape
        return 4 * n * c * (h * self.r * w + h * self.r * w * self.r)

    def backward(self, grad_out: Array) -> Array:
        n, c, h, w = self._shape
        r = self.r
        if self.mode == "nearest":
            return cast(Array, grad_out.reshape(n, c, h, r, w, r).sum(axis=(3, 5)))
        self.flops += self._interp_flops()
        return self._ah.T @ grad_out @ self._aw


class _Pool2d(Module):
    """Non-overlapping k x k pooling (stride k) over (N, C, H, W); H and W must be multiples of k."""

    def __init__(self, kernel: int) -> None:
        super().__init__()
        if isinstance(kernel, bool) or not isinstance(kernel, int) or kernel < 1:
            raise ValueError(f"pooling kernel must be a positive integer, got {kernel!r}")
        self.k = kernel

    def extra_repr(self) -> str:
        return str(self.k)

    def _blocks(self, x: Array) -> Array:
        n, c, h, w = x.shape
        k = self.k
        if h % k or w % k:
            raise ValueError(f"{type(self).__name__}({k}) needs height and width divisible by {k}, got {h}x{w}")
        self._shape = x.shape
        return x.reshape(n, c, h // k, k, w // k, k)

    def _spread(self, grad_out: Array, weights: Any) -> Array:
        n, c, h, w = self._shape
        k = self.k
        block = namespace_of(grad_out).broadcast_to(grad_out[:, :, :, None, :, None], (n, c, h // k, k, w // k, k))
        return cast(Array, (weights * block).reshape(self._shape))


class AvgPool2d(_Pool2d):
    """Mean of each k x k block."""

    def forward(self, x: Array) -> Array:
        return cast(Array, self._blocks(x).mean(axis=(3, 5)))

    def backward(self, grad_out: Array) -> Array:
        return self._spread(grad_out, grad_out.dtype.type(1.0 / (self.k * self.k)))


class MaxPool2d(_Pool2d):
    """Largest value of each k x k block (tied maxima share the gradient equally)."""

    def forward(self, x: Array) -> Array:
        blocks = self._blocks(x)
        mask = (blocks == blocks.max(axis=(3, 5), keepdims=True)).astype(x.dtype)
        self._weights = mask / mask.sum(axis=(3, 5), keepdims=True)
        return cast(Array, blocks.max(axis=(3, 5)))

    def backward(self, grad_out: Array) -> Array:
        return self._spread(grad_out, self._weights)
