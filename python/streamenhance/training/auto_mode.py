"""Fit the auto-mode rules of ``engine/modes.py`` on stream-like clips synthesized from the *training* data.

A live stream is long: a keyframe every ``KEYINT`` frames (OBS's 2 s at 30 fps), so its bits per pixel are mostly
P/B-frame bits, and the no-reference estimate (every 30 frames) lands mostly on P/B-frames. Each clip here is one
such GOP over a training still (a steady pan) or the training clip (looped), encoded with libx264 at CRFs spanning
18-44 and decoded (per-frame JPEG clips too: measured and scored, not fitted on, since a live stream is H.264). The
oracle is whichever of the engine's mild and strong artifact removal at x1 (``restorers``: passed in, this layer
may not import the engine) has the higher Y-PSNR against the clean frames. Both rules are fitted to lose the fewest
dB against the oracle, not to be right most often: a wrong strong at a low CRF costs dB, a wrong mild at a high CRF
a few tenths; the no-reference one as the engine applies it, estimates every 30 frames behind a hysteresis.

Clip synthesis, encoding and scoring are shared with the held-out validation (``evaluation/auto_mode.py``).
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image
from tqdm import tqdm

from streamenhance.errors import ConfigError
from streamenhance.io import encode_h264, read_frames
from streamenhance.metrics import no_reference_features, psnr
from streamenhance.training.degrade import PRESETS, RESAMPLERS
from streamenhance.training.samplers import clean_sequence
from streamenhance.training.images import find_training_set, load_images, resolve_data_root

MODES = ("mild", "strong")
FRAME_SIDE = 256  # bits per pixel depend on frame size; the held-out stills allow no larger square
STREAM_FPS = 30
KEYINT = 60  # OBS's default keyframe interval (2 s) at 30 fps
STREAM_FRAMES = 60  # one GOP: the I-frame's share of the bits is a steady stream's
SCORE_EVERY = 5  # the oracle runs AR on every 5th frame from a random phase: the I-frame at its natural share
CRFS = tuple(range(18, 45))
JPEG_QUALITIES = tuple(range(8, 91))
TIE_DB = 0.01  # outputs closer than this (Y-PSNR, dB) count as a tie: either choice is right

Restorer = Callable[[np.ndarray], np.ndarray]


# ------------------------------------------------------------------------------------- clean clips


def stream_pan(image: np.ndarray, size: int, frames: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``frames`` size x size views of ``image`` along one straight pan, sometimes with a slow zoom.

    Stream motion is sustained, so the whole path stays inside the image (it never stalls at an edge); the speed
    runs from still to what the image allows. The window is 1x-2x the output: a random downscale and filter.
    """
    height, width = image.shape[:2]
    room = min(height, width)
    window = float(rng.uniform(size, max(size, min(2.0 * size, room / 1.1))))
    zoom = float(rng.uniform(0.85, 1.15)) if rng.random() < 0.3 else 1.0  # last window over the first
    windows = window * zoom ** (np.arange(frames) / max(frames - 1, 1))
    windows *= min(1.0, room / windows.max())
    half = windows.max() / 2.0
    low, high = np.array([half, half]), np.array([height - half, width - half])
    start, end = rng.uniform(low, high), rng.uniform(low, high)
    resample = RESAMPLERS[int(rng.integers(len(RESAMPLERS)))]
    pil = Image.fromarray(np.ascontiguousarray(image[:, :, ::-1]))
    views = []
    for t, side in zip(np.linspace(0.0, 1.0, frames), windows):
        cy, cx = start + (end - start) * t
        box = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
        views.append(np.asarray(pil.resize((size, size), resample, box=box))[:, :, ::-1].copy())
    return views


# ---------------------------------------------------------------------------------------- encoding


@dataclass(frozen=True)
class EncodedClip:
    """A clean sequence encoded and decoded back, with the size of what was sent."""

    codec: str  # "h264" or "jpeg"
    level: int  # CRF or JPEG quality
    preset: str | None
    decoded: list[np.ndarray]
    stream_bits: int  # the bitstream: video packets (H.264) or the JPEG files
    container_bits: int  # the whole file (MP4 boxes, x264's SEI)

    def bits_per_pixel(self) -> float:
        """Bitstream bits per decoded pixel: what a bitrate hint (kbps / (fps x width x height)) measures."""
        height, width = self.decoded[0].shape[:2]
        return self.stream_bits / (len(self.decoded) * height * width)


