"""Over-parameterised 3x3 convs: they start equal to the plain net, are one kernel, and collapse exactly."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from streamenhance.cli.main import main
from streamenhance.models import build_model, load_model
from streamenhance.models.archs.sr_net import SRNet
from streamenhance.models.tiers import SR_LADDER, hyperparameters
from streamenhance.training.reparam import ExpandedConv3x3, collapse, expand


def _net(kind: str, tier: str, scale: int) -> nn.Module:
    torch.manual_seed(0)
    arch, hp = hyperparameters(kind, tier, scale)
    return build_model(arch, hp).eval()


def _perturb(model: nn.Module) -> None:
    """Move every branch away from its initial zero so the test sees all of them."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))


@pytest.mark.parametrize(("kind", "tier", "scale"), [("sr", "tiny", 2), ("sr", "small", 4), ("ar", "tiny", 1)])
def test_expanded_net_starts_as_the_plain_net_and_collapses_to_it(kind: str, tier: str, scale: int) -> None:
    plain = _net(kind, tier, scale)
    x = torch.rand(2, 3, 24, 28)
    expanded = expand(copy.deepcopy(plain))
    assert any(isinstance(m, ExpandedConv3x3) for m in expanded.modules())
    torch.testing.assert_close(expanded(x), plain(x), rtol=0, atol=0)

    _perturb(expanded)
    trained = expanded(x)
    collapsed = collapse(copy.deepcopy(expanded))
    assert not any(isinstance(m, ExpandedConv3x3) for m in collapsed.modules())
    assert {k: v.shape for k, v in collapsed.state_dict().items()} == {k: v.shape for k, v in plain.state_dict().items()}
    torch.testing.assert_close(collapsed(x), trained, rtol=1e-5, atol=1e-5)


def test_merged_kernel_is_the_sum_of_the_separate_branches() -> None:
    """Away from the border (where the 1x1 stage's zero padding differs) one conv equals every branch run apart."""
    torch.manual_seed(1)
    conv = ExpandedConv3x3(nn.Conv2d(5, 4, 3, padding=1))
    _perturb(conv)
    x = torch.rand(1, 5, 12, 12)
    separate = F.conv2d(x, conv.kernel, conv.bias, padding=1)
    separate = separate + F.conv2d(F.conv2d(x, conv.squeeze[:, :, None, None]), conv.spread, padding=1)
    separate = separate + F.conv2d(x, conv.point[:, :, None, None])
    for mix, scale, mask in zip(conv.edge_mix, conv.edge_scale, conv.edge_masks, strict=True):
        mixed = F.conv2d(x, mix[:, :, None, None])
        depthwise = (scale[:, None, None] * mask).unsqueeze(1)
        separate = separate + F.conv2d(mixed, depthwise, padding=1, groups=mixed.shape[1])
    interior = (slice(None), slice(None), slice(1, -1), slice(1, -1))
    torch.testing.assert_close(conv(x)[interior], separate[interior], rtol=1e-5, atol=1e-5)


def test_every_branch_trains_from_the_start() -> None:
    """The zero factor of each product branch gets a gradient at once, the other one from the second step."""
    conv = ExpandedConv3x3(nn.Conv2d(3, 4, 3, padding=1))
    x = torch.rand(1, 3, 8, 8)
    conv(x).square().sum().backward()
    moving_first = {name for name, p in conv.named_parameters() if p.grad.abs().sum() > 0}
    assert moving_first == {"kernel", "bias", "spread", "point", "edge_scale"}
    torch.optim.SGD(conv.parameters(), lr=0.01).step()
    conv.zero_grad()
    conv(x).square().sum().backward()
    assert all(p.grad.abs().sum() > 0 for p in conv.parameters())


def test_only_plain_3x3_convs_are_expanded() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.Conv2d(4, 4, 1), nn.Conv2d(4, 4, 3, padding=1))
    expand(model)
    assert [type(m).__name__ for m in model] == ["Conv2d", "Conv2d", "ExpandedConv3x3"]
    with pytest.raises(ValueError, match="stride 1"):
        ExpandedConv3x3(nn.Conv2d(3, 4, 3, stride=2, padding=1))


@pytest.mark.data
def test_train_cli_expand_convs_writes_the_plain_architecture(tmp_path: Path) -> None:
    out = tmp_path / "sr.safetensors"
    code = main(["train", "sr", "--tier", "tiny", "--steps", "3", "--batch", "2", "--patch", "16", "--expand-convs",
                 "--out", str(out), "--run-dir", str(tmp_path / "run")])
    assert code == 0
    spec, model = load_model(out)
    assert isinstance(model, SRNet) and not any(isinstance(m, ExpandedConv3x3) for m in model.modules())
    plain = SRNet(scale=2, **SR_LADDER["tiny"])
    assert spec.params == sum(p.numel() for p in plain.parameters()) and "Sobel" in spec.training["expanded_convs"]
