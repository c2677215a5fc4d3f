"""im2col / col2im for NCHW images, vectorised over the batch and the image.

Both loop only over the kernel offsets (kh * kw strided slices), so they run at array
speed on numpy and cupy alike. Columns are laid out as (N * Ho * Wo, C * kh * kw), so a
convolution is ``cols @ W`` with ``W`` of shape (C * kh * kw, out_channels).
"""

from __future__ import annotations

from typing import Any, cast

from ..arraytypes import Array, Shape


def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output length along one axis of a convolution (raises ValueError when the input is too small)."""
    out = (size + 2 * padding - kernel) // stride + 1
    if out < 1:
        raise ValueError(
            f"input of size {size} is too small for kernel {kernel} with padding {padding}, stride {stride}"
        )
    return out


def im2col(xp: Any, x: Array, kh: int, kw: int, stride: int, padding: int) -> tuple[Array, tuple[int, int]]:
    """(N, C, H, W) -> columns (N*Ho*Wo, C*kh*kw) and the output size (Ho, Wo)."""
    n, c, h, w = x.shape
    ho, wo = output_size(h, kh, stride, padding), output_size(w, kw, stride, padding)
    if padding:
        x = xp.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = xp.empty((n, ho, wo, c, kh, kw), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            patch = x[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride]
            cols[:, :, :, :, i, j] = patch.transpose(0, 2, 3, 1)
    return cols.reshape(n * ho * wo, c * kh * kw), (ho, wo)


def col2im(xp: Any, cols: Array, x_shape: Shape, kh: int, kw: int, stride: int, padding: int) -> Array:
    """Adjoint of :func:`im2col`: sum columns back into an (N, C, H, W) image."""
    n, c, h, w = x_shape
    ho, wo = output_size(h, kh, stride, padding), output_size(w, kw, stride, padding)
    cols = cols.reshape(n, ho, wo, c, kh, kw)
    out = xp.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride] += cols[:, :, :, :, i, j].transpose(
                0, 3, 1, 2
            )
    if padding:
        out = out[:, :, padding:-padding, padding:-padding]
    return cast(Array, out)