def video_packet_bits(data: bytes) -> int:
    """Bits of the video packets of a container: the bitstream a live encoder sends, without the container."""
    with av.open(io.BytesIO(data), "r") as container:
        stream = container.streams.video[0]
        return 8 * sum(packet.size for packet in container.demux(stream) if packet.size)


def encode_h264_clip(
    frames: Sequence[np.ndarray], crf: int, preset: str, fps: int, keyint: int | None = None
) -> EncodedClip:
    data = encode_h264(frames, fps, crf=crf, preset=preset, keyint=keyint)
    decoded = list(read_frames(data))
    if len(decoded) != len(frames):
        raise ValueError(f"H.264 round trip at CRF {crf}: {len(frames)} frames in, {len(decoded)} out")
    return EncodedClip("h264", crf, preset, decoded, video_packet_bits(data), 8 * len(data))


def encode_jpeg_clip(frames: Sequence[np.ndarray], quality: int) -> EncodedClip:
    decoded, bits = [], 0
    for frame in frames:
        buffer = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(frame[:, :, ::-1])).save(buffer, format="JPEG", quality=quality)
        bits += 8 * buffer.tell()
        with Image.open(io.BytesIO(buffer.getvalue())) as image:
            decoded.append(np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1]))
    return EncodedClip("jpeg", quality, None, decoded, bits, bits)


def stratified_draw(values: Sequence[int], draws: int, rng: np.random.Generator) -> list[int]:
    """One value drawn uniformly from each of ``draws`` consecutive, near-equal strata of ``values``."""
    if draws <= 0:
        return []
    if draws > len(values):
        raise ConfigError(f"stratified draw: expected at most {len(values)} strata, got {draws}")
    return [int(rng.choice(stratum)) for stratum in np.array_split(np.asarray(values), draws)]


@dataclass(frozen=True)
class EncodingDraws:
    """Which encodings each clean sequence gets: one CRF per stratum of ``crfs`` (a random training preset each),
    one JPEG quality per stratum of ``qualities``; H.264 at ``fps`` with a keyframe every ``keyint`` frames."""

    crf_draws: int
    jpeg_draws: int
    fps: int = STREAM_FPS
    keyint: int = KEYINT
    crfs: tuple[int, ...] = CRFS
    qualities: tuple[int, ...] = JPEG_QUALITIES


def encode_variants(clean: Sequence[np.ndarray], draws: EncodingDraws, rng: np.random.Generator) -> list[EncodedClip]:
    clips = []
    for crf in stratified_draw(draws.crfs, draws.crf_draws, rng):
        preset = PRESETS[int(rng.integers(len(PRESETS)))]
        clips.append(encode_h264_clip(clean, crf, preset, draws.fps, draws.keyint))
    return clips + [encode_jpeg_clip(clean, q) for q in stratified_draw(draws.qualities, draws.jpeg_draws, rng)]


# ----------------------------------------------------------------------------------------- scoring


def scored_frames(count: int, every: int, rng: np.random.Generator) -> list[int]:
    """Every ``every``-th frame from a random phase: an unbiased sample of the clip, its I-frame included in
    1 clip of ``every`` (its natural share), at 1/``every`` of the cost of running AR on every frame."""
    return list(range(int(rng.integers(min(every, count))), count, every))


def mode_outputs(
    decoded: Sequence[np.ndarray], restorers: dict[str, Restorer], indices: Sequence[int]
) -> dict[str, list[np.ndarray]]:
    """The decoded frames at ``indices`` and each mode's output of them (AR at x1 keeps no state across frames)."""
    frames = [decoded[i] for i in indices]
    return {"decoded": frames, **{mode: [restorers[mode](frame) for frame in frames] for mode in restorers}}


def mean_psnr(outputs: Sequence[np.ndarray], truth: Sequence[np.ndarray], on_luma: bool = True) -> float:
    return float(np.mean([psnr(o, t, on_luma=on_luma) for o, t in zip(outputs, truth, strict=True)]))


