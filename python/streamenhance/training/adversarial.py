"""The adversarial stage: a "detail" variant of a fidelity-trained SR network.

Starting from fidelity weights, the generator is fine-tuned with
    L2(out, hr) + adversarial (non-saturating GAN) + feature matching (L1 between the discriminator's
    intermediate features of the output and of the target),
against a small patch discriminator trained at the same time. Pixel losses pull toward the blurry mean of
plausible images; the discriminator rewards texture a real image would have, and feature matching keeps
that texture anchored to the target's. The result trades PSNR for detail, so it is kept as a separate
variant next to the fidelity weights (same file name in a ``detail/`` folder), never instead of them.

The generator and the discriminator train as one module with one optimizer: while the generator's loss
runs, the discriminator's parameters are frozen (gradients flow through it to the generator only), and
its own loss sees detached outputs, so each gradient reaches only its own network.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from streamenhance.models import describe, save_model
from streamenhance.models.spec import ModelSpec
from streamenhance.models.tiers import SR_ARCH
from streamenhance.training.images import find_training_set, resolve_data_root
from streamenhance.training.loop import Batch, LoopConfig, LoopResult, train
from streamenhance.training.recipes import clean_sr_data, git_commit, load_sr_parent

NEGATIVE_SLOPE = 0.2


@dataclass(frozen=True)
class AdversarialWeights:
    pixel: float = 1.0  # L2 to the target
    adversarial: float = 5e-3
    feature_matching: float = 1e-2


class PatchDiscriminator(nn.Module):
    """Strided conv stack -> one real/fake logit per receptive field (about 46 px), features kept."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        channels = [3, width, width, 2 * width, 2 * width, 4 * width]
        self.stages = nn.ModuleList(
            nn.Sequential(nn.Conv2d(cin, cout, 3, stride=1 + (i % 2), padding=1), nn.LeakyReLU(NEGATIVE_SLOPE))
            for i, (cin, cout) in enumerate(zip(channels[:-1], channels[1:], strict=True))
        )
        self.head = nn.Conv2d(channels[-1], 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        features = []
        h = 2.0 * x - 1.0
        for stage in self.stages:
            h = stage(h)
            features.append(h)
        return self.head(h), features


def adversarial_loss(weights: AdversarialWeights):
    """Loss of one step for a ModuleDict {"g": generator, "d": discriminator}: generator + discriminator."""

    def loss(pair: nn.Module, batch: Batch) -> torch.Tensor:
        generator, discriminator = pair["g"], pair["d"]
        lr, hr = batch
        out = generator(lr)
        discriminator.requires_grad_(False)
        fake_logits, fake_features = discriminator(out)
        with torch.no_grad():
            _, real_features = discriminator(hr)
        discriminator.requires_grad_(True)
        g_loss = (
            weights.pixel * F.mse_loss(out, hr)
            + weights.adversarial * F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
            + weights.feature_matching * sum(F.l1_loss(f, r) for f, r in zip(fake_features, real_features, strict=True))
        )
        real_logits, _ = discriminator(hr)
        detached_logits, _ = discriminator(out.detach())
        d_loss = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits)) + (
            F.binary_cross_entropy_with_logits(detached_logits, torch.zeros_like(detached_logits))
        )
        return g_loss + d_loss

    return loss


@dataclass
class DetailRequest:
    parent: Path  # fidelity-trained sr_rrdb weights
    steps: int
    batch: int
    patch: int
    lr: float
    data: Path | None
    out: Path
    run_dir: Path
    weights: AdversarialWeights = AdversarialWeights()
    seed: int = 0
    threads: int = 0


def run(request: DetailRequest) -> tuple[ModelSpec, LoopResult]:
    """Fine-tune ``request.parent`` adversarially and write the detail variant to ``request.out``."""
    if request.threads:
        torch.set_num_threads(request.threads)
    torch.manual_seed(request.seed)
    parent_spec, generator = load_sr_parent(request.parent)
    training_set = find_training_set(resolve_data_root(request.data))
    sampler, validate_generator = clean_sr_data(training_set, request.patch, parent_spec.scale)
    pair = nn.ModuleDict({"g": generator.train(), "d": PatchDiscriminator()})
    config = LoopConfig(steps=request.steps, batch=request.batch, patch=request.patch, lr=request.lr,
                        min_lr=request.lr / 10, seed=request.seed)
    checkpoint = request.run_dir / "checkpoint.safetensors"
    loss = adversarial_loss(request.weights)
    result = train(pair, sampler.sample, loss, lambda p: validate_generator(p["g"]), config, checkpoint,
                   f"detail {parent_spec.tier}")
    final = result.history[-1] if result.history else {}
    training = {
        **{k: v for k, v in parent_spec.training.items() if k in ("data", "data_root")},
        "variant": "detail",
        "fine_tuned_from": f"{parent_spec.name} ({parent_spec.training.get('steps')} fidelity steps)",
        "losses": dataclasses.asdict(request.weights) | {"pixel_loss": "L2", "gan": "non-saturating, patch logits"},
        "steps": request.steps,
        "batch": request.batch,
        "patch": request.patch,
        "lr": request.lr,
        "seed": request.seed,
        "device": "cpu",
        "date": dt.date.today().isoformat(),
        "commit": git_commit(),
        "validation": {k: round(v, 4) for k, v in final.items()},
    }
    spec = dataclasses.replace(
        describe(generator, SR_ARCH, parent_spec.tier, parent_spec.mode, parent_spec.hyperparameters), training=training
    )
    save_model(request.out, generator.eval(), spec)
    return spec, result
