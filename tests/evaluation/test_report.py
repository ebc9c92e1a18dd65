"""Report writers: JSON keeps every number, Markdown tables show them, the plot puts one point per method."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from streamenhance.errors import ConfigError
from streamenhance.evaluation import report


def _sr(
    method: str, kind: str, scale: int, set_name: str, psnr: float, ms: float, params: int | None, ref=None
) -> dict:
    return {
        "method": method,
        "kind": kind,
        "scale": scale,
        "set": set_name,
        "psnr_y": psnr,
        "ssim_y": 0.9,
        "per_image": {},
        "ms_median": ms,
        "cpu_ms_median": 2 * ms,
        "input": "2 inputs 8x8 .. 16x16 (median 16x16)",
        "params": params,
        "reference": ref,
        "note": "",
    }


def _video(test: str, method: str, kind: str, crf: int | None, psnr: float, excess: float, scale: int = 2) -> dict:
    return {
        "clip": "clipA",
        "test": test,
        "scale": scale,
        "crf": crf,
        "kbps": None if crf is None else 1000.0 / crf,
        "method": method,
        "kind": kind,
        "params": 0 if kind == "baseline" else 5000,
        "psnr_y": psnr,
        "ssim_y": 0.8,
        "tmad_output": 1.0 + excess,
        "tmad_truth": 1.0,
        "tmad_excess": excess,
        "temporal_error": 0.5,
        "ms_median": 3.0,
        "cpu_ms_median": 6.0,
        "per_frame_psnr": [psnr],
        "input_hw": [18, 32],
        "within_bicubic_flicker": None,
    }


@pytest.fixture
def sample() -> dict:
    return {
        "environment": {"date": "2026-01-01T00:00:00+00:00", "cpu_count": 2, "torch": "2.x", "torch_threads": 2},
        "sr": {
            "protocol": "P",
            "records": [
                _sr("bicubic", "baseline", 2, "Set5", np.float64(33.6712), 0.5, 0, 33.66),
                _sr("bicubic", "baseline", 2, "Set14", 30.2345, 0.6, 0),
                _sr("PAN", "peer", 2, "Set5", 38.0007, 1500.0, 261_403, 38.0),
                _sr("PAN", "peer", 2, "Set14", 33.61, 1600.0, 261_403, 33.59),
                _sr("ours small", "ours", 2, "Set5", 36.5, 12.0, 48_000),
                _sr("PAN", "peer", 4, "Set5", 32.13, 900.0, 272_419, 32.13),
            ],
            "speed": [
                {"method": "PAN", "kind": "peer", "scale": 2, "input_hw": [360, 640], "ms": 4000.0, "cpu_ms": 7900.0}
            ],
        },
        "video": {
            "protocol": "V",
            "clips": {"clipA": {"frames": 3, "hw": [36, 64], "fps": 25}},
            "compressed_sr": [
                _video("compressed_sr", "bicubic", "baseline", 23, 30.0, -1.0),
                _video("compressed_sr", "bicubic", "baseline", 38, 26.0, -2.0),
                _video("compressed_sr", "ours", "ours", 23, 31.0, -0.5),
                _video("compressed_sr", "ours", "ours", 38, 26.5, -1.5),
            ],
            "artifact_removal": [_video("artifact_removal", "decoded", "baseline", 38, 29.0, 0.1)],
            "temporal": [
                {**_video("temporal", "bicubic", "baseline", None, 24.0, -0.7), "within_bicubic_flicker": True},
                {**_video("temporal", "ours", "ours", None, 25.0, -0.4), "within_bicubic_flicker": False},
            ],
        },
        "jpeg": {
            "protocol": "J",
            "records": [
                {
                    "quality": q,
                    "method": m,
                    "kind": k,
                    "params": p,
                    "psnr": v,
                    "ssim": 0.8,
                    "ms_median": 1.0,
                    "cpu_ms_median": 1.5,
                    "per_image": {},
                    "input_hw": [512, 512],
                    "reference": r,
                    "note": "",
                }
                for q, m, k, p, v, r in [
                    (10, "JPEG", "baseline", 0, 27.8212, 27.82),
                    (10, "DnCNN-3", "peer", 665_921, 29.404, 29.4),
                    (20, "JPEG", "baseline", 0, 30.1, None),
                    (20, "DnCNN-3", "peer", 665_921, 31.6, 31.63),
                ]
            ],
        },
        "unavailable": [{"name": "streamenhance x2", "reason": "no SR weights usable at x2"}],
    }


def test_format_helpers() -> None:
    assert [report.fmt_params(p) for p in (None, 0, 512, 261_403, 1_234_567)] == ["?", "–", "512", "261k", "1.23M"]
    assert [report.fmt_ms(v) for v in (0.1234, 12.34, 1234.5, None, float("inf"))] == ["0.12", "12.3", "1234", "–", "–"]
    assert report.fmt_lap(3.0, 250.0) == "3.00 / 250"


def test_markdown_has_one_table_per_suite_condition_with_the_numbers(sample: dict) -> None:
    text = report.render_markdown(sample)
    assert (
        "| method | params | Set5 PSNR / SSIM | Set14 PSNR / SSIM | ms/frame Set5 (wall / CPU) "
        "| ms/frame @640x360 (wall / CPU) |" in text
    )
    assert "| bicubic | – | 33.67 / 0.9000 (ref 33.66) | 30.23 / 0.9000 | 0.50 / 1.00 | – |" in text
    assert (
        "| PAN | 261k | 38.00 / 0.9000 (ref 38.00) | 33.61 / 0.9000 (ref 33.59) | 1500 / 3000 | 4000 / 7900 |" in text
    )
    assert "| ours small | 48k | 36.50 / 0.9000 | – | 12.0 / 24.0 | – |" in text
    assert "### x4" in text and "| PAN | 272k | 32.13 / 0.9000 (ref 32.13) | 900 / 1800 |" in text
    assert "### x2 SR of the decoded LR stream: clipA (input 32x18, 3 frames @ 25 fps)" in text
    assert "| ours | 5k | 31.00 / 0.8000 | 26.50 / 0.8000 | -1.500 | 3.00 / 6.00 |" in text
    assert "CRF 23 (43 kbps)" in text and "CRF 38 (26 kbps)" in text
    assert "### x1 artifact removal: clipA" in text
    assert "| ours | x2 | 5k | 25.00 / 0.8000 | 0.600 | 1.000 | -0.400 | 0.500 | no | 3.00 / 6.00 |" in text
    assert "| DnCNN-3 | 666k | 29.40 / 0.8000 (ref 29.40) | 31.60 / 0.8000 (ref 31.63) | 1.00 / 1.50 |" in text
    assert "- streamenhance x2: unavailable: no SR weights usable at x2" in text
    assert text.count("|---|") == 6  # SR x2, SR x4, compressed SR, x1, temporal, JPEG: one table each


def test_json_keeps_every_number(sample: dict, tmp_path: Path) -> None:
    sample["options"] = {"data_root": Path("/x/data"), "crfs": (23, 38)}
    report.write_json(tmp_path / "out" / "r.json", sample)
    loaded = json.loads((tmp_path / "out" / "r.json").read_text())
    assert loaded["sr"]["records"][0]["psnr_y"] == 33.6712  # NumPy scalar -> plain number, not rounded
    assert loaded["options"] == {"data_root": "/x/data", "crfs": [23, 38]}
    assert loaded["video"]["temporal"][1]["tmad_excess"] == -0.4
    assert loaded["jpeg"]["records"][1]["params"] == 665_921


def test_plot_points_and_png(sample: dict, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    points = report.plot_points(sample, "Set5", 2)
    assert points == [
        ("bicubic", "baseline", 0.5, 33.6712),
        ("PAN", "peer", 1500.0, 38.0007),
        ("ours small", "ours", 12.0, 36.5),
    ]
    path = tmp_path / "plot.png"
    assert report.write_plot(path, sample, "Set5", 2) == points
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (800, 550)
    pixels = np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3)
    ours_red = np.all(np.abs(pixels.astype(int) - (214, 39, 40)) < 10, axis=1).sum()
    peer_blue = np.all(np.abs(pixels.astype(int) - (31, 119, 180)) < 10, axis=1).sum()
    assert ours_red > 20 and peer_blue > 20  # the markers are drawn in their kind's colour
    with pytest.raises(ConfigError, match="BSD100 x2"):
        report.plot_points(sample, "BSD100", 2)
