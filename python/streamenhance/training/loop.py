"""A small, resumable training loop: Adam + cosine decay, tqdm progress, safetensors checkpoints."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn
from tqdm import tqdm

from streamenhance.errors import WeightsError

Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass
class LoopConfig:
    steps: int
    batch: int
    patch: int
    lr: float = 1e-3
    min_lr: float = 1e-5
    seed: int = 0
    checkpoint_every: int = 500
    validate_every: int = 1000


@dataclass
class LoopResult:
    steps: int
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)


def cosine_lr(config: LoopConfig, step: int) -> float:
    progress = min(step / max(config.steps, 1), 1.0)
    return config.min_lr + 0.5 * (config.lr - config.min_lr) * (1.0 + math.cos(math.pi * progress))


def save_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, step: int, extra: dict) -> None:
    """Model + Adam moments as tensors, the rest as JSON metadata (no pickle anywhere)."""
    tensors = {f"model.{k}": v.detach().contiguous() for k, v in model.state_dict().items()}
    state = optimizer.state_dict()
    for index, slots in state["state"].items():
        for name, value in slots.items():
            tensors[f"optim.{index}.{name}"] = value.detach().reshape(-1).contiguous() if value.ndim == 0 else value
    metadata = {"step": str(step), "param_groups": json.dumps(state["param_groups"]), "extra": json.dumps(extra)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    tmp.replace(path)


def load_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[int, dict]:
    """Restore a checkpoint written by ``save_checkpoint``; returns (step, extra)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"checkpoint {path} is unreadable: {exc}") from exc
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, strict=True)
    slots: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            slots.setdefault(int(index), {})[name] = value.reshape(()) if name == "step" else value
    optimizer.load_state_dict({"state": slots, "param_groups": json.loads(metadata["param_groups"])})
    return int(metadata["step"]), json.loads(metadata.get("extra", "{}"))


def train(
    model: nn.Module,
    sample: Callable[[int, int, np.random.Generator], Batch],
    loss_fn: Callable[[nn.Module, Batch], torch.Tensor],
    validate: Callable[[nn.Module], dict[str, float]],
    config: LoopConfig,
    checkpoint: Path,
    description: str,
) -> LoopResult:
    """Run (or resume from ``checkpoint``) ``config.steps`` optimisation steps.

    Batches are drawn from a generator seeded by (seed, step), so a resumed run sees the same data as
    an uninterrupted one.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.9, 0.99))
    start, extra = (0, {}) if not checkpoint.exists() else load_checkpoint(checkpoint, model, optimizer)
    history: list[dict[str, float]] = extra.get("history", [])
    began = time.perf_counter()
    running = 0.0
    model.train()
    with tqdm(total=config.steps, initial=start, desc=description, unit="step", dynamic_ncols=True) as bar:
        for step in range(start, config.steps):
            for group in optimizer.param_groups:
                group["lr"] = cosine_lr(config, step)
            rng = np.random.default_rng((config.seed, step))
            loss = loss_fn(model, sample(config.batch, config.patch, rng))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            running = loss.item() if step == start else 0.98 * running + 0.02 * loss.item()
            bar.set_postfix(loss=f"{running:.4f}", refresh=False)
            bar.update(1)
            done = step + 1
            if done % config.validate_every == 0 or done == config.steps:
                model.eval()
                record = {"step": float(done), "loss": running, **validate(model)}
                model.train()
                history.append(record)
                bar.write(f"{description} step {done}: " + ", ".join(f"{k}={v:.4f}" for k, v in record.items()))
            if done % config.checkpoint_every == 0 or done == config.steps:
                save_checkpoint(checkpoint, model, optimizer, done, {"history": history})
    model.eval()
    return LoopResult(config.steps, time.perf_counter() - began, history)
