"""Parameter and multiply-accumulate counts, measured by running the model once with conv hooks."""

from __future__ import annotations

import torch
from torch import nn


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def macs_per_output_pixel(model: nn.Module, forward: str = "forward", side: int = 64) -> float:
    """Conv MACs of one call of ``model.<forward>`` divided by the output's pixel count.

    Only convolutions are counted (activations, shuffles and the bicubic base are memory-bound).
    """
    total = 0

    def hook(module: nn.Module, _inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        assert isinstance(module, nn.Conv2d)
        kernel = module.kernel_size[0] * module.kernel_size[1]
        total += output.numel() * (module.in_channels // module.groups) * kernel

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            out = getattr(model, forward)(torch.zeros(1, 3, side, side))
    finally:
        for handle in handles:
            handle.remove()
    return total / (out.shape[-2] * out.shape[-1])
