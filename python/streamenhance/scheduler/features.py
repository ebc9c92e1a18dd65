"""Predictor inputs: one row per (network stage of a stream, device, co-located load).

Columns (before standardisation):

* model: is_sr, tier index / 3, log10 params, log10 MACs per output pixel, log2 net scale, AR mode
  one-hot (mild, strong);
* frame: log10 input pixels, log10 net output pixels, fps / 60, log10 MACs per frame;
* device: is_cuda, log2 compute units, log10 memory bandwidth (GB/s), log10 conv MACs/s, log10 memory
  (MB), then a one-hot of the device class (the vocabulary of the training data, plus "other");
* co-location: log1p(other streams on the device), log10(1 + 10 x others' MACs/s / device MACs/s),
  and that ratio itself (capped at ``MAX_COLOAD``; others that run back to back are encoded at the
  cap, see ``SATURATING_RATIO``);
* roofline: log(MACs per frame / device MACs/s, in ms): the network predicts log-latency as this
  plus a learned correction, which keeps it sane on combinations it has not seen.

Column groups (``MODEL_COLUMNS``, ``DEVICE_COLUMNS``, ``static_columns``) say which inputs each part
of the predictor sees: a stage's solo cost must not depend on its own fps or on the co-load.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from streamenhance.scheduler.devices import DeviceInfo
from streamenhance.scheduler.variants import ModelVariant

BASE_COLUMNS = (
    "is_sr", "tier", "log_params", "log_macs_px", "log2_scale", "mode_mild", "mode_strong",
    "log_in_px", "log_out_px", "fps", "log_macs_frame",
    "is_cuda", "log2_units", "log_bandwidth", "log_dev_macs", "log_memory",
    "log_others", "log_coload", "coload_ratio", "roofline",
)
ROOFLINE = BASE_COLUMNS.index("roofline")
MAX_COLOAD = 50.0  # others' MACs/s over the device's: beyond this the device is hopelessly overloaded anyway
BINARY_COLUMNS = tuple(BASE_COLUMNS.index(c) for c in ("is_sr", "mode_mild", "mode_strong", "is_cuda"))


@dataclass(frozen=True)
class RowSpec:
    """Raw description of one predictor row (kept to build features in batches)."""

    variant: ModelVariant
    in_pixels: int
    out_pixels: int
    fps: float
    device: DeviceInfo
    others: int
    others_macs_per_s: float

    @property
    def macs_per_frame(self) -> float:
        return self.variant.macs_per_pixel * self.out_pixels


def roofline_log_ms(macs_per_frame: float | np.ndarray, device_macs_per_s: float | np.ndarray) -> np.ndarray:
    """log of the compute-bound time of a frame in ms (the baseline the network corrects)."""
    return np.log(np.maximum(macs_per_frame, 1.0) / np.asarray(device_macs_per_s) * 1e3)


def base_features(rows: Sequence[RowSpec]) -> np.ndarray:
    """(N, len(BASE_COLUMNS)) float32 features of ``rows`` (no device one-hot)."""
    out = np.empty((len(rows), len(BASE_COLUMNS)), dtype=np.float32)
    for i, r in enumerate(rows):
        v, d = r.variant, r.device
        macs_frame = max(r.macs_per_frame, 1.0)
        ratio = min(r.others_macs_per_s / d.macs_per_s, MAX_COLOAD)
        out[i] = (
            1.0 if v.kind == "sr" else 0.0, v.tier_index / 3.0, math.log10(max(v.params, 1)),
            math.log10(max(v.macs_per_pixel, 1.0)), math.log2(max(v.scale, 1)),
            1.0 if v.mode == "mild" and v.kind == "ar" else 0.0, 1.0 if v.mode == "strong" else 0.0,
            math.log10(max(r.in_pixels, 1)), math.log10(max(r.out_pixels, 1)), r.fps / 60.0, math.log10(macs_frame),
            1.0 if d.kind == "cuda" else 0.0, math.log2(d.compute_units), math.log10(d.mem_bandwidth_gbps),
            math.log10(d.macs_per_s), math.log10(d.memory_mb),
            math.log1p(r.others), math.log10(1.0 + 10.0 * ratio), ratio,
            math.log(macs_frame / d.macs_per_s * 1e3),
        )
    return out


COLOAD = (BASE_COLUMNS.index("log_others"), BASE_COLUMNS.index("log_coload"), BASE_COLUMNS.index("coload_ratio"))
OTHERS, RATIO, FPS = COLOAD[0], COLOAD[2], BASE_COLUMNS.index("fps")
# Others that run back to back (profile rows measured that way) want the whole device each: their
# demand is encoded at the cap, so the predictor's busy estimate saturates at one per other stream.
# (Encoding what they achieved, 1 / the row's own p50, put the target into the features.)
SATURATING_RATIO = MAX_COLOAD
MODEL_COLUMNS = tuple(BASE_COLUMNS.index(c) for c in (
    "is_sr", "tier", "log_params", "log_macs_px", "log2_scale", "mode_mild", "mode_strong",
    "log_in_px", "log_out_px", "log_macs_frame"))
DEVICE_COLUMNS = tuple(BASE_COLUMNS.index(c) for c in (
    "is_cuda", "log2_units", "log_bandwidth", "log_dev_macs", "log_memory"))


def static_columns(columns: int) -> tuple[int, ...]:
    """Every column of a ``columns``-wide row but the stage's own fps and the co-load ones."""
    return tuple(i for i in range(columns) if i != FPS and i not in COLOAD)


