"""Classic5 JPEG: the published q10 sanity value, the round trip, and ours with exactly known weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streamenhance.engine import Enhancer
from streamenhance.errors import ConfigError
from streamenhance.evaluation.jpeg import classic5_images, decoded_method, evaluate_jpeg, jpeg_roundtrip
from streamenhance.evaluation.protocol import NamedMethod, engine_method
from streamenhance.metrics import psnr
from tests.evaluation.conftest import textured

JPEG = NamedMethod("JPEG", "baseline", decoded_method, 0)


@pytest.mark.data
def test_classic5_jpeg_q10_is_the_published_27_82(data_root: Path) -> None:
    images = classic5_images(data_root)
    assert [name for name, _ in images] == ["baboon", "barbara", "boats", "lena", "peppers"]
    assert all(image.shape == (512, 512) and image.dtype == np.uint8 for _, image in images)
    (record,) = evaluate_jpeg([JPEG], images, [10])
    assert round(record.psnr, 2) == 27.82
    assert record.per_image["lena"] == pytest.approx(
        psnr(jpeg_roundtrip(dict(images)["lena"], 10), dict(images)["lena"]), abs=1e-4
    )


def test_jpeg_roundtrip_quality_orders_error_and_keeps_layout() -> None:
    gray = textured(64, 64)[:, :, 0]
    values = [psnr(jpeg_roundtrip(gray, q), gray) for q in (10, 40, 95)]
    assert values[0] < values[1] < values[2]
    assert jpeg_roundtrip(gray, 50).shape == (64, 64)
    bgr = textured(32, 48)
    assert jpeg_roundtrip(bgr, 90).shape == (32, 48, 3)
    assert psnr(jpeg_roundtrip(bgr, 95), bgr) > 35  # channel order survives (a swap would cost far more)
    with pytest.raises(ConfigError, match="quality"):
        jpeg_roundtrip(gray, 0)


def test_ours_with_identity_weights_measures_exactly_the_decoded_jpeg(identity_weights: Path) -> None:
    images = [("a", textured(32, 40, 1)[:, :, 0]), ("b", textured(24, 24, 2)[:, :, 2])]
    enhancer = Enhancer(scale=1, mode="strong", device="cpu", weights_dir=identity_weights)
    ours = NamedMethod("ours", "ours", engine_method(enhancer.enhance))
    records = evaluate_jpeg([JPEG, ours], images, [10, 30])
    by = {(r.method, r.quality): r for r in records}
    for q in (10, 30):
        assert by[("ours", q)].psnr == pytest.approx(by[("JPEG", q)].psnr, abs=1e-9)
        expected = np.mean([round(psnr(jpeg_roundtrip(im, q), im), 4) for _, im in images])
        assert by[("JPEG", q)].psnr == pytest.approx(expected, abs=1e-9)
    assert by[("JPEG", 10)].psnr < by[("JPEG", 30)].psnr
    assert by[("ours", 10)].input_hw == (32, 40)


def test_classic5_needs_gray_images(tmp_path: Path) -> None:
    from streamenhance.io import write_image

    with pytest.raises(ConfigError, match="no Classic5"):
        classic5_images(tmp_path)
    write_image(tmp_path / "eval/Classic5/c.png", textured(16, 16))
    with pytest.raises(ConfigError, match="gray"):
        classic5_images(tmp_path)
