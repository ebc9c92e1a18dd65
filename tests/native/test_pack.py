"""bgr_to_planar / planar_to_bgr against the NumPy reference: exact, for every layout and odd size."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
import torch

from streamenhance import native
from streamenhance.native import reference

SIZES = [(1, 1), (1, 17), (17, 1), (7, 13), (33, 65), (64, 300)]
DTYPES = [np.float32, np.float16]


def frame(rng: np.random.Generator, size: tuple[int, int], channels: int) -> np.ndarray:
    return rng.integers(0, 256, (*size, channels), dtype=np.uint8)


def planes(rng: np.random.Generator, size: tuple[int, int], dtype: type, spread: float = 0.6) -> np.ndarray:
    # Beyond [0, 1] on purpose: the clamp is part of the contract.
    return (rng.standard_normal((1, 3, *size)) * spread + 0.5).astype(dtype)


# ------------------------------------------------------------------ bgr_to_planar


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("dtype", DTYPES)
def test_bgr_to_planar_matches_reference(rng, size, channels, dtype) -> None:
    image = frame(rng, size, channels)
    out = native.bgr_to_planar(image, dtype=dtype)
    assert out.shape == (1, 3, *size) and out.dtype == dtype
    np.testing.assert_array_equal(out, reference.bgr_to_planar(image, dtype))


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("dtype", DTYPES)
def test_bgr_to_planar_every_value(channels, dtype) -> None:
    """All 256 levels in every channel position (the float16 rounding of each)."""
    values = np.arange(256, dtype=np.uint8)
    image = np.stack([np.roll(values, shift) for shift in range(channels)], axis=1).reshape(16, 16, channels)
    np.testing.assert_array_equal(native.bgr_to_planar(image, dtype=dtype), reference.bgr_to_planar(image, dtype))


@pytest.mark.parametrize("size", [(1, 1), (7, 13), (33, 65)])
def test_bgr_to_planar_row_padded_view(rng, padded, size) -> None:
    image = frame(rng, size, 4)
    view = padded(image)
    np.testing.assert_array_equal(native.bgr_to_planar(view), reference.bgr_to_planar(image))


def test_bgr_to_planar_into_out(rng) -> None:
    image = frame(rng, (9, 11), 3)
    out = np.full((1, 3, 9, 11), np.nan, np.float16)
    assert native.bgr_to_planar(image, out=out) is out
    np.testing.assert_array_equal(out, reference.bgr_to_planar(image, np.float16))


# ------------------------------------------------------------------ planar_to_bgr


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("with_base", [False, True])
def test_planar_to_bgr_matches_reference(rng, size, channels, dtype, with_base) -> None:
    src = planes(rng, size, dtype)
    base = planes(rng, size, dtype, spread=0.2) if with_base else None
    out = native.planar_to_bgr(src, base=base, channels=channels)
    assert out.shape == (*size, channels) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, reference.planar_to_bgr(src, base, channels))


@pytest.mark.parametrize("dtype", DTYPES)
def test_planar_to_bgr_rounding_boundaries(dtype) -> None:
    """Values whose * 255 + 0.5 lands exactly on or next to an integer."""
    levels = np.arange(256, dtype=np.float64)
    candidates = np.concatenate([levels / 255.0, (levels + 0.5) / 255.0, (levels - 0.5) / 255.0])
    values = np.concatenate([candidates, np.nextafter(candidates, 2), np.nextafter(candidates, -1)])
    src = np.resize(values.astype(dtype), 3 * 24 * 96).reshape(1, 3, 24, 96)
    np.testing.assert_array_equal(native.planar_to_bgr(src), reference.planar_to_bgr(src))


@pytest.mark.parametrize("dtype", DTYPES)
def test_planar_to_bgr_saturates_nan_and_inf(dtype) -> None:
    specials = np.array([np.nan, np.inf, -np.inf, 1e30, -1e30, 65504.0, -65504.0, 0.0, -0.0, 1.0], np.float32)
    with np.errstate(over="ignore", invalid="ignore"):  # 1e30 -> float16 is inf, on purpose
        src = np.resize(specials, 3 * 4 * 10).reshape(1, 3, 4, 10).astype(dtype)
        base = np.resize(specials[::-1], 3 * 4 * 10).reshape(1, 3, 4, 10).astype(dtype)  # inf + -inf = NaN too
        expected = reference.planar_to_bgr(src, base)
        expected_plain = reference.planar_to_bgr(src)
    np.testing.assert_array_equal(native.planar_to_bgr(src, base=base), expected)
    out = native.planar_to_bgr(src)
    np.testing.assert_array_equal(out, expected_plain)
    assert out[0, :3, 2].tolist() == [0, 255, 0]  # R plane: NaN -> 0, +inf -> 255, -inf -> 0


@pytest.mark.parametrize("channels", [3, 4])
def test_planar_to_bgr_into_row_padded_out(rng, channels) -> None:
    src = planes(rng, (6, 9), np.float32)
    big = np.full((6, 14, channels), 7, np.uint8)
    out = big[:, 2:11]
    native.planar_to_bgr(src, out=out)
    np.testing.assert_array_equal(out, reference.planar_to_bgr(src, None, channels))
    assert (big[:, :2] == 7).all() and (big[:, 11:] == 7).all()  # padding untouched


def test_round_trip_is_lossless(rng) -> None:
    image = frame(rng, (31, 45), 3)
    np.testing.assert_array_equal(native.planar_to_bgr(native.bgr_to_planar(image)), image)


# ------------------------------------------------------------------ threads, wrapper kinds


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_thread_count_does_not_change_results(ext: ModuleType, rng, threads) -> None:
    image = frame(rng, (257, 301), 3)
    before = ext.get_num_threads()
    try:
        native.set_num_threads(threads)
        assert native.get_num_threads() == threads
        assert native.build_info()["num_threads"] == threads
        planar = native.bgr_to_planar(image)
        back = native.planar_to_bgr(planar, base=planar * 0)
        small = native.resize(image, (100, 150))
    finally:
        native.set_num_threads(before)
    np.testing.assert_array_equal(planar, reference.bgr_to_planar(image))
    np.testing.assert_array_equal(back, image)
    np.testing.assert_array_equal(small, reference.resize(image, (100, 150)))


def test_torch_cpu_tensors_in_torch_out(rng) -> None:
    image = frame(rng, (5, 6), 3)
    planar = native.bgr_to_planar(torch.from_numpy(image))
    assert isinstance(planar, torch.Tensor) and planar.dtype == torch.float32
    np.testing.assert_array_equal(planar.numpy(), reference.bgr_to_planar(image))
    back = native.planar_to_bgr(planar.requires_grad_())  # autograd tensors are read through .detach()
    assert isinstance(back, torch.Tensor)
    np.testing.assert_array_equal(back.numpy(), image)
