"""calibrate-auto: stream-like clips, bitstream bits, fits that minimise dB lost (not accuracy), end to end."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest

from streamenhance.engine import modes
from streamenhance.engine.modes import HYSTERESIS_VOTES as VOTES
from streamenhance.engine.modes import AutoMode, AutoModeRule, strong_probability
from streamenhance.io import VideoWriter, write_image
from streamenhance.training.auto_mode import (
    CalibrationConfig,
    ClipSample,
    FrameSamples,
    calibrate,
    encode_h264_clip,
    first_estimate_score,
    fit_bpp_threshold,
    fit_first_bias,
    fit_logistic,
    fit_nr_rule,
    fit_threshold,
    least_loss_cut,
    scored_frames,
    stream_pan,
    time_in_strong,
    video_packet_bits,
)
from streamenhance.training.samplers import ping_pong


def smooth_pan(frames: int, side: int = 64, step: int = 2) -> list[np.ndarray]:
    """Smooth content panning steadily: no scene cut, so x264 places keyframes only where told."""
    ys, xs = np.mgrid[0:side, 0 : side + step * frames].astype(np.float32)
    gray = (128 + 60 * np.sin(xs / 9.0) * np.cos(ys / 7.0)).astype(np.uint8)
    canvas = np.stack([gray, np.roll(gray, 3, 1), np.roll(gray, 5, 0)], axis=2)
    return [np.ascontiguousarray(canvas[:, t * step : t * step + side]) for t in range(frames)]


def clip_sample(bpp: float, mild: float, strong: float, features: list[tuple[float, float]] | None = None,
                codec: str = "h264") -> ClipSample:
    rows = np.array(features if features is not None else [(1.0, 0.0)], np.float64)
    return ClipSample(codec, 30, bpp, {"decoded": 29.0, "mild": mild, "strong": strong}, rows)


# ----------------------------------------------------------------------------------------- bitstream


def _mux(frames: list[np.ndarray], container_format: str) -> bytes:
    buffer = io.BytesIO()
    with VideoWriter(buffer, 64, 64, 30, crf=30, preset="veryfast", container_format=container_format,
                     keyint=10) as writer:
        for frame in frames:
            writer.write(frame)
    return buffer.getvalue()


def test_bitstream_bits_are_the_same_in_any_container() -> None:
    """Bits per pixel count the encoder's packets only: MP4 and Matroska boxes around them do not change them."""
    frames = smooth_pan(12)
    mp4, mkv = _mux(frames, "mp4"), _mux(frames, "matroska")
    assert len(mp4) != len(mkv)  # different container overhead ...
    assert video_packet_bits(mp4) == video_packet_bits(mkv) < 8 * min(len(mp4), len(mkv))  # ... same bitstream


def test_encoded_clip_bits_per_pixel_exclude_the_container() -> None:
    frames = smooth_pan(12)
    clip = encode_h264_clip(frames, 30, "veryfast", 30, keyint=10)
    with av.open(io.BytesIO(_mux(frames, "mp4"))) as container:
        packets = [p.size for p in container.demux(container.streams.video[0]) if p.size]
    assert clip.stream_bits == 8 * sum(packets) < clip.container_bits
    assert clip.bits_per_pixel() == pytest.approx(8 * sum(packets) / (12 * 64 * 64))


# -------------------------------------------------------------------------------- clips and frames


@pytest.mark.parametrize("shape", [(288, 288), (321, 481), (700, 300)])
def test_stream_pans_stay_inside_the_image(shape: tuple[int, int]) -> None:
    image = np.random.default_rng(0).integers(0, 256, (*shape, 3), dtype=np.uint8)
    for seed in range(6):
        views = stream_pan(image, 256, 30, np.random.default_rng(seed))
        assert len(views) == 30 and all(v.shape == (256, 256, 3) and v.dtype == np.uint8 for v in views)


def test_ping_pong_loops_a_short_clip_forward_and_back() -> None:
    assert ping_pong([0, 1, 2, 3], 10) == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3]


def test_scored_frames_take_every_nth_from_a_random_phase() -> None:
    phases = []
    for seed in range(200):
        picked = scored_frames(60, 5, np.random.default_rng(seed))
        assert len(picked) == 12 and np.all(np.diff(picked) == 5) and picked[0] < 5
        phases.append(picked[0])
    # the I-frame (frame 0) is scored in about 1 clip of 5: its share of the frames, not more
    assert set(phases) == set(range(5)) and 0.1 < phases.count(0) / len(phases) < 0.3
    assert scored_frames(2, 5, np.random.default_rng(0))  # a clip shorter than the stride still gets a frame


# ------------------------------------------------------------------------------------------- fits


def test_time_in_strong_follows_the_majority_of_estimates() -> None:
    shares = np.array([0.0, 0.4, 0.5, 0.6, 1.0])
    assert time_in_strong(shares, 1) == pytest.approx(shares)  # no hysteresis: the mode of the last estimate
    steady = time_in_strong(shares, 3)
    assert steady[[0, 2, 4]] == pytest.approx([0.0, 0.5, 1.0])
    assert steady[3] == pytest.approx(1 - steady[1]) and steady[3] > 0.7  # 60% strong estimates: ~73% of the time


