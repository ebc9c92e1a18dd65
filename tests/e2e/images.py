"""Test pictures drawn from code (no data files): an original, and its degraded broadcast version."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def original(width: int = 1280, height: int = 720, seed: int = 3) -> np.ndarray:
    """An RGB uint8 picture with what compression and upscaling damage: text, edges, textures."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    sky = np.stack([0.25 + 0.5 * ys / height, 0.35 + 0.3 * xs / width, 0.75 - 0.3 * ys / height], axis=2)
    # Smooth value noise (a "terrain") with fine stripes in its bright parts.
    field = np.zeros((height, width), np.float32)
    for octave in range(5):
        cells = 3 * 2**octave
        grid = rng.random((cells + 1, cells * 2 + 1)).astype(np.float32)
        field += np.asarray(Image.fromarray(grid).resize((width, height), Image.Resampling.BICUBIC)) / 1.8**octave
    field = (field - field.min()) / (field.max() - field.min())
    stripes = 0.5 + 0.5 * np.sin(xs * 0.8 + ys * 0.3)
    terrain = np.clip(0.8 * field + 0.2 * stripes * (field > 0.6), 0, 1)
    ground = np.stack([0.2 + 0.4 * terrain, 0.35 + 0.45 * terrain, 0.15 + 0.3 * terrain], axis=2)
    horizon = (ys > height * 0.55)[..., None]
    rgb = np.where(horizon, ground, sky)
    image = Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8))

    draw = ImageDraw.Draw(image)
    for i in range(7):  # rings and bars: sharp edges at many angles
        cx, cy, r = width * (0.1 + 0.12 * i), height * 0.25, 18 + 6 * i
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=(250, 250, 240), width=3)
        angle = i * math.pi / 7
        draw.line([cx, cy, cx + r * math.cos(angle), cy + r * math.sin(angle)], fill=(20, 20, 30), width=2)
    font_big, font_small = ImageFont.load_default(size=44), ImageFont.load_default(size=20)
    draw.rectangle([40, height - 170, width - 40, height - 60], fill=(15, 30, 80))
    draw.text((60, height - 160), "STREAMENHANCE LIVE 4K", font=font_big, fill=(255, 255, 255))
    caption = "artifact removal + super-resolution, 0123456789"
    draw.text((60, height - 100), caption, font=font_small, fill=(255, 210, 0))
    for k in range(24):  # a checker strip of fine detail
        draw.rectangle([60 + 16 * k, 330, 68 + 16 * k, 338], fill=(0, 0, 0) if k % 2 else (255, 255, 255))
    return np.asarray(image)


def degrade(rgb: np.ndarray, factor: int = 2, quality: int = 35) -> np.ndarray:
    """Downscale by ``factor`` (bicubic) and JPEG-compress at ``quality``; returns the decoded RGB."""
    height, width = rgb.shape[:2]
    small = Image.fromarray(rgb).resize((width // factor, height // factor), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def bicubic(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.BICUBIC))


def bilinear(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.BILINEAR))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between two uint8 pictures of the same shape (inf when identical)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def save_png(rgb: np.ndarray, path: Path) -> Path:
    Image.fromarray(rgb).save(path)
    return path


def load_rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))
