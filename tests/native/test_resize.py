"""resize against reference.resize: taps, uint8 images and float planes, all bit for bit."""

from __future__ import annotations

import itertools
from types import ModuleType

import numpy as np
import pytest

from streamenhance import native
from streamenhance.native import reference

METHODS = ["bicubic", "area"]


# ------------------------------------------------------------------ taps (computed in C++, compared exactly)


def assert_taps_equal(ext: ModuleType, in_size: int, out_size: int, method: str, antialias: bool) -> None:
    indices, weights = ext._resize_taps(in_size, out_size, method, antialias)
    expected = reference.resize_taps(in_size, out_size, method, antialias)
    np.testing.assert_array_equal(indices, expected.indices, err_msg=f"{in_size}->{out_size} {method} {antialias}")
    np.testing.assert_array_equal(weights, expected.weights, err_msg=f"{in_size}->{out_size} {method} {antialias}")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("antialias", [True, False])
def test_taps_small_sizes_exhaustive(ext: ModuleType, method: str, antialias: bool) -> None:
    for in_size, out_size in itertools.product(range(1, 41), repeat=2):
        assert_taps_equal(ext, in_size, out_size, method, antialias)


@pytest.mark.parametrize(
    ("in_size", "out_size"),
    [(1080, 720), (720, 1080), (1920, 1280), (1080, 1440), (1920, 2560), (540, 1080), (2160, 540), (1080, 541),
     (4096, 3), (3, 4096), (16384, 1), (1, 16384), (321, 107), (512, 170)],
)
@pytest.mark.parametrize("method", METHODS)
def test_taps_video_and_extreme_sizes(ext: ModuleType, in_size: int, out_size: int, method: str) -> None:
    assert_taps_equal(ext, in_size, out_size, method, True)


# ------------------------------------------------------------------ uint8 images (bit-exact)

OUT_SIZES = [(14, 26), (3, 6), (7, 9), (13, 4), (7, 40), (20, 13), (1, 1), (1, 13), (7, 1), (23, 37)]


@pytest.mark.parametrize("layout", [(), (1,), (2,), (3,), (4,)], ids=["gray", "c1", "c2", "c3", "c4"])
@pytest.mark.parametrize("out_hw", OUT_SIZES)
@pytest.mark.parametrize("method", METHODS)
def test_uint8_matches_reference(rng, layout, out_hw, method) -> None:
    image = rng.integers(0, 256, (7, 13, *layout), dtype=np.uint8)
    out = native.resize(image, out_hw, method=method)
    assert out.shape == (*out_hw, *layout) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, reference.resize(image, out_hw, method))


@pytest.mark.parametrize("antialias", [True, False])
@pytest.mark.parametrize("in_hw", [(1, 1), (1, 9), (9, 1), (2, 2), (33, 65)])
@pytest.mark.parametrize("out_hw", [(1, 1), (3, 2), (66, 130), (11, 21), (33, 20), (50, 65)])
def test_uint8_sizes_and_antialias(rng, in_hw, out_hw, antialias) -> None:
    image = rng.integers(0, 256, (*in_hw, 3), dtype=np.uint8)
    out = native.resize(image, out_hw, antialias=antialias)
    np.testing.assert_array_equal(out, reference.resize(image, out_hw, "bicubic", antialias))


def test_uint8_saturating_content(rng) -> None:
    """Hard 0/255 edges ring past the range: the clamp after each pass is what makes it exact."""
    image = (rng.random((24, 24, 3)) > 0.5).astype(np.uint8) * 255
    for out_hw in [(48, 48), (17, 31), (60, 10)]:
        np.testing.assert_array_equal(native.resize(image, out_hw), reference.resize(image, out_hw))


@pytest.mark.parametrize("method", METHODS)
def test_uint8_row_padded_input_and_output(rng, padded, method) -> None:
    image = rng.integers(0, 256, (19, 23, 4), dtype=np.uint8)
    big_out = np.zeros((40, 60, 4), np.uint8)
    out = big_out[:, 3:50]
    native.resize(padded(image), (40, 47), method=method, out=out)
    np.testing.assert_array_equal(out, reference.resize(image, (40, 47), method))
    assert not big_out[:, :3].any() and not big_out[:, 50:].any()


def test_uint8_same_size_is_a_copy(rng, padded) -> None:
    image = rng.integers(0, 256, (5, 8, 3), dtype=np.uint8)
    np.testing.assert_array_equal(native.resize(padded(image), (5, 8)), image)


def test_uint8_large_enough_for_threads(rng) -> None:
    image = rng.integers(0, 256, (270, 480, 3), dtype=np.uint8)
    for out_hw in [(135, 240), (540, 960), (200, 700)]:
        np.testing.assert_array_equal(native.resize(image, out_hw), reference.resize(image, out_hw))


# ------------------------------------------------------------------ float planes (bit-exact too)


def assert_planes_equal(out: np.ndarray, expected: np.ndarray) -> None:
    """Summed in double and rounded once, like the reference: exact, not merely close (the engine packs
    these planes to uint8, where a 1e-7 difference can flip a level)."""
    assert out.dtype == expected.dtype and out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("shape", [(1, 3, 17, 23), (2, 1, 5, 8), (1, 4, 1, 1), (1, 3, 1, 9), (1, 3, 64, 48)])
@pytest.mark.parametrize("out_hw", [(34, 46), (9, 11), (17, 40), (1, 1), (3, 23), (25, 2)])
@pytest.mark.parametrize("method", METHODS)
def test_planes_match_reference(rng, dtype, shape, out_hw, method) -> None:
    src = rng.random(shape).astype(dtype)
    out = native.resize(src, out_hw, method=method)
    assert_planes_equal(out, reference.resize(src, out_hw, method))


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_planes_antialias_off_and_same_size(rng, dtype) -> None:
    src = rng.random((1, 3, 16, 24)).astype(dtype)
    assert_planes_equal(native.resize(src, (5, 7), antialias=False), reference.resize(src, (5, 7), "bicubic", False))
    np.testing.assert_array_equal(native.resize(src, (16, 24)), src)


def test_planes_into_out(rng) -> None:
    src = rng.random((1, 3, 8, 8)).astype(np.float32)
    out = np.zeros((1, 3, 16, 16), np.float32)
    assert native.resize(src, (16, 16), out=out) is out
    assert_planes_equal(out, reference.resize(src, (16, 16)))
