"""Auto mode: the bitrate rule, the fitted no-reference estimate on clear cases, hysteresis."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from streamenhance.engine import modes as engine_modes
from streamenhance.engine.modes import (
    HYSTERESIS_VOTES,
    REESTIMATE_EVERY,
    STRONG_BELOW_BPP,
    AutoMode,
    AutoModeRule,
    bits_per_pixel,
)
from streamenhance.io import encode_h264, read_frames


def detailed_frame(seed: int = 0, side: int = 256) -> np.ndarray:
    """Photo-like content: smooth gradients plus fine texture and sharp edges."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32)
    smooth = 110 + 60 * np.sin(xs / 23.0) * np.cos(ys / 31.0)
    texture = rng.normal(0, 18, (side, side)).astype(np.float32)
    edges = 70 * ((xs // 32 + ys // 32) % 2)
    gray = np.clip(smooth + texture + edges, 0, 255)
    return np.ascontiguousarray(np.stack([gray, np.roll(gray, 3, 1), np.roll(gray, 5, 0)], axis=2).astype(np.uint8))


def decoded_at_crf(crf: int) -> np.ndarray:
    frames = [np.roll(detailed_frame(), 2 * t, axis=1) for t in range(4)]
    return list(read_frames(encode_h264(frames, crf=crf, preset="veryfast")))[-1]


def test_bits_per_pixel() -> None:
    assert bits_per_pixel(6000, 60, 1920, 1080) == pytest.approx(6e6 / (60 * 1920 * 1080))


def test_bitrate_rule_uses_the_fitted_threshold() -> None:
    frame = np.zeros((360, 640, 3), np.uint8)
    just_below = STRONG_BELOW_BPP * 0.99 * 30 * 640 * 360 / 1000
    assert AutoMode(("mild", "strong")).decide(frame, just_below, 30).mode == "strong"
    assert AutoMode(("mild", "strong")).decide(frame, just_below * 1.05, 30).mode == "mild"


@pytest.mark.parametrize(("crf", "expected"), [(16, "mild"), (46, "strong")])
def test_no_reference_estimate_on_clear_cases(crf: int, expected: str) -> None:
    decision = AutoMode(("mild", "strong")).decide(decoded_at_crf(crf), 0, 30)
    assert decision.mode == expected, decision.reason
    assert decision.reason.startswith("no-reference")


def test_falls_back_to_the_installed_mode() -> None:
    decision = AutoMode(("mild",)).decide(np.zeros((64, 64, 3), np.uint8), 1, 30)  # 0.008 bits/pixel: strong wanted
    assert decision.mode == "mild" and "only mild installed" in decision.reason


def test_switches_only_after_consistent_votes() -> None:
    auto = AutoMode(("mild", "strong"))
    mild_frame, strong_frame = decoded_at_crf(16), decoded_at_crf(46)
    assert auto.decide(mild_frame, 0, 30).mode == "mild"
    modes = [auto.decide(strong_frame, 0, 30).mode for _ in range(REESTIMATE_EVERY * (HYSTERESIS_VOTES + 1))]
    first_strong = modes.index("strong")
    # votes are taken every REESTIMATE_EVERY frames; HYSTERESIS_VOTES agreeing votes switch the mode
    assert first_strong >= REESTIMATE_EVERY * (HYSTERESIS_VOTES - 1)
    assert set(modes[first_strong:]) == {"strong"}


def test_first_estimate_uses_its_own_bias(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stream's first estimate (its I-frame) has a bias of its own; later estimates use the steady rule's."""
    monkeypatch.setattr(engine_modes, "NR_FIRST_BIAS", 100.0)  # a first estimate that always wants strong
    auto = AutoMode(("mild", "strong"))
    clean = decoded_at_crf(16)
    assert auto.decide(clean, 0, 30).mode == "strong"
    later = [auto.decide(clean, 0, 30).mode for _ in range(REESTIMATE_EVERY * (HYSTERESIS_VOTES + 1))]
    assert later[-1] == "mild"  # the steady rule's votes switch it back
    # a rule given to AutoMode (evaluation scoring other constants) is used instead of the fitted one
    given = AutoModeRule(engine_modes.STRONG_BELOW_BPP, engine_modes.NR_COEFFICIENTS, -100.0)
    assert AutoMode(("mild", "strong"), rule=given).decide(clean, 0, 30).mode == "mild"
    assert AutoMode(("mild", "strong"), rule=given).decide(clean, 10_000, 30).mode == "mild"
    always_strong = replace(given, strong_below_bpp=100.0)
    assert AutoMode(("mild", "strong"), rule=always_strong).decide(clean, 10_000, 30).mode == "strong"
