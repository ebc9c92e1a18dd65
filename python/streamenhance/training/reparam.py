"""Over-parameterised training of 3x3 convolutions, collapsed back to plain convs before saving.

A tiny network's quality is limited by how well it trains as much as by its size. Following RepVGG,
ACNet and ECBSR's edge-oriented block, each 3x3 kernel is trained as the sum of linear branches:

* a plain 3x3 kernel,
* a 1x1 expansion to ``EXPANSION`` x out channels followed by a 3x3 kernel (their product),
* a 1x1 kernel (placed at the centre tap),
* 1x1 kernels scaled per output channel by fixed Sobel-x, Sobel-y and Laplacian masks.

All branches are linear in the input, so their sum *is* one 3x3 kernel. It is computed every forward
(one kernel-sized tensor op) and the convolution runs once: training costs about what the plain net
costs, the gradients are exactly those of the separate branches, and ``collapse`` writes the merged
kernel into an ordinary ``nn.Conv2d``. The shipped network, its weight file and the native kernels
never see the branches.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

DESCRIPTION = "3x3 + (1x1 -> 3x3, 2x wide) + 1x1 + Sobel-x/Sobel-y/Laplacian-masked 1x1 branches, merged at save"
EXPANSION = 2  # width of the 1x1 -> 3x3 branch, in multiples of the output channels
_EDGE_MASKS = torch.tensor(
    [
        [[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]],  # Sobel x
        [[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]],  # Sobel y
        [[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]],  # Laplacian
    ]
)


class ExpandedConv3x3(nn.Module):
    """A 3x3 convolution (stride 1, padding 1) trained through linear branches; starts equal to ``conv``."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        if not _is_plain_3x3(conv):
            raise ValueError(f"only 3x3 convs with stride 1, padding 1, one group and a bias can be expanded: {conv}")
        cin, cout = conv.in_channels, conv.out_channels
        mid = EXPANSION * cout
        self.kernel = nn.Parameter(conv.weight.detach().clone())
        self.bias = nn.Parameter(conv.bias.detach().clone())
        # Each product branch starts at zero through one zero factor, so the merged kernel starts equal to
        # ``conv`` (keeping the net's initialisation), while the other factor gives that one a gradient.
        self.squeeze = nn.Parameter(torch.randn(mid, cin) * (2.0 / cin) ** 0.5)
        self.spread = nn.Parameter(torch.zeros(cout, mid, 3, 3))
        self.point = nn.Parameter(torch.zeros(cout, cin))
        self.edge_mix = nn.Parameter(torch.randn(len(_EDGE_MASKS), cout, cin) * (2.0 / cin) ** 0.5)
        self.edge_scale = nn.Parameter(torch.zeros(len(_EDGE_MASKS), cout))
        self.register_buffer("edge_masks", _EDGE_MASKS.clone(), persistent=False)

    def merged_kernel(self) -> torch.Tensor:
        kernel = self.kernel + torch.einsum("omhw,mi->oihw", self.spread, self.squeeze)
        kernel = kernel + F.pad(self.point[:, :, None, None], (1, 1, 1, 1))
        edges = torch.einsum("eo,eoi,ehw->oihw", self.edge_scale, self.edge_mix, self.edge_masks)
        return kernel + edges

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.merged_kernel(), self.bias, padding=1)

    def collapse(self) -> nn.Conv2d:
        cout, cin = self.kernel.shape[:2]
        conv = nn.Conv2d(cin, cout, 3, padding=1)
        with torch.no_grad():
            conv.weight.copy_(self.merged_kernel())
            conv.bias.copy_(self.bias)
        return conv


def _is_plain_3x3(module: nn.Module) -> bool:
    return (
        isinstance(module, nn.Conv2d)
        and module.kernel_size == (3, 3)
        and module.stride == (1, 1)
        and module.padding == (1, 1)
        and module.groups == 1
        and module.bias is not None
    )


def _replace(module: nn.Module, swap: Callable[[nn.Module], nn.Module | None]) -> None:
    """Depth-first: each child ``swap`` returns a module for is replaced by it, the others are searched."""
    for name, child in module.named_children():
        replacement = swap(child)
        if replacement is not None:
            setattr(module, name, replacement)
        else:
            _replace(child, swap)


def expand(model: nn.Module) -> nn.Module:
    """Replace every plain 3x3 conv of ``model`` (in place) by an ``ExpandedConv3x3`` equal to it."""

    def swap(child: nn.Module) -> nn.Module | None:
        return ExpandedConv3x3(child) if _is_plain_3x3(child) else None

    _replace(model, swap)
    return model


def collapse(model: nn.Module) -> nn.Module:
    """Undo ``expand`` in place: every ``ExpandedConv3x3`` becomes the plain conv it computes."""
    _replace(model, lambda child: child.collapse() if isinstance(child, ExpandedConv3x3) else None)
    return model
