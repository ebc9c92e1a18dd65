"""Offline training data for the predictor from profiles, the held-out split, and accuracy figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamenhance.scheduler.features import RowSpec, features, memory_estimate_mb
from streamenhance.scheduler.predictor import Dataset, PerfPredictor, point_dataset
from streamenhance.scheduler.profile import Profile, ProfileRow
from streamenhance.scheduler.variants import ModelVariant

FPS_AUGMENT = (15.0, 24.0, 30.0, 60.0)  # a stage's latency does not depend on its own fps: teach that


@dataclass(frozen=True)
class Cell:
    """Identity of one profile row: the (model, device, co-load) combination."""

    kind: str
    tier: str
    width: int
    height: int
    device: str
    colocated: int


def row_spec(row: ProfileRow, profile: Profile, fps: float) -> RowSpec:
    """The predictor row of a profile row: k co-located streams of the same config, running back to back."""
    variant = ModelVariant(row.kind, row.tier, row.scale, row.mode if row.kind == "ar" else "-", row.params,
                           row.macs_per_pixel, "profile")
    in_px = row.width * row.height
    out_px = in_px * row.scale * row.scale if row.kind == "sr" else (-(-row.width // 4) * 4) * (-(-row.height // 4) * 4)
    # The others run at their frame rate, or back to back (their MACs/s is then what they achieved).
    others_rate = row.others_fps if row.others_fps > 0 else 1e3 / row.p50_ms
    others_macs = (row.colocated - 1) * row.macs_per_pixel * out_px * others_rate
    return RowSpec(variant, in_px, out_px, fps, profile.device, row.colocated - 1, others_macs)


def profile_dataset(profiles: Sequence[Profile], vocabulary: Sequence[str],
                    seed: int = 0) -> tuple[Dataset, list[Cell]]:
    """Point-target rows of every profile row (fps drawn from ``FPS_AUGMENT`` with ``seed``)."""
    rng = np.random.default_rng(seed)
    specs, cells, p50, p95, eff, mem = [], [], [], [], [], []
    for profile in profiles:
        for row in profile.rows:
            spec = row_spec(row, profile, float(rng.choice(FPS_AUGMENT)))
            specs.append(spec)
            cells.append(Cell(row.kind, row.tier, row.width, row.height, profile.device.id, row.colocated))
            p50.append(row.p50_ms)
            p95.append(row.p95_ms)
            eff.append(min(1.0, max(row.cpu_util, 0.05)) / row.colocated if profile.device.measured and row.cpu_util > 0
                       else 1.0 / row.colocated)
            mem.append(memory_estimate_mb(spec.variant, spec.in_pixels, spec.out_pixels, profile.device.kind == "cuda"))
    x = features(specs, vocabulary)
    return point_dataset(x, np.array(p50), np.array(p95), np.array(eff), np.array(mem)), cells


def holdout_split(cells: Sequence[Cell], fraction: float = 0.25, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Train/test indices: a seeded random ``fraction`` of the (model, resolution, device, co-load) cells is
    held out whole, stratified so that every co-located count (1, 2, 4) and every device is in the test set."""
    rng = np.random.default_rng(seed)
    test = np.zeros(len(cells), dtype=bool)
    groups: dict[tuple[str, int], list[int]] = {}
    for i, c in enumerate(cells):
        groups.setdefault((c.device, c.colocated), []).append(i)
    for members in groups.values():
        order = rng.permutation(members)
        test[order[: max(1, round(fraction * len(members)))]] = True
    return np.flatnonzero(~test), np.flatnonzero(test)


def accuracy(predictor: PerfPredictor, data: Dataset) -> dict[str, float]:
    """p50 and p95 accuracy on point-target rows: MAPE and share within ±10%."""
    pred = predictor.predict_features(data.x)
    true50, true95 = np.exp(data.targets[:, 0]), np.exp(data.targets[:, 1])
    e50 = np.abs(pred.p50_ms / true50 - 1.0)
    e95 = np.abs(pred.p95_ms / true95 - 1.0)
    return {"within_10pct": float((e50 <= 0.1).mean()), "mape": float(e50.mean()),
            "p95_within_10pct": float((e95 <= 0.1).mean()), "p95_mape": float(e95.mean()), "rows": float(len(data))}


def vocabulary_of(profiles: Sequence[Profile]) -> list[str]:
    return sorted({p.device.device_class for p in profiles})


def train_on_profiles(profiles: Sequence[Profile], *, seed: int = 0, steps: int = 1500,
                      holdout: float = 0.0, hidden: Sequence[int] = (64, 64),
                      **kwargs: Any) -> tuple[PerfPredictor, dict[str, Any]]:
    """Train a predictor on ``profiles``; with ``holdout`` > 0, report accuracy on held-out cells.

    Returns:
        The predictor (trained on the training cells only when ``holdout`` > 0) and a report.
    """
    vocab = vocabulary_of(profiles)
    data, cells = profile_dataset(profiles, vocab, seed)
    predictor = PerfPredictor(vocab, hidden, seed=seed, **kwargs)
    report: dict[str, Any] = {"rows": len(data), "devices": sorted({c.device for c in cells})}
    if holdout > 0:
        train, test = holdout_split(cells, holdout, seed)
        predictor.fit(data.subset(train), steps=steps)
        report["train"] = accuracy(predictor, data.subset(train))
        report["test"] = accuracy(predictor, data.subset(test))
        colocated = np.array([cells[i].colocated > 1 for i in test])
        measured = np.array([profiles_measured(profiles, cells[i].device) for i in test])
        if colocated.any():
            report["test_colocated"] = accuracy(predictor, data.subset(test[colocated]))
        if measured.any():
            report["test_measured_device"] = accuracy(predictor, data.subset(test[measured]))
        report["split"] = (f"held-out cells: a seeded {holdout:.0%} of the (model kind, tier, input size) cells "
                           f"of every "
                           f"(device, co-located count) group, removed whole from training; "
                           f"{len(test)} test / {len(train)} train rows; co-located rows included (k=2/4 back to back "
                           f"on every device; on derived devices also k=2/4/8/16 with the others at 15/30/60 fps)")
    else:
        predictor.fit(data, steps=steps)
        report["train"] = accuracy(predictor, data)
    return predictor, report


def profiles_measured(profiles: Sequence[Profile], device_id: str) -> bool:
    return any(p.device.id == device_id and p.device.measured for p in profiles)
