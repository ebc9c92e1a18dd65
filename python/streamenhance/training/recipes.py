"""Training recipes, each ending in a weight file.

* SR mild: L1 on MATLAB-bicubic LR/HR patches (the published "BI" degradation).
* SR strong: L1 on compressed LR (H.264/JPEG of the strong range, decoded) restored by the frozen AR
  weights the engine runs before SR in mode strong, against the clean HR.
* AR: L1 + MS-SSIM with deep supervision on H.264/JPEG-degraded clips of the mode's range.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from streamenhance import native
from streamenhance.errors import ConfigError
from streamenhance.metrics import detail_ratio, psnr
from streamenhance.models import ARNet, SRNet, build_model, catalog, choose_ar, describe, load_model, save_model
from streamenhance.models.spec import ModelSpec
from streamenhance.models.tiers import SR_ARCH, hyperparameters
from streamenhance.training import reparam
from streamenhance.training.images import TrainingSet, find_training_set, load_images, resolve_data_root
from streamenhance.training.loop import Batch, LoopConfig, LoopResult, train
from streamenhance.training.losses import MS_SSIM_WEIGHT, SCALES, l1_ms_ssim_loss
from streamenhance.training.samplers import (
    ARPairs,
    ARPatchSampler,
    CompressedSRPairs,
    SRPatchSampler,
    from_planar,
    restore_frames,
    synthesize_ar_pairs,
    synthesize_sr_pairs,
    to_planar,
)

VALIDATION_CROP = 192  # LR side of the centre crop used for validation (keeps it fast)
DEEP_SUPERVISION_WEIGHT = 0.5  # total weight of all side losses, split evenly
SR_STRONG_SEQUENCES = 600  # synthesized clips of the SR strong recipe
SR_STRONG_HR_SIDE = 160  # HR side of its frames: 80x80 LR at x2 leaves room for 48x48 patches
HOLDOUT_SEQUENCES = 16  # validation clips synthesized from the held-out stills
Validate = Callable[[nn.Module], dict[str, float]]


@dataclass
class TrainRequest:
    kind: str  # "sr" | "ar"
    tier: str
    mode: str
    scale: int
    steps: int
    batch: int
    patch: int
    lr: float
    data: Path | None
    out: Path
    run_dir: Path
    seed: int = 0
    sequences: int = 400  # AR and SR strong: synthesized clips (0: the recipe's default)
    threads: int = 0  # 0 = torch default
    ms_ssim_weight: float = MS_SSIM_WEIGHT  # AR: weight of (1 - MS-SSIM) beside L1; 0 = L1 only
    expand_convs: bool = False  # train every 3x3 conv through linear branches, collapsed before saving


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


def _center_crop(image: np.ndarray, side: int) -> np.ndarray:
    h, w = image.shape[:2]
    y, x = max(0, (h - side) // 2), max(0, (w - side) // 2)
    return image[y : y + side, x : x + side]


# --------------------------------------------------------------------------- SR


def sr_validation(holdout: list[np.ndarray], scale: int):
    pairs = []
    for image in holdout:
        hr = _center_crop(image, VALIDATION_CROP * scale)
        h, w = (hr.shape[0] // scale) * scale, (hr.shape[1] // scale) * scale
        hr = np.ascontiguousarray(hr[:h, :w])
        pairs.append((native.resize(hr, (h // scale, w // scale)), hr))

    def validate(model: nn.Module) -> dict[str, float]:
        gains, values, details = [], [], []
        with torch.no_grad():
            for lr, hr in pairs:
                out = from_planar(model(to_planar(lr[None])))[0]
                bicubic = native.resize(lr, hr.shape[:2])
                value = psnr(out, hr, border=scale)
                values.append(value)
                gains.append(value - psnr(bicubic, hr, border=scale))
                details.append(detail_ratio(out, hr, border=scale))
        return {
            "val_psnr_y": float(np.mean(values)),
            "val_gain_over_bicubic": float(np.mean(gains)),
            "val_detail_ratio": float(np.mean(details)),
        }

    return validate


def clean_sr_data(training_set: TrainingSet, patch: int, scale: int) -> tuple[SRPatchSampler, Validate]:
    """Batches of the published "BI" degradation from the training stills, and validation on the held-out ones."""
    min_side = patch * scale
    sampler = SRPatchSampler(load_images(training_set.train_stills, min_side), scale)
    return sampler, sr_validation(load_images(training_set.holdout_stills, min_side), scale)


def load_sr_parent(path: Path) -> tuple[ModelSpec, SRNet]:
    """Trained ``sr_rrdb`` weights to start from (pruning, the detail stage); ``ValueError`` for anything else."""
    spec, model = load_model(path)
    if spec.arch != SR_ARCH or not isinstance(model, SRNet):
        raise ValueError(f"{path}: expected {SR_ARCH} weights, got {spec.arch}")
    return spec, model


def _sr_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    lr, hr = batch
    return F.l1_loss(model(lr), hr)


# --------------------------------------------------------------------------- SR on compressed input


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _sr_compressed_validation(pairs: CompressedSRPairs, restored: np.ndarray, scale: int):
    """Y-PSNR of SR on the AR-restored LR, and its gain over bicubic of the decoded LR (the baseline)."""

    def validate(model: nn.Module) -> dict[str, float]:
        values, gains = [], []
        with torch.no_grad():
            for start in range(0, len(pairs.hr), 16):
                outputs = from_planar(model(to_planar(restored[start : start + 16])))
                for index, out in enumerate(outputs, start):
                    hr = pairs.hr[index]
                    bicubic = native.resize(pairs.decoded[index], hr.shape[:2])
                    value = psnr(out, hr, border=scale)
                    values.append(value)
                    gains.append(value - psnr(bicubic, hr, border=scale))
        return {"val_psnr_y": float(np.mean(values)), "val_gain_over_bicubic": float(np.mean(gains))}

    return validate


# --------------------------------------------------------------------------- AR


def _ar_loss(ms_ssim_weight: float) -> Callable[[nn.Module, Batch], torch.Tensor]:
    """L1 + MS-SSIM of the output, plus the same loss of every side output (deep supervision)."""

    def loss(model: nn.Module, batch: Batch) -> torch.Tensor:
        degraded, clean = batch
        assert isinstance(model, ARNet)
        out, sides = model.forward_with_sides(degraded)
        side_weight = DEEP_SUPERVISION_WEIGHT / max(len(sides), 1)
        terms = [l1_ms_ssim_loss(out, clean, ms_ssim_weight)]
        terms += [side_weight * l1_ms_ssim_loss(side, clean, ms_ssim_weight) for side in sides]
        return sum(terms)

    return loss


def _ar_validation(pairs: ARPairs):
    def validate(model: nn.Module) -> dict[str, float]:
        gains = []
        with torch.no_grad():
            for start in range(0, len(pairs.clean), 16):
                degraded = pairs.degraded[start : start + 16]
                restored = from_planar(model(to_planar(degraded)))
                for i, clean in enumerate(pairs.clean[start : start + 16]):
                    gains.append(psnr(restored[i], clean, on_luma=False) - psnr(degraded[i], clean, on_luma=False))
        return {"val_gain_over_decoded": float(np.mean(gains))}

    return validate


# --------------------------------------------------------------------------- recipes


@dataclass
class Recipe:
    """What one kind/mode trains on: batches, loss, validation, and how to describe it in the metadata."""

    sample: Callable[[int, int, np.random.Generator], Batch]
    loss: Callable[[nn.Module, Batch], torch.Tensor]
    validate: Validate
    data_note: str
    metadata: dict[str, object] = field(default_factory=dict)


def _sr_clean_recipe(request: TrainRequest, training_set: TrainingSet) -> Recipe:
    sampler, validate = clean_sr_data(training_set, request.patch, request.scale)
    data_note = f"MATLAB-bicubic x{request.scale} LR of {training_set.summary}"
    return Recipe(sampler.sample, _sr_loss, validate, data_note, {"loss": "L1"})


def _sr_compressed_recipe(request: TrainRequest, training_set: TrainingSet, rng: np.random.Generator) -> Recipe:
    """Compressed LR -> frozen AR of the same mode (precomputed once) -> SR, against the clean HR."""
    ar_entry = choose_ar(catalog(), request.mode, request.tier)  # the AR the engine runs before this SR net
    _, ar_model = load_model(ar_entry.path)
    multiple = ar_entry.spec.size.multiple_of
    side, sequences = SR_STRONG_HR_SIDE, request.sequences or SR_STRONG_SEQUENCES
    if request.patch * request.scale > side:
        raise ConfigError(f"--patch {request.patch}: SR {request.mode} frames are {side // request.scale} px LR")
    stills = load_images(training_set.train_stills, side)
    clips = [load_images(c, side) for c in training_set.clips]
    train_pairs = synthesize_sr_pairs(stills, clips, request.mode, sequences, rng, request.scale, side)
    holdout_stills = load_images(training_set.holdout_stills, side)
    holdout_rng = np.random.default_rng(request.seed + 1)
    holdout = synthesize_sr_pairs(holdout_stills, [], request.mode, HOLDOUT_SEQUENCES, holdout_rng, request.scale, side)
    restored = restore_frames(ar_model, train_pairs.decoded, multiple)
    sampler = SRPatchSampler.from_pairs(list(zip(restored, train_pairs.hr, strict=True)), request.scale)
    validate = _sr_compressed_validation(holdout, restore_frames(ar_model, holdout.decoded, multiple), request.scale)
    bpp = train_pairs.bits_per_pixel
    data_note = (
        f"{request.mode} H.264/JPEG of MATLAB-bicubic x{request.scale} LR ({sequences} sequences, "
        f"bpp {np.percentile(bpp, 5):.3f}-{np.percentile(bpp, 95):.3f}), restored by {ar_entry.path.name}, "
        f"of {training_set.summary}"
    )
    metadata = {"loss": "L1", "ar_weights": ar_entry.path.name, "ar_sha256": file_sha256(ar_entry.path)}
    return Recipe(sampler.sample, _sr_loss, validate, data_note, metadata)


def _ar_recipe(request: TrainRequest, training_set: TrainingSet, rng: np.random.Generator) -> Recipe:
    stills = load_images(training_set.train_stills, 160)
    clips = [load_images(c, 160) for c in training_set.clips]
    train_pairs = synthesize_ar_pairs(stills, clips, request.mode, request.sequences, rng)
    holdout_pairs = synthesize_ar_pairs(
        load_images(training_set.holdout_stills, 160), [], request.mode, HOLDOUT_SEQUENCES,
        np.random.default_rng(request.seed + 1),
    )
    bpp = train_pairs.bits_per_pixel
    data_note = (
        f"{request.mode} H.264/JPEG degradations ({request.sequences} sequences, "
        f"bpp {np.percentile(bpp, 5):.3f}-{np.percentile(bpp, 95):.3f}) of {training_set.summary}"
    )
    ms_ssim = f" + {request.ms_ssim_weight} x (1 - MS-SSIM, {SCALES} scales)" if request.ms_ssim_weight else ""
    loss_note = (
        f"L1{ms_ssim} of the output and of every side output (side outputs weighted {DEEP_SUPERVISION_WEIGHT} in total)"
    )
    loss = _ar_loss(request.ms_ssim_weight)
    return Recipe(ARPatchSampler(train_pairs).sample, loss, _ar_validation(holdout_pairs), data_note, {"loss": loss_note})


def build_recipe(request: TrainRequest, training_set: TrainingSet, rng: np.random.Generator) -> Recipe:
    if request.kind == "ar":
        return _ar_recipe(request, training_set, rng)
    if request.mode == "strong":
        return _sr_compressed_recipe(request, training_set, rng)
    return _sr_clean_recipe(request, training_set)


# --------------------------------------------------------------------------- entry point


def run(request: TrainRequest) -> tuple[ModelSpec, LoopResult]:
    """Train one model end to end and write ``request.out``; resumes from ``run_dir/checkpoint``."""
    if request.threads:
        torch.set_num_threads(request.threads)
    torch.manual_seed(request.seed)
    data_root = resolve_data_root(request.data)
    training_set = find_training_set(data_root)
    arch, hp = hyperparameters(request.kind, request.tier, request.scale)
    model = build_model(arch, hp)
    if request.expand_convs:
        reparam.expand(model)
    recipe = build_recipe(request, training_set, np.random.default_rng(request.seed))
    config = LoopConfig(steps=request.steps, batch=request.batch, patch=request.patch, lr=request.lr, seed=request.seed)
    name = f"{request.kind} {request.tier} {request.mode}"
    checkpoint = request.run_dir / "checkpoint.safetensors"
    result = train(model, recipe.sample, recipe.loss, recipe.validate, config, checkpoint, name)
    final = result.history[-1] if result.history else {}
    if request.expand_convs:
        reparam.collapse(model)
        recipe.metadata["expanded_convs"] = reparam.DESCRIPTION
    spec = dataclasses.replace(
        describe(model, arch, request.tier, request.mode, hp),
        training={
            "data": recipe.data_note,
            "data_root": str(data_root),
            **recipe.metadata,
            "steps": request.steps,
            "batch": request.batch,
            "patch": request.patch,
            "lr": request.lr,
            "seed": request.seed,
            "seconds_last_session": round(result.seconds, 1),
            "device": "cpu",
            "date": dt.date.today().isoformat(),
            "commit": git_commit(),
            "validation": {k: round(v, 4) for k, v in final.items()},
        },
    )
    save_model(request.out, model, spec)
    return spec, result
