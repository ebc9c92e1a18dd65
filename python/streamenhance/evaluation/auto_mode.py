"""Auto mode against the oracle on held-out clips (issue "model ladder", item 4).

``mode="auto"`` picks the mild or strong artifact-removal (AR) weights from a bitrate hint (bits per pixel) or,
without one, from a no-reference estimate of the decoded frames (``engine/modes.py``). Both rules were fitted
on synthesized *training* frames against the CRF range a frame was encoded in. Here they are checked against
the *oracle*: whichever mode's output has the higher Y-PSNR against the clean frames (within ``TIE_DB`` both
count as right).

Clips are pans/zooms (``pan_zoom_sequence``) over the held-out training stills only (every 16th still: never
trained on, never an evaluation set), encoded with libx264 at CRFs drawn stratified from a grid (a preset of
the training set drawn each time) and as per-frame JPEG. Each clip runs through the engine at x1 in mode
mild and in mode strong (the weights ``mode="auto"`` switches between). The rules are the engine's own
``AutoMode``: the bitrate rule fed the kbps of the true bitstream (the sum of the video packets), the
no-reference rule fed the decoded frames in order.

Beside the scores: each rule's one number (bits-per-pixel threshold, logistic bias) refitted here against the
oracle, in-sample and 2-fold by still (reported, never applied), and bits per pixel against clip length.
"""

from __future__ import annotations

import io
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image
from tqdm import tqdm

from streamenhance.engine import Enhancer
from streamenhance.engine import modes as engine_modes
from streamenhance.engine.modes import AutoMode, strong_probability
from streamenhance.errors import ConfigError, WeightsError
from streamenhance.io import encode_h264, read_frames
from streamenhance.metrics import no_reference_features, psnr
from streamenhance.evaluation.video import PRESET
from streamenhance.training.degrade import PRESETS, pan_zoom_sequence
from streamenhance.training.images import find_training_set, load_images

MODES = ("mild", "strong")
TIE_DB = 0.01  # outputs closer than this (Y-PSNR, dB) count as a tie: either choice is right
# Report bands: the halves of the mild (CRF 18-30) and strong (31-44) training ranges.
CRF_BANDS: tuple[tuple[int, int], ...] = ((18, 24), (25, 30), (31, 37), (38, 44))
# JPEG: the strong training range is q 8-40, the mild one 45-90.
JPEG_BANDS: tuple[tuple[int, int], ...] = ((8, 44), (45, 90))
RULES = ("bitrate", "bitrate_container", "no_reference", "no_reference_mean")
BASELINES = ("always_mild", "always_strong", "oracle")
RULE_LABELS = {
    "bitrate": "bitrate hint (true bitstream bpp)",
    "bitrate_container": "bitrate hint (MP4 file bpp, as fitted)",
    "no_reference": "no-reference (engine AutoMode)",
    "no_reference_mean": "no-reference (mean p over frames)",
    "always_mild": "always mild",
    "always_strong": "always strong",
    "oracle": "oracle",
}
AUTO_PROTOCOL = (
    "held-out training stills (every 16th) -> pan/zoom clips {side}x{side} -> libx264 yuv420p at CRFs drawn stratified "
    "(random training preset) or per-frame JPEG -> decode -> engine x1 mode mild and strong; Y-PSNR vs clean "
    f"(mean over frames, no shave); oracle = the higher (tie within {TIE_DB} dB); rules = engine AutoMode "
    "(bitrate from the sum of the video packets; no-reference on the decoded frames in order)"
)

Restorer = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class AutoSuiteConfig:
    """What the auto-mode validation synthesizes and runs.

    Attributes:
        frame_side: clips are frame_side x frame_side (256: the size of the fit; larger squares would drop
            most held-out stills, whose short side is 321).
        frames: frames per clip.
        pans_per_still: clean pan/zoom sequences per held-out still.
        crfs / crf_draws: the CRF grid, split into ``crf_draws`` strata; each sequence is encoded once per
            stratum at a CRF drawn from it (crf_draws = len(crfs): every CRF).
        qualities / jpeg_draws: the same for per-frame JPEG (0 draws: no JPEG clips).
        fps: frame rate the kbps hint is computed at (the rule only sees bits per pixel).
        seed: the one random stream (pans, CRFs, presets, qualities).
        stills_limit: at most this many held-out stills (quick runs).
        tier: AR tier, as the engine takes it (``auto``: the engine's own default for x1).
        device / weights_dir: where ours runs and which weights (default: the packaged ones).
        length_study_crfs / length_study_frames: bits per pixel at these CRFs over these clip lengths (encodes
            only; empty: skipped), to show how far a bits-per-pixel threshold carries beyond this clip length.
    """

    frame_side: int = 256
    frames: int = 6
    pans_per_still: int = 2
    crfs: tuple[int, ...] = tuple(range(18, 45))
    crf_draws: int = 9
    qualities: tuple[int, ...] = tuple(range(8, 91))
    jpeg_draws: int = 2
    fps: int = 25
    seed: int = 0
    stills_limit: int | None = None
    tier: str = "auto"
    device: str = "cpu"
    weights_dir: Path | None = None
    length_study_crfs: tuple[int, ...] = (28, 31, 34)
    length_study_frames: tuple[int, ...] = (4, 6, 12, 30)


