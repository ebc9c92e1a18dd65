"""Auto mode against the oracle on held-out stream-like clips (issue "model ladder", item 4).

``mode="auto"`` picks the mild or strong artifact-removal (AR) weights from a bitrate hint (bits per pixel) or,
without one, from a no-reference estimate of the decoded frames (``engine/modes.py``). Both rules are fitted by
``streamenhance train calibrate-auto`` (``training/auto_mode.py``) on stream-like clips from the *training* data
against the *oracle*: whichever mode's output has the higher Y-PSNR against the clean frames (within ``TIE_DB``
both count as right). Here they are checked the same way on clips the fit never saw.

Clips are steady pans (``stream_pan``) over the held-out training stills only (every 16th still: never trained
on, never an evaluation set), as long as a stream's GOP (a keyframe every ``KEYINT`` frames), encoded with libx264
at CRFs drawn stratified from a grid (a preset of the training set drawn each time) and as per-frame JPEG, with
the synthesis and scoring the calibration uses. Each clip runs through the engine at x1 in mode mild and in mode
strong (the weights ``mode="auto"`` switches between) on every ``score_every``-th frame (random phase). The rules
are the engine's own: the bitrate rule fed the kbps of the true bitstream (the sum of the video packets); the
no-reference rule in a steady stream (each frame a possible estimate frame, the majority decides) and at a
stream's start (``AutoMode`` fed the clip in order: the first frame's estimate). Each with the engine's constants
and with the ones shipped before the stream-like calibration (``PREVIOUS``).

Beside the scores: each rule's one number (bits-per-pixel threshold, logistic bias) refitted here against the
oracle, in-sample and 2-fold by still (reported, never applied), and bits per pixel against clip length.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from streamenhance.engine import Enhancer
from streamenhance.engine import modes as engine_modes
from streamenhance.engine.modes import AutoMode, AutoModeRule, strong_probability
from streamenhance.errors import ConfigError, WeightsError
from streamenhance.evaluation.video import PRESET
from streamenhance.metrics import no_reference_features
from streamenhance.training.auto_mode import (
    CRFS,
    FRAME_SIDE,
    JPEG_QUALITIES,
    KEYINT,
    MODES,
    SCORE_EVERY,
    STREAM_FPS,
    STREAM_FRAMES,
    TIE_DB,
    EncodedClip,
    EncodingDraws,
    Restorer,
    encode_h264_clip,
    encode_variants,
    least_loss_cut,
    mean_psnr,
    mode_outputs,
    scored_frames,
    stream_pan,
)
from streamenhance.training.images import find_training_set, load_images

# Report bands: the halves of the mild (CRF 18-30) and strong (31-44) training ranges.
CRF_BANDS: tuple[tuple[int, int], ...] = ((18, 24), (25, 30), (31, 37), (38, 44))
# JPEG: the strong training range is q 8-40, the mild one 45-90.
JPEG_BANDS: tuple[tuple[int, int], ...] = ((8, 44), (45, 90))


# The AR tier these measurements run: the engine's tier "auto" at x1 picks by this machine's throughput and the frame
# size, which would make the figures depend on where they were taken.
AR_TIER = "small"

# Shipped before the stream-like calibration: fitted on 4-frame clips against the CRF range, MP4 file bytes; the
# first estimate had no bias of its own.
PREVIOUS = AutoModeRule(0.2021, (-5.8857, 5.5529, -4.1542), -5.8857)

RULES = (
    "bitrate", "bitrate_previous", "no_reference", "no_reference_previous", "no_reference_start",
    "no_reference_start_previous",
)
BASELINES = ("always_mild", "always_strong", "oracle")
RULE_LABELS = {
    "bitrate": "bitrate hint (engine)",
    "bitrate_previous": "bitrate hint (previous)",
    "no_reference": "no-reference, steady stream (engine)",
    "no_reference_previous": "no-reference, steady stream (previous)",
    "no_reference_start": "no-reference, stream start (engine)",
    "no_reference_start_previous": "no-reference, stream start (previous)",
    "always_mild": "always mild",
    "always_strong": "always strong",
    "oracle": "oracle",
}
AUTO_PROTOCOL = (
    "held-out training stills (every 16th) -> steady pans {side}x{side}, {frames} frames -> libx264 yuv420p, a "
    "keyframe every {keyint} frames, at CRFs drawn stratified (random training preset), or per-frame JPEG -> "
    "decode -> engine x1 mode mild and strong on 1 frame in {every} (random phase); Y-PSNR vs clean (mean over "
    f"those frames, no shave); oracle = the higher (tie within {TIE_DB} dB); rules = the engine's (bitrate from "
    "the sum of the video packets; no-reference steady = majority of the per-frame estimates over all frames, "
    "start = AutoMode fed the clip in order)"
)


@dataclass(frozen=True)
class AutoSuiteConfig:
    """What the auto-mode validation synthesizes and runs.

    Attributes:
        frame_side: clips are frame_side x frame_side (256: the size of the fit; larger squares would drop
            most held-out stills, whose short side is 321).
        frames: frames per clip (default: one GOP of ``keyint`` frames, as calibrated).
        keyint: H.264 keyframe interval (frames).
        score_every: AR runs on every ``score_every``-th frame of a clip (random phase) for the oracle.
        pans_per_still: clean pans per held-out still.
        crfs / crf_draws: the CRF grid, split into ``crf_draws`` strata; each sequence is encoded once per
            stratum at a CRF drawn from it (crf_draws = len(crfs): every CRF).
        qualities / jpeg_draws: the same for per-frame JPEG (0 draws: no JPEG clips).
        fps: frame rate the kbps hint is computed at (the rule only sees bits per pixel).
        seed: the one random stream (pans, CRFs, presets, qualities, scored frames).
        stills_limit: at most this many held-out stills (quick runs).
        tier: AR tier, as the engine takes it (default ``AR_TIER``; ``auto`` depends on the machine).
        device / weights_dir: where ours runs and which weights (default: the packaged ones).
        length_study_crfs / length_study_frames: bits per pixel at these CRFs over these clip lengths (encodes
            only; empty: skipped), to show how far a bits-per-pixel threshold carries beyond this clip length.
    """

    frame_side: int = FRAME_SIDE
    frames: int = STREAM_FRAMES
    keyint: int = KEYINT
    score_every: int = SCORE_EVERY
    pans_per_still: int = 2
    crfs: tuple[int, ...] = CRFS
    crf_draws: int = 9
    qualities: tuple[int, ...] = JPEG_QUALITIES
    jpeg_draws: int = 2
    fps: int = STREAM_FPS
    seed: int = 0
    stills_limit: int | None = None
    tier: str = AR_TIER
    device: str = "cpu"
    weights_dir: Path | None = None
    length_study_crfs: tuple[int, ...] = (28, 31, 34)
    length_study_frames: tuple[int, ...] = (6, 30, 60, 120)

    def draws(self) -> EncodingDraws:
        return EncodingDraws(self.crf_draws, self.jpeg_draws, self.fps, self.keyint, self.crfs, self.qualities)


# ------------------------------------------------------------------------------------------- bands


def band_of(codec: str, level: int) -> str:
    """The report band of a CRF or a JPEG quality."""
    bands, prefix = (CRF_BANDS, "CRF") if codec == "h264" else (JPEG_BANDS, "JPEG q")
    low, high = next(((lo, hi) for lo, hi in bands if lo <= level <= hi), (level, level))
    return f"{prefix} {low}-{high}"


def band_order() -> list[str]:
    return [band_of("h264", lo) for lo, _ in CRF_BANDS] + [band_of("jpeg", lo) for lo, _ in JPEG_BANDS]


# ------------------------------------------------------------------------------------ engine rules


def bitrate_choice(frame: np.ndarray, kbps: float, fps: float, rule: AutoModeRule | None = None) -> str:
    """The engine's bitrate rule: ``AutoMode.decide`` with the hint (``rule``: default the engine's)."""
    return AutoMode(MODES, rule=rule).decide(frame, kbps, fps).mode


def no_reference_choice(frames: Sequence[np.ndarray], fps: float, rule: AutoModeRule | None = None) -> str:
    """The mode the engine's ``AutoMode`` (no hint) applies to most frames of the clip, fed in order.

    It estimates on the first frame and every ``REESTIMATE_EVERY`` frames after, switching only after
    ``HYSTERESIS_VOTES`` agreeing estimates: on a clip as long as one GOP, the first frame's estimate (an
    I-frame), i.e. what a stream gets at its start.
    """
    auto = AutoMode(MODES, rule=rule)
    applied = [auto.decide(frame, 0.0, fps).mode for frame in frames]
    return Counter(applied).most_common(1)[0][0]


def steady_strong_share(
    features: Sequence[Sequence[float]], coefficients: tuple[float, float, float] | None = None
) -> float:
    """Share of frames on which the engine's estimate (p(strong) >= 0.5) wants strong.

    In a long stream the estimate (every ``REESTIMATE_EVERY`` frames, from wherever the stream started) can land on
    any frame, an I-frame at its natural share; with hysteresis the engine spends most of its time in the mode most
    estimates want.
    """
    return float(np.mean([strong_probability((f[0], f[1]), coefficients) >= 0.5 for f in features]))


def steady_choice(share: float) -> str:
    """The mode a steady stream spends most of its time in: the one most estimates want (the calibration's
    ``time_in_strong`` passes 1/2 there); an even split stays mild, the cheaper mistake."""
    return "strong" if share > 0.5 else "mild"


def kbps_of(bits: int, frames: int, fps: float) -> float:
    return bits * fps / frames / 1000.0


# ---------------------------------------------------------------------------------------- scoring


def oracle_label(psnr_mild: float, psnr_strong: float, tie_db: float = TIE_DB) -> str:
    """``mild`` / ``strong``: the mode with the higher PSNR; ``tie`` when they are within ``tie_db``."""
    if abs(psnr_mild - psnr_strong) <= tie_db + 1e-9:  # "within": inclusive, despite float rounding
        return "tie"
    return "mild" if psnr_mild > psnr_strong else "strong"


def evaluate_clip(
    clean: Sequence[np.ndarray],
    encoded: EncodedClip,
    restorers: dict[str, Restorer],
    fps: float,
    scored: Sequence[int] | None = None,
) -> dict[str, Any]:
    """One clip: each mode's and the decoded input's PSNR on the ``scored`` frames (default all), the oracle, and
    each rule's choice."""
    decoded = encoded.decoded
    scored = range(len(decoded)) if scored is None else scored
    outputs = mode_outputs(decoded, restorers, scored)
    truth = [clean[i] for i in scored]
    psnr_y = {name: mean_psnr(frames, truth) for name, frames in outputs.items()}
    psnr_rgb = {name: mean_psnr(frames, truth, False) for name, frames in outputs.items()}
    features = [list(no_reference_features(frame)) for frame in decoded]
    pixels = len(decoded) * decoded[0].shape[0] * decoded[0].shape[1]
    kbps = kbps_of(encoded.stream_bits, len(decoded), fps)
    share = {
        "engine": steady_strong_share(features),
        "previous": steady_strong_share(features, PREVIOUS.nr_coefficients),
    }
    return {
        "codec": encoded.codec,
        "level": encoded.level,
        "preset": encoded.preset,
        "band": band_of(encoded.codec, encoded.level),
        "scored_frames": len(scored),
        "bpp": encoded.stream_bits / pixels,
        "bpp_container": encoded.container_bits / pixels,
        "kbps": kbps,
        "psnr_y": psnr_y,
        "psnr_rgb": psnr_rgb,
        "oracle": oracle_label(psnr_y["mild"], psnr_y["strong"]),
        "oracle_rgb": oracle_label(psnr_rgb["mild"], psnr_rgb["strong"]),
        "features": features,  # per frame; dropped from the saved result (size)
        "nr_strong_share": share,
        "choice": {
            "bitrate": bitrate_choice(decoded[0], kbps, fps),
            "bitrate_previous": bitrate_choice(decoded[0], kbps, fps, PREVIOUS),
            "no_reference": steady_choice(share["engine"]),
            "no_reference_previous": steady_choice(share["previous"]),
            "no_reference_start": no_reference_choice(decoded, fps),
            "no_reference_start_previous": no_reference_choice(decoded, fps, PREVIOUS),
        },
    }


