"""The published super-resolution protocol ("bicubic BI") on Set5 / Set14 / BSD100.

HR = modcrop(HR, s); LR = MATLAB imresize(HR, 1/s) (the native kernel, bit-exact with MATLAB);
PSNR/SSIM on Y with ``s`` pixels shaved; gray images on their raw values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from streamenhance import native
from streamenhance.errors import ConfigError
from streamenhance.io import read_image
from streamenhance.metrics import psnr, ssim

SET_FOLDERS = {"Set5": "eval/Set5/HR", "Set14": "eval/Set14/HR", "BSD100": "eval/BSD100"}

# A method maps an LR image (BGR (h, w, 3) or gray (h, w) uint8) to an image of the HR size.
Method = Callable[[np.ndarray, tuple[int, int]], np.ndarray]


@dataclass
class SetResult:
    set_name: str
    scale: int
    method: str
    psnr_y: float
    ssim_y: float
    per_image: dict[str, float] = field(default_factory=dict)


def set_images(data_root: Path, set_name: str) -> list[tuple[str, np.ndarray]]:
    """(name, image) pairs of an evaluation set; gray images stay 2-D."""
    if set_name not in SET_FOLDERS:
        raise ConfigError(f"set: expected one of {', '.join(SET_FOLDERS)}, got {set_name!r}")
    folder = data_root / SET_FOLDERS[set_name]
    paths = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".png", ".bmp"))
    if not paths:
        raise ConfigError(f"no images for {set_name} under {folder}")
    return [(p.stem, read_image(p, keep_gray=True)) for p in paths]


def modcrop(image: np.ndarray, scale: int) -> np.ndarray:
    h, w = image.shape[:2]
    return np.ascontiguousarray(image[: h - h % scale, : w - w % scale])


def bicubic_method(lr: np.ndarray, hr_hw: tuple[int, int]) -> np.ndarray:
    return native.resize(lr, hr_hw)


def as_gray(image: np.ndarray) -> np.ndarray:
    """A 3-channel output of a gray input, back to gray (float mean of the channels, no rounding)."""
    return image.astype(np.float64).mean(axis=2) if image.ndim == 3 else image


def engine_method(enhance: Callable[[np.ndarray], np.ndarray]) -> Method:
    """Wrap a BGR->BGR enhancer; gray inputs are replicated to BGR and the output averaged back."""

    def method(lr: np.ndarray, hr_hw: tuple[int, int]) -> np.ndarray:
        if lr.ndim == 2:
            return as_gray(enhance(np.ascontiguousarray(np.repeat(lr[:, :, None], 3, axis=2))))
        return enhance(lr)

    return method


def evaluate(method: Method, method_name: str, images: list[tuple[str, np.ndarray]], set_name: str, scale: int) -> SetResult:
    psnrs: dict[str, float] = {}
    ssims = []
    for name, image in images:
        hr = modcrop(image, scale)
        lr = native.resize(hr, (hr.shape[0] // scale, hr.shape[1] // scale))
        sr = method(lr, hr.shape[:2])
        if sr.shape[:2] != hr.shape[:2]:
            raise ValueError(f"{method_name} returned {sr.shape[:2]} for {name}, expected {hr.shape[:2]}")
        psnrs[name] = round(psnr(sr, hr, border=scale), 4)
        ssims.append(ssim(sr, hr, border=scale))
    return SetResult(set_name, scale, method_name, float(np.mean(list(psnrs.values()))), float(np.mean(ssims)), psnrs)