# ------------------------------------------------------------------------------------------- clips


@dataclass(frozen=True)
class EncodedClip:
    """A clean sequence encoded and decoded back, with the size of what was sent."""

    codec: str  # "h264" or "jpeg"
    level: int  # CRF or JPEG quality
    preset: str | None
    decoded: list[np.ndarray]
    stream_bits: int  # the bitstream: video packets (H.264) or the JPEG files
    container_bits: int  # the whole file (MP4 boxes, x264's SEI): what the fit measured


def stratified_draw(values: Sequence[int], draws: int, rng: np.random.Generator) -> list[int]:
    """One value drawn uniformly from each of ``draws`` consecutive, near-equal strata of ``values``."""
    if draws <= 0:
        return []
    if draws > len(values):
        raise ConfigError(f"stratified draw: expected at most {len(values)} strata, got {draws}")
    return [int(rng.choice(stratum)) for stratum in np.array_split(np.asarray(values), draws)]


def _video_packet_bits(data: bytes) -> int:
    with av.open(io.BytesIO(data), "r") as container:
        stream = container.streams.video[0]
        return 8 * sum(packet.size for packet in container.demux(stream) if packet.size)


def encode_h264_clip(frames: Sequence[np.ndarray], crf: int, preset: str, fps: int) -> EncodedClip:
    data = encode_h264(frames, fps, crf=crf, preset=preset)
    decoded = list(read_frames(data))
    if len(decoded) != len(frames):
        raise ValueError(f"H.264 round trip at CRF {crf}: {len(frames)} frames in, {len(decoded)} out")
    return EncodedClip("h264", crf, preset, decoded, _video_packet_bits(data), 8 * len(data))


def encode_jpeg_clip(frames: Sequence[np.ndarray], quality: int) -> EncodedClip:
    decoded, bits = [], 0
    for frame in frames:
        buffer = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(frame[:, :, ::-1])).save(buffer, format="JPEG", quality=quality)
        bits += 8 * buffer.tell()
        with Image.open(io.BytesIO(buffer.getvalue())) as image:
            decoded.append(np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1]))
    return EncodedClip("jpeg", quality, None, decoded, bits, bits)


def band_of(codec: str, level: int) -> str:
    """The report band of a CRF or a JPEG quality."""
    bands, prefix = (CRF_BANDS, "CRF") if codec == "h264" else (JPEG_BANDS, "JPEG q")
    low, high = next(((lo, hi) for lo, hi in bands if lo <= level <= hi), (level, level))
    return f"{prefix} {low}-{high}"


def band_order() -> list[str]:
    return [band_of("h264", lo) for lo, _ in CRF_BANDS] + [band_of("jpeg", lo) for lo, _ in JPEG_BANDS]


# ------------------------------------------------------------------------------------ engine rules


def bitrate_choice(frame: np.ndarray, kbps: float, fps: float) -> str:
    """The engine's bitrate rule: ``AutoMode.decide`` with the hint."""
    return AutoMode(MODES).decide(frame, kbps, fps).mode


def no_reference_choice(frames: Sequence[np.ndarray], fps: float) -> str:
    """The mode the engine's ``AutoMode`` (no hint) applies to most frames of the clip, fed in order.

    It estimates on the first frame and every ``REESTIMATE_EVERY`` frames after, switching only after
    ``HYSTERESIS_VOTES`` agreeing estimates: on clips shorter than that, the first frame's estimate.
    """
    auto = AutoMode(MODES)
    applied = [auto.decide(frame, 0.0, fps).mode for frame in frames]
    return Counter(applied).most_common(1)[0][0]


def kbps_of(bits: int, frames: int, fps: float) -> float:
    return bits * fps / frames / 1000.0


# ---------------------------------------------------------------------------------------- scoring


def oracle_label(psnr_mild: float, psnr_strong: float, tie_db: float = TIE_DB) -> str:
    """``mild`` / ``strong``: the mode with the higher PSNR; ``tie`` when they are within ``tie_db``."""
    if abs(psnr_mild - psnr_strong) <= tie_db + 1e-9:  # "within": inclusive, despite float rounding
        return "tie"
    return "mild" if psnr_mild > psnr_strong else "strong"


