"""The adversarial "detail" stage: each gradient reaches only its own network; the detail ratio; a CLI run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from streamenhance.cli.main import main
from streamenhance.models import SRNet, load_model
from streamenhance.metrics import detail_ratio
from streamenhance.training.adversarial import AdversarialWeights, PatchDiscriminator, adversarial_loss


def _pair() -> nn.ModuleDict:
    torch.manual_seed(0)
    return nn.ModuleDict({"g": SRNet(scale=2, num_feat=8, num_rrdb=1, num_rdb=1, num_dense=2, growth=4),
                          "d": PatchDiscriminator(width=8)})


def _grads(weights: AdversarialWeights) -> dict[str, torch.Tensor]:
    pair = _pair()
    torch.manual_seed(1)
    lr = torch.rand(2, 3, 16, 16)
    hr = torch.rand(2, 3, 32, 32)
    adversarial_loss(weights)(pair, (lr, hr)).backward()
    return {name: p.grad.clone() if p.grad is not None else torch.zeros_like(p) for name, p in pair.named_parameters()}


def test_generator_terms_never_reach_the_discriminator_and_its_loss_never_reaches_the_generator() -> None:
    full = _grads(AdversarialWeights(pixel=1.0, adversarial=1.0, feature_matching=1.0))
    discriminator_only = _grads(AdversarialWeights(pixel=0.0, adversarial=0.0, feature_matching=0.0))
    for name, grad in full.items():
        if name.startswith("d."):
            torch.testing.assert_close(grad, discriminator_only[name], msg=name)  # G terms add nothing to D
            assert grad.abs().sum() > 0, name
        else:
            assert discriminator_only[name].abs().sum() == 0, name  # D's loss sees detached outputs
    assert any(full[n].abs().sum() > 0 for n in full if n.startswith("g."))


def test_detail_ratio_is_one_for_the_target_and_below_one_when_blurred() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    blurred = ((image[:-2].astype(np.float64) + image[1:-1] + image[2:]) / 3).astype(np.uint8)
    assert detail_ratio(image, image) == pytest.approx(1.0)
    assert detail_ratio(blurred, image[1:-1]) < 0.5


@pytest.mark.data
def test_detail_cli_writes_a_variant_with_its_training_record(tmp_path: Path, capsys) -> None:
    parent = Path(__file__).parents[2] / "python/streamenhance/weights/sr_tiny_x2_mild.safetensors"
    out = tmp_path / "detail" / "sr_tiny_x2_mild.safetensors"
    code = main(["train", "detail", "--from", str(parent), "--steps", "2", "--batch", "2", "--patch", "16",
                 "--threads", "1", "--out", str(out), "--run-dir", str(tmp_path / "run")])
    assert code == 0 and "detail variant" in capsys.readouterr().out
    spec, model = load_model(out)
    assert spec.name == "sr_tiny_x2_mild" and spec.training["variant"] == "detail"
    assert spec.training["fine_tuned_from"].startswith("sr_tiny_x2_mild")
    assert 0 < spec.training["validation"]["val_detail_ratio"] < 2
    assert isinstance(model, SRNet)
