"""native.fused_sr on CUDA arrays (csrc/cuda/fused_sr.cu), against the PyTorch fp32 reference and the CPU kernel.

The CUDA kernel accumulates in the CPU kernel's order with FMA and sums the bicubic base exactly, so it must equal
the CPU's FMA paths (avx2 / avx512) bit for bit, and the PyTorch reference within one uint8 level.

Three groups:

* the kernel's tile code run serially on the host (``_native._fused_sr_cuda_kernel`` with numpy arrays): needs a
  CUDA build of _native, not a GPU, so it checks the kernel's indexing, halos, padding, base and packing here;
* CUDA arrays where no GPU (or no CUDA build) is usable: a clear RuntimeError;
* the kernel on a GPU (``cuda`` marker: skipped without a usable device).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from streamenhance import native
from streamenhance.errors import FrameFormatError
from streamenhance.native import reference
from tests.native.test_boundary_errors import FakeCudaArray
from tests.native.test_cuda import padded_on_device, to_device, to_host
from tests.native.test_fused_sr import frame, state_of, tiny_net, torch_reference

# 1-pixel frames, odd sizes, and frames of several tiles in both directions for both tile shapes (32 x 16 and
# 16 x 16 input pixels), with partial tiles at the right and bottom.
SIZES = [(1, 1), (1, 9), (9, 1), (2, 3), (17, 29), (37, 53), (45, 130)]
TILES = [16, 32]


def cuda_compiled() -> bool:
    return native.available() and bool(native.build_info()["cuda_compiled"])


needs_cuda_build = pytest.mark.skipif(not cuda_compiled(), reason="_native built without CUDA")


def fma_isa() -> str | None:
    """A CPU path that rounds like the CUDA kernel (FMA), if this machine runs one."""
    return next((isa for isa in ("avx512", "avx2") if isa in native.fused_sr_isas()), None)


def kernel(ext: Any, image: Any, packed: Any, tile_width: int = 0, out: Any = None) -> Any:
    """The CUDA kernel with a forced tile: on the host for numpy arrays, on the GPU for CUDA arrays."""
    if out is None:
        height, width, channels = image.shape
        shape = (2 * height, 2 * width, channels)
        out = np.zeros(shape, np.uint8) if isinstance(image, np.ndarray) else torch.zeros(
            shape, dtype=torch.uint8, device=image.device)
    ext._fused_sr_cuda_kernel(image, packed, out, tile_width)
    return out


def assert_within_one_level(out: np.ndarray, expected: np.ndarray) -> None:
    assert out.shape == expected.shape and out.dtype == np.uint8
    diff = np.abs(out.astype(int) - expected.astype(int))
    assert diff.max() <= 1
    assert (diff > 0).mean() < 0.01  # fp32 rounding differences, not a systematic error


def bicubic_only() -> tuple[Any, Any]:
    """A tiny net whose residual is exactly 0 (conv_up zeroed), and its packed form."""
    net = tiny_net()
    with torch.no_grad():
        net.conv_up.weight.zero_()
        net.conv_up.bias.zero_()
    return net, native.fused_sr_net(state_of(net))


def matlab_bicubic(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    planar = reference.bgr_to_planar(image[..., :3])
    return reference.planar_to_bgr(reference.resize(planar, (2 * height, 2 * width)))


# ------------------------------------------------------------------ the kernel's tile code, on the host


@needs_cuda_build
@pytest.mark.parametrize("tile_width", TILES)
@pytest.mark.parametrize("size", SIZES)
def test_kernel_code_matches_torch_and_the_cpu_fma_path(ext, rng, size: tuple[int, int], tile_width: int) -> None:
    net = tiny_net()
    packed = native.fused_sr_net(state_of(net))
    image = frame(rng, *size)
    out = kernel(ext, image, packed, tile_width)
    assert_within_one_level(out, torch_reference(net, image))
    isa = fma_isa()
    if isa is not None:
        np.testing.assert_array_equal(out, native.fused_sr(image, native.fused_sr_net(state_of(net), isa=isa)))


@needs_cuda_build
@pytest.mark.parametrize("tile_width", TILES)
def test_kernel_code_bgra_and_padded_rows(ext, rng, padded, tile_width: int) -> None:
    packed = native.fused_sr_net(state_of(tiny_net(seed=2)))
    image = frame(rng, 21, 37, channels=4)
    out = padded(np.zeros((42, 74, 4), np.uint8), 3)
    kernel(ext, padded(image), packed, tile_width, out=out)
    assert (out[..., 3] == 255).all()
    np.testing.assert_array_equal(out[..., :3], kernel(ext, np.ascontiguousarray(image[..., :3]), packed, tile_width))
    three = np.zeros((42, 74, 3), np.uint8)  # BGRA in, BGR out
    np.testing.assert_array_equal(kernel(ext, image, packed, tile_width, out=three), out[..., :3])


@needs_cuda_build
@pytest.mark.parametrize("tile_width", TILES)
@pytest.mark.parametrize("size", [(1, 1), (2, 3), (37, 53)])
def test_kernel_code_zero_residual_is_exactly_matlab_bicubic(ext, rng, size, tile_width: int) -> None:
    _net, packed = bicubic_only()
    image = frame(rng, *size)
    np.testing.assert_array_equal(kernel(ext, image, packed, tile_width), matlab_bicubic(image))


@needs_cuda_build
def test_kernel_code_every_byte_value(ext) -> None:
    """The kernel's float32(v) / 255 (a multiply and one FMA correction, no division) and its exact integer base,
    for all 256 values in every channel (768 = 3 * 256 and gcd(3, 256) = 1)."""
    image = (np.arange(16 * 16 * 3) % 256).astype(np.uint8).reshape(16, 16, 3)
    _net, bicubic = bicubic_only()
    np.testing.assert_array_equal(kernel(ext, image, bicubic), matlab_bicubic(image))
    net = tiny_net(seed=6)
    out = kernel(ext, image, native.fused_sr_net(state_of(net)))
    assert_within_one_level(out, torch_reference(net, image))
    isa = fma_isa()
    if isa is not None:
        np.testing.assert_array_equal(out, native.fused_sr(image, native.fused_sr_net(state_of(net), isa=isa)))


@needs_cuda_build
def test_kernel_hook_rejects_other_tiles(ext) -> None:
    packed = native.fused_sr_net(state_of(tiny_net()))
    with pytest.raises(ValueError, match=r"`tile_width`: expected 0 \(auto\), 16 or 32, got 24"):
        kernel(ext, np.zeros((4, 6, 3), np.uint8), packed, 24)


@pytest.mark.skipif(cuda_compiled(), reason="_native built with CUDA: the tests above run the hook")
def test_kernel_hook_needs_a_cuda_build(ext) -> None:
    packed = native.fused_sr_net(state_of(tiny_net()))
    with pytest.raises(RuntimeError, match="fused_sr: this _native was built without CUDA"):
        kernel(ext, np.zeros((4, 6, 3), np.uint8), packed)


# ------------------------------------------------------------------ CUDA arrays without a usable GPU


def test_cuda_arrays_without_a_usable_gpu_raise_a_clear_error(ext) -> None:
    """A CPU-only build and a CUDA build on a machine without a GPU both explain themselves (RuntimeError)."""
    if ext.cuda_available():
        pytest.skip("a GPU is usable here: the tests below run the kernel")
    packed = native.fused_sr_net(state_of(tiny_net()))
    image, out = np.zeros((4, 6, 3), np.uint8), np.zeros((8, 12, 3), np.uint8)
    why = r"is a CUDA array(:| but) (no CUDA device is usable here|this _native was built without CUDA)"
    with pytest.raises(RuntimeError, match="`src` " + why):
        ext.fused_sr(FakeCudaArray(image), packed, FakeCudaArray(out))
    with pytest.raises(RuntimeError, match="`dst` " + why):
        ext.fused_sr(image, packed, FakeCudaArray(out))
    with pytest.raises(RuntimeError, match="`src` " + why):
        ext._fused_sr_cuda_kernel(FakeCudaArray(image), packed, FakeCudaArray(out))


# ------------------------------------------------------------------ on a GPU


@pytest.mark.cuda
@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("size", [*SIZES, (150, 530), (271, 483)])
def test_gpu_matches_torch_within_one_level_and_the_cpu_kernel(lib, rng, size, channels: int) -> None:
    net = tiny_net()
    image = frame(rng, *size, channels=channels)
    result = native.fused_sr(to_device(lib, image), native.fused_sr_net(state_of(net)))
    out = to_host(result)
    assert out.shape == (2 * size[0], 2 * size[1], channels)
    assert_within_one_level(out[..., :3], torch_reference(net, image))
    if channels == 4:
        assert (out[..., 3] == 255).all()
    cpu = native.fused_sr(image, native.fused_sr_net(state_of(net), isa="generic"))
    assert np.abs(out.astype(int) - cpu.astype(int)).max() <= 1


@pytest.mark.cuda
@pytest.mark.parametrize("size", [(1, 1), (17, 29), (150, 530), (1080, 1920)])
def test_gpu_is_bit_identical_to_the_cpu_fma_path(rng, size) -> None:
    isa = fma_isa()
    if isa is None:
        pytest.skip("this CPU runs no FMA path of the CPU kernel")
    state = state_of(tiny_net(seed=4))
    image = frame(rng, *size)
    expected = native.fused_sr(image, native.fused_sr_net(state, isa=isa))
    np.testing.assert_array_equal(to_host(native.fused_sr(to_device("torch", image), native.fused_sr_net(state))),
                                  expected)


@pytest.mark.cuda
def test_gpu_tiles_agree_with_each_other_and_the_host_run_of_the_kernel(ext, rng) -> None:
    packed = native.fused_sr_net(state_of(tiny_net(seed=1)))
    image = frame(rng, 75, 133)
    device_image = to_device("torch", image)
    on_host = kernel(ext, image, packed)
    for tile_width in (0, *TILES):
        np.testing.assert_array_equal(to_host(kernel(ext, device_image, packed, tile_width)), on_host)


@pytest.mark.cuda
def test_gpu_zero_residual_is_exactly_matlab_bicubic(rng) -> None:
    _net, packed = bicubic_only()
    image = frame(rng, 37, 53)
    np.testing.assert_array_equal(to_host(native.fused_sr(to_device("torch", image), packed)), matlab_bicubic(image))


@pytest.mark.cuda
def test_gpu_padded_rows_in_and_out(lib, rng) -> None:
    packed = native.fused_sr_net(state_of(tiny_net()))
    image = frame(rng, 19, 27, channels=4)
    big = to_device(lib, np.full((38, 60, 4), 7, np.uint8))
    native.fused_sr(padded_on_device(lib, image), packed, out=big[:, 3:57])
    host = to_host(big)
    np.testing.assert_array_equal(host[:, 3:57], native.fused_sr(image, packed))
    assert (host[:, :3] == 7).all() and (host[:, 57:] == 7).all()


@pytest.mark.cuda
def test_gpu_runs_on_the_current_torch_stream(rng) -> None:
    packed = native.fused_sr_net(state_of(tiny_net()))
    image = frame(rng, 64, 96)
    expected = native.fused_sr(image, packed)
    side = torch.cuda.Stream()
    device_image = to_device("torch", image)
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        result = native.fused_sr(device_image, packed)  # allocated and computed on `side`
    side.synchronize()
    np.testing.assert_array_equal(to_host(result), expected)
    explicit = torch.empty((128, 192, 3), dtype=torch.uint8, device="cuda")
    native.fused_sr(device_image, packed, out=explicit, stream=torch.cuda.current_stream())
    np.testing.assert_array_equal(to_host(explicit), expected)


@pytest.mark.cuda
def test_gpu_boundary_errors(rng) -> None:
    packed = native.fused_sr_net(state_of(tiny_net()))
    image = frame(rng, 4, 6)
    with pytest.raises(FrameFormatError, match="all arrays must be on the same device"):
        native.fused_sr(to_device("torch", image), packed, out=np.zeros((8, 12, 3), np.uint8))
    with pytest.raises(FrameFormatError, match="all arrays must be on the same device"):
        native.fused_sr(image, packed, out=torch.zeros((8, 12, 3), dtype=torch.uint8, device="cuda"))
    narrow = torch.zeros((8, 10, 3), dtype=torch.uint8, device="cuda")
    with pytest.raises(FrameFormatError, match=r"expected shape \(8, 12, 3\)"):
        native.fused_sr(to_device("torch", image), packed, out=narrow)
    buffer = torch.zeros((8, 12, 3), dtype=torch.uint8, device="cuda")
    with pytest.raises(FrameFormatError, match="overlaps"):
        native.fused_sr(buffer[:4, :6], packed, out=buffer)
    with pytest.raises(FrameFormatError, match="expected a non-empty"):
        native.fused_sr(torch.zeros((0, 4, 3), dtype=torch.uint8, device="cuda"), packed)