def test_time_in_strong_is_what_the_engines_auto_mode_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """AutoMode fed estimates that want strong 60% of the time, independently, spends time_in_strong there."""
    rng = np.random.default_rng(0)
    wants_strong = iter(rng.random(20000) < 0.6)
    monkeypatch.setattr(modes, "REESTIMATE_EVERY", 1)
    monkeypatch.setattr(modes, "no_reference_features", lambda frame: (float(next(wants_strong)), 1.0))
    auto = AutoMode(("mild", "strong"), rule=AutoModeRule(0.0, (-1.0, 2.0, 0.0), -1.0))  # strong on feature 1
    frame = np.zeros((16, 16, 3), np.uint8)
    applied = [auto.decide(frame, 0.0, 30.0).mode for _ in range(20000)]
    assert np.mean([mode == "strong" for mode in applied]) == pytest.approx(
        time_in_strong(np.array([0.6]), VOTES)[0], abs=0.03
    )


def test_least_loss_cut_weighs_what_each_mistake_costs() -> None:
    values = np.array([1.0, 2.0, 3.0, 4.0])
    # strong is right below 3 but costs little to miss; wrongly strong at 3 costs a lot
    loss_strong = np.array([0.0, 0.0, 5.0, 5.0])
    loss_mild = np.array([0.2, 0.2, 0.0, 0.0])
    assert least_loss_cut(values, loss_strong, loss_mild) == (pytest.approx(2.5), pytest.approx(0.0))
    loss_mild[:] = [0.2, 0.2, 0.0, 0.0]
    loss_strong[:] = [0.0, 1.0, 5.0, 5.0]  # now the sample at 2 costs more going strong than mild
    assert least_loss_cut(values, loss_strong, loss_mild) == (pytest.approx(1.5), pytest.approx(0.2))


def test_bpp_threshold_minimises_db_lost_where_accuracy_would_not() -> None:
    # (bpp, mild PSNR, strong PSNR): strong wins by 0.2 dB at 0.05, 0.09 and 0.11; at 0.07 it loses 2 dB
    samples = [
        clip_sample(0.05, 30.0, 30.2),
        clip_sample(0.07, 32.0, 30.0),
        clip_sample(0.09, 30.0, 30.2),
        clip_sample(0.11, 30.0, 30.2),
        clip_sample(0.13, 30.5, 30.0),
        clip_sample(0.01, 30.0, 30.2, codec="jpeg"),  # a bitrate hint describes H.264: JPEG clips are left out
    ]
    h264 = samples[:5]
    strong_wins = np.array([s.psnr_y["strong"] > s.psnr_y["mild"] for s in h264])
    by_accuracy, accuracy = fit_threshold(np.array([s.bpp for s in h264]), strong_wins)
    assert 0.11 < by_accuracy < 0.13 and accuracy == pytest.approx(0.8)  # 4 of 5 right, but 2 dB lost
    assert fit_bpp_threshold(samples) == pytest.approx(0.06)  # 2 of 5 wrong, 0.4 dB lost


def _asymmetric_frames() -> list[ClipSample]:
    """Blocky frames (blockiness ~2): 40 clips where strong wins by 0.1 dB, 10 where it loses 2 dB; clean frames
    (blockiness ~1): 50 clips where strong loses 1 dB. Strong is right on 80% of blocky clips, yet costs 5x more."""
    rng = np.random.default_rng(0)

    def frames(block: float) -> list[tuple[float, float]]:
        return [(block + rng.normal(0, 0.05), rng.normal(0, 0.05)) for _ in range(3)]

    return (
        [clip_sample(0.1, 30.0, 30.1, frames(2.0)) for _ in range(40)]
        + [clip_sample(0.1, 32.0, 30.0, frames(2.0)) for _ in range(10)]
        + [clip_sample(0.1, 31.0, 30.0, frames(1.0)) for _ in range(50)]
    )


def test_nr_rule_minimises_db_lost_where_a_logistic_fit_would_not() -> None:
    samples = _asymmetric_frames()
    frames = FrameSamples.of(samples)
    assert frames.clips == 100 and len(frames.x) == 300
    by_label = fit_logistic(frames.x, frames.strong_wins)
    assert frames.db_lost(by_label, VOTES) == pytest.approx(0.2)  # strong on the blocky clips: 10 x 2 dB over 100
    w = fit_nr_rule(frames, VOTES)
    # at most what mild everywhere loses (40 x 0.1 dB over 100); below it only by chance alignments of the noise
    assert frames.db_lost(w, VOTES) <= 0.04 + 1e-9


