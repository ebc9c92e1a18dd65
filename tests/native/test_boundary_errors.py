"""Invalid input at every native entry point: the exception type AND the message, never a crash."""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch

from streamenhance import native
from streamenhance.config import MAX_SIDE as CONFIG_MAX_SIDE
from streamenhance.errors import ConfigError, FrameFormatError, FrameTypeError, NativeUnavailableError

U8 = np.uint8


def frame(height: int = 4, width: int = 5, channels: int = 3) -> np.ndarray:
    return np.zeros((height, width, channels), U8)


def planar(height: int = 4, width: int = 5, dtype: type = np.float32) -> np.ndarray:
    return np.zeros((1, 3, height, width), dtype)


class FakeCudaArray:
    """Claims device memory through __cuda_array_interface__ while pointing at host memory."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        return {
            "shape": self.array.shape,
            "typestr": self.array.dtype.str,
            "data": (self.array.ctypes.data, False),
            "strides": None,
            "version": 3,
        }


# ------------------------------------------------------------------ dtype and array type -> TypeError


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (
            lambda: native.bgr_to_planar(frame().astype(np.float32)),
            "`src`: expected uint8 (H, W, 3|4) BGR frame, got float32 (4, 5, 3)",
        ),
        (lambda: native.bgr_to_planar(frame().astype(np.int16)), "got int16 (4, 5, 3)"),
        (
            lambda: native.planar_to_bgr(planar(dtype=np.float64)),
            "expected float32 or float16 (1, 3, H, W) RGB planes, got float64",
        ),
        (
            lambda: native.planar_to_bgr(planar(), base=planar(dtype=np.float16)),
            "`base`: expected float32 like `src`, got float16",
        ),
        (
            lambda: native.resize(np.zeros((4, 4), np.int32), (2, 2)),
            "`src`: expected a uint8 (H, W) or (H, W, C) image",
        ),
        (lambda: native.resize(np.zeros((4, 4), bool), (2, 2)), "got bool (4, 4)"),
        (
            lambda: native.resize(frame(), (2, 2), out=np.zeros((2, 2, 3), np.float32)),
            "`dst`: expected uint8 like `src`, got float32",
        ),
        (
            lambda: native.nv12_to_bgr(np.zeros((4, 4), np.float32), np.zeros((2, 2, 2), U8)),
            "`y`: expected uint8 (H, W) plane, got float32",
        ),
        (
            lambda: native.i420_to_bgr(np.zeros((4, 4), U8), np.zeros((2, 2), U8), np.zeros((2, 2), np.uint16)),
            "`v`: expected uint8 (H, W) plane, got uint16",
        ),
        (lambda: native.bgr_to_planar(frame().astype(">f4")), "got >f4"),
        (
            lambda: native.bgr_to_planar([[1, 2, 3]]),
            "`frame`: expected a numpy.ndarray, torch.Tensor or cupy.ndarray, got builtins.list",
        ),
        (lambda: native.bgr_to_planar(frame(), dtype=np.float64), "dtype: expected float32 or float16, got float64"),
    ],
)
def test_wrong_dtype_or_type(call, fragment) -> None:
    with pytest.raises(FrameTypeError, match=re.escape(fragment)) as info:
        call()
    assert isinstance(info.value, TypeError)


def test_raw_module_rejects_non_numpy_without_conversion(ext: ModuleType) -> None:
    out = planar()
    with pytest.raises(TypeError, match=re.escape("`src`: expected a numpy.ndarray or a CUDA array")):
        ext.bgr_to_planar([[[0, 0, 0]]], out)
    with pytest.raises(TypeError, match=re.escape("got torch.Tensor")):
        ext.bgr_to_planar(torch.zeros((4, 5, 3), dtype=torch.uint8), out)
    with pytest.raises(TypeError, match=re.escape("got int64 (4, 5, 3)")):  # no silent cast
        ext.bgr_to_planar(frame().astype(np.int64), out)


# ------------------------------------------------------------------ shapes, sizes, strides -> ValueError


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (
            lambda: native.bgr_to_planar(np.zeros((4, 5), U8)),
            "`src`: expected uint8 (H, W, 3|4) BGR frame, got uint8 (4, 5)",
        ),
        (lambda: native.bgr_to_planar(frame(channels=5)), "got uint8 (4, 5, 5)"),
        (lambda: native.bgr_to_planar(frame(channels=1)), "got uint8 (4, 5, 1)"),
        (lambda: native.bgr_to_planar(np.zeros((2, 4, 5, 3), U8)), "got uint8 (2, 4, 5, 3)"),
        (
            lambda: native.bgr_to_planar(frame(0, 5)),
            "expected a non-empty uint8 (H, W, 3|4) BGR frame, got uint8 (0, 5, 3)",
        ),
        (lambda: native.bgr_to_planar(frame(4, 0)), "got uint8 (4, 0, 3)"),
        (
            lambda: native.planar_to_bgr(np.zeros((1, 4, 4, 5), np.float32)),
            "expected float32 or float16 (1, 3, H, W) RGB planes, got float32 (1, 4, 4, 5)",
        ),
        (lambda: native.planar_to_bgr(np.zeros((3, 4, 5), np.float32)), "got float32 (3, 4, 5)"),
        (lambda: native.planar_to_bgr(planar(0, 5)), "expected a non-empty"),
        (
            lambda: native.resize(np.zeros((2, 3, 4, 5), U8), (2, 2)),
            "`src`: expected uint8 (H, W) or (H, W, C) image with C in 1..4, got uint8 (2, 3, 4, 5)",
        ),
        (lambda: native.resize(frame(channels=5), (2, 2)), "got uint8 (4, 5, 5)"),
        (
            lambda: native.resize(np.zeros((3, 4, 5), np.float32), (2, 2)),
            "float32 or float16 (N, C, H, W) planes, got float32 (3, 4, 5)",
        ),
        (
            lambda: native.nv12_to_bgr(frame(), np.zeros((2, 3, 2), U8)),
            "`y`: expected uint8 (H, W) plane, got uint8 (4, 5, 3)",
        ),
        (
            lambda: native.nv12_to_bgr(np.zeros((4, 5), U8), np.zeros((2, 3), U8)),
            "`uv`: expected uint8 (H, W, 2) interleaved UV plane, got uint8 (2, 3)",
        ),
    ],
)
def test_wrong_shape(call, fragment) -> None:
    with pytest.raises(FrameFormatError, match=re.escape(fragment)) as info:
        call()
    assert isinstance(info.value, ValueError)


def test_one_pixel_frames_work() -> None:
    one = np.array([[[10, 20, 30]]], U8)
    planes = native.bgr_to_planar(one)
    assert planes.shape == (1, 3, 1, 1)
    np.testing.assert_array_equal(native.planar_to_bgr(planes), one)
    assert native.resize(one, (1, 1)).tolist() == one.tolist()
    assert native.resize(one, (3, 2)).shape == (3, 2, 3)
    assert native.nv12_to_bgr(np.zeros((1, 1), U8), np.full((1, 1, 2), 128, U8)).shape == (1, 1, 3)


def test_sides_over_the_limit(ext: ModuleType) -> None:
    assert native.MAX_SIDE == ext.MAX_SIDE == CONFIG_MAX_SIDE == 16384
    wide = np.zeros((1, native.MAX_SIDE + 1, 3), U8)  # 49 KB
    with pytest.raises(FrameFormatError, match=re.escape("every side must be at most 16384 (MAX_SIDE), got")):
        native.bgr_to_planar(wide)
    message = "`src`: every side must be at most 16384 (MAX_SIDE), got uint8 (1, 16385, 3)"
    with pytest.raises(ValueError, match=re.escape(message)):
        ext.resize(wide, np.zeros((1, 4, 3), U8))
    # A 20000 x 20000 broadcast view costs nothing; it must be refused before any output is allocated.
    huge = np.broadcast_to(np.zeros((1, 1, 3), U8), (20000, 20000, 3))
    with pytest.raises(FrameFormatError, match="MAX_SIDE"):
        native.bgr_to_planar(huge)
    with pytest.raises(FrameFormatError, match="MAX_SIDE"):
        native.resize(huge, (10, 10))
    tall_planes = np.broadcast_to(np.zeros((1, 1, 1, 1), np.float32), (1, 3, 16385, 1))
    with pytest.raises(FrameFormatError, match="MAX_SIDE"):
        native.planar_to_bgr(tall_planes)


@pytest.mark.parametrize("size_hw", [(0, 4), (4, 16385), (4,), (2.5, 3), "44", None])
def test_bad_resize_size(size_hw) -> None:
    with pytest.raises(FrameFormatError, match=re.escape("size_hw: expected (height, width) with sides in 1..16384")):
        native.resize(frame(), size_hw)


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (
            lambda f: f[:, ::2],
            "`src`: expected contiguous pixels (strides[1] == 3 and strides[2] == 1, in bytes), got strides (30, 6, 1)",
        ),
        (lambda f: f[:, :, [0, 1, 2]].transpose(1, 0, 2).copy().transpose(1, 0, 2), "expected contiguous pixels"),
        (
            lambda f: f[::-1],
            "`src`: expected non-negative strides, got strides (-30, 3, 1) (a reversed view); "
            "pass np.ascontiguousarray(src)",
        ),
        (lambda f: f[:, :, ::-1], "expected non-negative strides"),
        (lambda f: np.broadcast_to(f[:1], f.shape), "expected a positive row stride, got strides (0, 3, 1)"),
    ],
)
def test_bad_frame_strides(make, fragment) -> None:
    image = make(np.zeros((6, 10, 3), U8))
    with pytest.raises(FrameFormatError, match=re.escape(fragment)):
        native.bgr_to_planar(image)


def test_bad_plane_strides() -> None:
    transposed = np.zeros((1, 3, 5, 4), np.float32).transpose(0, 1, 3, 2)
    message = "`src`: expected C-contiguous planes, got strides (240, 80, 4, 16)"
    with pytest.raises(FrameFormatError, match=re.escape(message)):
        native.planar_to_bgr(transposed)
    reversed_rows = np.zeros((1, 3, 4, 5), np.float32)[:, :, ::-1]
    with pytest.raises(FrameFormatError, match=re.escape("pass np.ascontiguousarray(src)")):
        native.resize(reversed_rows, (2, 2))
    with pytest.raises(FrameFormatError, match=re.escape("`dst`: expected C-contiguous planes")):
        native.bgr_to_planar(frame(), out=np.zeros((1, 3, 5, 4), np.float32).transpose(0, 1, 3, 2))


def test_misaligned_planes() -> None:
    raw = np.zeros(3 * 4 * 5 * 4 + 1, U8)
    misaligned = np.frombuffer(raw.data, np.float32, count=60, offset=1).reshape(1, 3, 4, 5)
    message = "`src`: expected data aligned to its 4-byte elements, got a misaligned float32 (1, 3, 4, 5)"
    with pytest.raises(FrameFormatError, match=re.escape(message)):
        native.planar_to_bgr(misaligned)


# ------------------------------------------------------------------ outputs: read-only, shape, overlap


def test_read_only_outputs() -> None:
    readonly_planes = planar()
    readonly_planes.setflags(write=False)
    readonly_frame = frame()
    readonly_frame.setflags(write=False)
    message = re.escape("`dst`: expected a writable output array, got a read-only")
    with pytest.raises(FrameFormatError, match=message):
        native.bgr_to_planar(frame(), out=readonly_planes)
    with pytest.raises(FrameFormatError, match=message):
        native.planar_to_bgr(planar(), out=readonly_frame)
    with pytest.raises(FrameFormatError, match=message):
        native.resize(frame(8, 10), (4, 5), out=readonly_frame)
    with pytest.raises(FrameFormatError, match=message):
        native.nv12_to_bgr(np.zeros((4, 5), U8), np.zeros((2, 3, 2), U8), out=readonly_frame)


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (
            lambda: native.bgr_to_planar(frame(), out=planar(4, 6)),
            "`dst`: expected shape (1, 3, 4, 5) ((1, 3, H, W) for `src` of (H, W)), got float32 (1, 3, 4, 6)",
        ),
        (lambda: native.planar_to_bgr(planar(), out=frame(5, 5)), "`dst`: expected shape (4, 5, 3)"),
        (
            lambda: native.planar_to_bgr(planar(), out=frame(4, 5, 1)),
            "`dst`: expected uint8 (H, W, 3|4) BGR frame, got uint8 (4, 5, 1)",
        ),
        (
            lambda: native.planar_to_bgr(planar(), base=planar(4, 6)),
            "`base`: expected shape (1, 3, 4, 5) (the shape of `src`), got float32 (1, 3, 4, 6)",
        ),
        (
            lambda: native.resize(frame(), (2, 2), out=np.zeros((2, 2), U8)),
            "`dst`: expected a uint8 image with the layout of `src` (4, 5, 3) (same channels), got uint8 (2, 2)",
        ),
        (lambda: native.resize(frame(), (2, 2), out=np.zeros((2, 2, 4), U8)), "same channels"),
        (
            lambda: native.resize(np.zeros((2, 3, 4, 5), np.float32), (2, 2), out=np.zeros((2, 1, 2, 2), np.float32)),
            "`dst`: expected planes (2, 3, H', W') like `src`",
        ),
        (
            lambda: native.nv12_to_bgr(np.zeros((5, 7), U8), np.zeros((2, 4, 2), U8)),
            "`uv`: expected shape (3, 4, 2) (ceil(H/2), ceil(W/2) for a luma plane of (H, W)), got uint8 (2, 4, 2)",
        ),
        (
            lambda: native.i420_to_bgr(np.zeros((5, 7), U8), np.zeros((3, 4), U8), np.zeros((3, 3), U8)),
            "`v`: expected shape (3, 4)",
        ),
        (
            lambda: native.i420_to_bgr(
                np.zeros((4, 4), U8), np.zeros((2, 2), U8), np.zeros((2, 2), U8), out=frame(4, 5)
            ),
            "`dst`: expected shape (4, 4, 3)",
        ),
    ],
)
def test_mismatched_shapes(call, fragment) -> None:
    with pytest.raises(FrameFormatError, match=re.escape(fragment)):
        call()


def test_outputs_overlapping_inputs() -> None:
    image = np.zeros((8, 8, 3), U8)
    message = re.escape("`dst` overlaps `src`: the output must not share memory with an input")
    with pytest.raises(FrameFormatError, match=message):
        native.resize(image, (8, 8), out=image)
    with pytest.raises(FrameFormatError, match=message):
        native.resize(image[:4], (4, 8), out=image[2:6])
    buffer = np.zeros(3 * 4 * 5 * 4 + 64, U8)
    planes = buffer[: 3 * 4 * 5 * 4].view(np.float32).reshape(1, 3, 4, 5)
    with pytest.raises(FrameFormatError, match=message):
        native.planar_to_bgr(planes, out=buffer[:60].reshape(4, 5, 3))
    shared = np.zeros(4 * 4 * 3, U8)
    with pytest.raises(FrameFormatError, match=re.escape("`dst` overlaps `y`")):
        luma, chroma = shared[:16].reshape(4, 4), np.zeros((2, 2), U8)
        native.i420_to_bgr(luma, chroma, chroma.copy(), out=shared.reshape(4, 4, 3))
    # Disjoint views of one buffer are fine.
    whole = np.zeros((8, 8, 3), U8)
    native.resize(whole[:4], (4, 8), out=whole[4:])


# ------------------------------------------------------------------ options, devices, availability


def test_unknown_options() -> None:
    with pytest.raises(ConfigError, match=re.escape("method: expected one of bicubic, area, got 'lanczos'")):
        native.resize(frame(), (2, 2), method="lanczos")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=re.escape("matrix: expected one of bt601, bt709, got 'bt2020'")):
        native.nv12_to_bgr(np.zeros((4, 4), U8), np.zeros((2, 2, 2), U8), matrix="bt2020")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=re.escape("channels: expected 3 or 4, got 5")):
        native.planar_to_bgr(planar(), channels=5)


def test_raw_module_option_errors(ext: ModuleType) -> None:
    with pytest.raises(ValueError, match=re.escape("`method`: expected one of 'bicubic', 'area', got 'nearest'")):
        ext.resize(frame(), frame(2, 2), "nearest")
    with pytest.raises(ValueError, match=re.escape("`matrix`: expected one of 'bt601', 'bt709', got 'BT709'")):
        ext.nv12_to_bgr(np.zeros((2, 2), U8), np.zeros((1, 1, 2), U8), frame(2, 2), "BT709")
    with pytest.raises(ValueError, match=re.escape("`threads`: expected 1..1024, got 0")):
        ext.set_num_threads(0)


def test_cuda_array_without_usable_cuda(ext: ModuleType) -> None:
    if ext.cuda_available():
        pytest.skip("a GPU is usable here: covered by test_cuda.py")
    fake = FakeCudaArray(frame())
    why = r"`src` is a CUDA array(:| but) (no CUDA device is usable here|this _native was built without CUDA)"
    with pytest.raises(RuntimeError, match=why):
        ext.bgr_to_planar(fake, planar())
    with pytest.raises(RuntimeError, match="`dst` is a CUDA array"):
        ext.bgr_to_planar(frame(), FakeCudaArray(planar()))


def test_unavailable_module_keeps_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(native, "_native", None)
    monkeypatch.setattr(native, "_unavailable", "streamenhance._native could not be imported (test)")
    assert not native.available()
    assert native.unavailable_reason() == "streamenhance._native could not be imported (test)"
    assert native.cuda_available() is False and native.cuda_device_count() == 0
    for call in (native.build_info, native.get_num_threads, lambda: native.bgr_to_planar(frame())):
        with pytest.raises(NativeUnavailableError, match=re.escape("could not be imported (test)")):
            call()
