"""CUDA kernels against the CPU kernels, through torch CUDA tensors and cupy arrays.

The CUDA kernels use the same operations in the same order as the CPU ones (explicit round-to-nearest
intrinsics, no FMA), so every result, float planes included, must be identical. Skipped (root conftest)
unless a GPU is usable and _native was built with CUDA.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from streamenhance import native
from streamenhance.errors import FrameFormatError

pytestmark = pytest.mark.cuda


def to_device(lib: str, array: np.ndarray, device: int = 0) -> Any:
    if lib == "torch":
        return torch.from_numpy(np.ascontiguousarray(array)).to(f"cuda:{device}")
    import cupy

    with cupy.cuda.Device(device):
        return cupy.asarray(array)


def to_host(array: Any) -> np.ndarray:
    return array.cpu().numpy() if torch.is_tensor(array) else array.get()


def padded_on_device(lib: str, image: np.ndarray, pad: int = 3) -> Any:
    """A device view with padded rows (row stride > row bytes), like a pitched GPU surface."""
    height, width = image.shape[:2]
    big = np.zeros((height, width + 2 * pad, *image.shape[2:]), image.dtype)
    big[:, pad : pad + width] = image
    return to_device(lib, big)[:, pad : pad + width]


def assert_same_kind(result: Any, lib: str) -> None:
    if lib == "torch":
        assert torch.is_tensor(result) and result.is_cuda
    else:
        import cupy

        assert isinstance(result, cupy.ndarray)


SIZES = [(1, 1), (1, 9), (9, 1), (7, 13), (33, 65), (271, 483)]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_bgr_to_planar(lib, rng, size, channels, dtype) -> None:
    image = rng.integers(0, 256, (*size, channels), dtype=np.uint8)
    expected = native.bgr_to_planar(image, dtype=dtype)
    for source in (to_device(lib, image), padded_on_device(lib, image)):
        result = native.bgr_to_planar(source, dtype=dtype)
        assert_same_kind(result, lib)
        np.testing.assert_array_equal(to_host(result), expected)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_planar_to_bgr(lib, rng, size, channels, dtype) -> None:
    src = (rng.standard_normal((1, 3, *size)) * 0.6 + 0.5).astype(dtype)
    base = (rng.standard_normal((1, 3, *size)) * 0.2).astype(dtype)
    src.reshape(-1)[:4] = [np.nan, np.inf, -np.inf, 1e4]
    for with_base in (False, True):
        expected = native.planar_to_bgr(src, base=base if with_base else None, channels=channels)
        device_base = to_device(lib, base) if with_base else None
        result = native.planar_to_bgr(to_device(lib, src), base=device_base, channels=channels)
        assert_same_kind(result, lib)
        np.testing.assert_array_equal(to_host(result), expected)


def test_planar_to_bgr_into_padded_out(lib, rng) -> None:
    src = rng.random((1, 3, 6, 9)).astype(np.float32)
    big = to_device(lib, np.full((6, 15, 4), 7, np.uint8))
    native.planar_to_bgr(to_device(lib, src), out=big[:, 3:12])
    host = to_host(big)
    np.testing.assert_array_equal(host[:, 3:12], native.planar_to_bgr(src, channels=4))
    assert (host[:, :3] == 7).all() and (host[:, 12:] == 7).all()


@pytest.mark.parametrize("layout", [(), (1,), (2,), (3,), (4,)])
@pytest.mark.parametrize("out_hw", [(14, 26), (3, 6), (7, 40), (1, 1), (23, 37), (7, 13)])
@pytest.mark.parametrize("method", ["bicubic", "area"])
def test_resize_uint8(lib, rng, layout, out_hw, method) -> None:
    image = rng.integers(0, 256, (7, 13, *layout), dtype=np.uint8)
    expected = native.resize(image, out_hw, method=method)
    for source in (to_device(lib, image), padded_on_device(lib, image)):
        result = native.resize(source, out_hw, method=method)
        assert_same_kind(result, lib)
        np.testing.assert_array_equal(to_host(result), expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("shape", [(1, 3, 17, 23), (2, 2, 5, 8), (1, 3, 1, 1)])
@pytest.mark.parametrize("out_hw", [(34, 46), (9, 11), (17, 40), (1, 1), (25, 2)])
@pytest.mark.parametrize("antialias", [True, False])
def test_resize_planes(lib, rng, dtype, shape, out_hw, antialias) -> None:
    src = rng.random(shape).astype(dtype)
    expected = native.resize(src, out_hw, antialias=antialias)
    result = native.resize(to_device(lib, src), out_hw, antialias=antialias)
    assert_same_kind(result, lib)
    np.testing.assert_array_equal(to_host(result), expected)


def test_resize_many_sizes_past_the_taps_cache(rng) -> None:
    """More distinct (in, out) sizes than the device taps cache keeps (256): the per-call upload path that
    takes over must agree too."""
    image = rng.integers(0, 256, (3, 401, 3), dtype=np.uint8)
    device_image = to_device("torch", image)
    for out_w in range(1, 401):
        result = native.resize(device_image, (3, out_w))
        np.testing.assert_array_equal(to_host(result), native.resize(image, (3, out_w)), err_msg=f"width {out_w}")


@pytest.mark.parametrize("size", [(1, 1), (7, 13), (22, 34), (271, 483)])
@pytest.mark.parametrize("matrix", ["bt601", "bt709"])
@pytest.mark.parametrize("full_range", [False, True])
def test_yuv(lib, rng, size, matrix, full_range) -> None:
    height, width = size
    y = rng.integers(0, 256, size, dtype=np.uint8)
    uv = rng.integers(0, 256, ((height + 1) // 2, (width + 1) // 2, 2), dtype=np.uint8)
    u, v = np.ascontiguousarray(uv[..., 0]), np.ascontiguousarray(uv[..., 1])
    for channels in (3, 4):
        expected = native.nv12_to_bgr(y, uv, matrix=matrix, full_range=full_range, channels=channels)
        result = native.nv12_to_bgr(
            padded_on_device(lib, y), to_device(lib, uv), matrix=matrix, full_range=full_range, channels=channels
        )
        assert_same_kind(result, lib)
        np.testing.assert_array_equal(to_host(result), expected)
        result = native.i420_to_bgr(
            to_device(lib, y), to_device(lib, u), padded_on_device(lib, v), matrix=matrix, full_range=full_range,
            channels=channels,
        )
        np.testing.assert_array_equal(to_host(result), expected)


def test_runs_on_the_current_torch_stream(rng) -> None:
    image = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
    expected = native.resize(image, (128, 192))
    side = torch.cuda.Stream()
    device_image = to_device("torch", image)
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        result = native.resize(device_image, (128, 192))  # allocated and computed on `side`
    side.synchronize()
    np.testing.assert_array_equal(to_host(result), expected)
    explicit = torch.empty((128, 192, 3), dtype=torch.uint8, device="cuda")
    native.resize(device_image, (128, 192), out=explicit, stream=torch.cuda.current_stream())
    np.testing.assert_array_equal(to_host(explicit), expected)


def test_mixed_devices_are_rejected(rng) -> None:
    image = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    with pytest.raises(FrameFormatError, match="all arrays must be on the same device"):
        native.bgr_to_planar(to_device("torch", image), out=np.zeros((1, 3, 4, 5), np.float32))
    with pytest.raises(FrameFormatError, match="all arrays must be on the same device"):
        native.bgr_to_planar(image, out=torch.zeros((1, 3, 4, 5), device="cuda"))
    if torch.cuda.device_count() > 1:
        with pytest.raises(FrameFormatError, match="`dst` is on cuda:1 but `src` is on cuda:0"):
            native.bgr_to_planar(to_device("torch", image, 0), out=torch.zeros((1, 3, 4, 5), device="cuda:1"))


def test_other_device_than_current(rng) -> None:
    if torch.cuda.device_count() < 2:
        pytest.skip("needs two GPUs")
    image = rng.integers(0, 256, (33, 47, 4), dtype=np.uint8)
    torch.cuda.set_device(0)
    result = native.resize(to_device("torch", image, 1), (20, 30))
    assert result.device == torch.device("cuda", 1)
    assert torch.cuda.current_device() == 0  # the guard restored it
    np.testing.assert_array_equal(to_host(result), native.resize(image, (20, 30)))


def test_empty_device_array() -> None:
    with pytest.raises(FrameFormatError, match="expected a non-empty"):
        native.bgr_to_planar(torch.zeros((0, 4, 3), dtype=torch.uint8, device="cuda"))


def test_cuda_reported(ext) -> None:
    info = native.build_info()
    assert info["cuda_compiled"] and native.cuda_available() and native.cuda_device_count() >= 1
    assert ext.cuda_device_count() == torch.cuda.device_count()
