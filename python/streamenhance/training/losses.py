"""Differentiable training losses: MS-SSIM (3 scales, Gaussian window) and L1 + MS-SSIM.

MS-SSIM follows Wang, Simoncelli & Bovik (2003): at every scale the contrast-structure term ``cs`` of
SSIM is measured, the luminance term only at the coarsest one, and the scales are combined as a
weighted geometric mean. The weights are the first three of the paper's five, renormalised to sum to 1.
Images are (N, C, H, W) floats in [0, 1]; every channel is measured on its own and the result averaged.
The training loss measures it on luma (Y), as the evaluation measures SSIM.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

SCALES = 3
PAPER_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang et al. 2003, 5 scales
WINDOW = 11  # Gaussian window side and sigma of Wang et al. (as ``streamenhance.metrics.ssim``)
SIGMA = 1.5
K1, K2 = 0.01, 0.03
MIN_WINDOW = 3
LUMA_WEIGHTS = (65.481, 128.553, 24.966)  # R, G, B of MATLAB rgb2ycbcr (0..255 scale)
# cs and SSIM can be <= 0 on anti-correlated patches; a fractional power of that has no gradient.
FLOOR = 1e-4
# Weight of (1 - MS-SSIM) beside L1 in ``l1_ms_ssim_loss``. On strong-mode training batches through the
# shipped AR tiny net the gradient of (1 - MS-SSIM of Y) is 6-9x the gradient of L1 (norms over all
# parameters); at 0.1 the two terms pull with about equal force, so L1 (what PSNR rewards) is not drowned.
MS_SSIM_WEIGHT = 0.1


def scale_weights(scales: int = SCALES) -> tuple[float, ...]:
    """The first ``scales`` weights of the 5-scale paper, renormalised to sum to 1."""
    if not 1 <= scales <= len(PAPER_WEIGHTS):
        raise ValueError(f"scales: expected 1..{len(PAPER_WEIGHTS)}, got {scales}")
    chosen = PAPER_WEIGHTS[:scales]
    return tuple(w / sum(chosen) for w in chosen)


def window_side(height: int, width: int, scales: int = SCALES) -> int:
    """Gaussian window side for an image of ``height`` x ``width``: 11, or the largest odd side that
    still fits the coarsest scale (small training patches), at least 3.

    Raises:
        ValueError: the coarsest scale is smaller than 3 pixels.
    """
    coarsest = min(height, width) >> (scales - 1)
    if coarsest < MIN_WINDOW:
        raise ValueError(
            f"MS-SSIM with {scales} scales needs sides >= {MIN_WINDOW << (scales - 1)}, got {height}x{width}"
        )
    side = min(WINDOW, coarsest)
    return side if side % 2 else side - 1


def gaussian_kernel(side: int, dtype: torch.dtype = torch.float32, device: torch.device | None = None) -> torch.Tensor:
    """Normalised 1-D Gaussian of ``side`` taps; sigma scales with the side so a shrunken window covers
    the same share of itself as the standard 11 / 1.5."""
    sigma = SIGMA * side / WINDOW
    offsets = torch.arange(side, dtype=torch.float64) - (side - 1) / 2.0
    kernel = torch.exp(-(offsets**2) / (2.0 * sigma * sigma))
    return (kernel / kernel.sum()).to(dtype=dtype, device=device)


@functools.lru_cache(maxsize=64)
def _band_matrix(length: int, side: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(length, length - side + 1) matrix whose column j holds the kernel at rows j .. j + side - 1:
    ``signal @ band`` is the 'valid' correlation with the kernel."""
    kernel = gaussian_kernel(side, dtype, device)
    band = torch.zeros(length, length - side + 1, dtype=dtype, device=device)
    for column in range(length - side + 1):
        band[column : column + side, column] = kernel
    return band


def _blur(x: torch.Tensor, side: int) -> torch.Tensor:
    """Separable 'valid' Gaussian filtering of the last two axes (the window never leaves the image).

    Two matrix products with band matrices: on training patches BLAS does this about twice as fast
    as a depthwise convolution with an 11-tap kernel, forward and backward.
    """
    height, width = x.shape[-2:]
    rows = x @ _band_matrix(width, side, x.dtype, x.device)
    return _band_matrix(height, side, x.dtype, x.device).transpose(0, 1) @ rows


def ssim_terms(x: torch.Tensor, y: torch.Tensor, side: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-(image, channel) mean SSIM and mean contrast-structure term, each (N, C), with a Gaussian
    window of ``side`` taps. The five local statistics are blurred in one pass."""
    c1, c2 = K1**2, K2**2
    channels = x.shape[1]
    stacked = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    mu_x, mu_y, xx, yy, xy = _blur(stacked, side).split(channels, dim=1)
    var_x, var_y, cov = xx - mu_x**2, yy - mu_y**2, xy - mu_x * mu_y
    cs_map = (2 * cov + c2) / (var_x + var_y + c2)
    luminance = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
    return (luminance * cs_map).mean(dim=(2, 3)), cs_map.mean(dim=(2, 3))


def ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Single-scale SSIM (11x11 Gaussian, sigma 1.5, 'valid'), mean over images and channels."""
    _check(x, y)
    return ssim_terms(x, y, window_side(*x.shape[-2:], scales=1))[0].mean()


def ms_ssim(x: torch.Tensor, y: torch.Tensor, scales: int = SCALES) -> torch.Tensor:
    """MS-SSIM of (N, C, H, W) images in [0, 1], mean over images and channels; 1 when identical.

    One window size serves every scale (the one that fits the coarsest), so small patches work.
    """
    _check(x, y)
    weights = scale_weights(scales)
    side = window_side(*x.shape[-2:], scales)
    value = torch.ones(x.shape[:2], dtype=x.dtype, device=x.device)
    for index, weight in enumerate(weights):
        full, cs = ssim_terms(x, y, side)
        coarsest = index == len(weights) - 1
        value = value * (full if coarsest else cs).clamp(min=FLOOR) ** weight
        if not coarsest:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    return value.mean()


def luma(rgb: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in [0, 1] -> (N, 1, H, W) Y in [0, 1] (MATLAB ``rgb2ycbcr``, as the metrics)."""
    weights = rgb.new_tensor(LUMA_WEIGHTS).view(1, 3, 1, 1) / 255.0
    return (rgb * weights).sum(dim=1, keepdim=True) + 16.0 / 255.0


def l1_ms_ssim_loss(output: torch.Tensor, target: torch.Tensor, weight: float = MS_SSIM_WEIGHT) -> torch.Tensor:
    """L1 (RGB) + ``weight`` x (1 - MS-SSIM of Y), the AR training loss of every output (final and side).

    MS-SSIM is taken on luma, as SSIM is in the evaluation protocol (and 3x cheaper than per channel).
    With ``weight`` 0 it is plain L1 (MS-SSIM is not computed).
    """
    l1 = F.l1_loss(output, target)
    return l1 if weight == 0 else l1 + weight * (1.0 - ms_ssim(luma(output), luma(target)))


def _check(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"expected two (N, C, H, W) tensors of one shape, got {tuple(x.shape)} and {tuple(y.shape)}")
