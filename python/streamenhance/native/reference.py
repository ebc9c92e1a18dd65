"""NumPy reference of every fused native op: the test oracle and the slow fallback.

The C++ and CUDA kernels in ``csrc/`` must reproduce these functions exactly on uint8 outputs
(same arithmetic, same order of taps), so every definition here is written to be unambiguous:

* ``bgr_to_planar``: ``float32(v) / 255`` (IEEE division), float16 by round-to-nearest-even of that.
* ``planar_to_bgr``: ``floor(clamp((src [+ base]) * 255 + 0.5, 0, 255))`` in float32, no FMA;
  NaN saturates to 0, +inf to 255.
* ``resize``: MATLAB ``imresize`` weights (Keys cubic a = -0.5, antialiased on downscale, mirror
  border), or area (box overlap) weights; separable, one dimension after the other, the dimension
  with the smaller scale first (height first on ties), taps summed in order in float64. uint8 images
  are rounded half-up and clamped after each dimension, as MATLAB does; float planes are not.
* ``nv12_to_bgr`` / ``i420_to_bgr``: 14-bit fixed point, nearest (2x2 block) chroma.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np

ResizeMethod = Literal["bicubic", "area"]
YuvMatrix = Literal["bt601", "bt709"]

YUV_FRACTION_BITS = 14


# --------------------------------------------------------------------------- pack / unpack


def bgr_to_planar(frame: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """BGR(A) uint8 HxWxC -> RGB planar (1, 3, H, W) in [0, 1] of ``dtype`` (float32 or float16)."""
    rgb = frame[:, :, 2::-1].astype(np.float32) / np.float32(255.0)
    return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None]).astype(dtype)


def planar_to_bgr(planar: np.ndarray, base: np.ndarray | None = None, channels: int = 3) -> np.ndarray:
    """RGB planar (1, 3, H, W) float -> BGR(A) uint8 HxWxC, optionally adding ``base`` first.

    Alpha, when ``channels`` is 4, is 255.
    """
    value = planar[0].astype(np.float32)
    if base is not None:
        value = value + base[0].astype(np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = value * np.float32(255.0) + np.float32(0.5)
        scaled = np.where(np.isnan(scaled), np.float32(0.0), scaled)
        out = np.floor(np.clip(scaled, 0.0, 255.0)).astype(np.uint8)
    bgr = out[::-1].transpose(1, 2, 0)
    if channels == 4:
        alpha = np.full(bgr.shape[:2] + (1,), 255, np.uint8)
        bgr = np.concatenate([bgr, alpha], axis=2)
    return np.ascontiguousarray(bgr)


# --------------------------------------------------------------------------- resize


@dataclass(frozen=True)
class ResizeTaps:
    """Per-output-index source indices and weights for one dimension (both shaped (out, taps))."""

    indices: np.ndarray
    weights: np.ndarray


def _keys_cubic(x: np.ndarray) -> np.ndarray:
    """Keys cubic convolution kernel with a = -0.5, as MATLAB's ``cubic``."""
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return near + far


@lru_cache(maxsize=256)
def resize_taps(in_size: int, out_size: int, method: ResizeMethod = "bicubic", antialias: bool = True) -> ResizeTaps:
    """Weights of one resize dimension.

    Bicubic follows MATLAB ``imresize`` (``contributions``): scale = out/in, on downscale with
    antialiasing the kernel is stretched by 1/scale; symmetric (mirror) border; zero-weight columns
    dropped. Area uses the overlap of each source pixel with the output pixel's footprint.
    """
    if in_size < 1 or out_size < 1:
        raise ValueError(f"resize sizes must be >= 1, got {in_size} -> {out_size}")
    scale = out_size / in_size
    if method == "area":
        return _area_taps(in_size, out_size)
    if method != "bicubic":
        raise ValueError(f"method: expected 'bicubic' or 'area', got {method!r}")
    stretch = scale < 1 and antialias
    kernel_width = 4.0 / scale if stretch else 4.0
    x = np.arange(1, out_size + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - kernel_width / 2.0)
    taps = int(math.ceil(kernel_width)) + 2
    idx = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    dist = u[:, None] - idx
    weights = scale * _keys_cubic(scale * dist) if stretch else _keys_cubic(dist)
    weights = weights / weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_size), np.arange(in_size - 1, -1, -1)])
    src = mirror[np.mod(idx.astype(np.int64) - 1, 2 * in_size)]
    keep = np.any(weights != 0, axis=0)
    return ResizeTaps(np.ascontiguousarray(src[:, keep]), np.ascontiguousarray(weights[:, keep]))


def _area_taps(in_size: int, out_size: int) -> ResizeTaps:
    step = in_size / out_size
    start = np.arange(out_size, dtype=np.float64) * step
    end = start + step
    first = np.floor(start).astype(np.int64)
    taps = int(math.ceil(step)) + 1
    idx = first[:, None] + np.arange(taps)[None, :]
    overlap = np.minimum(end[:, None], idx + 1.0) - np.maximum(start[:, None], idx.astype(np.float64))
    weights = np.clip(overlap, 0.0, None)
    weights = np.where(idx < in_size, weights, 0.0)
    weights = weights / weights.sum(axis=1, keepdims=True)
    return ResizeTaps(np.clip(idx, 0, in_size - 1), weights)