def device_columns(columns: int) -> tuple[int, ...]:
    """Device descriptors plus the device-class one-hot of a ``columns``-wide row."""
    return DEVICE_COLUMNS + tuple(range(len(BASE_COLUMNS), columns))


def set_coload(x: np.ndarray, others: np.ndarray, others_macs_per_s: np.ndarray, device_macs_per_s: np.ndarray) -> None:
    """Overwrite the co-location columns of feature rows ``x`` in place (vectorised, for planning)."""
    ratio = np.asarray(others_macs_per_s, dtype=np.float64) / np.asarray(device_macs_per_s, dtype=np.float64)
    ratio = np.minimum(ratio, MAX_COLOAD)
    x[:, COLOAD[0]] = np.log1p(others)
    x[:, COLOAD[1]] = np.log10(1.0 + 10.0 * ratio)
    x[:, COLOAD[2]] = ratio


def class_one_hot(classes: Sequence[str], vocabulary: Sequence[str]) -> np.ndarray:
    """(N, len(vocabulary) + 1) one-hot of device classes; unknown classes set the last column."""
    index = {name: i for i, name in enumerate(vocabulary)}
    out = np.zeros((len(classes), len(vocabulary) + 1), dtype=np.float32)
    for i, name in enumerate(classes):
        out[i, index.get(name, len(vocabulary))] = 1.0
    return out


def features(rows: Sequence[RowSpec], vocabulary: Sequence[str]) -> np.ndarray:
    """Full feature matrix: base columns then the device-class one-hot."""
    return np.concatenate([base_features(rows), class_one_hot([r.device.device_class for r in rows], vocabulary)], 1)


def memory_estimate_mb(variant: ModelVariant, in_pixels: int, out_pixels: int, half: bool = False) -> float:
    """Analytic working-set estimate of one stage: weights + largest activations + frame buffers.

    Activations: the widest feature map (the SR trunk's dense-block concat, or the AR head) at the
    resolution it runs at; frame buffers: planar input/output plus the bicubic base.
    """
    bytes_per = 2 if half else 4
    # The bicubic rung runs no network: no activations beyond the frame buffers.
    width = {"tiny": 28, "small": 60, "medium": 80, "large": 144}.get(variant.tier, 0)
    act_pixels = in_pixels if variant.kind == "sr" else in_pixels
    activations = act_pixels * width * bytes_per * 2
    buffers = (in_pixels + 2 * out_pixels) * 3 * bytes_per
    return (variant.params * 4 + activations + buffers) / 2**20 + 8.0