def test_nr_rule_coefficients_are_the_engines_bias_block_hf() -> None:
    """Where strong wins, the fitted coefficients make the engine's p(strong) >= 0.5, and not elsewhere."""
    rng = np.random.default_rng(1)
    samples = [
        clip_sample(0.1, 30.0, 30.5 + rng.random(), [(2.0 + rng.normal(0, 0.1), np.log(0.3))] * 2)
        for _ in range(30)
    ] + [clip_sample(0.1, 31.0 + rng.random(), 30.0, [(1.0 + rng.normal(0, 0.1), np.log(0.8))] * 2) for _ in range(30)]
    w = tuple(float(v) for v in fit_nr_rule(FrameSamples.of(samples), VOTES))
    assert strong_probability((2.0, 0.3), w) >= 0.5 > strong_probability((1.0, 0.8), w)


def test_first_estimate_gets_its_own_bias_for_the_cleaner_i_frame() -> None:
    """Where strong wins the P-frames are blocky (2.0) but the I-frame only a little (1.3); where mild wins the
    P-frames are at 1.5 and the I-frame clean (1.0). The steady cut must sit between 1.5 and 2.0 and so calls the
    first kind's I-frames mild; the first estimate's own bias tells the I-frames apart."""
    rng = np.random.default_rng(2)

    def clip(first: float, later: float, mild: float, strong: float) -> ClipSample:
        frames = [(first + rng.normal(0, 0.02), 0.0)] + [(later + rng.normal(0, 0.02), 0.0) for _ in range(5)]
        return clip_sample(0.1, mild, strong, frames)

    samples = [clip(1.3, 2.0, 30.0, 30.5) for _ in range(20)] + [clip(1.0, 1.5, 31.0, 30.0) for _ in range(20)]
    w = fit_nr_rule(FrameSamples.of(samples), VOTES)
    assert first_estimate_score(samples, w, w[0]).db_lost == pytest.approx(0.25)  # 20 x 0.5 dB over 40
    bias = fit_first_bias(samples, w)
    assert first_estimate_score(samples, w, bias).db_lost == 0.0
    assert bias > w[0]  # leans strong on the first estimate


# ------------------------------------------------------------------------------------------- calibrate


def _textured(height: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    base = 128 + 50 * np.sin(xs / (4.0 + seed)) * np.cos(ys / 6.0) + rng.normal(0, 6, (height, width))
    return np.clip(np.stack([base, base, base], axis=2), 0, 255).astype(np.uint8)


def test_calibrate_uses_training_stills_only(tmp_path: Path) -> None:
    """A tiny calibration on a fake train/: every still but the held-out one (a pure red, sorted first) is seen."""
    red = np.zeros((112, 112, 3), np.uint8)
    red[:, :, 2] = 255
    write_image(tmp_path / "train/T91/a_held_out.png", red)
    for i in range(3):
        write_image(tmp_path / f"train/T91/b{i}.png", _textured(112, 120, i))
    seen: list[float] = []

    def mild(frame: np.ndarray) -> np.ndarray:
        seen.append(float(frame[:, :, 2].mean() - frame[:, :, 0].mean()))  # red minus blue
        return frame

    def strong(frame: np.ndarray) -> np.ndarray:
        return np.full_like(frame, 128)  # far from the clean frames: strong never wins

    config = CalibrationConfig(sequences=3, frames=12, keyint=6, crf_draws=2, jpeg_draws=1, score_every=4,
                               frame_side=64)
    fit = calibrate(tmp_path, {"mild": mild, "strong": strong}, config, shipped=(0.2, (-5.0, 5.0, -4.0), -4.0))
    assert (fit.h264_clips, fit.jpeg_clips, fit.frames) == (6, 3, 6 * 12)  # the NR fit sees the H.264 frames
    assert len(seen) == 9 * 3 and max(seen) < 50  # 3 scored frames per clip, none of them red
    assert fit.bpp_score.db_lost == 0.0 and fit.nr_score.db_lost == 0.0  # mild always wins and is always chosen
    assert fit.strong_below_bpp < 0.0  # below every clip's bits per pixel: strong never
    assert any("shipped" in name for name in fit.compared)
    assert fit.report_lines()[1].startswith("STRONG_BELOW_BPP = ")
    assert fit.report_lines()[3].startswith("NR_FIRST_BIAS = ") and fit.first_score.db_lost == 0.0


def test_nr_rule_keeps_the_signs_compression_gives() -> None:
    """Strong wins on the frames with *more* high-frequency detail here; the rule still never lets detail argue for
    strong (nor blocking for mild): it goes mild, the cheaper mistake, rather than learn that."""
    blocking = 1.5 + np.random.default_rng(2).normal(0, 0.1, 30)  # the same in both groups: no help
    samples = [clip_sample(0.1, 30.0, 30.3, [(b, np.log(1.5))] * 2) for b in blocking]
    samples += [clip_sample(0.1, 30.3, 30.0, [(b, np.log(0.5))] * 2) for b in blocking]
    frames = FrameSamples.of(samples)
    w = fit_nr_rule(frames, VOTES)
    assert w[1] >= 0.0 >= w[2]
    assert frames.db_lost(w, VOTES) == pytest.approx(0.15)  # always mild: 30 x 0.3 dB over 60
