"""MS-SSIM and the AR training loss: values, monotonicity, gradients, and agreement with the NumPy metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from streamenhance import metrics
from streamenhance.training.losses import (
    MS_SSIM_WEIGHT,
    l1_ms_ssim_loss,
    luma,
    ms_ssim,
    scale_weights,
    ssim,
    window_side,
)


def natural_like(seed: int, size: int = 96, channels: int = 3) -> torch.Tensor:
    """Smooth structure plus edges (random blocks, blurred) in [0, 1], (1, C, size, size) float64."""
    generator = torch.Generator().manual_seed(seed)
    blocks = torch.rand(1, channels, size // 8, size // 8, generator=generator, dtype=torch.float64)
    image = F.interpolate(blocks, size=(size, size), mode="nearest")
    return F.avg_pool2d(F.pad(image, (1, 1, 1, 1), mode="replicate"), 3, stride=1).clamp(0, 1)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """Gray (H, W) uint8 -> (1, 1, H, W) float64 in [0, 1]."""
    return torch.from_numpy(image.astype(np.float64) / 255.0)[None, None]


def bgr_to_rgb_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image[..., ::-1].astype(np.float64) / 255.0).permute(2, 0, 1)[None]


@pytest.mark.parametrize("size", [12, 20, 48, 96, 131])
def test_identical_images_score_one(size: int) -> None:
    x = natural_like(0, size=size)
    assert ms_ssim(x, x).item() == pytest.approx(1.0, abs=1e-12)
    assert ssim(x, x).item() == pytest.approx(1.0, abs=1e-12)


def test_noise_and_blur_reduce_ms_ssim_monotonically() -> None:
    clean = natural_like(1)
    generator = torch.Generator().manual_seed(2)
    noise = torch.randn(clean.shape, generator=generator, dtype=torch.float64)
    noisy = [ms_ssim((clean + sigma * noise).clamp(0, 1), clean).item() for sigma in (0.0, 0.02, 0.05, 0.1, 0.2)]
    assert all(a > b for a, b in zip(noisy, noisy[1:])), noisy
    blurred = [ms_ssim(F.avg_pool2d(F.pad(clean, (k, k, k, k), mode="replicate"), 2 * k + 1, stride=1), clean).item()
               for k in (1, 2, 3, 5)]
    assert all(a > b for a, b in zip(blurred, blurred[1:])), blurred
    assert noisy[0] == pytest.approx(1.0) and blurred[-1] < 0.95


def test_single_scale_ssim_matches_the_numpy_metric() -> None:
    """Same window, constants and 'valid' borders as ``streamenhance.metrics.ssim`` (gray and luma)."""
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (64, 72), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-40, 40, a.shape), 0, 255).astype(np.uint8)
    assert ssim(to_tensor(a), to_tensor(b)).item() == pytest.approx(metrics.ssim(a, b), abs=1e-9)
    c = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    d = np.clip(c.astype(int) + rng.integers(-25, 25, c.shape), 0, 255).astype(np.uint8)
    ours = ssim(luma(bgr_to_rgb_tensor(c)), luma(bgr_to_rgb_tensor(d))).item()
    assert ours == pytest.approx(metrics.ssim(c, d), abs=1e-9)


def reference_ms_ssim(a: np.ndarray, b: np.ndarray, scales: int = 3) -> float:
    """Wang et al. composed by hand from the NumPy SSIM pieces: cs at every scale, SSIM at the last,
    2x2 average downsampling between scales."""
    x, y = a.astype(np.float64) / 255.0, b.astype(np.float64) / 255.0
    kernel = metrics._gaussian_window()
    c1, c2 = 0.01**2, 0.03**2
    result = 1.0
    for index, weight in enumerate(scale_weights(scales)):
        mu_x, mu_y = metrics._filter_valid(x, kernel), metrics._filter_valid(y, kernel)
        var_x = metrics._filter_valid(x * x, kernel) - mu_x**2
        var_y = metrics._filter_valid(y * y, kernel) - mu_y**2
        cov = metrics._filter_valid(x * y, kernel) - mu_x * mu_y
        cs = (2 * cov + c2) / (var_x + var_y + c2)
        if index == scales - 1:
            result *= float(np.mean(cs * (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1))) ** weight
        else:
            result *= float(np.mean(cs)) ** weight
            x = x.reshape(x.shape[0] // 2, 2, x.shape[1] // 2, 2).mean(axis=(1, 3))
            y = y.reshape(y.shape[0] // 2, 2, y.shape[1] // 2, 2).mean(axis=(1, 3))
    return result


def test_ms_ssim_matches_a_hand_composed_reference() -> None:
    rng = np.random.default_rng(1)
    base = np.kron(rng.integers(0, 256, (12, 12)), np.ones((8, 8)))  # 96x96 with edges
    a = np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)
    b = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
    expected = reference_ms_ssim(a, b)
    assert 0.3 < expected < 0.99
    assert ms_ssim(to_tensor(a), to_tensor(b)).item() == pytest.approx(expected, abs=1e-9)


def test_scale_weights_are_the_papers_first_three_renormalised() -> None:
    weights = scale_weights(3)
    assert sum(weights) == pytest.approx(1.0)
    assert weights[1] / weights[0] == pytest.approx(0.2856 / 0.0448)
    assert len(scale_weights(5)) == 5


def test_small_patches_shrink_the_window_and_tiny_ones_are_refused() -> None:
    assert window_side(96, 96) == 11  # coarsest scale 24 px: the standard window fits
    assert window_side(24, 40) == 5  # coarsest 6 px: largest odd window that fits
    assert window_side(12, 12) == 3
    x = natural_like(3, size=24)
    assert 0.0 < ms_ssim(x, (x * 0.8).clamp(0, 1)).item() < 1.0
    with pytest.raises(ValueError, match="needs sides >= 12"):
        ms_ssim(torch.rand(1, 1, 11, 40), torch.rand(1, 1, 11, 40))
    with pytest.raises(ValueError, match="one shape"):
        ms_ssim(torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 17))


def test_gradients_flow_and_point_towards_the_target() -> None:
    target = natural_like(4).float()
    generator = torch.Generator().manual_seed(5)
    start = (target + 0.1 * torch.randn(target.shape, generator=generator)).clamp(0, 1)
    output = start.clone().requires_grad_(True)
    loss = l1_ms_ssim_loss(output, target)
    loss.backward()
    assert output.grad is not None and torch.isfinite(output.grad).all() and output.grad.abs().sum() > 0
    with torch.no_grad():  # one small gradient step lowers the loss and raises MS-SSIM
        stepped = output - 0.01 * output.grad / output.grad.abs().max()
    assert l1_ms_ssim_loss(stepped, target) < loss
    assert ms_ssim(luma(stepped), luma(target)) > ms_ssim(luma(start), luma(target))


def test_gradients_reach_a_network_through_the_loss() -> None:
    torch.manual_seed(0)
    net = torch.nn.Conv2d(3, 3, 3, padding=1)
    x = torch.rand(2, 3, 48, 48)
    l1_ms_ssim_loss(net(x), x).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0 for p in net.parameters())


def test_loss_is_l1_plus_weighted_ms_ssim_of_luma() -> None:
    a, b = natural_like(6).float(), natural_like(7).float()
    expected = F.l1_loss(a, b) + MS_SSIM_WEIGHT * (1 - ms_ssim(luma(a), luma(b)))
    assert l1_ms_ssim_loss(a, b).item() == pytest.approx(expected.item())
    assert l1_ms_ssim_loss(a, a).item() == pytest.approx(0.0, abs=1e-6)
