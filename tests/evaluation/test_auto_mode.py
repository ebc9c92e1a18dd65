"""Auto mode against the oracle: scoring, the engine's rules, clip synthesis, the suite end to end."""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from streamenhance.cli.main import main
from streamenhance.engine import modes
from streamenhance.errors import ConfigError
from streamenhance.evaluation import auto_mode
from streamenhance.evaluation.auto_mode import (
    PREVIOUS,
    AutoSuiteConfig,
    band_of,
    best_bpp_threshold,
    bitrate_choice,
    evaluate_clip,
    no_reference_choice,
    nr_samples,
    oracle_label,
    rule_stats,
    steady_choice,
    steady_strong_share,
    summarize,
)
from streamenhance.io import write_image
from streamenhance.metrics import no_reference_features, psnr
from streamenhance.training.auto_mode import encode_h264_clip, encode_jpeg_clip, stratified_draw
from streamenhance.training.images import find_training_set
from tests.evaluation.conftest import moving_frames, textured


def _record(mild: float, strong: float, choice: str, *, decoded: float = 30.0, band: str = "CRF 18-24",
            bpp: float = 0.1, still: str = "a", codec: str = "h264") -> dict[str, Any]:
    """A clip record with given Y-PSNRs; every rule chose ``choice``."""
    return {
        "still": still,
        "codec": codec,
        "band": band,
        "bpp": bpp,
        "psnr_y": {"decoded": decoded, "mild": mild, "strong": strong},
        "oracle": oracle_label(mild, strong),
        "oracle_rgb": oracle_label(mild, strong),
        "choice": {rule: choice for rule in auto_mode.RULES},
    }


def _consistent(stats: dict[str, Any]) -> bool:
    c = stats["confusion"]
    correct = c["mild"]["mild"] + c["strong"]["strong"] + c["tie"]["mild"] + c["tie"]["strong"]
    total = sum(sum(row.values()) for row in c.values())
    return correct == stats["correct"] and total == stats["clips"] and math.isclose(stats["accuracy"], correct / total)


# ------------------------------------------------------------------------------------------ scoring


def test_oracle_is_the_higher_psnr_with_a_tie_band() -> None:
    assert oracle_label(30.0, 30.5) == "strong"
    assert oracle_label(31.0, 30.0) == "mild"
    assert oracle_label(30.0, 30.01) == "tie"
    assert oracle_label(30.0, 30.02) == "strong"


def test_rule_stats_counts_confusion_accuracy_and_db_lost() -> None:
    records = [
        _record(31.0, 30.0, "mild"),  # right
        _record(31.0, 30.0, "strong"),  # wrong: loses 1.0 dB
        _record(30.0, 30.5, "strong"),  # right
        _record(30.0, 30.5, "mild"),  # wrong: loses 0.5 dB
        _record(30.0, 30.005, "mild"),  # tie: right, loses 0.005 dB
    ]
    stats = rule_stats(records, "bitrate")
    assert stats["confusion"] == {
        "mild": {"mild": 1, "strong": 1},
        "strong": {"mild": 1, "strong": 1},
        "tie": {"mild": 1, "strong": 0},
    }
    assert (stats["correct"], stats["clips"], stats["strong_chosen"]) == (3, 5, 2)
    assert stats["accuracy"] == pytest.approx(0.6)
    assert stats["db_lost_mean"] == pytest.approx((1.0 + 0.5 + 0.005) / 5)
    assert stats["db_lost_max"] == pytest.approx(1.0)
    assert stats["gain_db"] == pytest.approx((1.0 + 0.0 + 0.5 + 0.0 + 0.0) / 5)
    assert _consistent(stats)


def test_baselines_and_oracle() -> None:
    records = [_record(31.0, 30.0, "strong"), _record(30.0, 32.0, "mild"), _record(29.0, 29.0, "mild")]
    mild, strong, oracle = (rule_stats(records, r) for r in ("always_mild", "always_strong", "oracle"))
    assert (mild["correct"], strong["correct"], oracle["correct"]) == (2, 2, 3)
    assert mild["db_lost_mean"] == pytest.approx(2.0 / 3)
    assert strong["db_lost_mean"] == pytest.approx(1.0 / 3)
    assert oracle["db_lost_mean"] == 0.0
    assert oracle["gain_db"] == pytest.approx((1.0 + 2.0 - 1.0) / 3)  # best minus decoded (30 dB)


