"""Compression-artifact removal: a light U-Net with deep supervision.

head (full res) -> strided conv (1/2) -> strided conv (1/4) -> residual blocks -> pixel-shuffle decoder
with additive skips -> tail, added to the input. After every residual block a 1x1 side head predicts
the output from that depth (pixel-shuffled to full resolution); training sums their losses, inference
skips them.
"""

from __future__ import annotations

import torch
from torch import nn

from streamenhance.models.registry import register_arch

NEGATIVE_SLOPE = 0.2
DOWNSAMPLE = 4  # two stride-2 stages: inputs are padded to a multiple of this


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = nn.LeakyReLU(NEGATIVE_SLOPE, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act(self.conv1(x)))


class UpStage(nn.Module):
    """conv to 4x channels, pixel shuffle x2, add the encoder skip, activation."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels * 4, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        self.act = nn.LeakyReLU(NEGATIVE_SLOPE, inplace=True)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.act(self.shuffle(self.conv(x)) + skip)


@register_arch("ar_unet")
class ARNet(nn.Module):
    """Artifact-removal U-Net; input sides must be multiples of 4.

    Args:
        channels: width at full resolution (x2 at 1/2, x4 at 1/4).
        num_blocks: residual blocks at 1/4 resolution, each with a side output.
    """

    def __init__(self, channels: int, num_blocks: int) -> None:
        super().__init__()
        c1, c2, c4 = channels, channels * 2, channels * 4
        self.head = nn.Conv2d(3, c1, 3, padding=1)
        self.down1 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.down2 = nn.Conv2d(c2, c4, 3, stride=2, padding=1)
        self.blocks = nn.ModuleList(ResidualBlock(c4) for _ in range(num_blocks))
        self.side_heads = nn.ModuleList(nn.Conv2d(c4, 3 * DOWNSAMPLE * DOWNSAMPLE, 1) for _ in range(num_blocks))
        self.side_shuffle = nn.PixelShuffle(DOWNSAMPLE)
        self.up2 = UpStage(c4, c2)
        self.up1 = UpStage(c2, c1)
        self.tail = nn.Conv2d(c1, 3, 3, padding=1)
        self.act = nn.LeakyReLU(NEGATIVE_SLOPE, inplace=True)
        nn.init.zeros_(self.tail.weight)  # start as the identity
        nn.init.zeros_(self.tail.bias)

    def _encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        full = self.act(self.head(x))
        half = self.act(self.down1(full))
        return full, half, self.act(self.down2(half))

    def _decode(self, x: torch.Tensor, deep: torch.Tensor, half: torch.Tensor, full: torch.Tensor) -> torch.Tensor:
        return x + self.tail(self.up1(self.up2(deep, half), full))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        full, half, deep = self._encode(x)
        for block in self.blocks:
            deep = block(deep)
        return self._decode(x, deep, half, full)

    def forward_with_sides(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Final output and one side output per residual block (for deep supervision)."""
        full, half, deep = self._encode(x)
        sides = []
        for block, side_head in zip(self.blocks, self.side_heads, strict=True):
            deep = block(deep)
            sides.append(x + self.side_shuffle(side_head(deep)))
        return self._decode(x, deep, half, full), sides
