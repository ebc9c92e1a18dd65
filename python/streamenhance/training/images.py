"""Training images from ``<data>/train``: listing, a fixed held-out split, loading."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamenhance.errors import ConfigError
from streamenhance.io import read_image
from streamenhance.io.images import IMAGE_SUFFIXES

DATA_ENV = "STREAMENHANCE_DATA"
STILL_SETS = ("T91", "General100", "BSDS200", "CQ100_subset", "DIV2K_subset")
CLIP_SETS = ("video",)
HOLDOUT_EVERY = 16  # every 16th still (sorted) is kept out of training for validation


def default_data_root() -> Path | None:
    """``$STREAMENHANCE_DATA`` or ``../shared/data`` beside the project, whichever exists."""
    candidates = [os.environ.get(DATA_ENV)] if os.environ.get(DATA_ENV) else []
    project = Path(__file__).resolve().parents[3]
    candidates += [str(project.parent / "shared" / "data"), str(Path.cwd().parent / "shared" / "data")]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def resolve_data_root(data: Path | None) -> Path:
    root = data or default_data_root()
    if root is None or not root.is_dir():
        raise ConfigError(f"training data not found: pass --data or set {DATA_ENV} (looked for ../shared/data)")
    return root


def _images_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


@dataclass(frozen=True)
class TrainingSet:
    train_stills: list[Path]
    holdout_stills: list[Path]
    clips: list[list[Path]]  # each clip: its frames in order

    @property
    def summary(self) -> str:
        return (
            f"{len(self.train_stills)} stills ({len(self.holdout_stills)} held out), "
            f"{len(self.clips)} clips from {', '.join(STILL_SETS + CLIP_SETS)}"
        )


def find_training_set(data_root: Path) -> TrainingSet:
    """Stills and clips under ``<data_root>/train`` with the fixed hold-out split."""
    train_root = data_root / "train"
    stills = [p for name in STILL_SETS for p in _images_under(train_root / name)]
    if not stills:
        raise ConfigError(f"no training images under {train_root}")
    clips = [_images_under(d) for d in sorted((train_root / "video").glob("*")) if d.is_dir()]
    holdout = stills[::HOLDOUT_EVERY]
    held = set(holdout)
    return TrainingSet([p for p in stills if p not in held], holdout, [c for c in clips if len(c) > 1])


def load_images(paths: list[Path], min_side: int) -> list[np.ndarray]:
    """BGR uint8 images with both sides >= ``min_side``."""
    images = [read_image(p) for p in paths]
    return [im for im in images if min(im.shape[:2]) >= min_side]
