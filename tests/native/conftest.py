"""Fixtures of the native-kernel tests: the compiled module (a missing build fails loudly) and strided views."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest

from streamenhance import native


@pytest.fixture(scope="session")
def ext() -> ModuleType:
    """``streamenhance._native`` itself; these tests are about it, so its absence is a failure, not a skip."""
    if not native.available():
        pytest.fail(f"streamenhance._native is not built: {native.unavailable_reason()}")
    from streamenhance import _native

    return _native


@pytest.fixture(params=["torch", "cupy"])
def lib(request: pytest.FixtureRequest) -> str:
    """Which library makes the CUDA arrays of a test (test_cuda.to_device): torch, and cupy where installed."""
    if request.param == "cupy":
        pytest.importorskip("cupy")
    return str(request.param)


@pytest.fixture
def padded() -> Callable[[np.ndarray, int], np.ndarray]:
    """Copy of an image inside a wider buffer: the returned view has padded rows (row stride > row bytes)
    and does not start at the buffer's first byte, like a row-aligned OBS / FFmpeg surface."""

    def make(image: np.ndarray, pad: int = 5) -> np.ndarray:
        height, width = image.shape[:2]
        big = np.full((height, width + 2 * pad, *image.shape[2:]), 77, image.dtype)
        view = big[:, pad : pad + width]
        view[...] = image
        assert not view.flags.c_contiguous or height == 1
        return view

    return make