def nr_inputs(frames: Sequence[np.ndarray]) -> np.ndarray:
    """(frames, 2): the no-reference model's inputs per frame, blockiness and log high-frequency share."""
    rows = [no_reference_features(frame) for frame in frames]
    return np.array([[block, math.log(max(hf, 1e-3))] for block, hf in rows], np.float64).reshape(-1, 2)


@dataclass(frozen=True)
class ClipSample:
    """One encoded clip as the fit sees it: its bits, each mode's Y-PSNR, and every decoded frame's NR inputs."""

    codec: str
    level: int
    bpp: float  # bitstream bits per pixel
    psnr_y: dict[str, float]  # decoded, mild, strong: mean over the scored frames
    features: np.ndarray  # (frames, 2), from nr_inputs

    def loss(self, mode: str) -> float:
        """dB of Y-PSNR given up against the oracle by choosing ``mode``."""
        return max(self.psnr_y[m] for m in MODES) - self.psnr_y[mode]


def measure_clip(
    clean: Sequence[np.ndarray], encoded: EncodedClip, restorers: dict[str, Restorer], indices: Sequence[int]
) -> ClipSample:
    outputs = mode_outputs(encoded.decoded, restorers, indices)
    truth = [clean[i] for i in indices]
    psnr_y = {name: mean_psnr(frames, truth) for name, frames in outputs.items()}
    return ClipSample(encoded.codec, encoded.level, encoded.bits_per_pixel(), psnr_y, nr_inputs(encoded.decoded))


# ---------------------------------------------------------------------------------------------- fits


def least_loss_cut(values: np.ndarray, loss_strong: np.ndarray, loss_mild: np.ndarray) -> tuple[float, float]:
    """(cut, total loss): the cut with the least total loss when samples below it go strong and the rest mild.

    Candidates are midpoints between neighbouring distinct values, and below / above all of them.
    """
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    # total loss when the k lowest samples go strong, k = 0..n
    strong_first = np.concatenate([[0.0], np.cumsum(loss_strong[order])])
    mild_rest = loss_mild.sum() - np.concatenate([[0.0], np.cumsum(loss_mild[order])])
    bounds = np.concatenate([[ordered[0] - 1.0], (ordered[:-1] + ordered[1:]) / 2, [ordered[-1] + 1.0]])
    splittable = np.concatenate([[True], ordered[:-1] < ordered[1:], [True]])
    total = np.where(splittable, strong_first + mild_rest, np.inf)
    best = int(np.argmin(total))
    return float(bounds[best]), float(total[best])


def fit_threshold(bpp: np.ndarray, strong: np.ndarray) -> tuple[float, float]:
    """Threshold on bpp (strong below it) with the best *accuracy* (the previous objective, kept for comparison);
    geometric midpoint between samples."""
    order = np.sort(np.unique(bpp))
    candidates = np.sqrt(order[:-1] * order[1:])
    accuracy = [float(np.mean((bpp < t) == strong)) for t in candidates]
    best = int(np.argmax(accuracy))
    return float(candidates[best]), accuracy[best]


def fit_logistic(
    x: np.ndarray, y: np.ndarray, steps: int = 4000, lr: float = 0.5, weights: np.ndarray | None = None
) -> np.ndarray:
    """Gradient-descent logistic regression on standardised features (bias column kept), optionally weighted."""
    weights = np.ones(len(y)) if weights is None else weights
    mean, std = x[:, 1:].mean(axis=0), x[:, 1:].std(axis=0) + 1e-9
    z = np.concatenate([x[:, :1], (x[:, 1:] - mean) / std], axis=1)
    w = np.zeros(z.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-z @ w))
        w -= lr * z.T @ (weights * (p - y)) / weights.sum()
    return _raw_units(w, mean, std)


