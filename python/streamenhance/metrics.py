"""Image quality metrics of the published super-resolution protocol (NumPy only).

Y is MATLAB's ``rgb2ycbcr`` luma on 0..255 values; gray images are measured on their raw values.
SSIM follows Wang et al.: 11x11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, 'valid' borders.
"""

from __future__ import annotations

import numpy as np

PEAK = 255.0


def luma(image: np.ndarray) -> np.ndarray:
    """BGR uint8 (H, W, 3) -> float64 Y (MATLAB ``rgb2ycbcr``); gray (H, W) passes through as float64."""
    data = image.astype(np.float64)
    if data.ndim == 2:
        return data
    blue, green, red = data[..., 0], data[..., 1], data[..., 2]
    return 16.0 + (65.481 * red + 128.553 * green + 24.966 * blue) / 255.0


def shave(image: np.ndarray, border: int) -> np.ndarray:
    return image[border:-border, border:-border] if border > 0 else image


def psnr(a: np.ndarray, b: np.ndarray, border: int = 0, on_luma: bool = True) -> float:
    """PSNR in dB (peak 255) of two same-size uint8 images; ``inf`` when identical.

    Args:
        a, b: BGR (H, W, 3) or gray (H, W) uint8 images.
        border: pixels shaved from every side before measuring (the protocol shaves ``scale``).
        on_luma: measure on Y (protocol) instead of on all channels.
    """
    if a.shape != b.shape:
        raise ValueError(f"psnr: images differ in shape: {a.shape} vs {b.shape}")
    x = luma(a) if on_luma else a.astype(np.float64)
    y = luma(b) if on_luma else b.astype(np.float64)
    mse = float(np.mean((shave(x, border) - shave(y, border)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(PEAK * PEAK / mse)


def detail_ratio(out: np.ndarray, reference: np.ndarray, border: int = 0) -> float:
    """Fine-detail energy of ``out`` over ``reference``'s: mean squared Laplacian of Y, ``border`` shaved.

    Pixel-loss networks smooth texture and land below 1; a value near 1 means as much fine detail as the
    reference has, not that it is the *right* detail, so it is read next to PSNR.
    """

    def energy(image: np.ndarray) -> float:
        y = shave(luma(image), border).astype(np.float64)
        lap = 4 * y[1:-1, 1:-1] - y[:-2, 1:-1] - y[2:, 1:-1] - y[1:-1, :-2] - y[1:-1, 2:]
        return float(np.mean(lap**2))

    return energy(out) / max(energy(reference), 1e-12)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    kernel = np.exp(-(offsets**2) / (2.0 * sigma * sigma))
    return kernel / kernel.sum()


def _filter_valid(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Separable 'valid' correlation of a 2-D array with a 1-D kernel on both axes."""
    rows = np.lib.stride_tricks.sliding_window_view(image, kernel.size, axis=0) @ kernel
    return np.lib.stride_tricks.sliding_window_view(rows, kernel.size, axis=1) @ kernel


def ssim(a: np.ndarray, b: np.ndarray, border: int = 0) -> float:
    """SSIM on Y (or raw gray) after shaving ``border`` pixels."""
    if a.shape != b.shape:
        raise ValueError(f"ssim: images differ in shape: {a.shape} vs {b.shape}")
    x, y = shave(luma(a), border), shave(luma(b), border)
    kernel = _gaussian_window()
    c1, c2 = (0.01 * PEAK) ** 2, (0.03 * PEAK) ** 2
    mu_x, mu_y = _filter_valid(x, kernel), _filter_valid(y, kernel)
    var_x = _filter_valid(x * x, kernel) - mu_x**2
    var_y = _filter_valid(y * y, kernel) - mu_y**2
    cov = _filter_valid(x * y, kernel) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return float(ssim_map.mean())


def _luma_crop(frame: np.ndarray, max_side: int = 512) -> np.ndarray:
    """Cheap luma of a BGR frame, centre-cropped so the estimate costs well under a millisecond."""
    h, w = frame.shape[:2]
    y0, x0 = max(0, (h - max_side) // 2) & ~7, max(0, (w - max_side) // 2) & ~7
    crop = frame[y0 : y0 + max_side, x0 : x0 + max_side, :3].astype(np.float32)
    return 0.114 * crop[..., 0] + 0.587 * crop[..., 1] + 0.299 * crop[..., 2]


def no_reference_features(frame: np.ndarray) -> tuple[float, float]:
    """(blockiness, high-frequency share) of a BGR frame.

    Blockiness is the mean absolute step across 8-pixel grid lines divided by the mean step elsewhere
    (1.0 for grid-free content). The high-frequency share is the energy of the second difference over
    that of the first (low for blurred, over-quantized frames).
    """
    gray = _luma_crop(frame)
    if min(gray.shape) < 16:
        return 1.0, 1.0
    dx = np.abs(np.diff(gray, axis=1))
    dy = np.abs(np.diff(gray, axis=0))
    on_x, on_y = dx[:, 7::8], dy[7::8, :]
    off_x = (dx.sum() - on_x.sum()) / max(dx.size - on_x.size, 1)
    off_y = (dy.sum() - on_y.sum()) / max(dy.size - on_y.size, 1)
    blockiness = (on_x.mean() + on_y.mean()) / max(off_x + off_y, 1e-3)
    second = np.abs(np.diff(gray, n=2, axis=1)).mean() + np.abs(np.diff(gray, n=2, axis=0)).mean()
    high_frequency = second / max(dx.mean() + dy.mean(), 1e-3)
    return float(blockiness), float(high_frequency)
