"""Tier ladder by pruning: shrink a trained SR network one notch at a time, fine-tuning after each.

Every round tries each one-notch reduction that still moves toward the target shape (fewer trunk
channels, fewer growth channels, one dense conv or dense block or RRDB fewer), measures the held-out
PSNR each costs *before* fine-tuning, and takes the one that loses the least PSNR per MAC saved:
channels by norm (``surgery.trunk_importance`` / ``growth_importance``), whole layers and blocks by
ablation (the removal that keeps the most PSNR). Then it fine-tunes, optionally distilling from the
unpruned parent, and records params, MACs and PSNR. A last, longer fine-tune finishes the target.

Validation uses the held-out *training* stills only; the evaluation sets never choose anything.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from streamenhance.models import SRNet, describe, load_model, save_model
from streamenhance.models.complexity import macs_per_output_pixel
from streamenhance.models.spec import ModelSpec
from streamenhance.models.tiers import SR_ARCH, hyperparameters
from streamenhance.training import surgery
from streamenhance.training.images import find_training_set, resolve_data_root
from streamenhance.training.loop import Batch, LoopConfig, train
from streamenhance.training.recipes import clean_sr_data, git_commit, load_sr_parent

SHAPE_KEYS = ("num_feat", "num_rrdb", "num_rdb", "num_dense", "growth")


@dataclass
class PruneRequest:
    parent: Path  # trained sr_rrdb weights to start from
    target_tier: str  # ladder shape to reach
    round_steps: int  # fine-tune steps after each pruning round
    final_steps: int  # fine-tune steps once the target shape is reached
    batch: int
    patch: int
    lr: float
    distill: float  # weight of L1(student, parent) added to L1(student, HR); 0 = off
    data: Path | None
    out: Path
    run_dir: Path
    channel_notch: int = 4  # channels removed per round (trunk or growth)
    seed: int = 0
    threads: int = 0


@dataclass
class Round:
    index: int
    operation: str
    hyperparameters: dict[str, int]
    params: int
    macs_per_pixel: float
    val_psnr_pruned: float  # right after surgery, before fine-tuning
    val_psnr: float  # after fine-tuning
    val_gain_over_bicubic: float
    fine_tune_steps: int
    seconds: float
    pareto: bool = False


@dataclass
class PruneReport:
    parent: str
    target: dict[str, int]
    rounds: list[Round] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"parent": self.parent, "target": self.target, "rounds": [dataclasses.asdict(r) for r in self.rounds]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PruneReport:
        return cls(data["parent"], data["target"], [Round(**r) for r in data["rounds"]])


# --------------------------------------------------------------------------- candidate reductions


@dataclass(frozen=True)
class Candidate:
    operation: str
    model: SRNet
    val_psnr: float
    macs_per_pixel: float


def shape(model: SRNet) -> dict[str, int]:
    hp = surgery.hyperparameters_of(model)
    return {k: hp[k] for k in SHAPE_KEYS}


def shrink_trunk(model: SRNet, width: int) -> surgery.Keep:
    keep = surgery.keep_all(model)
    return dataclasses.replace(keep, trunk=surgery.top_channels(surgery.trunk_importance(model), width))


def shrink_growth(model: SRNet, width: int) -> surgery.Keep:
    keep = surgery.keep_all(model)
    dense = tuple(
        tuple(
            surgery.BlockKeep(
                block.convs,
                tuple(surgery.top_channels(surgery.growth_importance(model, r, b, j), width) for j in block.convs),
            )
            for b, block in enumerate(blocks)
        )
        for r, blocks in enumerate(keep.dense)
    )
    return dataclasses.replace(keep, dense=dense)


def _score_with_zeroed(model: SRNet, conv_name: str, score: Callable[[nn.Module], float]) -> float:
    """Score ``model`` with the named conv zeroed.

    Zeroing a growth conv makes its output lrelu(0) = 0, which is exactly removing its columns downstream;
    zeroing a dense block's fusing conv makes the block x + 0.2 * 0 = x, exactly removing the block. So one
    block's option can be scored while the other blocks stay whole (a plan trimming one block only would
    not be uniform, and surgery needs uniform plans).
    """
    trial = copy.deepcopy(model)
    conv = trial.get_submodule(conv_name)
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.zero_()
    return score(trial)


def drop_dense_conv(model: SRNet, score: Callable[[nn.Module], float]) -> surgery.Keep:
    """One growth conv fewer in every block; each block drops the one whose removal costs least."""
    keep = surgery.keep_all(model)
    dense = []
    for r, blocks in enumerate(keep.dense):
        kept_blocks = []
        for b, block in enumerate(blocks):
            prefix = f"trunk.{r}.blocks.{b}.convs"
            drop = max(block.convs, key=lambda j, p=prefix: _score_with_zeroed(model, f"{p}.{j}", score))
            position = block.convs.index(drop)
            kept_blocks.append(
                surgery.BlockKeep(
                    block.convs[:position] + block.convs[position + 1 :],
                    block.channels[:position] + block.channels[position + 1 :],
                )
            )
        dense.append(tuple(kept_blocks))
    return dataclasses.replace(keep, dense=tuple(dense))


def drop_dense_block(model: SRNet, score: Callable[[nn.Module], float]) -> surgery.Keep:
    """One dense block fewer in every RRDB; each RRDB drops the one whose removal costs least."""
    keep = surgery.keep_all(model)
    blocks, dense = [], []
    for r, indices in enumerate(keep.blocks):
        last = len(model.trunk[r].blocks[0].convs) - 1
        drop = max(indices, key=lambda b, r=r: _score_with_zeroed(model, f"trunk.{r}.blocks.{b}.convs.{last}", score))
        blocks.append(tuple(b for b in indices if b != drop))
        dense.append(tuple(k for b, k in zip(indices, keep.dense[r], strict=True) if b != drop))
    return dataclasses.replace(keep, blocks=tuple(blocks), dense=tuple(dense))


def drop_rrdb(model: SRNet, score: Callable[[nn.Module], float]) -> surgery.Keep:
    """One RRDB fewer: the one whose removal costs least (RRDBs are x + 0.2 f(x), so removal is surgery)."""
    keep = surgery.keep_all(model)

    def without(r: int) -> surgery.Keep:
        kept = [i for i in keep.rrdbs if i != r]
        return dataclasses.replace(
            keep,
            rrdbs=tuple(kept),
            blocks=tuple(keep.blocks[i] for i in kept),
            dense=tuple(keep.dense[i] for i in kept),
        )

    return max((without(r) for r in keep.rrdbs), key=lambda k: score(surgery.apply(model, k)))


def candidates(model: SRNet, target: dict[str, int], notch: int, score: Callable[[nn.Module], float]) -> list[Candidate]:
    """Every one-notch reduction toward ``target``, scored on held-out PSNR before fine-tuning."""
    now = shape(model)
    plans: list[tuple[str, surgery.Keep]] = []
    if now["num_feat"] > target["num_feat"]:
        width = max(target["num_feat"], now["num_feat"] - notch)
        plans.append((f"trunk channels {now['num_feat']} -> {width} (norm)", shrink_trunk(model, width)))
    if now["growth"] > target["growth"]:
        width = max(target["growth"], now["growth"] - notch)
        plans.append((f"growth channels {now['growth']} -> {width} (norm)", shrink_growth(model, width)))
    if now["num_dense"] > target["num_dense"]:
        plans.append((f"dense convs {now['num_dense']} -> {now['num_dense'] - 1} (ablation)", drop_dense_conv(model, score)))
    if now["num_rdb"] > target["num_rdb"]:
        plans.append((f"dense blocks {now['num_rdb']} -> {now['num_rdb'] - 1} (ablation)", drop_dense_block(model, score)))
    if now["num_rrdb"] > target["num_rrdb"]:
        plans.append((f"RRDBs {now['num_rrdb']} -> {now['num_rrdb'] - 1} (ablation)", drop_rrdb(model, score)))
    out = []
    for operation, keep in plans:
        pruned = surgery.apply(model, keep)
        out.append(Candidate(operation, pruned, score(pruned), macs_per_output_pixel(pruned, "residual")))
    return out


def choose(candidates_: list[Candidate], psnr_now: float, macs_now: float) -> Candidate:
    """The reduction losing the least PSNR per MAC saved (a loss below zero counts as zero)."""

    def cost(c: Candidate) -> float:
        return max(psnr_now - c.val_psnr, 0.0) / max(macs_now - c.macs_per_pixel, 1e-9)

    return min(candidates_, key=cost)


def pareto_flags(points: list[tuple[float, float]]) -> list[bool]:
    """(macs, psnr) -> whether each point is on the Pareto front (no other is cheaper-or-equal and better)."""
    flags = []
    for i, (macs, value) in enumerate(points):
        dominated = any(
            j != i and m <= macs and v >= value and (m < macs or v > value) for j, (m, v) in enumerate(points)
        )
        flags.append(not dominated)
    return flags


# --------------------------------------------------------------------------- fine-tuning and the run


def distill_loss(teacher: nn.Module | None, weight: float) -> Callable[[nn.Module, Batch], torch.Tensor]:
    """L1 to the HR target, plus ``weight`` x L1 to the unpruned parent's output when distilling."""

    def loss(model: nn.Module, batch: Batch) -> torch.Tensor:
        lr, hr = batch
        out = model(lr)
        value = F.l1_loss(out, hr)
        if teacher is not None:
            with torch.no_grad():
                target = teacher(lr)
            value = value + weight * F.l1_loss(out, target)
        return value

    return loss


