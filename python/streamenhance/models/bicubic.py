"""MATLAB-exact bicubic resizing in torch (float, no rounding), used for the SR base in training.

The weights come from ``native.reference.resize_taps``, so the base the network learns against is the
one the native ``resize`` kernel adds at inference time.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from streamenhance.native.reference import ResizeMethod, dimension_order, resize_taps


@lru_cache(maxsize=64)
def _resize_matrix(in_size: int, out_size: int, method: ResizeMethod, antialias: bool) -> torch.Tensor:
    taps = resize_taps(in_size, out_size, method, antialias)
    matrix = torch.zeros(out_size, in_size, dtype=torch.float64)
    rows = torch.arange(out_size)
    for k in range(taps.indices.shape[1]):
        matrix.index_put_(
            (rows, torch.from_numpy(taps.indices[:, k])), torch.from_numpy(taps.weights[:, k]), accumulate=True
        )
    return matrix.to(torch.float32)


def resize_planar(
    x: torch.Tensor, size_hw: tuple[int, int], method: ResizeMethod = "bicubic", antialias: bool = True
) -> torch.Tensor:
    """Resize (N, C, H, W) float tensors with MATLAB ``imresize`` weights (differentiable)."""
    in_hw = (x.shape[-2], x.shape[-1])
    for dim in dimension_order(in_hw, size_hw):
        if in_hw[dim] == size_hw[dim]:
            continue
        matrix = _resize_matrix(in_hw[dim], size_hw[dim], method, antialias).to(x.device, x.dtype)
        if dim == 0:
            x = torch.einsum("oh,nchw->ncow", matrix, x)
        else:
            x = torch.einsum("ow,nchw->ncho", matrix, x)
    return x


def upscale(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Integer bicubic upscale of (N, C, H, W)."""
    return resize_planar(x, (x.shape[-2] * scale, x.shape[-1] * scale))
