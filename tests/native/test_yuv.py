"""nv12_to_bgr / i420_to_bgr against the reference: exact for both matrices, both ranges, odd sizes, strides."""

from __future__ import annotations

import numpy as np
import pytest

from streamenhance import native
from streamenhance.native import reference

SIZES = [(1, 1), (1, 6), (5, 1), (2, 2), (7, 13), (22, 34), (64, 130)]


def planes(rng: np.random.Generator, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    height, width = size
    y = rng.integers(0, 256, size, dtype=np.uint8)
    uv = rng.integers(0, 256, ((height + 1) // 2, (width + 1) // 2, 2), dtype=np.uint8)
    return y, uv


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("matrix", ["bt601", "bt709"])
@pytest.mark.parametrize("full_range", [False, True])
@pytest.mark.parametrize("channels", [3, 4])
def test_nv12_matches_reference(rng, size, matrix, full_range, channels) -> None:
    y, uv = planes(rng, size)
    out = native.nv12_to_bgr(y, uv, matrix=matrix, full_range=full_range, channels=channels)
    assert out.shape == (*size, channels) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, reference.nv12_to_bgr(y, uv, matrix, full_range, channels))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("matrix", ["bt601", "bt709"])
@pytest.mark.parametrize("full_range", [False, True])
@pytest.mark.parametrize("channels", [3, 4])
def test_i420_matches_reference(rng, size, matrix, full_range, channels) -> None:
    y, uv = planes(rng, size)
    u, v = np.ascontiguousarray(uv[..., 0]), np.ascontiguousarray(uv[..., 1])
    out = native.i420_to_bgr(y, u, v, matrix=matrix, full_range=full_range, channels=channels)
    np.testing.assert_array_equal(out, reference.i420_to_bgr(y, u, v, matrix, full_range, channels))


@pytest.mark.parametrize("matrix", ["bt601", "bt709"])
@pytest.mark.parametrize("full_range", [False, True])
def test_every_extreme_combination_clamps(matrix, full_range) -> None:
    """Y, U, V each at 0, 16, 128, 235, 240, 255: the sums overshoot both ends of the range."""
    levels = np.array([0, 16, 128, 235, 240, 255], np.uint8)
    yy, uu, vv = np.meshgrid(levels, levels, levels, indexing="ij")
    count = yy.size  # 216 combinations, one 2x2 block each
    y = np.repeat(np.repeat(yy.reshape(count, 1), 2, 0), 2, 1).reshape(2 * count, 2)
    u = uu.reshape(count, 1)
    v = vv.reshape(count, 1)
    out = native.i420_to_bgr(y, u, v, matrix=matrix, full_range=full_range)
    np.testing.assert_array_equal(out, reference.i420_to_bgr(y, u, v, matrix, full_range))
    assert out.min() == 0 and out.max() == 255


def test_strided_planes_like_decoder_surfaces(rng, padded) -> None:
    """Line-size padded planes (PyAV / FFmpeg) and a padded output, no copies."""
    y, uv = planes(rng, (9, 15))
    u, v = np.ascontiguousarray(uv[..., 0]), np.ascontiguousarray(uv[..., 1])
    big = np.zeros((9, 20, 4), np.uint8)
    out = big[:, 2:17]
    native.i420_to_bgr(padded(y, 7), padded(u, 3), padded(v, 1), out=out, matrix="bt601")
    np.testing.assert_array_equal(out, reference.i420_to_bgr(y, u, v, "bt601", False, 4))
    assert not big[:, :2].any() and not big[:, 17:].any()
    np.testing.assert_array_equal(
        native.nv12_to_bgr(padded(y, 4), padded(uv, 2)), reference.nv12_to_bgr(y, uv)
    )


def test_read_only_inputs_are_accepted(rng) -> None:
    """Decoder planes are often read-only buffers (np.frombuffer); only the output must be writable."""
    y, uv = planes(rng, (6, 8))
    y.setflags(write=False)
    uv.setflags(write=False)
    np.testing.assert_array_equal(native.nv12_to_bgr(y, uv), reference.nv12_to_bgr(y, uv))