def best_mode(record: dict[str, Any]) -> str:
    return "strong" if record["psnr_y"]["strong"] > record["psnr_y"]["mild"] else "mild"


def choice_of(record: dict[str, Any], rule: str) -> str:
    if rule == "always_mild":
        return "mild"
    if rule == "always_strong":
        return "strong"
    if rule == "oracle":
        return best_mode(record)
    return record["choice"][rule]


def db_lost(record: dict[str, Any], choice: str) -> float:
    """dB of Y-PSNR given up against the oracle by choosing ``choice`` (0 when it is the better mode)."""
    return record["psnr_y"][best_mode(record)] - record["psnr_y"][choice]


def rule_stats(records: Sequence[dict[str, Any]], rule: str) -> dict[str, Any]:
    """Accuracy against the oracle (ties count as right), confusion (oracle -> choice), dB lost and gained."""
    confusion = {oracle: {mode: 0 for mode in MODES} for oracle in (*MODES, "tie")}
    lost, gain = [], []
    for record in records:
        choice = choice_of(record, rule)
        confusion[record["oracle"]][choice] += 1
        lost.append(db_lost(record, choice))
        gain.append(record["psnr_y"][choice] - record["psnr_y"]["decoded"])
    correct = confusion["mild"]["mild"] + confusion["strong"]["strong"] + sum(confusion["tie"].values())
    clips = len(records)
    return {
        "clips": clips,
        "correct": correct,
        "accuracy": correct / clips if clips else None,
        "strong_chosen": sum(row["strong"] for row in confusion.values()),
        "confusion": confusion,
        "db_lost_mean": float(np.mean(lost)) if lost else None,
        "db_lost_max": float(np.max(lost)) if lost else None,
        "gain_db": float(np.mean(gain)) if gain else None,
    }


