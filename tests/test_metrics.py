"""Protocol metrics: PSNR/SSIM definitions and the published bicubic sanity values."""

from __future__ import annotations

import numpy as np
import pytest

from streamenhance.evaluation.protocol import bicubic_method, evaluate, set_images
from streamenhance.metrics import luma, psnr, ssim


def test_luma_matches_matlab_rgb2ycbcr() -> None:
    white_bgr = np.full((1, 1, 3), 255, np.uint8)
    assert luma(white_bgr)[0, 0] == pytest.approx(235.0)
    red = np.array([[[0, 0, 255]]], np.uint8)
    assert luma(red)[0, 0] == pytest.approx(16 + 65.481)


def test_psnr_known_value_and_identity(rng) -> None:
    a = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
    assert psnr(a, a) == float("inf")
    b = np.full((8, 8), 10, np.uint8)
    c = b + 1  # gray, MSE 1
    assert psnr(b, c) == pytest.approx(10 * np.log10(255**2))


def test_psnr_shaves_the_border() -> None:
    a = np.zeros((10, 10), np.uint8)
    b = a.copy()
    b[0, :] = 255
    assert psnr(a, b, border=1) == float("inf")


def test_ssim_closed_form_and_monotone(rng) -> None:
    a = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    assert ssim(a, a) == pytest.approx(1.0)
    # Flat images: variances and covariance vanish, SSIM = (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1).
    c1 = (0.01 * 255) ** 2
    flat_x, flat_y = np.full((16, 16), 100, np.uint8), np.full((16, 16), 130, np.uint8)
    assert ssim(flat_x, flat_y) == pytest.approx((2 * 100 * 130 + c1) / (100**2 + 130**2 + c1))
    values = []
    for amplitude in (5, 20, 60):
        noisy = np.clip(a.astype(int) + rng.integers(-amplitude, amplitude + 1, a.shape), 0, 255).astype(np.uint8)
        values.append(ssim(a, noisy))
    assert 1.0 > values[0] > values[1] > values[2] > 0.0


def test_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.uint8))


@pytest.mark.data
@pytest.mark.parametrize(
    ("set_name", "scale", "expected"),
    [("Set5", 2, 33.67), ("Set14", 2, 30.23), ("BSD100", 2, 29.56), ("BSD100", 4, 25.96)],
)
def test_bicubic_sanity_values(data_root, set_name: str, scale: int, expected: float) -> None:
    """The sanity values of ../shared/docs/EVAL_PROTOCOL.md, with the code the engine is measured by."""
    result = evaluate(bicubic_method, "bicubic", set_images(data_root, set_name), set_name, scale)
    assert round(result.psnr_y, 2) == expected