def mean_psnr(outputs: Sequence[np.ndarray], truth: Sequence[np.ndarray], on_luma: bool = True) -> float:
    return float(np.mean([psnr(o, t, on_luma=on_luma) for o, t in zip(outputs, truth, strict=True)]))


def evaluate_clip(
    clean: Sequence[np.ndarray], encoded: EncodedClip, restorers: dict[str, Restorer], fps: float
) -> dict[str, Any]:
    """One clip: each mode's and the decoded input's PSNR, the oracle, and each rule's choice."""
    decoded = encoded.decoded
    outputs = {mode: [restorers[mode](frame) for frame in decoded] for mode in MODES}
    psnr_y = {"decoded": mean_psnr(decoded, clean), **{m: mean_psnr(outputs[m], clean) for m in MODES}}
    psnr_rgb = {"decoded": mean_psnr(decoded, clean, False), **{m: mean_psnr(outputs[m], clean, False) for m in MODES}}
    features = [no_reference_features(frame) for frame in decoded]
    p_strong = [strong_probability(f) for f in features]
    pixels = len(decoded) * decoded[0].shape[0] * decoded[0].shape[1]
    kbps = kbps_of(encoded.stream_bits, len(decoded), fps)
    kbps_container = kbps_of(encoded.container_bits, len(decoded), fps)
    return {
        "codec": encoded.codec,
        "level": encoded.level,
        "preset": encoded.preset,
        "band": band_of(encoded.codec, encoded.level),
        "bpp": encoded.stream_bits / pixels,
        "bpp_container": encoded.container_bits / pixels,
        "kbps": kbps,
        "psnr_y": psnr_y,
        "psnr_rgb": psnr_rgb,
        "oracle": oracle_label(psnr_y["mild"], psnr_y["strong"]),
        "oracle_rgb": oracle_label(psnr_rgb["mild"], psnr_rgb["strong"]),
        "features": [list(f) for f in features],
        "p_strong": p_strong,
        "choice": {
            "bitrate": bitrate_choice(decoded[0], kbps, fps),
            "bitrate_container": bitrate_choice(decoded[0], kbps_container, fps),
            "no_reference": no_reference_choice(decoded, fps),
            # the engine's own cut (p >= 0.5), on the clip's mean probability instead of the first frame's
            "no_reference_mean": "strong" if float(np.mean(p_strong)) >= 0.5 else "mild",
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
    """All clips, then each band in report order (bands without clips left out)."""
    names = dict.fromkeys([*band_order(), *(r["band"] for r in records)])
    groups = {name: [r for r in records if r["band"] == name] for name in names}
    return {"all": group_stats(records), "bands": {name: group_stats(rs) for name, rs in groups.items() if rs}}


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
    """The cut with the least total dB lost when the samples below it go strong and the rest mild.

    Candidates are midpoints between neighbouring distinct values, and below / above all of them. dB lost, not
    accuracy: a wrong strong at a low CRF costs far more than a wrong mild at a high one.
    """
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    loss_strong = np.array([db_lost(judged[i], "strong") for i in order])
    loss_mild = np.array([db_lost(judged[i], "mild") for i in order])
    # total loss when the k lowest samples go strong, k = 0..n
    strong_first = np.concatenate([[0.0], np.cumsum(loss_strong)])
    mild_rest = loss_mild.sum() - np.concatenate([[0.0], np.cumsum(loss_mild)])
    bounds = np.concatenate([[ordered[0] - 1.0], (ordered[:-1] + ordered[1:]) / 2, [ordered[-1] + 1.0]])
    splittable = np.concatenate([[True], ordered[:-1] < ordered[1:], [True]])
    best = int(np.argmin(np.where(splittable, strong_first + mild_rest, np.inf)))
    return float(bounds[best])


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
        "nr_bias_first_frame": (lambda rs: nr_samples(rs, slice(0, 1)), engine_modes.NR_COEFFICIENTS[0]),
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
    """Median bits per pixel at fixed CRFs over clip lengths: the I-frame's share shrinks as clips grow.

    One pan per still (the same seed for every length), the engine's encoder preset; encodes only.
    """
    rows = []
    for crf in config.length_study_crfs:
        for frames in config.length_study_frames:
            rng = np.random.default_rng(config.seed + 1)
            encoded = [
                encode_h264_clip(pan_zoom_sequence(image, config.frame_side, frames, rng), crf, PRESET, config.fps)
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


def engine_restorers(config: AutoSuiteConfig) -> tuple[dict[str, Restorer], dict[str, str]]:
    """The engine at x1 in each mode (tier fixed, no scheduler) and the weights each one runs.

    Raises:
        WeightsError / ConfigError: a mode's weights are not installed, or an option is invalid.
    """
    restorers, models = {}, {}
    for mode in MODES:
        enhancer = Enhancer(scale=1, mode=mode, tier=config.tier, device=config.device,
                            weights_dir=config.weights_dir, advisor=None)
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


def encode_sequence(clean: list[np.ndarray], config: AutoSuiteConfig, rng: np.random.Generator) -> list[EncodedClip]:
    """The sequence at one CRF per stratum (random training preset each) and one JPEG quality per stratum."""
    clips = []
    for crf in stratified_draw(config.crfs, config.crf_draws, rng):
        preset = PRESETS[int(rng.integers(len(PRESETS)))]
        clips.append(encode_h264_clip(clean, crf, preset, config.fps))
    clips += [encode_jpeg_clip(clean, q) for q in stratified_draw(config.qualities, config.jpeg_draws, rng)]
    return clips


def run_auto_validation(
    data_root: Path, config: AutoSuiteConfig, unavailable: dict[str, str] | None = None
) -> dict[str, Any]:
    """Synthesize the held-out clips, run both modes, score the rules; JSON-ready.

    Weights that cannot be loaded are noted in ``unavailable`` and leave the result without clips.
    """
    stills = held_out_stills(data_root, config)
    result: dict[str, Any] = {
        "protocol": AUTO_PROTOCOL.format(side=config.frame_side),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
        "engine": {
            "strong_below_bpp": engine_modes.STRONG_BELOW_BPP,
            "nr_coefficients": list(engine_modes.NR_COEFFICIENTS),
            "reestimate_every": engine_modes.REESTIMATE_EVERY,
            "hysteresis_votes": engine_modes.HYSTERESIS_VOTES,
        },
        "stills": stills.names,
        "stills_too_small": stills.too_small,
        "models": {},
        "clips": [],
    }
    try:
        restorers, result["models"] = engine_restorers(config)
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
                clean = pan_zoom_sequence(image, config.frame_side, config.frames, rng)
                for encoded in encode_sequence(clean, config, rng):
                    record = {"still": name, "pan": pan, **evaluate_clip(clean, encoded, restorers, config.fps)}
                    result["clips"].append(record)
                    bar.update()
    result["summary"] = summarize(result["clips"])
    result["by_level"] = by_level(result["clips"])
    result["suggested"] = suggestions(result["clips"])
    result["bpp_by_clip_length"] = bpp_by_clip_length(stills.images, config)
    return result


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

    header = ["value", "shipped", "shipped: acc / dB lost", "fitted here", "in-sample: acc / dB lost",
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
        f"Method: {suggested['method']}. No-reference rows keep the shipped weights on (blockiness, log hf share) "
        "and judge each frame of the kind named against its clip's oracle.",
        "",
    ]


def _length_lines(rows: list[dict[str, Any]]) -> list[str]:
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
        "A bits-per-pixel threshold holds for the clip length (I-frame share), frame size and byte accounting it "
        "was fitted at; a long stream at the same CRF has far fewer bits per pixel.",
        "",
    ]


def auto_markdown(result: dict[str, Any]) -> list[str]:
    """Rules against the oracle on all clips, by band, by CRF; then values refitted on these clips."""
    lines = ["## Auto mode against the oracle: held-out clips", "", f"Protocol: {result['protocol']}.", ""]
    clips = result.get("clips", [])
    if not clips:
        return lines + ["No clips measured (see Not measured).", ""]
    config, engine, models = result["config"], result["engine"], result["models"]
    codecs = Counter(r["codec"] for r in clips)
    lines += [
        f"{len(clips)} clips ({codecs.get('h264', 0)} H.264, {codecs.get('jpeg', 0)} JPEG) of {config['frames']} "
        f"frames {config['frame_side']}x{config['frame_side']} from {len(result['stills'])} held-out stills "
        f"({config['pans_per_still']} pans each, seed {config['seed']}); weights: mild = {models['mild']}, "
        f"strong = {models['strong']}. Engine: strong below {engine['strong_below_bpp']} bits/pixel; no-reference "
        f"{tuple(engine['nr_coefficients'])}, every {engine['reestimate_every']} frames, "
        f"{engine['hysteresis_votes']} votes to switch (a clip this short keeps its first frame's estimate).",
        "",
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
    return lines + _suggested_lines(result.get("suggested") or {}) + _length_lines(result.get("bpp_by_clip_length", []))