def _oracles_agree(record: dict[str, Any]) -> bool:
    """The RGB-PSNR oracle picks the same mode as the Y-PSNR one (a tie agrees with anything)."""
    return "tie" in (record["oracle"], record["oracle_rgb"]) or record["oracle"] == record["oracle_rgb"]


def group_stats(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Every rule and baseline on one group of clips, with the oracle's label counts."""
    labels = Counter(r["oracle"] for r in records)
    return {
        "clips": len(records),
        "oracle": {label: labels.get(label, 0) for label in (*MODES, "tie")},
        "rgb_oracle_agrees": float(np.mean([_oracles_agree(r) for r in records])) if records else None,
        "rules": {rule: rule_stats(records, rule) for rule in (*RULES, *BASELINES)},
    }


def summarize(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """All clips, the H.264 ones, then each band in report order (bands without clips left out)."""
    names = dict.fromkeys([*band_order(), *(r["band"] for r in records)])
    groups = {name: [r for r in records if r["band"] == name] for name in names}
    return {
        "all": group_stats(records),
        "h264": group_stats([r for r in records if r["codec"] == "h264"]),
        "bands": {name: group_stats(rs) for name, rs in groups.items() if rs},
    }


def by_level(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per codec and CRF / quality: how often strong is the oracle and how often each rule picks it."""
    rows = []
    for codec, level in sorted({(r["codec"], r["level"]) for r in records}):
        group = [r for r in records if r["codec"] == codec and r["level"] == level]
        rows.append(
            {
                "codec": codec,
                "level": level,
                "clips": len(group),
                "oracle_strong": sum(r["oracle"] == "strong" for r in group),
                "oracle_mild": sum(r["oracle"] == "mild" for r in group),
                "strong_minus_mild_db": float(np.mean([r["psnr_y"]["strong"] - r["psnr_y"]["mild"] for r in group])),
                "bpp_median": float(np.median([r["bpp"] for r in group])),
                "chosen_strong": {rule: sum(r["choice"][rule] == "strong" for r in group) for rule in RULES},
            }
        )
    return rows


# ---------------------------------------------------------------------------- suggested values


Samples = tuple[list[dict[str, Any]], np.ndarray]  # the clip each sample is judged against, and its values


def choice_score(records: Sequence[dict[str, Any]], choices: Sequence[str]) -> dict[str, float]:
    """Accuracy (ties right) and mean dB lost of arbitrary per-clip choices."""
    right = [r["oracle"] in (c, "tie") for r, c in zip(records, choices, strict=True)]
    lost = [db_lost(r, c) for r, c in zip(records, choices)]
    return {"accuracy": float(np.mean(right)), "db_lost_mean": float(np.mean(lost))}


def best_cut(values: np.ndarray, judged: Sequence[dict[str, Any]]) -> float:
    """The cut with the least total dB lost when the samples below it go strong and the rest mild (the fit's own
    ``least_loss_cut``). dB lost, not accuracy: a wrong strong at a low CRF costs far more than a wrong mild at a
    high one."""
    loss_strong = np.array([db_lost(record, "strong") for record in judged])
    loss_mild = np.array([db_lost(record, "mild") for record in judged])
    return least_loss_cut(values, loss_strong, loss_mild)[0]


def bpp_samples(records: Sequence[dict[str, Any]]) -> Samples:
    """One sample per clip: its bits per pixel (the bitrate rule: strong below the threshold)."""
    return list(records), np.array([r["bpp"] for r in records], np.float64)


def nr_samples(records: Sequence[dict[str, Any]], frames: slice) -> Samples:
    """One sample per decoded frame in ``frames``: minus the engine's no-reference score without its bias.

    The engine goes strong when bias + score >= 0, i.e. when -score < bias: the bias is the cut.
    """
    _, w_block, w_hf = engine_modes.NR_COEFFICIENTS
    judged, values = [], []
    for record in records:
        for block, hf in record["features"][frames]:
            judged.append(record)
            values.append(-(w_block * block + w_hf * math.log(max(hf, 1e-3))))
    return judged, np.array(values, np.float64)


def best_bpp_threshold(records: Sequence[dict[str, Any]]) -> float:
    judged, bpp = bpp_samples(records)
    return best_cut(bpp, judged)


def score_cut(samples: Samples, cut: float) -> dict[str, float]:
    judged, values = samples
    return choice_score(judged, ["strong" if v < cut else "mild" for v in values])


def two_fold_by_still(records: Sequence[dict[str, Any]], samples_of: Callable[..., Samples]) -> dict[str, float]:
    """Fit the cut on half the stills, judge it on the other half, both ways: content the fit did not see."""
    stills = sorted({r["still"] for r in records})
    fold_of = {still: i % 2 for i, still in enumerate(stills)}
    judged: list[dict[str, Any]] = []
    choices: list[str] = []
    for fold in (0, 1):
        train_judged, train_values = samples_of([r for r in records if fold_of[r["still"]] != fold])
        test_judged, test_values = samples_of([r for r in records if fold_of[r["still"]] == fold])
        cut = best_cut(train_values, train_judged)
        judged += test_judged
        choices += ["strong" if v < cut else "mild" for v in test_values]
    return choice_score(judged, choices)


def suggestions(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Each rule's one number refitted on these held-out clips against the oracle (the rest kept).

    bpp: the bitrate threshold. no-reference: the logistic bias, with the shipped weights, judged on the first
    frame (an I-frame: the estimate AutoMode keeps on a clip this short) and on the later frames (P/B-frames:
    what the re-estimates every ``REESTIMATE_EVERY`` frames see in a stream), each frame against its clip's oracle.
    """
    if len({r["still"] for r in records}) < 2 or not any(r["oracle"] != "tie" for r in records):
        return {}
    rules: dict[str, tuple[Callable[..., Samples], float]] = {
        "strong_below_bpp": (bpp_samples, engine_modes.STRONG_BELOW_BPP),
        "nr_bias_first_frame": (lambda rs: nr_samples(rs, slice(0, 1)), engine_modes.NR_FIRST_BIAS),
        "nr_bias_later_frames": (lambda rs: nr_samples(rs, slice(1, None)), engine_modes.NR_COEFFICIENTS[0]),
    }
    out: dict[str, Any] = {
        "method": "the cut with the least total dB lost (midpoints between samples); 2-fold: fitted on the clips "
        "of half the stills (alternate in sorted order), judged on the other half, both ways"
    }
    for name, (samples_of, shipped) in rules.items():
        samples = samples_of(records)
        judged, values = samples
        fitted = best_cut(values, judged)
        out[name] = {
            "shipped": shipped,
            "shipped_score": score_cut(samples, shipped),
            "fitted": fitted,
            "in_sample": score_cut(samples, fitted),
            "two_fold": two_fold_by_still(records, samples_of),
        }
    return out


def bpp_by_clip_length(images: Sequence[np.ndarray], config: AutoSuiteConfig) -> list[dict[str, Any]]:
    """Median bits per pixel at fixed CRFs over clip lengths: the I-frame's share shrinks as clips grow, down to
    one per ``keyint`` frames.

    One pan per still (the same seed for every length), the engine's encoder preset; encodes only.
    """
    rows = []
    for crf in config.length_study_crfs:
        for frames in config.length_study_frames:
            rng = np.random.default_rng(config.seed + 1)
            encoded = [
                encode_h264_clip(stream_pan(image, config.frame_side, frames, rng), crf, PRESET, config.fps,
                                 config.keyint)
                for image in images
            ]
            pixels = frames * config.frame_side**2
            rows.append({
                "crf": crf,
                "frames": frames,
                "clips": len(encoded),
                "bpp_median": float(np.median([e.stream_bits / pixels for e in encoded])),
                "bpp_container_median": float(np.median([e.container_bits / pixels for e in encoded])),
            })
    return rows


# ------------------------------------------------------------------------------------------- run


def engine_restorers(
    tier: str = AR_TIER, device: str = "cpu", weights_dir: Path | None = None
) -> tuple[dict[str, Restorer], dict[str, str]]:
    """The engine at x1 in each mode (tier fixed, no scheduler) and the weights each one runs: what
    ``mode="auto"`` switches between, for this suite and for ``train calibrate-auto``.

    Raises:
        WeightsError / ConfigError: a mode's weights are not installed, or an option is invalid.
    """
    restorers, models = {}, {}
    for mode in MODES:
        enhancer = Enhancer(scale=1, mode=mode, tier=tier, device=device, weights_dir=weights_dir, advisor=None)
        enhancer.enhance(np.zeros((32, 32, 3), np.uint8))
        models[mode] = ",".join(enhancer.describe()["models"])
        restorers[mode] = enhancer.enhance
    return restorers, models


@dataclass
class HeldOutStills:
    names: list[str]
    images: list[np.ndarray]
    too_small: list[str] = field(default_factory=list)


def held_out_stills(data_root: Path, config: AutoSuiteConfig) -> HeldOutStills:
    """The held-out training stills large enough to pan a frame_side window over (+32 like the fit).

    Raises:
        ConfigError: no training stills, or none of the held-out ones is large enough.
    """
    paths = find_training_set(data_root).holdout_stills
    names, images, too_small = [], [], []
    for path in paths:
        label = f"{path.parent.name}/{path.name}"
        loaded = load_images([path], config.frame_side + 32)
        if loaded:
            names.append(label)
            images.append(loaded[0])
        else:
            too_small.append(label)
    if not names:
        raise ConfigError(f"no held-out training still has both sides >= {config.frame_side + 32} px: {too_small}")
    limit = config.stills_limit
    return HeldOutStills(names[:limit] if limit else names, images[:limit] if limit else images, too_small)


def run_auto_validation(
    data_root: Path, config: AutoSuiteConfig, unavailable: dict[str, str] | None = None
) -> dict[str, Any]:
    """Synthesize the held-out clips, run both modes, score the rules; JSON-ready.

    Weights that cannot be loaded are noted in ``unavailable`` and leave the result without clips.
    """
    stills = held_out_stills(data_root, config)
    result: dict[str, Any] = {
        "protocol": AUTO_PROTOCOL.format(side=config.frame_side, frames=config.frames, keyint=config.keyint,
                                         every=config.score_every),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
        "engine": {
            **asdict(engine_modes.fitted_rule()),
            "reestimate_every": engine_modes.REESTIMATE_EVERY,
            "hysteresis_votes": engine_modes.HYSTERESIS_VOTES,
        },
        "previous": asdict(PREVIOUS),
        "stills": stills.names,
        "stills_too_small": stills.too_small,
        "models": {},
        "clips": [],
    }
    try:
        restorers, result["models"] = engine_restorers(config.tier, config.device, config.weights_dir)
    except (WeightsError, ConfigError) as exc:
        if unavailable is None:
            raise
        unavailable.setdefault("auto mode (AR mild + strong)", str(exc))
        return result
    rng = np.random.default_rng(config.seed)
    per_sequence = config.crf_draws + config.jpeg_draws
    total = len(stills.names) * config.pans_per_still * per_sequence
    with tqdm(total=total, desc="auto mode: held-out clips", unit="clip") as bar:
        for name, image in zip(stills.names, stills.images):
            for pan in range(config.pans_per_still):
                clean = stream_pan(image, config.frame_side, config.frames, rng)
                for encoded in encode_variants(clean, config.draws(), rng):
                    scored = scored_frames(len(clean), config.score_every, rng)
                    record = {"still": name, "pan": pan,
                              **evaluate_clip(clean, encoded, restorers, config.fps, scored)}
                    result["clips"].append(record)
                    bar.update()
    result["summary"] = summarize(result["clips"])
    result["by_level"] = by_level(result["clips"])
    result["suggested"] = suggestions(result["clips"])
    result["bpp_by_clip_length"] = bpp_by_clip_length(stills.images, config)
    result["clips"] = [saved_clip(record) for record in result["clips"]]
    return result


def saved_clip(record: dict[str, Any]) -> dict[str, Any]:
    """What the result keeps of a clip, rounded: enough to recount every table but the RGB agreement and the
    refits (per-frame features: most of the size; the container overhead: see the clip-length study)."""
    return {
        **{key: record[key] for key in ("still", "pan", "codec", "level", "preset", "oracle")},
        "bpp": round(record["bpp"], 6),
        "psnr_y": {name: round(value, 4) for name, value in record["psnr_y"].items()},
        "strong_by": ",".join(rule for rule in RULES if record["choice"][rule] == "strong"),  # one line, not a list
    }


# -------------------------------------------------------------------------------------- Markdown


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    align = ["---"] + ["---:"] * (len(header) - 1)
    return ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|", *("| " + " | ".join(r) + " |" for r in rows)]


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _rules_table(stats: dict[str, Any]) -> list[str]:
    header = ["rule", "accuracy", "strong chosen", "oracle mild → mild / strong", "oracle strong → mild / strong",
              "tie → mild / strong", "dB lost mean / max", "gain over decoded (dB)"]
    rows = []
    for rule, s in stats["rules"].items():
        c = s["confusion"]
        rows.append([
            RULE_LABELS.get(rule, rule),
            f"{_ratio(s['accuracy'])} ({s['correct']}/{s['clips']})",
            str(s["strong_chosen"]),
            f"{c['mild']['mild']} / {c['mild']['strong']}",
            f"{c['strong']['mild']} / {c['strong']['strong']}",
            f"{c['tie']['mild']} / {c['tie']['strong']}",
            f"{s['db_lost_mean']:.3f} / {s['db_lost_max']:.2f}",
            f"{s['gain_db']:+.3f}",
        ])
    return _md_table(header, rows)


def _bands_table(bands: dict[str, Any]) -> list[str]:
    shown = (*RULES, "always_mild", "always_strong")
    header = ["band", "clips", "oracle mild / strong / tie", "oracle gain (dB)",
              *(f"{RULE_LABELS[r]}: acc / dB lost" for r in shown)]
    rows = []
    for band, g in bands.items():
        o = g["oracle"]
        oracle_gain = g["rules"]["oracle"]["gain_db"]
        cells = [band, str(g["clips"]), f"{o['mild']} / {o['strong']} / {o['tie']}", f"{oracle_gain:+.3f}"]
        cells += [f"{_ratio(g['rules'][r]['accuracy'])} / {g['rules'][r]['db_lost_mean']:.3f}" for r in shown]
        rows.append(cells)
    return _md_table(header, rows)


def _crf_table(levels: list[dict[str, Any]]) -> list[str]:
    header = ["CRF", "clips", "oracle strong / mild", "strong − mild (dB)", "median bpp",
              *(f"{RULE_LABELS[r]} picks strong" for r in RULES)]
    rows = [
        [str(row["level"]), str(row["clips"]), f"{row['oracle_strong']} / {row['oracle_mild']}",
         f"{row['strong_minus_mild_db']:+.3f}", f"{row['bpp_median']:.4f}",
         *(str(row["chosen_strong"][r]) for r in RULES)]
        for row in levels if row["codec"] == "h264"
    ]
    return _md_table(header, rows)


SUGGESTION_LABELS = {
    "strong_below_bpp": "bitrate: strong below (bits/pixel)",
    "nr_bias_first_frame": "no-reference bias, first frame (I)",
    "nr_bias_later_frames": "no-reference bias, later frames (P/B)",
}


def _suggested_lines(suggested: dict[str, Any]) -> list[str]:
    if not suggested:
        return []

    def score(d: dict[str, float]) -> str:
        return f"{d['accuracy']:.3f} / {d['db_lost_mean']:.3f}"

    header = ["value", "engine", "engine: acc / dB lost", "fitted here", "in-sample: acc / dB lost",
              "2-fold by still: acc / dB lost"]
    rows = [
        [label, f"{suggested[key]['shipped']:.4f}", score(suggested[key]["shipped_score"]),
         f"{suggested[key]['fitted']:.4f}", score(suggested[key]["in_sample"]), score(suggested[key]["two_fold"])]
        for key, label in SUGGESTION_LABELS.items()
    ]
    return [
        "### One number per rule refitted on these held-out clips against the oracle (not applied)",
        "",
        *_md_table(header, rows),
        "",
        f"Method: {suggested['method']}. No-reference rows keep the engine's weights on (blockiness, log hf share) "
        "and judge each frame of the kind named against its clip's oracle.",
        "",
    ]


def _length_lines(rows: list[dict[str, Any]], config: dict[str, Any]) -> list[str]:
    if not rows:
        return []
    lengths = sorted({r["frames"] for r in rows})
    by_key = {(r["crf"], r["frames"]): r for r in rows}
    table = [
        [str(crf), *(f"{by_key[(crf, n)]['bpp_median']:.4f} ({by_key[(crf, n)]['bpp_container_median']:.4f})"
                     for n in lengths)]
        for crf in sorted({r["crf"] for r in rows})
    ]
    return [
        "### Bits per pixel against clip length (median over the stills; MP4 file in brackets)",
        "",
        *_md_table(["CRF", *(f"{n} frames" for n in lengths)], table),
        "",
        f"Keyframe every {config['keyint']} frames. A bits-per-pixel threshold holds for the I-frame share, frame "
        "size and byte accounting it was fitted at: past one GOP the bits per pixel settle, a short clip has far "
        "more.",
        "",
    ]


def _h264_lines(stats: dict[str, Any]) -> list[str]:
    if not stats["clips"]:
        return []
    return ["### H.264 clips (what a bitrate hint describes)", "", *_rules_table(stats), ""]


def auto_markdown(result: dict[str, Any]) -> list[str]:
    """Rules against the oracle on all clips, by band, by CRF; then values refitted on these clips."""
    lines = ["## Auto mode against the oracle: held-out clips", "", f"Protocol: {result['protocol']}.", ""]
    clips = result.get("clips", [])
    if not clips:
        return lines + ["No clips measured (see Not measured).", ""]
    config, engine, models, previous = result["config"], result["engine"], result["models"], result["previous"]
    codecs = Counter(r["codec"] for r in clips)
    lines += [
        f"{len(clips)} clips ({codecs.get('h264', 0)} H.264, {codecs.get('jpeg', 0)} JPEG) of {config['frames']} "
        f"frames {config['frame_side']}x{config['frame_side']} from {len(result['stills'])} held-out stills "
        f"({config['pans_per_still']} pans each, seed {config['seed']}), keyframe every {config['keyint']} frames, "
        f"AR on 1 frame in {config['score_every']}; weights: mild = {models['mild']}, strong = {models['strong']}. "
        f"Engine: strong below {engine['strong_below_bpp']} bits/pixel; no-reference "
        f"{tuple(engine['nr_coefficients'])} (first estimate: bias {engine.get('nr_first_bias')}), every "
        f"{engine['reestimate_every']} frames, "
        f"{engine['hysteresis_votes']} votes to switch. Previous: strong below {previous['strong_below_bpp']}; "
        f"no-reference {tuple(previous['nr_coefficients'])}. Steady stream: the majority of the per-frame estimates "
        "(an estimate can land on any frame, an I-frame at its natural share); stream start: AutoMode fed the clip "
        "in order (its first frame's estimate: the I-frame).",
        "",
        *_h264_lines(result["summary"]["h264"]),
        "### All clips",
        "",
        *_rules_table(result["summary"]["all"]),
        "",
        "Accuracy: the rule picked the oracle's mode or the modes tie (within "
        f"{TIE_DB} dB). dB lost: oracle PSNR-Y minus the chosen mode's, mean over clips. Gain: chosen minus decoded.",
        "",
        "### By band",
        "",
        *_bands_table(result["summary"]["bands"]),
        "",
        "### H.264 by CRF",
        "",
        *_crf_table(result["by_level"]),
        "",
    ]
    lengths = _length_lines(result.get("bpp_by_clip_length", []), config)
    return lines + _suggested_lines(result.get("suggested") or {}) + lengths
