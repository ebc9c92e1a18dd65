"""Frame validation at the public boundary and array-kind detection (numpy, torch CUDA, cupy)."""

from __future__ import annotations

import enum
from typing import Any

import numpy as np

from streamenhance.config import MAX_SIDE
from streamenhance.errors import FrameFormatError, FrameTypeError

FRAME_EXPECTATION = "expected HxWx3 or HxWx4 uint8 BGR(A) frame"


class ArrayKind(enum.Enum):
    NUMPY = "numpy"
    TORCH = "torch"
    CUPY = "cupy"


def array_kind(frame: Any) -> ArrayKind:
    """Which library a frame comes from; ``FrameTypeError`` for anything else."""
    if isinstance(frame, np.ndarray):
        return ArrayKind.NUMPY
    module = type(frame).__module__.split(".")[0]
    if module == "torch":
        return ArrayKind.TORCH
    if module == "cupy":
        return ArrayKind.CUPY
    raise FrameTypeError(f"{FRAME_EXPECTATION} (numpy, torch or cupy), got {type(frame).__name__}")


def _describe(dtype: Any, shape: tuple[int, ...]) -> str:
    name = str(dtype).replace("torch.", "")
    return f"{name} array of shape {tuple(shape)}"


def check_frame(frame: Any) -> tuple[ArrayKind, int, int, int]:
    """Validate a frame; returns (kind, height, width, channels).

    Raises:
        FrameTypeError: not an array, or not uint8.
        FrameFormatError: wrong rank/channels, empty, too large, negative strides or pixels that
            are not contiguous (rows may be padded).
    """
    kind = array_kind(frame)
    shape = tuple(int(s) for s in frame.shape)
    dtype = frame.dtype
    if kind is ArrayKind.TORCH and not frame.is_cuda:
        raise FrameTypeError(f"{FRAME_EXPECTATION}: CPU torch tensors are not accepted, pass tensor.numpy()")
    if str(dtype).replace("torch.", "") != "uint8":
        raise FrameTypeError(f"{FRAME_EXPECTATION}, got {_describe(dtype, shape)}")
    if len(shape) != 3 or shape[2] not in (3, 4):
        raise FrameFormatError(f"{FRAME_EXPECTATION}, got {_describe(dtype, shape)}")
    height, width, channels = shape
    if height == 0 or width == 0:
        raise FrameFormatError(f"{FRAME_EXPECTATION}, got an empty frame of shape {shape}")
    if height > MAX_SIDE or width > MAX_SIDE:
        raise FrameFormatError(f"frame sides must be <= {MAX_SIDE}, got {width}x{height}")
    strides = _byte_strides(frame, kind)
    if min(strides) < 0:
        raise FrameFormatError(f"frame has negative strides {strides}; pass np.ascontiguousarray(frame)")
    if strides[2] != 1 or strides[1] != channels or strides[0] < width * channels:
        raise FrameFormatError(
            f"frame pixels must be contiguous (strides (row, {channels}, 1)), got strides {strides}; "
            "pass np.ascontiguousarray(frame)"
        )
    return kind, height, width, channels


def _byte_strides(frame: Any, kind: ArrayKind) -> tuple[int, ...]:
    if kind is ArrayKind.TORCH:
        return tuple(int(s) * frame.element_size() for s in frame.stride())
    return tuple(int(s) for s in frame.strides)
