"""Super-resolution generator: ESRGAN-style, with *reduced* residual-in-residual dense blocks.

conv_first -> RRDB trunk -> conv_body (+ trunk skip) -> conv_up (nf -> 3 * s^2) -> pixel shuffle,
added to a bicubic base of the input. All convolutions run at input resolution, so the cost per
output pixel is the cost per input pixel divided by s^2. The residual is what the network computes;
the base is added by ``forward`` in training and by the native post-processing kernel at inference.
"""

from __future__ import annotations

import torch
from torch import nn

from streamenhance.models.bicubic import upscale
from streamenhance.models.registry import register_arch

SUPPORTED_SCALES = (2, 4)
NEGATIVE_SLOPE = 0.2
RESIDUAL_SCALE = 0.2


class DenseBlock(nn.Module):
    """``num_dense`` densely connected convs: all but the last add ``growth`` channels, the last fuses."""

    def __init__(self, num_feat: int, num_dense: int, growth: int) -> None:
        super().__init__()
        inputs = [num_feat + i * growth for i in range(num_dense)]
        outputs = [growth] * (num_dense - 1) + [num_feat]
        self.convs = nn.ModuleList(nn.Conv2d(i, o, 3, padding=1) for i, o in zip(inputs, outputs, strict=True))
        self.act = nn.LeakyReLU(NEGATIVE_SLOPE, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for conv in self.convs[:-1]:
            features.append(self.act(conv(torch.cat(features, dim=1))))
        return x + RESIDUAL_SCALE * self.convs[-1](torch.cat(features, dim=1))


class RRDB(nn.Module):
    """Residual-in-residual: ``num_rdb`` dense blocks with an outer scaled skip."""

    def __init__(self, num_feat: int, num_rdb: int, num_dense: int, growth: int) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*(DenseBlock(num_feat, num_dense, growth) for _ in range(num_rdb)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + RESIDUAL_SCALE * self.blocks(x)


@register_arch("sr_rrdb")
class SRNet(nn.Module):
    """Reduced-RRDB super-resolution network producing a residual over bicubic.

    Args:
        scale: 2 or 4.
        num_feat: trunk width.
        num_rrdb: residual-in-residual blocks in the trunk (0 for a plain head/tail net).
        num_rdb: dense blocks per RRDB.
        num_dense: convs per dense block (>= 2).
        growth: channels added by each dense conv.
    """

    def __init__(self, scale: int, num_feat: int, num_rrdb: int, num_rdb: int, num_dense: int, growth: int) -> None:
        super().__init__()
        if scale not in SUPPORTED_SCALES:
            raise ValueError(f"scale: expected one of {SUPPORTED_SCALES}, got {scale}")
        if num_dense < 2:
            raise ValueError(f"num_dense: expected >= 2, got {num_dense}")
        self.scale = scale
        self.conv_first = nn.Conv2d(3, num_feat, 3, padding=1)
        self.trunk = nn.Sequential(*(RRDB(num_feat, num_rdb, num_dense, growth) for _ in range(num_rrdb)))
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        self.conv_up = nn.Conv2d(num_feat, 3 * scale * scale, 3, padding=1)
        self.shuffle = nn.PixelShuffle(scale)
        self.act = nn.LeakyReLU(NEGATIVE_SLOPE, inplace=True)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, a=NEGATIVE_SLOPE)
                nn.init.zeros_(module.bias)
        for block in self.trunk.modules():
            if isinstance(block, nn.Conv2d):  # ESRGAN: damp residual branches so training starts near identity
                block.weight.data.mul_(0.1)
        self.conv_up.weight.data.mul_(0.1)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [0, 1] -> residual (N, 3, sH, sW) to add to the bicubic base."""
        feat = self.act(self.conv_first(x))
        feat = feat + self.conv_body(self.trunk(feat))
        return self.shuffle(self.conv_up(self.act(feat)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upscale(x, self.scale) + self.residual(x)
