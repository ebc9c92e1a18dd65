"""Degradation synthesis: clean sequences (pans/zooms over stills, real clips) -> H.264 or JPEG -> decoded.

Each sample records its bits per pixel so auto-mode rules can be fitted and validated on it.
"""

from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from streamenhance import native
from streamenhance.io import encode_h264, read_frames

# CRF ranges per mode: mild = high-bitrate streams, strong = low-bitrate streams.
CRF_RANGES: dict[str, tuple[int, int]] = {"mild": (18, 30), "strong": (31, 44)}
JPEG_QUALITY_RANGES: dict[str, tuple[int, int]] = {"mild": (45, 90), "strong": (8, 40)}
PRESETS = ("ultrafast", "veryfast", "fast", "medium")
RESAMPLERS = (Image.Resampling.BICUBIC, Image.Resampling.BOX, Image.Resampling.LANCZOS)


@dataclass
class DegradedSequence:
    clean: list[np.ndarray]  # BGR uint8 frames
    degraded: list[np.ndarray]
    bits_per_pixel: float
    codec: str  # "h264:crf=..,preset=.." or "jpeg:q=.."


def pan_zoom_sequence(image: np.ndarray, size: int, frames: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``frames`` views of ``image`` (size x size) along a random pan with optional zoom and downscale.

    The source window is 1x-2.5x the output size, so the views are also randomly downscaled, with a
    random resampling filter.
    """
    height, width = image.shape[:2]
    pil = Image.fromarray(np.ascontiguousarray(image[:, :, ::-1]))
    zoom = float(rng.uniform(0.92, 1.08)) if rng.random() < 0.4 else 1.0
    # The largest view along the zoom must fit inside the image, with room left to pan.
    max_window = min(height, width) / 1.15 / max(1.0, zoom ** (frames - 1))
    if max_window < size:
        zoom, max_window = 1.0, min(height, width) / 1.15
    window = float(rng.uniform(size, max(size, min(2.5 * size, max_window))))
    window = min(window, float(min(height, width)))
    velocity = rng.uniform(-0.03, 0.03, size=2) * window
    end_window = window * zoom ** (frames - 1)
    reach = (max(window, end_window) / 2.0) + np.abs(velocity) * frames
    cy = float(rng.uniform(min(reach[0], height / 2), max(height - reach[0], height / 2)))
    cx = float(rng.uniform(min(reach[1], width / 2), max(width - reach[1], width / 2)))
    resample = RESAMPLERS[int(rng.integers(len(RESAMPLERS)))]
    views = []
    for t in range(frames):
        half = window * zoom**t / 2.0
        y, x = cy + velocity[0] * t, cx + velocity[1] * t
        box = (
            float(np.clip(x - half, 0, width - 2 * half)),
            float(np.clip(y - half, 0, height - 2 * half)),
        )
        box4 = (box[0], box[1], box[0] + 2 * half, box[1] + 2 * half)
        views.append(np.asarray(pil.resize((size, size), resample, box=box4))[:, :, ::-1].copy())
    return views


def clip_sequence(frames: list[np.ndarray], size: int, length: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A random size x size window over ``length`` consecutive real frames (real motion)."""
    start = int(rng.integers(0, max(1, len(frames) - length + 1)))
    chosen = frames[start : start + length]
    height, width = chosen[0].shape[:2]
    y = int(rng.integers(0, height - size + 1))
    x = int(rng.integers(0, width - size + 1))
    return [f[y : y + size, x : x + size].copy() for f in chosen]


def degrade(clean: list[np.ndarray], mode: str, rng: np.random.Generator, jpeg_probability: float = 0.15):
    """H.264 (random CRF in the mode's range, random preset) or, sometimes, per-frame JPEG."""
    pixels = len(clean) * clean[0].shape[0] * clean[0].shape[1]
    if rng.random() < jpeg_probability:
        quality = int(rng.integers(*JPEG_QUALITY_RANGES[mode], endpoint=True))
        degraded, bits = [], 0
        for frame in clean:
            data = _jpeg_bytes(frame, quality)
            bits += 8 * len(data)
            degraded.append(np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))[:, :, ::-1].copy())
        return DegradedSequence(clean, degraded, bits / pixels, f"jpeg:q={quality}")
    crf = int(rng.integers(*CRF_RANGES[mode], endpoint=True))
    preset = PRESETS[int(rng.integers(len(PRESETS)))]
    data = encode_h264(clean, crf=crf, preset=preset)
    degraded = list(read_frames(data))
    return DegradedSequence(clean, degraded, 8 * len(data) / pixels, f"h264:crf={crf},preset={preset}")


def degrade_downscaled(clean: list[np.ndarray], scale: int, mode: str, rng: np.random.Generator) -> DegradedSequence:
    """Compressed SR pairs: HR frames -> MATLAB-bicubic x1/``scale`` (the native kernel, as evaluation
    does) -> ``degrade`` (H.264 or JPEG). ``degraded`` holds the decoded LR frames, ``clean`` the HR ones,
    ``bits_per_pixel`` is per LR pixel (what the stream spends).

    Raises:
        ValueError: a frame side is not a multiple of ``2 * scale`` (H.264 yuv420p needs even LR sides).
    """
    height, width = clean[0].shape[:2]
    if height % (2 * scale) or width % (2 * scale):
        raise ValueError(f"degrade_downscaled: expected sides divisible by {2 * scale}, got {height}x{width}")
    low = [native.resize(frame, (height // scale, width // scale)) for frame in clean]
    return dataclasses.replace(degrade(low, mode, rng), clean=list(clean))


def _jpeg_bytes(frame: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(frame[:, :, ::-1])).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