def _spec(model: SRNet, parent: ModelSpec, tier: str, training: dict[str, Any]) -> ModelSpec:
    hp = surgery.hyperparameters_of(model)
    return dataclasses.replace(describe(model, SR_ARCH, tier, parent.mode, hp), training=training)


def _load_round(path: Path) -> SRNet:
    _, model = load_model(path)
    assert isinstance(model, SRNet)
    return model


class _Run:
    """Shared state of one pruning run: data, validation, teacher, report file."""

    def __init__(self, request: PruneRequest) -> None:
        self.request = request
        parent_spec, parent = load_sr_parent(request.parent)
        self.parent_spec, self.parent = parent_spec, parent
        _, target_hp = hyperparameters("sr", request.target_tier, parent_spec.scale)
        self.target = {k: int(target_hp[k]) for k in SHAPE_KEYS}
        too_big = [k for k in SHAPE_KEYS if self.target[k] > shape(parent)[k]]
        if too_big:
            raise ValueError(f"target tier {request.target_tier} is not smaller than the parent in {', '.join(too_big)}")
        self.data_root = resolve_data_root(request.data)
        training_set = find_training_set(self.data_root)
        self.sampler, self.validate = clean_sr_data(training_set, request.patch, parent_spec.scale)
        self.data_note = training_set.summary
        self.report_path = request.run_dir / "prune_report.json"

    def score(self, model: nn.Module) -> float:
        model.eval()
        return self.validate(model)["val_psnr_y"]

    def load_report(self) -> PruneReport:
        if self.report_path.exists():
            return PruneReport.from_json(json.loads(self.report_path.read_text()))
        return PruneReport(str(self.request.parent), self.target)

    def save_report(self, report: PruneReport) -> None:
        flags = pareto_flags([(r.macs_per_pixel, r.val_psnr) for r in report.rounds])
        for entry, flag in zip(report.rounds, flags, strict=True):
            entry.pareto = flag
        self.report_path.parent.mkdir(parents=True, exist_ok=True)
        self.report_path.write_text(json.dumps(report.to_json(), indent=2) + "\n")

    def fine_tune(self, model: SRNet, index: int, steps: int, lr: float) -> dict[str, float]:
        config = LoopConfig(steps=steps, batch=self.request.batch, patch=self.request.patch, lr=lr, seed=self.request.seed + index)
        teacher = self.parent if self.request.distill > 0 else None
        loss = distill_loss(teacher, self.request.distill)
        checkpoint = self.request.run_dir / f"round_{index:02d}" / "checkpoint.safetensors"
        result = train(model, self.sampler.sample, loss, self.validate, config, checkpoint, f"prune round {index}")
        return result.history[-1] if result.history else self.validate(model)

    def round_path(self, index: int) -> Path:
        return self.request.run_dir / f"round_{index:02d}.safetensors"

    def record(self, report: PruneReport, index: int, operation: str, model: SRNet, pruned_psnr: float,
               metrics: dict[str, float], steps: int, began: float) -> None:
        spec = _spec(model, self.parent_spec, self.request.target_tier, {"prune_round": index})
        entry = Round(
            index=index, operation=operation, hyperparameters=shape(model), params=spec.params,
            macs_per_pixel=spec.macs_per_pixel, val_psnr_pruned=round(pruned_psnr, 4),
            val_psnr=round(metrics["val_psnr_y"], 4), val_gain_over_bicubic=round(metrics["val_gain_over_bicubic"], 4),
            fine_tune_steps=steps, seconds=round(time.perf_counter() - began, 1),
        )
        save_model(self.round_path(index), model, spec)
        report.rounds.append(entry)
        self.save_report(report)


