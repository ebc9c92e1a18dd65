"""Architectures of other projects' released models, written from their papers for side-by-side evaluation.

These are not part of the product (the product's architectures live in ``streamenhance.models.archs`` and
load only safetensors). Module and parameter names follow the released state dicts so the checkpoints load
with ``strict=True``; a missing or extra key is a wrong port, not something to ignore.

* ``PAN``: Zhao et al., "Efficient Image Super-Resolution Using Pixel Attention" (ECCVW 2020).
* ``SRVGGNetCompact``: the compact VGG-style net of Real-ESRGAN's ``realesr-animevideov3``.
* ``DnCNN``: Zhang et al., "Beyond a Gaussian Denoiser" (TIP 2017), batch norm folded into the convs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LEAKY_SLOPE = 0.2  # PAN uses LeakyReLU(0.2) everywhere


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, LEAKY_SLOPE)


class PixelAttention(nn.Module):
    """PA: a 1x1 conv + sigmoid gives a per-pixel, per-channel weight for its input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.conv(x))


class PAConv(nn.Module):
    """3x3 conv gated by a pixel-attention map, followed by another 3x3 conv."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.k2 = nn.Conv2d(channels, channels, 1)  # attention branch (the only conv here with a bias)
        self.k3 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.k4 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.k4(self.k3(x) * torch.sigmoid(self.k2(x)))


class SCPA(nn.Module):
    """Self-calibrated block with pixel attention: a plain 3x3 branch and a PAConv branch, fused by 1x1."""

    def __init__(self, channels: int, reduction: int = 2) -> None:
        super().__init__()
        half = channels // reduction
        self.conv1_a = nn.Conv2d(channels, half, 1, bias=False)
        self.conv1_b = nn.Conv2d(channels, half, 1, bias=False)
        self.k1 = nn.Sequential(nn.Conv2d(half, half, 3, padding=1, bias=False))
        self.PAConv = PAConv(half)  # noqa: N815 (name fixed by the released state dict)
        self.conv3 = nn.Conv2d(2 * half, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        plain = _lrelu(self.k1(_lrelu(self.conv1_a(x))))
        attended = _lrelu(self.PAConv(_lrelu(self.conv1_b(x))))
        return x + self.conv3(torch.cat([plain, attended], dim=1))


class PAN(nn.Module):
    """PAN: SCPA trunk at LR, then nearest-upsample + conv + PA stages (one per x2; one for x3), plus bilinear base.

    Args:
        scale: 2, 3 or 4.
        nf: trunk width (40 in the released models).
        unf: width of the upsampling stages (24).
        nb: number of SCPA blocks (16).
    """

    def __init__(self, scale: int, nf: int = 40, unf: int = 24, nb: int = 16, in_nc: int = 3, out_nc: int = 3) -> None:
        super().__init__()
        if scale not in (2, 3, 4):
            raise ValueError(f"PAN scale: expected 2, 3 or 4, got {scale!r}")
        self.scale = scale
        self.conv_first = nn.Conv2d(in_nc, nf, 3, padding=1)
        self.SCPA_trunk = nn.Sequential(*(SCPA(nf) for _ in range(nb)))  # noqa: N815
        self.trunk_conv = nn.Conv2d(nf, nf, 3, padding=1)
        self.upconv1 = nn.Conv2d(nf, unf, 3, padding=1)
        self.att1 = PixelAttention(unf)
        self.HRconv1 = nn.Conv2d(unf, unf, 3, padding=1)  # noqa: N815
        if scale == 4:
            self.upconv2 = nn.Conv2d(unf, unf, 3, padding=1)
            self.att2 = PixelAttention(unf)
            self.HRconv2 = nn.Conv2d(unf, unf, 3, padding=1)  # noqa: N815
        self.conv_last = nn.Conv2d(unf, out_nc, 3, padding=1)

    def _stage(
        self, x: torch.Tensor, factor: int, upconv: nn.Module, att: nn.Module, hrconv: nn.Module
    ) -> torch.Tensor:
        x = upconv(F.interpolate(x, scale_factor=factor, mode="nearest"))
        return _lrelu(hrconv(_lrelu(att(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1], (N, 3, H, W) -> (N, 3, sH, sW), not clamped."""
        fea = self.conv_first(x)
        fea = fea + self.trunk_conv(self.SCPA_trunk(fea))
        if self.scale == 4:
            fea = self._stage(fea, 2, self.upconv1, self.att1, self.HRconv1)
            fea = self._stage(fea, 2, self.upconv2, self.att2, self.HRconv2)
        else:
            fea = self._stage(fea, self.scale, self.upconv1, self.att1, self.HRconv1)
        base = F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)
        return self.conv_last(fea) + base


class SRVGGNetCompact(nn.Module):
    """Plain conv + PReLU stack at LR; the last conv feeds a pixel shuffle, added to a nearest-upsampled base.

    ``body`` indices follow the released file: conv, PReLU, ``num_conv`` x (conv, PReLU), last conv.
    """

    def __init__(self, scale: int = 4, num_feat: int = 64, num_conv: int = 16, in_nc: int = 3, out_nc: int = 3) -> None:
        super().__init__()
        self.scale = scale
        layers: list[nn.Module] = [nn.Conv2d(in_nc, num_feat, 3, padding=1), nn.PReLU(num_feat)]
        for _ in range(num_conv):
            layers += [nn.Conv2d(num_feat, num_feat, 3, padding=1), nn.PReLU(num_feat)]
        layers.append(nn.Conv2d(num_feat, out_nc * scale * scale, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1], (N, 3, H, W) -> (N, 3, sH, sW), not clamped."""
        residual = F.pixel_shuffle(self.body(x), self.scale)
        return residual + F.interpolate(x, scale_factor=self.scale, mode="nearest")


class DnCNN(nn.Module):
    """Conv + ReLU stack that predicts the degradation; the output is the input minus that residual."""

    def __init__(self, depth: int = 20, channels: int = 64, image_channels: int = 1) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for index in range(depth):
            cin = image_channels if index == 0 else channels
            cout = image_channels if index == depth - 1 else channels
            layers.append(nn.Conv2d(cin, cout, 3, padding=1))
            if index < depth - 1:
                layers.append(nn.ReLU(inplace=True))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Gray in [0, 1], (N, 1, H, W) -> restored, same size, not clamped."""
        return x - self.body(x)
