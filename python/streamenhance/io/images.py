"""Image files <-> BGR uint8 arrays (Pillow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from streamenhance.errors import MediaError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def read_image(path: Path, keep_gray: bool = False) -> np.ndarray:
    """Read an image as BGR uint8 (H, W, 3), or (H, W) for gray files when ``keep_gray``.

    Raises:
        MediaError: the file is missing or not a readable image.
    """
    try:
        with Image.open(path) as image:
            image.load()
            if keep_gray and image.mode in ("L", "I;16", "I"):
                return np.asarray(image.convert("L"))
            rgb = np.asarray(image.convert("RGB"))
    except FileNotFoundError:
        raise MediaError(f"image not found: {path}") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise MediaError(f"cannot read image {path}: {exc}") from exc
    return np.ascontiguousarray(rgb[:, :, ::-1])


def write_image(path: str | Path, frame: np.ndarray) -> None:
    """Write a BGR/BGRA uint8 frame (or a gray (H, W) array); the format follows the suffix."""
    path = Path(path)
    if frame.ndim == 3:
        order = [2, 1, 0, 3][: frame.shape[2]]
        frame = frame[:, :, order]
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        Image.fromarray(np.ascontiguousarray(frame)).save(path)
    except (OSError, ValueError, KeyError) as exc:
        raise MediaError(f"cannot write image {path}: {exc}") from exc
