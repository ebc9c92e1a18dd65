"""Random training batches as (input, target) float tensors, RGB planar in [0, 1]."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from streamenhance import native
from streamenhance.training.degrade import (
    DegradedSequence,
    clip_sequence,
    degrade,
    degrade_downscaled,
    pan_zoom_sequence,
)


def to_planar(batch: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) BGR uint8 -> (N, 3, H, W) RGB float32 in [0, 1]."""
    rgb = np.ascontiguousarray(batch[..., ::-1].transpose(0, 3, 1, 2))
    return torch.from_numpy(rgb).float().div_(255.0)


def _augment(arrays: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """The same random flip/transpose (8 dihedral variants) on every array of a pair."""
    flip_v, flip_h, transpose = rng.random(3) < 0.5
    out = []
    for a in arrays:
        if flip_v:
            a = a[::-1]
        if flip_h:
            a = a[:, ::-1]
        if transpose:
            a = a.transpose(1, 0, 2)
        out.append(a)
    return out


def from_planar(batch: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) RGB float in [0, 1] -> (N, H, W, 3) BGR uint8, through the engine's native post-processing."""
    planar = batch.detach().to("cpu", torch.float32).contiguous().numpy()
    return np.stack([native.planar_to_bgr(planar[i : i + 1]) for i in range(len(planar))])


class SRPatchSampler:
    """Aligned (LR, HR) patches; by default of MATLAB-bicubic LR (the published "BI" degradation)."""

    def __init__(self, images: list[np.ndarray], scale: int) -> None:
        pairs = []
        for image in tqdm(images, desc=f"bicubic LR x{scale}", unit="img", leave=False):
            h, w = (image.shape[0] // scale) * scale, (image.shape[1] // scale) * scale
            hr = np.ascontiguousarray(image[:h, :w])
            pairs.append((native.resize(hr, (h // scale, w // scale)), hr))
        self._use(pairs, scale)

    @classmethod
    def from_pairs(cls, pairs: list[tuple[np.ndarray, np.ndarray]], scale: int) -> SRPatchSampler:
        """A sampler of given (LR, HR) frame pairs (HR sides = ``scale`` x LR sides), e.g. compressed LR."""
        for lr, hr in pairs:
            if hr.shape[:2] != (lr.shape[0] * scale, lr.shape[1] * scale):
                raise ValueError(f"SR pair: HR {hr.shape[:2]} is not x{scale} of LR {lr.shape[:2]}")
        sampler = cls.__new__(cls)
        sampler._use(pairs, scale)
        return sampler

    def _use(self, pairs: list[tuple[np.ndarray, np.ndarray]], scale: int) -> None:
        self.scale = scale
        self.pairs = pairs
        areas = np.array([lr.shape[0] * lr.shape[1] for lr, _ in pairs], np.float64)
        self.weights = areas / areas.sum()

    def sample(self, batch: int, patch: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.scale
        lrs, hrs = [], []
        for index in rng.choice(len(self.pairs), size=batch, p=self.weights):
            lr, hr = self.pairs[index]
            y = int(rng.integers(0, lr.shape[0] - patch + 1))
            x = int(rng.integers(0, lr.shape[1] - patch + 1))
            pair = [lr[y : y + patch, x : x + patch], hr[s * y : s * (y + patch), s * x : s * (x + patch)]]
            lr_patch, hr_patch = _augment(pair, rng)
            lrs.append(lr_patch)
            hrs.append(hr_patch)
        return to_planar(np.stack(lrs)), to_planar(np.stack(hrs))


@dataclass
class ARPairs:
    degraded: np.ndarray  # (N, S, S, 3) uint8
    clean: np.ndarray
    bits_per_pixel: np.ndarray  # (N,)


Pan = Callable[[np.ndarray, int, int, np.random.Generator], list[np.ndarray]]


def clean_sequence(
    stills: Sequence[np.ndarray],
    clips: Sequence[Sequence[np.ndarray]],
    size: int,
    frames: int,
    rng: np.random.Generator,
    clip_probability: float = 0.15,
    pan: Pan = pan_zoom_sequence,
    loop_clips: bool = False,
) -> list[np.ndarray]:
    """``frames`` clean size x size frames: a window of a real clip, or ``pan`` over a still.

    ``loop_clips`` plays a clip forward and back to ``frames`` first (a short real clip as a long stream).
    """
    if clips and rng.random() < clip_probability:
        clip = clips[int(rng.integers(len(clips)))]
        return clip_sequence(ping_pong(clip, frames) if loop_clips else list(clip), size, frames, rng)
    return pan(stills[int(rng.integers(len(stills)))], size, frames, rng)


def ping_pong(frames: Sequence[np.ndarray], length: int) -> list[np.ndarray]:
    """``frames`` played forward and back until ``length``: a short real clip as a long one, motion kept."""
    cycle = [*frames, *frames[-2:0:-1]]
    return [cycle[i % len(cycle)] for i in range(length)]


def _synthesize(
    make_sequence: Callable[[], DegradedSequence], sequences: int, label: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(degraded, clean, bits per pixel) of ``sequences`` synthesized sequences, frames stacked."""
    degraded, clean, bpp = [], [], []
    for _ in tqdm(range(sequences), desc=label, unit="seq", leave=False):
        sequence = make_sequence()
        degraded += sequence.degraded
        clean += sequence.clean
        bpp += [sequence.bits_per_pixel] * len(sequence.clean)
    return np.stack(degraded), np.stack(clean), np.asarray(bpp, np.float32)


def synthesize_ar_pairs(
    stills: list[np.ndarray],
    clips: list[list[np.ndarray]],
    mode: str,
    sequences: int,
    rng: np.random.Generator,
    size: int = 128,
    frames: int = 6,
    clip_probability: float = 0.15,
) -> ARPairs:
    """Encode ``sequences`` short clips (pans/zooms over stills, windows of real clips) and decode them."""

    def make_sequence() -> DegradedSequence:
        return degrade(clean_sequence(stills, clips, size, frames, rng, clip_probability), mode, rng)

    return ARPairs(*_synthesize(make_sequence, sequences, f"synthesize {mode}"))


@dataclass
class CompressedSRPairs:
    decoded: np.ndarray  # (N, S, S, 3) uint8: decoded LR frames
    hr: np.ndarray  # (N, scale * S, scale * S, 3) uint8: the clean HR frames
    bits_per_pixel: np.ndarray  # (N,) per LR pixel


def synthesize_sr_pairs(
    stills: list[np.ndarray],
    clips: list[list[np.ndarray]],
    mode: str,
    sequences: int,
    rng: np.random.Generator,
    scale: int = 2,
    hr_size: int = 160,
    frames: int = 6,
    clip_probability: float = 0.15,
) -> CompressedSRPairs:
    """Clean HR sequences (as for AR) -> MATLAB-bicubic x1/``scale`` -> H.264/JPEG of ``mode`` -> decoded LR."""

    def make_sequence() -> DegradedSequence:
        views = clean_sequence(stills, clips, hr_size, frames, rng, clip_probability)
        return degrade_downscaled(views, scale, mode, rng)

    decoded, hr, bpp = _synthesize(make_sequence, sequences, f"synthesize {mode} x{scale}")
    return CompressedSRPairs(decoded, hr, bpp)


def restore_frames(model: nn.Module, frames: np.ndarray, multiple_of: int = 4, batch: int = 32) -> np.ndarray:
    """Run a frozen x1 restoration net over (N, H, W, 3) BGR uint8 frames as the engine does (replicate
    padding to ``multiple_of``, output clamped to [0, 1]); returns BGR uint8 frames of the same shape."""
    height, width = frames.shape[1:3]
    pad_h, pad_w = -height % multiple_of, -width % multiple_of
    out = []
    with torch.no_grad():
        for start in tqdm(range(0, len(frames), batch), desc="frozen AR", unit="batch", leave=False):
            x = to_planar(frames[start : start + batch])
            padded = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else x
            out.append(from_planar(model(padded)[..., :height, :width]))
    return np.concatenate(out)


class ARPatchSampler:
    """Random crops of (decoded, clean) frame pairs."""

    def __init__(self, pairs: ARPairs) -> None:
        self.pairs = pairs

    def sample(self, batch: int, patch: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        size = self.pairs.clean.shape[1]
        xs, ys = [], []
        for index in rng.integers(0, len(self.pairs.clean), size=batch):
            y, x = (int(v) for v in rng.integers(0, size - patch + 1, size=2))
            pair = [self.pairs.degraded[index, y : y + patch, x : x + patch], self.pairs.clean[index, y : y + patch, x : x + patch]]
            a, b = _augment(pair, rng)
            xs.append(a)
            ys.append(b)
        return to_planar(np.stack(xs)), to_planar(np.stack(ys))