def test_summarize_groups_by_band_in_report_order() -> None:
    records = [
        _record(31.0, 30.0, "mild", band="CRF 38-44"),
        _record(30.0, 31.0, "strong", band="CRF 18-24"),
        _record(30.0, 31.0, "mild", band="CRF 38-44"),
    ]
    records.append(_record(30.0, 31.0, "strong", band="JPEG q 8-44", codec="jpeg"))
    summary = summarize(records)
    assert list(summary["bands"]) == ["CRF 18-24", "CRF 38-44", "JPEG q 8-44"]
    assert summary["all"]["clips"] == 4 and summary["all"]["oracle"] == {"mild": 1, "strong": 3, "tie": 0}
    assert summary["h264"]["clips"] == 3 and summary["h264"]["oracle"] == {"mild": 1, "strong": 2, "tie": 0}
    late = summary["bands"]["CRF 38-44"]["rules"]["bitrate"]
    assert (late["correct"], late["clips"]) == (1, 2)
    groups = (summary["all"], summary["h264"], *summary["bands"].values())
    assert all(_consistent(s) for g in groups for s in g["rules"].values())


def test_bands_are_halves_of_the_training_ranges() -> None:
    assert [band_of("h264", c) for c in (18, 24, 25, 30, 31, 44)] == [
        "CRF 18-24", "CRF 18-24", "CRF 25-30", "CRF 25-30", "CRF 31-37", "CRF 38-44"
    ]
    assert band_of("h264", 50) == "CRF 50-50"
    assert (band_of("jpeg", 10), band_of("jpeg", 45)) == ("JPEG q 8-44", "JPEG q 45-90")


def test_best_bpp_threshold_minimises_db_lost() -> None:
    # strong wins below 0.15 bpp, by more than mild wins above it
    records = [
        _record(30.0, 31.0, "mild", bpp=0.05),
        _record(30.0, 30.4, "mild", bpp=0.1),
        _record(30.3, 30.0, "mild", bpp=0.2),
        _record(31.0, 30.0, "mild", bpp=0.4),
    ]
    assert best_bpp_threshold(records) == pytest.approx(0.15)
    records[1] = _record(30.5, 30.0, "mild", bpp=0.1)  # now only the lowest one wants strong
    assert best_bpp_threshold(records) == pytest.approx(0.075)
    records[0] = _record(30.2, 30.0, "mild", bpp=0.05)  # nothing wants strong: a cut below every clip
    assert best_bpp_threshold(records) < 0.05


def test_the_nr_bias_is_a_cut_that_reproduces_the_engines_decisions() -> None:
    features = [(1.0, 1.3), (1.6, 1.1), (1.2, 0.9), (2.0, 1.5), (1.4, 1.0)]
    records = [{"features": [list(f), [1.0, 1.0]]} for f in features]
    judged, values = nr_samples(records, slice(0, 1))
    engine = [modes.strong_probability(f) >= 0.5 for f in features]
    assert [v < modes.NR_COEFFICIENTS[0] for v in values] == engine and judged == records
    assert 0 < sum(engine) < len(engine)  # both decisions occur
    assert len(nr_samples(records, slice(1, None))[1]) == len(records)


def test_stratified_draw_takes_one_value_per_stratum() -> None:
    rng = np.random.default_rng(0)
    drawn = stratified_draw(range(18, 45), 9, rng)
    strata = [range(18 + 3 * i, 21 + 3 * i) for i in range(9)]
    assert len(drawn) == 9 and all(c in s for c, s in zip(drawn, strata))
    assert stratified_draw(range(18, 45), 27, rng) == list(range(18, 45))
    assert stratified_draw(range(18, 45), 0, rng) == []
    assert stratified_draw(range(18, 45), 9, np.random.default_rng(0)) == drawn  # seeded


# ------------------------------------------------------------------------------- the engine's rules


def test_bitrate_rule_is_the_engines_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = textured(64, 64)
    fps = 25.0

    def kbps(bpp: float) -> float:
        return bpp * fps * 64 * 64 / 1000.0

    threshold = modes.STRONG_BELOW_BPP
    assert bitrate_choice(frame, kbps(threshold * 0.99), fps) == "strong"
    assert bitrate_choice(frame, kbps(threshold * 1.01), fps) == "mild"
    monkeypatch.setattr(modes, "STRONG_BELOW_BPP", threshold * 0.5)  # the engine's constant, not a copy
    assert bitrate_choice(frame, kbps(threshold * 0.99), fps) == "mild"
    shipped = modes.AutoModeRule(threshold, modes.NR_COEFFICIENTS, modes.NR_FIRST_BIAS)
    assert bitrate_choice(frame, kbps(threshold * 0.99), fps, shipped) == "strong"  # other constants, same path


