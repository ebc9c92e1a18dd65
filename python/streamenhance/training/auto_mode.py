"""Fit the auto-mode rules on synthesized *training* clips: a bits-per-pixel threshold and a
logistic model on no-reference features, each separating the mild from the strong CRF ranges."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamenhance.metrics import no_reference_features
from streamenhance.training.images import find_training_set, load_images, resolve_data_root
from streamenhance.training.samplers import synthesize_ar_pairs

FRAME_SIDE = 256  # larger than training patches: bits per pixel depend on frame size


@dataclass(frozen=True)
class AutoModeFit:
    strong_below_bpp: float
    bpp_accuracy: float
    coefficients: tuple[float, float, float]
    nr_accuracy: float
    frames: int


def _features(frames: np.ndarray) -> np.ndarray:
    rows = [no_reference_features(frame) for frame in frames]
    return np.array([[1.0, block, math.log(max(hf, 1e-3))] for block, hf in rows])


def fit_threshold(bpp: np.ndarray, strong: np.ndarray) -> tuple[float, float]:
    """Threshold on bpp (strong below it) with the best accuracy; geometric midpoint between samples."""
    order = np.sort(np.unique(bpp))
    candidates = np.sqrt(order[:-1] * order[1:])
    accuracy = [float(np.mean((bpp < t) == strong)) for t in candidates]
    best = int(np.argmax(accuracy))
    return float(candidates[best]), accuracy[best]


def fit_logistic(x: np.ndarray, y: np.ndarray, steps: int = 4000, lr: float = 0.5) -> np.ndarray:
    """Plain gradient-descent logistic regression on standardised features (bias column kept)."""
    mean, std = x[:, 1:].mean(axis=0), x[:, 1:].std(axis=0) + 1e-9
    z = np.concatenate([x[:, :1], (x[:, 1:] - mean) / std], axis=1)
    w = np.zeros(z.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-z @ w))
        w -= lr * z.T @ (p - y) / len(y)
    # back to raw feature units
    raw = np.empty_like(w)
    raw[1:] = w[1:] / std
    raw[0] = w[0] - np.sum(w[1:] * mean / std)
    return raw


def calibrate(data: Path | None, sequences: int, seed: int = 0) -> AutoModeFit:
    training_set = find_training_set(resolve_data_root(data))
    stills = load_images(training_set.train_stills, FRAME_SIDE + 32)
    clips = [load_images(c, FRAME_SIDE) for c in training_set.clips]
    rng = np.random.default_rng(seed)
    groups = {mode: synthesize_ar_pairs(stills, clips, mode, sequences, rng, size=FRAME_SIDE, frames=4) for mode in ("mild", "strong")}
    bpp = np.concatenate([groups[m].bits_per_pixel for m in groups])
    strong = np.concatenate([np.full(len(groups[m].bits_per_pixel), m == "strong") for m in groups])
    threshold, bpp_accuracy = fit_threshold(bpp, strong)
    features = np.concatenate([_features(groups[m].degraded) for m in groups])
    w = fit_logistic(features, strong.astype(np.float64))
    nr_accuracy = float(np.mean(((features @ w) > 0) == strong))
    return AutoModeFit(threshold, bpp_accuracy, (float(w[0]), float(w[1]), float(w[2])), nr_accuracy, len(strong))
