"""JPEG artifact removal on Classic5 (gray), the ARCNN / DnCNN / SwinIR protocol.

Each 8-bit gray image is encoded by Pillow (libjpeg, default settings) at quality q, decoded, and restored;
PSNR/SSIM on the raw gray values of the full image, no shave. JPEG q10 measures 27.82 dB.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from streamenhance.errors import ConfigError
from streamenhance.evaluation.protocol import NamedMethod, Stopwatch, Timing
from streamenhance.io import read_image
from streamenhance.metrics import psnr, ssim

CLASSIC5_FOLDER = "eval/Classic5"
QUALITIES: tuple[int, ...] = (10, 20, 30, 40)


def classic5_images(data_root: Path) -> list[tuple[str, np.ndarray]]:
    """(name, gray uint8 (H, W)) of Classic5.

    Raises:
        ConfigError: no images, or an image is not 8-bit gray.
    """
    folder = data_root / CLASSIC5_FOLDER
    paths = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".bmp", ".png"))
    if not paths:
        raise ConfigError(f"no Classic5 images under {folder}")
    images = [(p.stem, read_image(p, keep_gray=True)) for p in paths]
    for name, image in images:
        if image.ndim != 2:
            raise ConfigError(f"Classic5 {name}: expected an 8-bit gray image, got shape {image.shape}")
    return images


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode a gray (H, W) or BGR uint8 image as JPEG at ``quality`` with Pillow's defaults and decode it."""
    if not 1 <= quality <= 100:
        raise ConfigError(f"JPEG quality: expected 1..100, got {quality!r}")
    pil = Image.fromarray(image if image.ndim == 2 else np.ascontiguousarray(image[:, :, ::-1]))
    buffer = io.BytesIO()
    pil.save(buffer, format="JPEG", quality=quality)
    with Image.open(io.BytesIO(buffer.getvalue())) as decoded:
        array = np.asarray(decoded.convert("L" if image.ndim == 2 else "RGB"))
    return array if image.ndim == 2 else np.ascontiguousarray(array[:, :, ::-1])


@dataclass
class JpegRecord:
    """One method at one quality on the whole set."""

    quality: int
    method: str
    kind: str
    params: int | None
    psnr: float
    ssim: float
    ms_median: float
    cpu_ms_median: float
    per_image: dict[str, float] = field(default_factory=dict)
    input_hw: tuple[int, int] = (0, 0)


def decoded_method(image: np.ndarray, hr_hw: tuple[int, int]) -> np.ndarray:
    """The decoded JPEG itself (the baseline)."""
    return image


def evaluate_jpeg(
    methods: Sequence[NamedMethod],
    images: Sequence[tuple[str, np.ndarray]],
    qualities: Sequence[int] = QUALITIES,
) -> list[JpegRecord]:
    """Every method at every quality; the median ms is over the images, after one warm-up call."""
    records = []
    for quality in qualities:
        decoded = [(name, jpeg_roundtrip(image, quality), image) for name, image in images]
        for entry in tqdm(methods, desc=f"Classic5 JPEG q{quality}", unit="method", leave=False):
            method = entry.method
            method(decoded[0][1], decoded[0][1].shape[:2])
            psnrs: dict[str, float] = {}
            ssims, watches = [], {}
            for image_name, jpeg, clean in decoded:
                with Stopwatch() as watches[image_name]:
                    out = method(jpeg, clean.shape[:2])
                if out.shape[:2] != clean.shape[:2]:
                    raise ValueError(
                        f"{entry.name} returned {out.shape[:2]} for {image_name}, expected {clean.shape[:2]}"
                    )
                psnrs[image_name] = round(psnr(out, clean, border=0), 4)
                ssims.append(ssim(out, clean, border=0))
            timing = Timing.from_watches(watches, {k: j.shape[:2] for k, j, _ in decoded}, warmup=True)
            records.append(
                JpegRecord(
                    quality=quality,
                    method=entry.name,
                    kind=entry.kind,
                    params=entry.params,
                    psnr=float(np.mean(list(psnrs.values()))),
                    ssim=float(np.mean(ssims)),
                    ms_median=timing.ms_median,
                    cpu_ms_median=timing.cpu_ms_median,
                    per_image={k: float(v) for k, v in psnrs.items()},
                    input_hw=tuple(decoded[0][1].shape[:2]),
                )
            )
    return records
