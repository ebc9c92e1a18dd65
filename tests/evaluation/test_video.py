"""Video evaluation: the temporal metrics on sequences with known values, and the H.264 plumbing on a tiny clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streamenhance import native
from streamenhance.engine import Enhancer
from streamenhance.errors import ConfigError
from streamenhance.evaluation import video
from streamenhance.evaluation.protocol import NamedMethod, bicubic_method, engine_method
from streamenhance.evaluation.suites import _with_bar
from streamenhance.metrics import psnr
from streamenhance.models import catalog
from tests.conftest import write_model
from tests.evaluation.conftest import moving_frames, textured


def _flat(value: float, h: int = 6, w: int = 6) -> np.ndarray:
    return np.full((h, w), value, np.uint8)


def test_tmad_and_temporal_error_known_values() -> None:
    truth = [_flat(100 + 2 * t) for t in range(5)]  # moves by 2 levels per frame
    flicker = [_flat(100 + 2 * t + 4 * (t % 2)) for t in range(5)]  # plus a 4-level flicker every other frame
    assert video.tmad(truth) == pytest.approx(2.0)
    assert video.tmad(flicker) == pytest.approx(4.0)  # |6|, |-2|, |6|, |-2|
    assert video.temporal_error(flicker, truth) == pytest.approx(4.0)
    frozen = [_flat(100)] * 5
    assert video.tmad(frozen) - video.tmad(truth) == pytest.approx(-2.0)  # lost motion: negative excess
    assert video.temporal_error(frozen, truth) == pytest.approx(2.0)
    assert video.tmad([_flat(9)]) == 0.0


def test_tmad_is_on_luma_and_shaves_the_border() -> None:
    still = np.full((8, 8, 3), 50, np.uint8)
    moved = still.copy()
    moved[..., 2] += 10  # red +10 -> Y +65.481 * 10 / 255
    assert video.tmad([still, moved]) == pytest.approx(65.481 * 10 / 255)
    edge = still.copy()
    edge[0, :] = 255  # only the border changes
    assert video.tmad([still, edge], border=1) == 0.0
    with pytest.raises(ValueError, match="ground-truth"):
        video.temporal_error([still, still], [still])


def test_score_clip_combines_psnr_and_flicker() -> None:
    truth = [_flat(100 + 2 * t, 16, 16) for t in range(5)]
    out = [_flat(101 + 2 * t, 16, 16) for t in range(5)]  # off by one level everywhere, same motion
    timing = video.run_on_frames(lambda f, hw: f + 1, truth, (16, 16))[1]
    score = video.score_clip(out, truth, border=2, timing=timing)
    assert score.psnr_y == pytest.approx(10 * np.log10(255**2))
    assert score.tmad_excess == pytest.approx(0.0) and score.temporal_error == pytest.approx(0.0)
    assert timing.ms_median >= 0 and len(timing.ms_per_image) == 5


def test_pan_clip_is_exact_integer_shifts() -> None:
    image = textured(40, 60)
    clip = video.pan_clip("p", image, (20, 30), (1, 2), 5)
    assert len(clip.frames) == 5 and clip.hw == (20, 30)
    assert np.array_equal(clip.frames[3], image[3:23, 6:36])
    with pytest.raises(ConfigError, match="at least"):
        video.pan_clip("p", image, (20, 30), (1, 10), 5)
    with pytest.raises(ConfigError, match="even"):
        video.pan_clip("p", image, (21, 30), (0, 1), 2)


def test_h264_roundtrip_keeps_frames_and_rate_control_orders_quality() -> None:
    frames = moving_frames(4, 48, 64)
    fine, coarse = video.h264_roundtrip(frames, 18), video.h264_roundtrip(frames, 45)
    assert len(fine.frames) == 4 and fine.frames[0].shape == (48, 64, 3)
    assert fine.kbps > coarse.kbps > 0
    assert fine.bits_per_pixel == pytest.approx(fine.kbps * 1000 * 4 / 25 / (4 * 48 * 64))
    fine_psnr = np.mean([psnr(d, f) for d, f in zip(fine.frames, frames)])
    coarse_psnr = np.mean([psnr(d, f) for d, f in zip(coarse.frames, frames)])
    assert fine_psnr > coarse_psnr + 3


def test_compressed_sr_measures_bicubic_of_the_decoded_stream() -> None:
    clip = video.Clip("tiny", moving_frames(3, 48, 64))
    methods = [NamedMethod("bicubic", "baseline", bicubic_method, 0)]
    (record,) = video.compressed_sr(clip, methods, crfs=[30])
    # The same pipeline written out by hand.
    low = [native.resize(f, (24, 32)) for f in clip.frames]
    decoded = video.h264_roundtrip(low, 30).frames
    expected = np.mean([round(psnr(native.resize(d, (48, 64)), f, border=2), 4) for d, f in zip(decoded, clip.frames)])
    assert record.score.psnr_y == pytest.approx(expected, abs=1e-9)
    assert (record.test, record.crf, record.scale, record.input_hw) == ("compressed_sr", 30, 2, (24, 32))
    assert record.kbps > 0 and len(record.score.per_frame_psnr) == 3


def test_video_tests_with_identity_weights(identity_weights: Path) -> None:
    """Zero-residual weights: ours x1 returns the decoded frames and ours x2 is the bicubic base (to rounding)."""
    clip = video.Clip("tiny", moving_frames(3, 48, 64))
    identity = NamedMethod("decoded", "baseline", video.identity_method, 0)
    ar = Enhancer(scale=1, mode="strong", device="cpu", weights_dir=identity_weights)
    ours_ar = NamedMethod("ours", "ours", engine_method(ar.enhance))
    decoded, ours = video.artifact_removal(clip, [identity, ours_ar], crfs=[36])
    assert ours.score.psnr_y == pytest.approx(decoded.score.psnr_y, abs=1e-9)
    assert decoded.score.psnr_y < 45  # CRF 36 did lose something
    sr = Enhancer(scale=2, mode="off", tier="tiny", device="cpu", weights_dir=identity_weights)
    methods = [
        NamedMethod("bicubic", "baseline", bicubic_method, 0),
        NamedMethod("ours", "ours", engine_method(sr.enhance)),
    ]
    bicubic, ours_sr = video.temporal_stability(clip, methods, scale=2)
    assert ours_sr.score.psnr_y == pytest.approx(bicubic.score.psnr_y, abs=0.05)
    assert ours_sr.score.tmad_excess == pytest.approx(bicubic.score.tmad_excess, abs=0.05)
    assert bicubic.score.tmad_excess < 0  # bicubic of a downscaled pan loses motion energy


def test_flicker_bar_compares_with_bicubic_of_the_same_clip_and_scale() -> None:
    rows = [
        {"clip": "c", "scale": 2, "kind": "baseline", "tmad_excess": -1.0},
        {"clip": "c", "scale": 2, "kind": "ours", "tmad_excess": -1.5},
        {"clip": "c", "scale": 2, "kind": "peer", "tmad_excess": 0.2},
        {"clip": "c", "scale": 4, "kind": "ours", "tmad_excess": 0.0},
    ]
    assert [r["within_bicubic_flicker"] for r in _with_bar(rows)] == [True, True, False, None]


@pytest.mark.data
def test_calendar_and_pan_clips_load(data_root: Path) -> None:
    calendar, pan = video.load_clips(data_root, ["calendar", "pan_ppt3"], frames=3)
    assert (calendar.name, len(calendar.frames), calendar.hw) == ("Vid4_calendar", 3, (576, 720))
    assert (pan.name, len(pan.frames), pan.hw) == ("pan_ppt3", 3, (360, 480))
    assert np.array_equal(pan.frames[2][:-2, :-4], pan.frames[0][2:, 4:])  # (dy, dx) = (1, 2) per frame
    with pytest.raises(ConfigError, match="clip"):
        video.load_clips(data_root, ["foreman"])


def test_ar_rows_and_auto_validation_run_a_fixed_tier(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tier auto at x1 follows this machine's throughput; the evaluation pins AR_TIER so its figures do not."""
    from streamenhance.evaluation import auto_mode
    from streamenhance.evaluation.suites import MethodPool, SuiteOptions

    for tier in ("tiny", "small"):
        for mode in ("mild", "strong"):
            write_model(tmp_path, "ar", tier, mode)
    monkeypatch.setattr("streamenhance.engine.pipeline.conv_throughput", lambda device: 1.0)  # auto: cheapest
    pool = MethodPool(SuiteOptions(data_root=tmp_path, peers=False, weights_dir=tmp_path))
    small = {e.spec.name: e.spec.params for e in catalog(tmp_path)}["ar_small_mild"]
    assert [m.params for m in pool.ours_ar(("off", "mild"))] == [small]
    _, models = auto_mode.engine_restorers(weights_dir=tmp_path)
    assert models == {"mild": "ar_small_mild", "strong": "ar_small_strong"}
