"""Random training batches as (input, target) float tensors, RGB planar in [0, 1]."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from streamenhance import native
from streamenhance.training.degrade import DegradedSequence, clip_sequence, degrade, pan_zoom_sequence


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


class SRPatchSampler:
    """HR patches and their MATLAB-bicubic LR (the published "BI" degradation), aligned per pixel."""

    def __init__(self, images: list[np.ndarray], scale: int) -> None:
        self.scale = scale
        self.pairs: list[tuple[np.ndarray, np.ndarray]] = []
        for image in tqdm(images, desc=f"bicubic LR x{scale}", unit="img", leave=False):
            h, w = (image.shape[0] // scale) * scale, (image.shape[1] // scale) * scale
            hr = np.ascontiguousarray(image[:h, :w])
            self.pairs.append((native.resize(hr, (h // scale, w // scale)), hr))
        areas = np.array([lr.shape[0] * lr.shape[1] for lr, _ in self.pairs], np.float64)
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
    degraded, clean, bpp = [], [], []
    for _ in tqdm(range(sequences), desc=f"synthesize {mode}", unit="seq", leave=False):
        if clips and rng.random() < clip_probability:
            clip = clips[int(rng.integers(len(clips)))]
            views = clip_sequence(clip, size, frames, rng)
        else:
            views = pan_zoom_sequence(stills[int(rng.integers(len(stills)))], size, frames, rng)
        sequence: DegradedSequence = degrade(views, mode, rng)
        degraded += sequence.degraded
        clean += sequence.clean
        bpp += [sequence.bits_per_pixel] * len(views)
    return ARPairs(np.stack(degraded), np.stack(clean), np.asarray(bpp, np.float32))


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