def _resize_axis(data: np.ndarray, axis: int, taps: ResizeTaps, round_to_uint8: bool) -> np.ndarray:
    """Apply one dimension's taps along ``axis`` of a float64 array; taps summed in order."""
    moved = np.moveaxis(data, axis, 0)
    acc = np.zeros((taps.indices.shape[0],) + moved.shape[1:], np.float64)
    extra = (slice(None),) + (None,) * (moved.ndim - 1)
    for k in range(taps.indices.shape[1]):
        acc += taps.weights[:, k][extra] * moved[taps.indices[:, k]]
    if round_to_uint8:
        acc = np.floor(np.clip(acc + 0.5, 0.0, 255.0))
    return np.moveaxis(acc, 0, axis)


def dimension_order(in_hw: tuple[int, int], out_hw: tuple[int, int]) -> tuple[int, int]:
    """Resize order of (height, width): smaller scale first, height first on ties (MATLAB)."""
    scale_h = out_hw[0] / in_hw[0]
    scale_w = out_hw[1] / in_hw[1]
    return (1, 0) if scale_w < scale_h else (0, 1)


def resize(
    image: np.ndarray,
    out_hw: tuple[int, int],
    method: ResizeMethod = "bicubic",
    antialias: bool = True,
) -> np.ndarray:
    """Resize a uint8 HxW / HxWxC image or a float (N, C, H, W) planar array to ``out_hw``.

    uint8 images are rounded half-up after each dimension (MATLAB ``imresize`` on uint8);
    float arrays keep full precision (computed in float64, returned in the input dtype).
    """
    is_uint8 = image.dtype == np.uint8
    if is_uint8:
        axes = (0, 1)
    elif image.ndim == 4:
        axes = (2, 3)
    else:
        raise ValueError("float resize expects (N, C, H, W)")
    in_hw = (image.shape[axes[0]], image.shape[axes[1]])
    data = image.astype(np.float64)
    for dim in dimension_order(in_hw, out_hw):
        if in_hw[dim] == out_hw[dim]:
            continue
        taps = resize_taps(in_hw[dim], out_hw[dim], method, antialias)
        data = _resize_axis(data, axes[dim], taps, is_uint8)
    return data.astype(image.dtype)


# --------------------------------------------------------------------------- YUV -> BGR


@dataclass(frozen=True)
class YuvCoefficients:
    """Fixed-point (``YUV_FRACTION_BITS``) coefficients of one YUV -> RGB conversion."""

    y_offset: int
    y_gain: int
    v_to_r: int
    u_to_g: int
    v_to_g: int
    u_to_b: int


@lru_cache(maxsize=8)
def yuv_coefficients(matrix: YuvMatrix, full_range: bool) -> YuvCoefficients:
    """Coefficients from the standard luma weights (BT.601: Kr .299 Kb .114; BT.709: .2126 .0722)."""
    kr, kb = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}[matrix]
    kg = 1.0 - kr - kb
    y_gain, c_gain, y_offset = (1.0, 1.0, 0) if full_range else (255.0 / 219.0, 255.0 / 224.0, 16)
    one = 1 << YUV_FRACTION_BITS

    def fixed(value: float) -> int:
        return int(round(value * one))

    return YuvCoefficients(
        y_offset=y_offset,
        y_gain=fixed(y_gain),
        v_to_r=fixed(c_gain * 2.0 * (1.0 - kr)),
        u_to_g=fixed(c_gain * 2.0 * kb * (1.0 - kb) / kg),
        v_to_g=fixed(c_gain * 2.0 * kr * (1.0 - kr) / kg),
        u_to_b=fixed(c_gain * 2.0 * (1.0 - kb)),
    )


def _yuv_to_bgr(y: np.ndarray, u: np.ndarray, v: np.ndarray, coef: YuvCoefficients, channels: int) -> np.ndarray:
    height, width = y.shape
    rows = np.arange(height) // 2
    cols = np.arange(width) // 2
    uu = u[rows][:, cols].astype(np.int32) - 128
    vv = v[rows][:, cols].astype(np.int32) - 128
    luma = (y.astype(np.int32) - coef.y_offset) * coef.y_gain
    half = 1 << (YUV_FRACTION_BITS - 1)

    def finish(acc: np.ndarray) -> np.ndarray:
        return np.clip((acc + half) >> YUV_FRACTION_BITS, 0, 255).astype(np.uint8)

    r = finish(luma + coef.v_to_r * vv)
    g = finish(luma - coef.u_to_g * uu - coef.v_to_g * vv)
    b = finish(luma + coef.u_to_b * uu)
    planes = [b, g, r] + ([np.full_like(b, 255)] if channels == 4 else [])
    return np.stack(planes, axis=2)


def nv12_to_bgr(
    y: np.ndarray, uv: np.ndarray, matrix: YuvMatrix = "bt709", full_range: bool = False, channels: int = 3
) -> np.ndarray:
    """NV12 (Y plane HxW, interleaved UV plane ceil(H/2) x ceil(W/2) x 2) -> BGR(A) uint8."""
    return _yuv_to_bgr(y, uv[:, :, 0], uv[:, :, 1], yuv_coefficients(matrix, full_range), channels)


def i420_to_bgr(
    y: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    matrix: YuvMatrix = "bt709",
    full_range: bool = False,
    channels: int = 3,
) -> np.ndarray:
    """I420 (Y HxW, U and V ceil(H/2) x ceil(W/2)) -> BGR(A) uint8."""
    return _yuv_to_bgr(y, u, v, yuv_coefficients(matrix, full_range), channels)