def run(request: PruneRequest) -> tuple[ModelSpec, PruneReport]:
    """Prune ``request.parent`` down to the target tier's shape; resumes from ``run_dir``."""
    if request.threads:
        torch.set_num_threads(request.threads)
    torch.manual_seed(request.seed)
    state = _Run(request)
    report = state.load_report()
    if report.rounds:
        model = _load_round(state.round_path(report.rounds[-1].index))
    else:
        model = copy.deepcopy(state.parent)
        began = time.perf_counter()
        metrics = state.validate(model)
        state.record(report, 0, "parent", model, metrics["val_psnr_y"], metrics, 0, began)
    while shape(model) != state.target:
        began = time.perf_counter()
        index = len(report.rounds)
        psnr_now = report.rounds[-1].val_psnr
        chosen = choose(candidates(model, state.target, request.channel_notch, state.score), psnr_now, report.rounds[-1].macs_per_pixel)
        model = chosen.model
        final = shape(model) == state.target
        steps = request.final_steps if final else request.round_steps
        metrics = state.fine_tune(model, index, steps, request.lr)
        state.record(report, index, chosen.operation, model, chosen.val_psnr, metrics, steps, began)
    return _write_output(state, model, report), report


def _write_output(state: _Run, model: SRNet, report: PruneReport) -> ModelSpec:
    request = state.request
    last = report.rounds[-1]
    training = {
        "data": f"MATLAB-bicubic x{state.parent_spec.scale} LR of {state.data_note}",
        "data_root": str(state.data_root),
        "pruned_from": state.parent_spec.name,
        "pruning": [f"{r.operation}: {r.val_psnr_pruned:.2f} -> {r.val_psnr:.2f} dB after {r.fine_tune_steps} steps"
                    for r in report.rounds[1:]],
        "steps": sum(r.fine_tune_steps for r in report.rounds),
        "parent_steps": state.parent_spec.training.get("steps"),
        "batch": request.batch,
        "patch": request.patch,
        "lr": request.lr,
        "distill": request.distill,
        "seed": request.seed,
        "device": "cpu",
        "date": dt.date.today().isoformat(),
        "commit": git_commit(),
        "validation": {"val_psnr_y": last.val_psnr, "val_gain_over_bicubic": last.val_gain_over_bicubic},
    }
    spec = _spec(model, state.parent_spec, request.target_tier, training)
    save_model(request.out, model, spec)
    return spec