def test_no_reference_rule_is_the_engines_auto_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    frames = moving_frames(4, 64, 64)
    first = modes.AutoMode(("mild", "strong")).decide(frames[0], 0.0, 25.0).mode
    assert no_reference_choice(frames, 25.0) == first  # a clip this short keeps the first estimate
    monkeypatch.setattr(modes, "NR_COEFFICIENTS", (0.0, 0.0, 0.0))
    monkeypatch.setattr(modes, "NR_FIRST_BIAS", 50.0)  # the first estimate's bias: a stream's start
    assert no_reference_choice(frames, 25.0) == "strong"
    monkeypatch.setattr(modes, "NR_FIRST_BIAS", -50.0)
    assert no_reference_choice(frames, 25.0) == "mild"
    other = modes.AutoModeRule(modes.STRONG_BELOW_BPP, (0.0, 0.0, 0.0), 50.0)
    assert no_reference_choice(frames, 25.0, other) == "strong"  # other constants, same path


def test_steady_rule_is_the_majority_of_the_engines_per_frame_estimates() -> None:
    frames = moving_frames(4, 64, 64)
    features = [no_reference_features(f) for f in frames]
    steady = modes.NR_COEFFICIENTS  # every estimate after a stream's first
    rule = modes.AutoModeRule(modes.STRONG_BELOW_BPP, steady, steady[0])  # a fresh stream: its first estimate
    per_frame = [modes.AutoMode(("mild", "strong"), rule=rule).decide(f, 0.0, 25.0).mode == "strong" for f in frames]
    assert steady_strong_share(features) == pytest.approx(np.mean(per_frame))
    with_previous = [modes.AutoMode(("mild", "strong"), rule=PREVIOUS).decide(f, 0.0, 25.0).mode == "strong"
                     for f in frames]
    assert steady_strong_share(features, PREVIOUS.nr_coefficients) == pytest.approx(np.mean(with_previous))
    assert (steady_choice(0.75), steady_choice(0.5), steady_choice(0.25)) == ("strong", "mild", "mild")


# ------------------------------------------------------------------------------------- clips, scoring


def test_encoded_clips_report_bitstream_and_file_bits() -> None:
    clean = moving_frames(3, 64, 64)
    h264 = encode_h264_clip(clean, 30, "veryfast", 25, keyint=2)
    assert len(h264.decoded) == 3 and h264.decoded[0].shape == (64, 64, 3)
    assert 0 < h264.stream_bits < h264.container_bits  # the MP4 boxes are not in the bitstream
    low, high = encode_jpeg_clip(clean, 10), encode_jpeg_clip(clean, 90)
    assert low.stream_bits == low.container_bits < high.stream_bits
    assert psnr(low.decoded[0], clean[0]) < psnr(high.decoded[0], clean[0])


def test_evaluate_clip_scores_each_mode_against_the_clean_frames() -> None:
    clean = moving_frames(3, 64, 64)
    encoded = encode_jpeg_clip(clean, 20)
    by_input = {id(d): c for d, c in zip(encoded.decoded, clean)}
    restorers = {"mild": lambda f: f, "strong": lambda f: by_input[id(f)]}  # strong restores perfectly
    record = evaluate_clip(clean, encoded, restorers, fps=25.0)
    assert record["psnr_y"]["mild"] == pytest.approx(record["psnr_y"]["decoded"])
    assert math.isinf(record["psnr_y"]["strong"]) and record["oracle"] == "strong"
    assert record["bpp"] == pytest.approx(encoded.stream_bits / (3 * 64 * 64))
    assert record["kbps"] == pytest.approx(encoded.stream_bits * 25 / 3 / 1000)
    assert len(record["features"]) == 3 and record["scored_frames"] == 3
    assert set(record["choice"]) == set(auto_mode.RULES) and record["band"] == "JPEG q 8-44"


def test_evaluate_clip_scores_only_the_scored_frames_but_estimates_on_all() -> None:
    clean = moving_frames(4, 64, 64)
    encoded = encode_jpeg_clip(clean, 20)
    calls: list[int] = []

    def counting(frame: np.ndarray) -> np.ndarray:
        calls.append(1)
        return frame

    record = evaluate_clip(clean, encoded, {"mild": counting, "strong": counting}, 25.0, scored=[1, 3])
    assert len(calls) == 4 and record["scored_frames"] == 2  # 2 frames x 2 modes
    expected = np.mean([psnr(encoded.decoded[i], clean[i]) for i in (1, 3)])
    assert record["psnr_y"]["decoded"] == pytest.approx(expected)
    assert len(record["features"]) == 4