def _raw_units(w: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Weights on standardised features -> the same linear rule on raw features."""
    raw = np.empty_like(w)
    raw[1:] = w[1:] / std
    raw[0] = w[0] - np.sum(w[1:] * mean / std)
    return raw


def fit_bpp_threshold(samples: Sequence[ClipSample]) -> float:
    """Bits per pixel below which strong loses the fewest dB (H.264 clips: a hint describes an encoded stream)."""
    h264 = [s for s in samples if s.codec == "h264"]
    bpp = np.array([s.bpp for s in h264])
    return least_loss_cut(bpp, *_losses(h264))[0]


def time_in_strong(share: np.ndarray, votes: int) -> np.ndarray:
    """Share of a steady stream's time the engine spends in strong when each estimate wants strong with probability
    ``share``, independently, and it switches after ``votes`` agreeing estimates (``HYSTERESIS_VOTES``).

    Renewal argument: it leaves a mode after a run of ``votes`` estimates for the other one; a run of n events of
    probability p takes sum(p^-k, k = 1..n) estimates on average. Multiplied through by (s q)^n to stay finite.
    """
    strong, mild = share, 1.0 - share
    powers = np.arange(votes)
    stays_strong = strong**votes * np.sum(mild[..., None] ** powers, axis=-1)
    stays_mild = mild**votes * np.sum(strong[..., None] ** powers, axis=-1)
    return stays_strong / (stays_strong + stays_mild)


@dataclass(frozen=True)
class FrameSamples:
    """Every decoded frame as a possible estimate frame (an estimate lands wherever the 30-frame cadence falls:
    mostly P/B-frames, the I-frame at its share), grouped by clip and judged against its clip's oracle."""

    x: np.ndarray  # (n, 3): 1, blockiness, log hf share
    clip_of: np.ndarray  # (n,): the clip each frame belongs to
    loss_strong: np.ndarray  # (clips,): dB lost by strong on the clip
    loss_mild: np.ndarray  # (clips,)

    @classmethod
    def of(cls, samples: Sequence[ClipSample]) -> FrameSamples:
        strong, mild = _losses(samples)
        return cls(
            x=np.concatenate([np.column_stack([np.ones(len(s.features)), s.features]) for s in samples]),
            clip_of=np.repeat(np.arange(len(samples)), [len(s.features) for s in samples]),
            loss_strong=strong,
            loss_mild=mild,
        )

    @property
    def clips(self) -> int:
        return len(self.loss_strong)

    @property
    def strong_wins(self) -> np.ndarray:
        """(n,): 1.0 where the frame's clip is better off strong (the oracle's label), else 0.0."""
        return (self.loss_mild > self.loss_strong).astype(np.float64)[self.clip_of]

    @property
    def frame_counts(self) -> np.ndarray:
        return np.bincount(self.clip_of, minlength=self.clips).astype(np.float64)

    def strong_share(self, strong: np.ndarray) -> np.ndarray:
        """(clips,): the share of each clip's frames with a strong estimate."""
        return np.bincount(self.clip_of, strong, self.clips) / self.frame_counts

    def db_lost(self, w: np.ndarray, votes: int) -> float:
        """Mean dB lost per clip in a steady stream when each estimate goes strong where w . x >= 0."""
        time_strong = time_in_strong(self.strong_share(self.x @ w >= 0), votes)
        return float(np.mean(time_strong * self.loss_strong + (1.0 - time_strong) * self.loss_mild))

    def db_lost_by_cut(self, values: np.ndarray, cuts: np.ndarray, votes: int) -> np.ndarray:
        """``db_lost`` of "strong where value < cut", for each of the ascending ``cuts`` at once."""
        first_cut = np.searchsorted(cuts, values, side="right")  # a frame goes strong from this cut on
        cells = np.bincount(self.clip_of * (len(cuts) + 1) + first_cut, minlength=self.clips * (len(cuts) + 1))
        strong = np.cumsum(cells.reshape(self.clips, len(cuts) + 1), axis=1)[:, : len(cuts)]
        time_strong = time_in_strong(strong / self.frame_counts[:, None], votes)
        lost = time_strong * self.loss_strong[:, None] + (1.0 - time_strong) * self.loss_mild[:, None]
        return lost.mean(axis=0)


def fit_nr_rule(frames: FrameSamples, votes: int, angles: int = 360, cuts: int = 400) -> np.ndarray:
    """(bias, w_block, w_hf) of the no-reference rule with the least dB lost in a steady stream.

    The loss is the engine's: each clip's estimates (every frame is a possible one) go strong or mild, the engine
    spends ``time_in_strong`` of the stream in strong after its ``votes``-estimate hysteresis, and loses that share
    of the clip's strong loss and the rest of its mild loss. A linear rule on two features is a direction and a
    cut: each direction (``angles`` of them, on standardised features) is tried with ``cuts`` cuts (quantiles),
    the best pair wins. The signs are fixed by what compression does: blocking argues for strong, high-frequency
    detail against it (w_block >= 0 >= w_hf); left free, the fit on pans over clean stills weighted detail towards
    strong and called a noisy but clean CRF 16 frame strong. The scale (how steep p(strong) is) comes from a
    logistic regression weighted by what a wrong choice costs, so p(strong) stays a readable score.
    """
    features = frames.x[:, 1:]
    mean, std = features.mean(axis=0), features.std(axis=0) + 1e-9
    z = (features - mean) / std
    best_loss, best = math.inf, np.zeros(3)
    for theta in np.linspace(-math.pi / 2, 0.0, angles):
        direction = np.array([math.cos(theta), math.sin(theta)])  # (>= 0 on blocking, <= 0 on detail)
        # strong when cut + direction . z >= 0, i.e. when -direction . z <= cut
        values = -(z @ direction)
        candidates = np.concatenate([[values.min() - 1.0], np.quantile(values, np.linspace(0, 1, cuts)),
                                     [values.max() + 1.0]])
        lost = frames.db_lost_by_cut(values, candidates, votes)
        k = int(np.argmin(lost))
        if lost[k] < best_loss:
            best_loss, best = float(lost[k]), np.array([candidates[k], *direction])
    standardised = _standardised(fit_cost_weighted_logistic(frames), mean, std)
    return _raw_units(best * np.linalg.norm(standardised[1:]), mean, std)


def first_estimate_values(samples: Sequence[ClipSample], w: Sequence[float]) -> np.ndarray:
    """(clips,): w_block x blockiness + w_hf x log hf share of each clip's first frame (its I-frame)."""
    return np.array([float(s.features[0] @ np.asarray(w[1:])) for s in samples])


def fit_first_bias(samples: Sequence[ClipSample], w: Sequence[float]) -> float:
    """The bias of a stream's first estimate: with the steady rule's weights, the one losing the fewest dB when the
    first frame (an I-frame, before any hysteresis can help) alone decides each clip's mode.

    An I-frame is coded alone and its features differ from those of the P/B-frames the steady rule mostly sees (on
    the training clips the steady cut called I-frames strong too often), so the same cut misjudges it.
    """
    values = first_estimate_values(samples, w)
    cut, _ = least_loss_cut(-values, *_losses(samples))  # strong where -value < cut, i.e. cut + value > 0
    return cut


def first_estimate_score(samples: Sequence[ClipSample], w: Sequence[float], bias: float) -> RuleScore:
    return _score(samples, (bias + first_estimate_values(samples, w) >= 0).astype(np.float64))


def fit_cost_weighted_logistic(frames: FrameSamples) -> np.ndarray:
    """Logistic regression on the oracle's label, each frame weighted by the dB a wrong choice would lose."""
    at_risk = np.abs(frames.loss_mild - frames.loss_strong)[frames.clip_of] + 1e-12
    return fit_logistic(frames.x, frames.strong_wins, weights=at_risk)


def _standardised(raw: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return np.concatenate([[raw[0] + np.sum(raw[1:] * mean)], raw[1:] * std])


def _losses(samples: Sequence[ClipSample]) -> tuple[np.ndarray, np.ndarray]:
    return np.array([s.loss("strong") for s in samples]), np.array([s.loss("mild") for s in samples])


# ---------------------------------------------------------------------------------------- calibrate


@dataclass(frozen=True)
class CalibrationConfig:
    """What ``calibrate`` synthesizes: ``sequences`` clean sequences of ``frames`` frames from the training stills
    and clip, each encoded at ``crf_draws`` stratified CRFs (18-44) and ``jpeg_draws`` JPEG qualities."""

    sequences: int = 160
    frames: int = STREAM_FRAMES
    keyint: int = KEYINT
    fps: int = STREAM_FPS
    crf_draws: int = 4
    jpeg_draws: int = 1
    score_every: int = SCORE_EVERY
    frame_side: int = FRAME_SIDE
    clip_probability: float = 0.15
    hysteresis_votes: int = 3  # the engine's HYSTERESIS_VOTES (this layer may not import it)
    seed: int = 0


@dataclass(frozen=True)
class RuleScore:
    accuracy: float  # the oracle's mode (or a tie) picked: expected share of clips (of stream time, for NR)
    db_lost: float  # mean over clips


@dataclass(frozen=True)
class AutoModeFit:
    strong_below_bpp: float
    coefficients: tuple[float, float, float]
    first_bias: float  # of the stream's first estimate, with the same weights
    bpp_score: RuleScore
    nr_score: RuleScore
    first_score: RuleScore
    compared: dict[str, RuleScore]  # other rules on the same clips: baselines, accuracy-fitted, shipped constants
    h264_clips: int
    jpeg_clips: int
    frames: int  # decoded H.264 frames the no-reference fit saw
    seconds: float

    def report_lines(self) -> list[str]:
        b, w = self.strong_below_bpp, self.coefficients
        lines = [
            f"{self.h264_clips} H.264 + {self.jpeg_clips} JPEG clips, {self.frames} decoded frames; "
            f"{self.seconds:.0f} s",
            f"STRONG_BELOW_BPP = {b:.4f}   # H.264 clips: accuracy {self.bpp_score.accuracy:.3f}, "
            f"dB lost {self.bpp_score.db_lost:.3f}",
            f"NR_COEFFICIENTS = ({w[0]:.4f}, {w[1]:.4f}, {w[2]:.4f})   # H.264 clips, steady stream: accuracy "
            f"{self.nr_score.accuracy:.3f}, dB lost {self.nr_score.db_lost:.3f}",
            f"NR_FIRST_BIAS = {self.first_bias:.4f}   # H.264 clips, first estimate (I-frame): accuracy "
            f"{self.first_score.accuracy:.3f}, dB lost {self.first_score.db_lost:.3f}",
            "same clips, other rules (accuracy / dB lost):",
        ]
        return lines + [f"  {name}: {s.accuracy:.3f} / {s.db_lost:.3f}" for name, s in self.compared.items()]


def measure_training_clips(
    stills: Sequence[np.ndarray],
    clips: Sequence[Sequence[np.ndarray]],
    restorers: dict[str, Restorer],
    config: CalibrationConfig,
) -> list[ClipSample]:
    rng = np.random.default_rng(config.seed)
    draws = EncodingDraws(config.crf_draws, config.jpeg_draws, config.fps, config.keyint)
    samples = []
    total = config.sequences * (config.crf_draws + config.jpeg_draws)
    with tqdm(total=total, desc="calibrate auto mode", unit="clip") as bar:
        for _ in range(config.sequences):
            clean = clean_sequence(  # a steady pan over a still, or the real clip looped: a stream, not a cut
                stills, clips, config.frame_side, config.frames, rng, config.clip_probability, pan=stream_pan, loop_clips=True
            )
            for encoded in encode_variants(clean, draws, rng):
                indices = scored_frames(len(clean), config.score_every, rng)
                samples.append(measure_clip(clean, encoded, restorers, indices))
                bar.update()
    return samples


def bpp_score(samples: Sequence[ClipSample], threshold: float) -> RuleScore:
    return _score(samples, np.array([float(s.bpp < threshold) for s in samples]))


def nr_score(samples: Sequence[ClipSample], coefficients: Sequence[float], votes: int | None) -> RuleScore:
    """The no-reference rule in a steady stream (``votes``: the engine's hysteresis), or estimate by estimate
    (``votes`` None: as if the engine followed every estimate)."""
    frames = FrameSamples.of(samples)
    share = frames.strong_share(frames.x @ np.asarray(coefficients) >= 0)
    return _score(samples, share if votes is None else time_in_strong(share, votes))


def _score(samples: Sequence[ClipSample], time_strong: np.ndarray) -> RuleScore:
    """Accuracy and dB lost when each clip spends ``time_strong`` (0-1) of its time in strong: expected values."""
    right, lost = [], []
    for sample, strong in zip(samples, time_strong, strict=True):
        tie = abs(sample.psnr_y["strong"] - sample.psnr_y["mild"]) <= TIE_DB + 1e-9
        oracle_strong = sample.psnr_y["strong"] > sample.psnr_y["mild"]
        right.append(1.0 if tie else strong if oracle_strong else 1.0 - strong)
        lost.append(strong * sample.loss("strong") + (1.0 - strong) * sample.loss("mild"))
    return RuleScore(float(np.mean(right)), float(np.mean(lost)))


def fit_auto_mode(
    samples: Sequence[ClipSample],
    votes: int,
    shipped: tuple[float, Sequence[float], float] | None = None,
    seconds: float = 0.0,
) -> AutoModeFit:
    """Both rules fitted on the H.264 clips (a live stream is H.264) on dB lost, the no-reference one in a steady
    stream with ``votes``-estimate hysteresis, then the bias of a stream's first estimate; scored beside the
    baselines, rules fitted the previous way (accuracy, likelihood) and (``shipped``: threshold, coefficients, first
    bias) the engine's current constants, on the same clips, and on the per-frame JPEG clips, which are measured but
    not fitted on."""
    h264 = [s for s in samples if s.codec == "h264"]
    jpeg = [s for s in samples if s.codec == "jpeg"]
    threshold = fit_bpp_threshold(h264)
    frames = FrameSamples.of(h264)
    w = fit_nr_rule(frames, votes)
    first_bias = fit_first_bias(h264, w)
    loss_strong, loss_mild = _losses(h264)
    by_accuracy, _ = fit_threshold(np.array([s.bpp for s in h264]), loss_mild > loss_strong)
    by_likelihood = fit_logistic(frames.x, frames.strong_wins)
    compared = {
        "H.264, always mild": _score(h264, np.zeros(len(h264))),
        "H.264, always strong": _score(h264, np.ones(len(h264))),
        f"H.264, bpp threshold fitted on accuracy ({by_accuracy:.4f})": bpp_score(h264, by_accuracy),
        "H.264, no-reference fitted, estimate by estimate (no hysteresis)": nr_score(h264, w, None),
        "H.264, no-reference logistic weighted by dB at risk": nr_score(
            h264, fit_cost_weighted_logistic(frames), votes
        ),
        "H.264, no-reference logistic on the oracle label": nr_score(h264, by_likelihood, votes),
        "H.264, first estimate with the steady bias": first_estimate_score(h264, w, w[0]),
    }
    if shipped is not None:
        compared[f"H.264, bpp threshold shipped ({shipped[0]})"] = bpp_score(h264, shipped[0])
        compared[f"H.264, no-reference shipped {tuple(shipped[1])}"] = nr_score(h264, shipped[1], votes)
        compared["H.264, first estimate shipped"] = first_estimate_score(h264, shipped[1], shipped[2])
    if jpeg:
        compared["JPEG (not fitted on), always mild"] = _score(jpeg, np.zeros(len(jpeg)))
        compared["JPEG (not fitted on), no-reference fitted"] = nr_score(jpeg, w, votes)
        if shipped is not None:
            compared["JPEG (not fitted on), no-reference shipped"] = nr_score(jpeg, shipped[1], votes)
    return AutoModeFit(
        strong_below_bpp=threshold,
        coefficients=(float(w[0]), float(w[1]), float(w[2])),
        first_bias=first_bias,
        bpp_score=bpp_score(h264, threshold),
        nr_score=nr_score(h264, w, votes),
        first_score=first_estimate_score(h264, w, first_bias),
        compared=compared,
        h264_clips=len(h264),
        jpeg_clips=len(jpeg),
        frames=len(frames.x),
        seconds=seconds,
    )


def calibrate(
    data: Path | None,
    restorers: dict[str, Restorer],
    config: CalibrationConfig = CalibrationConfig(),
    shipped: tuple[float, Sequence[float], float] | None = None,
) -> AutoModeFit:
    """Synthesize stream-like clips from the training stills and clip (never the held-out stills), run the
    engine's modes on them (``restorers``: mild and strong at x1) and fit both rules against the oracle;
    ``shipped`` (threshold, coefficients, first bias) is scored on the same clips for comparison.

    Raises:
        ConfigError: no training data, or no training still large enough for the frame.
    """
    started = time.perf_counter()
    training_set = find_training_set(resolve_data_root(data))
    stills = load_images(training_set.train_stills, config.frame_side + 32)
    if not stills:
        raise ConfigError(f"no training still has both sides >= {config.frame_side + 32} px")
    clips = [frames for frames in (load_images(c, config.frame_side) for c in training_set.clips) if len(frames) > 1]
    samples = measure_training_clips(stills, clips, restorers, config)
    return fit_auto_mode(samples, config.hysteresis_votes, shipped, time.perf_counter() - started)
