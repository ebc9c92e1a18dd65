"""Video evaluation: SR of H.264-compressed frames, x1 artifact removal, and temporal stability.

Clean HR clips are Vid4 ``calendar`` and deterministic pans across evaluation stills (evaluation only; never
training data). Every metric is on Y (MATLAB ``rgb2ycbcr``) with ``shave`` pixels cut from each border.

* Compressed SR: HR -> MATLAB-bicubic x1/2 -> libx264 at each CRF -> decode -> method -> vs clean HR.
* Artifact removal (x1): HR -> libx264 at each CRF -> decode -> method -> vs clean HR.
* Temporal stability: ``tmad`` = mean absolute frame-to-frame difference of Y; a method's *excess* is its
  output's tmad minus the ground truth's (> 0: motion energy that is not in the scene, i.e. flicker;
  < 0: detail lost, which also removes motion). The *temporal error* mean |dOut - dGT| counts both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from streamenhance import native
from streamenhance.errors import ConfigError
from streamenhance.evaluation.protocol import Method, NamedMethod, Stopwatch, Timing, modcrop
from streamenhance.io import encode_h264, read_frames, read_image
from streamenhance.metrics import luma, psnr, shave, ssim

CALENDAR_FOLDER = "eval/Vid4_calendar"
CRFS: tuple[int, ...] = (23, 28, 33, 38)
PRESET = "veryfast"  # the engine's own encoder preset; the encode is deterministic for a given thread count
FPS = 25
# Deterministic pans across eval stills: (name, set folder, file stem, window (h, w), step per frame (dy, dx)).
# ppt3 is screen content (slides), the kind of input a game/desktop stream carries.
PAN_CLIPS = {"pan_ppt3": ("eval/Set14/HR", "ppt3", (360, 480), (1, 2))}


@dataclass(frozen=True)
class Clip:
    """Clean BGR uint8 frames, all the same size."""

    name: str
    frames: list[np.ndarray]
    fps: int = FPS

    @property
    def hw(self) -> tuple[int, int]:
        return self.frames[0].shape[:2]


def load_calendar(data_root: Path, limit: int | None = None) -> Clip:
    """Vid4 ``calendar`` (720x576 PNG frames) from ``<data>/eval/Vid4_calendar``.

    Raises:
        ConfigError: the folder has no frames.
    """
    folder = data_root / CALENDAR_FOLDER
    paths = sorted(folder.glob("*.png"))[:limit]
    if not paths:
        raise ConfigError(f"no Vid4 calendar frames under {folder}")
    return Clip("Vid4_calendar", [read_image(p) for p in paths])


def pan_clip(name: str, image: np.ndarray, window: tuple[int, int], step: tuple[int, int], frames: int) -> Clip:
    """A camera pan: a ``window`` cropped at ``t * step`` for t = 0 .. frames-1 (exact integer shifts).

    Raises:
        ConfigError: the pan leaves the image or the window has odd sides (H.264 yuv420p).
    """
    h, w = window
    last_y, last_x = (frames - 1) * step[0], (frames - 1) * step[1]
    if h % 2 or w % 2:
        raise ConfigError(f"pan window: expected even sides, got {h}x{w}")
    if image.ndim != 3 or last_y + h > image.shape[0] or last_x + w > image.shape[1]:
        raise ConfigError(f"pan {name}: expected a BGR image of at least {last_y + h}x{last_x + w}, got {image.shape}")
    crops = [
        np.ascontiguousarray(image[t * step[0] : t * step[0] + h, t * step[1] : t * step[1] + w]) for t in range(frames)
    ]
    return Clip(name, crops)


def load_clips(data_root: Path, names: Sequence[str], frames: int | None = None) -> list[Clip]:
    """The named clips: ``calendar`` (Vid4) and the ``PAN_CLIPS`` (20 frames unless ``frames``)."""
    clips = []
    for name in names:
        if name in ("calendar", "Vid4_calendar"):
            clips.append(load_calendar(data_root, frames))
        elif name in PAN_CLIPS:
            folder, stem, window, step = PAN_CLIPS[name]
            image = read_image(data_root / folder / f"{stem}.png")
            clips.append(pan_clip(name, image, window, step, frames or 20))
        else:
            raise ConfigError(f"clip: expected one of calendar, {', '.join(PAN_CLIPS)}, got {name!r}")
    return clips


# ------------------------------------------------------------------------------------------- metrics


def tmad(frames: Sequence[np.ndarray], border: int = 0) -> float:
    """Mean absolute frame-to-frame difference of Y (raw values for gray), ``border`` shaved; 0 for one frame."""
    ys = [shave(luma(f), border) for f in frames]
    if len(ys) < 2:
        return 0.0
    return float(np.mean([np.abs(b - a).mean() for a, b in zip(ys, ys[1:])]))


def temporal_error(output: Sequence[np.ndarray], truth: Sequence[np.ndarray], border: int = 0) -> float:
    """Mean |(out_t - out_t-1) - (gt_t - gt_t-1)| on Y: changes over time that the scene does not have."""
    if len(output) != len(truth):
        raise ValueError(f"temporal_error: {len(output)} output frames vs {len(truth)} ground-truth frames")
    out = [shave(luma(f), border) for f in output]
    gt = [shave(luma(f), border) for f in truth]
    if len(out) < 2:
        return 0.0
    return float(np.mean([np.abs((o1 - o0) - (g1 - g0)).mean() for o0, o1, g0, g1 in zip(out, out[1:], gt, gt[1:])]))


@dataclass
class ClipScore:
    """A method's output on one clip, against the clean frames.

    Attributes:
        psnr_y / ssim_y: means over the frames (Y, ``border`` shaved).
        tmad_excess: tmad(output) - tmad(ground truth).
        temporal_error: see ``temporal_error``.
        ms_median / cpu_ms_median: median wall / process-CPU ms per frame (after one untimed warm-up call).
    """

    psnr_y: float
    ssim_y: float
    tmad_output: float
    tmad_truth: float
    tmad_excess: float
    temporal_error: float
    ms_median: float
    cpu_ms_median: float
    per_frame_psnr: list[float] = field(default_factory=list)


def run_on_frames(
    method: Method, inputs: Sequence[np.ndarray], out_hw: tuple[int, int]
) -> tuple[list[np.ndarray], Timing]:
    """Apply ``method`` to each frame; returns the outputs and their timing (after one warm-up call)."""
    method(inputs[0], out_hw)
    outputs, watches = [], {}
    for index, frame in enumerate(inputs):
        with Stopwatch() as watches[str(index)]:
            outputs.append(method(frame, out_hw))
    return outputs, Timing.from_watches(watches, {str(i): f.shape[:2] for i, f in enumerate(inputs)}, warmup=True)


def score_clip(outputs: Sequence[np.ndarray], truth: Sequence[np.ndarray], border: int, timing: Timing) -> ClipScore:
    """PSNR/SSIM and temporal metrics of ``outputs`` against the clean ``truth`` frames."""
    for out, gt in zip(outputs, truth, strict=True):
        if out.shape[:2] != gt.shape[:2]:
            raise ValueError(f"output frame {out.shape[:2]} vs ground truth {gt.shape[:2]}")
    psnrs = [round(psnr(o, g, border=border), 4) for o, g in zip(outputs, truth)]
    ssims = [ssim(o, g, border=border) for o, g in zip(outputs, truth)]
    out_tmad, gt_tmad = tmad(outputs, border), tmad(truth, border)
    return ClipScore(
        psnr_y=float(np.mean(psnrs)),
        ssim_y=float(np.mean(ssims)),
        tmad_output=out_tmad,
        tmad_truth=gt_tmad,
        tmad_excess=out_tmad - gt_tmad,
        temporal_error=temporal_error(outputs, truth, border),
        ms_median=timing.ms_median,
        cpu_ms_median=timing.cpu_ms_median,
        per_frame_psnr=[float(p) for p in psnrs],
    )


# ------------------------------------------------------------------------------------------- H.264


@dataclass(frozen=True)
class Encoded:
    """A clip encoded with libx264 at one CRF and decoded back."""

    crf: int
    frames: list[np.ndarray]
    kbps: float
    bits_per_pixel: float


def h264_roundtrip(frames: Sequence[np.ndarray], crf: int, fps: int = FPS, preset: str = PRESET) -> Encoded:
    """Encode BGR frames to H.264 (yuv420p, ``crf``) in memory and decode them.

    Raises:
        MediaError: the encoder or decoder failed; ValueError when frames are lost.
    """
    data = encode_h264(frames, fps, crf=crf, preset=preset)
    decoded = list(read_frames(data))
    if len(decoded) != len(frames):
        raise ValueError(f"H.264 round trip at CRF {crf}: {len(frames)} frames in, {len(decoded)} out")
    h, w = frames[0].shape[:2]
    bits = len(data) * 8
    return Encoded(crf, decoded, bits * fps / len(frames) / 1000.0, bits / (len(frames) * h * w))


def downscale(frames: Sequence[np.ndarray], scale: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(HR modcropped to ``scale``, LR by MATLAB bicubic) of each frame."""
    hr = [modcrop(f, scale) for f in frames]
    lr = [native.resize(f, (f.shape[0] // scale, f.shape[1] // scale)) for f in hr]
    return hr, lr


@dataclass
class VideoRecord:
    """One method on one clip under one condition (a CRF, or clean input for the temporal test)."""

    clip: str
    test: str  # "compressed_sr" | "artifact_removal" | "temporal"
    scale: int
    crf: int | None
    kbps: float | None
    method: str
    kind: str
    params: int | None
    score: ClipScore
    input_hw: tuple[int, int]


def _evaluate_inputs(
    clip: Clip,
    test: str,
    scale: int,
    inputs: Sequence[np.ndarray],
    truth: Sequence[np.ndarray],
    methods: Sequence[NamedMethod],
    encoded: Encoded | None,
    border: int,
) -> list[VideoRecord]:
    records = []
    label = f"{clip.name} {test} x{scale}" + (f" CRF {encoded.crf}" if encoded else "")
    for vm in tqdm(methods, desc=label, unit="method", leave=False):
        outputs, timing = run_on_frames(vm.method, inputs, truth[0].shape[:2])
        records.append(
            VideoRecord(
                clip=clip.name,
                test=test,
                scale=scale,
                crf=encoded.crf if encoded else None,
                kbps=round(encoded.kbps, 1) if encoded else None,
                method=vm.name,
                kind=vm.kind,
                params=vm.params,
                score=score_clip(outputs, truth, border, timing),
                input_hw=tuple(inputs[0].shape[:2]),
            )
        )
    return records


def compressed_sr(
    clip: Clip, methods: Sequence[NamedMethod], crfs: Sequence[int] = CRFS, scale: int = 2
) -> list[VideoRecord]:
    """SR of the decoded LR stream at each CRF (shave ``scale``); ``methods`` map LR frames to HR frames."""
    truth, low = downscale(clip.frames, scale)
    records = []
    for crf in crfs:
        encoded = h264_roundtrip(low, crf, clip.fps)
        records += _evaluate_inputs(clip, "compressed_sr", scale, encoded.frames, truth, methods, encoded, border=scale)
    return records


def artifact_removal(clip: Clip, methods: Sequence[NamedMethod], crfs: Sequence[int] = CRFS) -> list[VideoRecord]:
    """x1 restoration of the full-resolution stream decoded at each CRF (no shave: same-size restorers)."""
    records = []
    for crf in crfs:
        encoded = h264_roundtrip(clip.frames, crf, clip.fps)
        records += _evaluate_inputs(
            clip, "artifact_removal", 1, encoded.frames, clip.frames, methods, encoded, border=0
        )
    return records


def temporal_stability(clip: Clip, methods: Sequence[NamedMethod], scale: int) -> list[VideoRecord]:
    """SR of the clean (uncompressed) MATLAB-bicubic LR frames; PSNR and flicker against HR (shave ``scale``)."""
    truth, low = downscale(clip.frames, scale)
    return _evaluate_inputs(clip, "temporal", scale, low, truth, methods, None, border=scale)


def identity_method(image: np.ndarray, hr_hw: tuple[int, int]) -> np.ndarray:
    """The decoded frame itself (the baseline of artifact removal)."""
    if image.shape[:2] != tuple(hr_hw):
        raise ValueError(f"identity: input {image.shape[:2]} is not the output size {hr_hw}")
    return image