# ---------------------------------------------------------------------------------------- end to end


def _check_result(result: dict[str, Any]) -> None:
    assert result["clips"] and set(result["summary"]) == {"all", "h264", "bands"}
    assert all("features" not in r for r in result["clips"])  # per-frame arrays are not saved
    assert {rule for r in result["clips"] for rule in r["strong_by"].split(",") if rule} <= set(auto_mode.RULES)
    for group in (result["summary"]["all"], *result["summary"]["bands"].values()):
        assert set(group["rules"]) == {*auto_mode.RULES, *auto_mode.BASELINES}
        for stats in group["rules"].values():
            assert 0.0 <= stats["accuracy"] <= 1.0 and stats["db_lost_mean"] >= 0.0
            assert _consistent(stats)
    assert sum(g["clips"] for g in result["summary"]["bands"].values()) == len(result["clips"])


@pytest.mark.data
def test_tiny_validation_on_the_held_out_stills(data_root: Path) -> None:
    config = AutoSuiteConfig(frames=4, keyint=4, score_every=2, pans_per_still=1, crf_draws=2, jpeg_draws=1,
                             stills_limit=2, tier="tiny", length_study_crfs=(31,), length_study_frames=(2, 8))
    result = json.loads(json.dumps(auto_mode.run_auto_validation(data_root, config)))  # JSON-ready
    _check_result(result)
    held_out = {f"{p.parent.name}/{p.name}" for p in find_training_set(data_root).holdout_stills}
    assert len(result["stills"]) == 2 and set(result["stills"]) <= held_out
    assert result["models"] == {"mild": "ar_tiny_mild", "strong": "ar_tiny_strong"}
    assert [r["codec"] for r in result["clips"]] == ["h264", "h264", "jpeg"] * 2
    assert all(r["psnr_y"]["decoded"] < 60 and r["bpp"] > 0 for r in result["clips"][:2])
    assert result["summary"]["all"]["rules"]["oracle"]["accuracy"] == 1.0
    short, long = result["bpp_by_clip_length"]
    assert (short["frames"], long["frames"]) == (2, 8) and long["bpp_median"] < short["bpp_median"]
    assert all(row["bpp_median"] < row["bpp_container_median"] for row in result["bpp_by_clip_length"])
    for key in ("strong_below_bpp", "nr_bias_first_frame", "nr_bias_later_frames"):
        suggested = result["suggested"][key]
        assert {"shipped", "shipped_score", "fitted", "in_sample", "two_fold"} <= set(suggested)
        assert suggested["in_sample"]["db_lost_mean"] <= suggested["shipped_score"]["db_lost_mean"] + 1e-12


def test_held_out_stills_too_small_for_the_frame_are_a_clean_error(tmp_path: Path) -> None:
    write_image(tmp_path / "train/T91/a.png", textured(100, 120))
    with pytest.raises(ConfigError, match="T91/a.png"):
        auto_mode.held_out_stills(tmp_path, AutoSuiteConfig())


def test_eval_suite_auto_from_the_cli(tmp_path: Path, identity_weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``eval --suite auto`` on a fake train/ (one still: the held-out one) with identity AR weights: all ties."""
    small = functools.partial(AutoSuiteConfig, crf_draws=3, jpeg_draws=1, length_study_frames=(2,))
    monkeypatch.setattr(auto_mode, "AutoSuiteConfig", small)
    data = tmp_path / "data"
    write_image(data / "train/T91/a.png", textured(300, 320, 5))
    out = tmp_path / "out"
    args = ["eval", "--suite", "auto", "--data", str(data), "--weights", str(identity_weights), "--tier", "tiny",
            "--device", "cpu", "--limit", "1", "--auto-frames", "2", "--json", str(out / "r.json"),
            "--md", str(out / "r.md")]
    assert main(args) == 0
    report = json.loads((out / "r.json").read_text())
    result = report["auto"]
    assert "sr" not in report and report["unavailable"] == []
    _check_result(result)
    config = small()
    assert result["config"]["stills_limit"] == 1 and result["config"]["tier"] == "tiny"
    assert result["config"]["frames"] == 2 and result["config"]["keyint"] == auto_mode.KEYINT
    assert len(result["clips"]) == config.pans_per_still * (config.crf_draws + config.jpeg_draws)
    assert all(r["oracle"] == "tie" for r in result["clips"])  # identity weights: mild == strong == decoded
    assert all(s["accuracy"] == 1.0 for s in result["summary"]["all"]["rules"].values())
    assert "## Auto mode against the oracle" in (out / "r.md").read_text()
