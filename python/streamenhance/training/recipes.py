"""Training recipes: SR (fidelity, L1) and AR (L1 with deep supervision), each ending in a weight file."""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from streamenhance import native
from streamenhance.metrics import psnr
from streamenhance.models import ARNet, SRNet, build_model, describe, save_model
from streamenhance.models.spec import ModelSpec
from streamenhance.models.tiers import hyperparameters
from streamenhance.training.images import find_training_set, load_images, resolve_data_root
from streamenhance.training.loop import Batch, LoopConfig, LoopResult, train
from streamenhance.training.samplers import ARPairs, ARPatchSampler, SRPatchSampler, synthesize_ar_pairs, to_planar

VALIDATION_CROP = 192  # LR side of the centre crop used for validation (keeps it fast)
DEEP_SUPERVISION_WEIGHT = 0.5  # total weight of all side losses, split evenly


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
    sequences: int = 400  # AR: synthesized clips
    threads: int = 0  # 0 = torch default


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


def _planar_to_uint8(x: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) RGB float -> BGR uint8 through the native post-processing kernel."""
    return native.planar_to_bgr(x.detach().float().contiguous().numpy())


def _center_crop(image: np.ndarray, side: int) -> np.ndarray:
    h, w = image.shape[:2]
    y, x = max(0, (h - side) // 2), max(0, (w - side) // 2)
    return image[y : y + side, x : x + side]


# --------------------------------------------------------------------------- SR


def _sr_validation(holdout: list[np.ndarray], scale: int):
    pairs = []
    for image in holdout:
        hr = _center_crop(image, VALIDATION_CROP * scale)
        h, w = (hr.shape[0] // scale) * scale, (hr.shape[1] // scale) * scale
        hr = np.ascontiguousarray(hr[:h, :w])
        pairs.append((native.resize(hr, (h // scale, w // scale)), hr))

    def validate(model: nn.Module) -> dict[str, float]:
        gains, values = [], []
        with torch.no_grad():
            for lr, hr in pairs:
                out = _planar_to_uint8(model(to_planar(lr[None])))
                bicubic = native.resize(lr, hr.shape[:2])
                value = psnr(out, hr, border=scale)
                values.append(value)
                gains.append(value - psnr(bicubic, hr, border=scale))
        return {"val_psnr_y": float(np.mean(values)), "val_gain_over_bicubic": float(np.mean(gains))}

    return validate


def _sr_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    lr, hr = batch
    return F.l1_loss(model(lr), hr)


# --------------------------------------------------------------------------- AR


def _ar_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    degraded, clean = batch
    assert isinstance(model, ARNet)
    out, sides = model.forward_with_sides(degraded)
    side_weight = DEEP_SUPERVISION_WEIGHT / max(len(sides), 1)
    return F.l1_loss(out, clean) + side_weight * sum(F.l1_loss(side, clean) for side in sides)


def _ar_validation(pairs: ARPairs):
    def validate(model: nn.Module) -> dict[str, float]:
        gains = []
        with torch.no_grad():
            for start in range(0, len(pairs.clean), 16):
                degraded = pairs.degraded[start : start + 16]
                out = model(to_planar(degraded))
                for i in range(out.shape[0]):
                    restored = _planar_to_uint8(out[i : i + 1])
                    clean = pairs.clean[start + i]
                    gains.append(psnr(restored, clean, on_luma=False) - psnr(degraded[i], clean, on_luma=False))
        return {"val_gain_over_decoded": float(np.mean(gains))}

    return validate


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
    rng = np.random.default_rng(request.seed)
    if request.kind == "sr":
        assert isinstance(model, SRNet)
        min_side = request.patch * request.scale
        sampler = SRPatchSampler(load_images(training_set.train_stills, min_side), request.scale)
        validate = _sr_validation(load_images(training_set.holdout_stills, min_side), request.scale)
        sample, loss = sampler.sample, _sr_loss
        data_note = f"MATLAB-bicubic x{request.scale} LR of {training_set.summary}"
    else:
        stills = load_images(training_set.train_stills, 160)
        clips = [load_images(c, 160) for c in training_set.clips]
        train_pairs = synthesize_ar_pairs(stills, clips, request.mode, request.sequences, rng)
        holdout_pairs = synthesize_ar_pairs(
            load_images(training_set.holdout_stills, 160), [], request.mode, 16, np.random.default_rng(request.seed + 1)
        )
        sample, loss = ARPatchSampler(train_pairs).sample, _ar_loss
        validate = _ar_validation(holdout_pairs)
        bpp = train_pairs.bits_per_pixel
        data_note = (
            f"{request.mode} H.264/JPEG degradations ({request.sequences} sequences, "
            f"bpp {np.percentile(bpp, 5):.3f}-{np.percentile(bpp, 95):.3f}) of {training_set.summary}"
        )
    config = LoopConfig(steps=request.steps, batch=request.batch, patch=request.patch, lr=request.lr, seed=request.seed)
    name = f"{request.kind} {request.tier} {request.mode}"
    result = train(model, sample, loss, validate, config, request.run_dir / "checkpoint.safetensors", name)
    final = result.history[-1] if result.history else {}
    spec = dataclasses.replace(
        describe(model, arch, request.tier, request.mode, hp),
        training={
            "data": data_note,
            "data_root": str(data_root),
            "steps": request.steps,
            "batch": request.batch,
            "patch": request.patch,
            "lr": request.lr,
            "seed": request.seed,
            "seconds_last_session": round(result.seconds, 1),
            "device": "cpu",
            "date": dt.date.today().isoformat(),
            "commit": _git_commit(),
            "validation": {k: round(v, 4) for k, v in final.items()},
        },
    )
    save_model(request.out, model, spec)
    return spec, result
