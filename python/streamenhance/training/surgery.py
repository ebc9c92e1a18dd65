"""Structured pruning of ``sr_rrdb`` networks: importance scores and weight surgery.

A ``Keep`` plan names what survives: RRDBs, the dense blocks in each, the growth convs in each block and
their channels, and the trunk channels. ``apply`` copies the surviving slices of every weight into a
network built from the smaller hyperparameters, so the result is an ordinary ``SRNet`` (the engine, the
fused kernels and the scheduler need uniform widths, so every plan keeps the same counts everywhere).

Removing a growth conv or a block leaves the remaining weights as they were: the residual structure
(x + 0.2 * f(x)) keeps the network close to its old function, and fine-tuning repairs the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from streamenhance.models import SRNet

Tensor = torch.Tensor


@dataclass(frozen=True)
class BlockKeep:
    """A dense block: surviving growth convs (old indices) and the channels each keeps."""

    convs: tuple[int, ...]
    channels: tuple[tuple[int, ...], ...]  # one per surviving growth conv


@dataclass(frozen=True)
class Keep:
    trunk: tuple[int, ...]  # surviving trunk (num_feat) channels
    rrdbs: tuple[int, ...]  # surviving RRDB indices
    blocks: tuple[tuple[int, ...], ...]  # per surviving RRDB: surviving dense-block indices
    dense: tuple[tuple[BlockKeep, ...], ...]  # per surviving RRDB, per surviving block


def hyperparameters_of(model: SRNet) -> dict[str, int]:
    """The constructor arguments of ``model``, read back from its layers."""
    num_feat = model.conv_first.out_channels
    num_rrdb = len(model.trunk)
    if num_rrdb == 0:
        return {"scale": model.scale, "num_feat": num_feat, "num_rrdb": 0, "num_rdb": 1, "num_dense": 2, "growth": 1}
    block = model.trunk[0].blocks[0]
    growth = block.convs[0].out_channels if len(block.convs) > 1 else 1
    return {
        "scale": model.scale,
        "num_feat": num_feat,
        "num_rrdb": num_rrdb,
        "num_rdb": len(model.trunk[0].blocks),
        "num_dense": len(block.convs),
        "growth": growth,
    }


def keep_all(model: SRNet) -> Keep:
    """The identity plan."""
    hp = hyperparameters_of(model)
    every_channel = tuple(range(hp["growth"]))
    block = BlockKeep(tuple(range(hp["num_dense"] - 1)), (every_channel,) * (hp["num_dense"] - 1))
    return Keep(
        trunk=tuple(range(hp["num_feat"])),
        rrdbs=tuple(range(hp["num_rrdb"])),
        blocks=(tuple(range(hp["num_rdb"])),) * hp["num_rrdb"],
        dense=((block,) * hp["num_rdb"],) * hp["num_rrdb"],
    )


def validate_keep(keep: Keep) -> dict[str, int]:
    """Check the plan is uniform (same counts everywhere); returns the counts."""
    rdb_counts = {len(b) for b in keep.blocks}
    dense_counts = {len(k.convs) for blocks in keep.dense for k in blocks}
    growth_counts = {len(c) for blocks in keep.dense for k in blocks for c in k.channels}
    if len(rdb_counts) > 1 or len(dense_counts) > 1 or len(growth_counts) > 1:
        raise ValueError(f"plan is not uniform: blocks {rdb_counts}, growth convs {dense_counts}, growth {growth_counts}")
    if not keep.trunk:
        raise ValueError("plan keeps no trunk channel")
    if keep.rrdbs and (not rdb_counts or 0 in rdb_counts):
        raise ValueError("every surviving RRDB needs at least one dense block")
    if growth_counts and 0 in growth_counts:
        raise ValueError("every surviving growth conv needs at least one channel")
    return {
        "num_feat": len(keep.trunk),
        "num_rrdb": len(keep.rrdbs),
        "num_rdb": rdb_counts.pop() if rdb_counts else 1,
        "num_dense": (dense_counts.pop() if dense_counts else 1) + 1,
        "growth": growth_counts.pop() if growth_counts else 1,
    }


def apply(model: SRNet, keep: Keep) -> SRNet:
    """A new, smaller ``SRNet`` holding the slices of ``model``'s weights that ``keep`` names."""
    pruned = SRNet(scale=model.scale, **validate_keep(keep))
    trunk = torch.tensor(keep.trunk)
    with torch.no_grad():
        _copy(pruned.conv_first, model.conv_first, rows=trunk, cols=None)
        _copy(pruned.conv_body, model.conv_body, rows=trunk, cols=trunk)
        _copy(pruned.conv_up, model.conv_up, rows=None, cols=trunk)
        for new_r, old_r in enumerate(keep.rrdbs):
            for new_b, old_b in enumerate(keep.blocks[new_r]):
                old_block = model.trunk[old_r].blocks[old_b]
                new_block = pruned.trunk[new_r].blocks[new_b]
                _copy_dense_block(new_block, old_block, keep.dense[new_r][new_b], keep.trunk, model.conv_first.out_channels)
    return pruned


def _copy_dense_block(new_block, old_block, block_keep: BlockKeep, trunk: tuple[int, ...], old_feat: int) -> None:
    old_growth = old_block.convs[0].out_channels if len(old_block.convs) > 1 else 0
    last = len(old_block.convs) - 1
    # Input columns of the old concatenation [trunk, growth conv 0, growth conv 1, ...] that survive.
    columns = list(trunk)
    for new_j, old_j in enumerate(block_keep.convs):
        rows = torch.tensor(block_keep.channels[new_j])
        _copy(new_block.convs[new_j], old_block.convs[old_j], rows=rows, cols=torch.tensor(columns))
        columns += [old_feat + old_j * old_growth + c for c in block_keep.channels[new_j]]
    _copy(new_block.convs[-1], old_block.convs[last], rows=torch.tensor(trunk), cols=torch.tensor(columns))


def _copy(new_conv, old_conv, rows: Tensor | None, cols: Tensor | None) -> None:
    weight, bias = old_conv.weight, old_conv.bias
    if rows is not None:
        weight, bias = weight[rows], bias[rows]
    if cols is not None:
        weight = weight[:, cols]
    if new_conv.weight.shape != weight.shape:
        raise ValueError(f"surgery shape mismatch: {tuple(weight.shape)} into {tuple(new_conv.weight.shape)}")
    new_conv.weight.copy_(weight)
    new_conv.bias.copy_(bias)


# --------------------------------------------------------------------------- norm-based importance


def _row_norms(conv, rows: slice | Tensor) -> Tensor:
    return conv.weight[rows].flatten(1).norm(dim=1)


def _col_norms(conv, cols: slice | Tensor) -> Tensor:
    return conv.weight[:, cols].transpose(0, 1).flatten(1).norm(dim=1)


def trunk_importance(model: SRNet) -> Tensor:
    """Per trunk channel: (norm of everything writing it) x (norm of everything reading it).

    A channel matters only if it is both produced and consumed; the product ranks a channel low when
    either side is weak. Norms are over all writers/readers (conv_first, each block's fusing conv and
    conv_body write; every dense conv, conv_body and conv_up read).
    """
    feat = model.conv_first.out_channels
    written = _row_norms(model.conv_first, slice(None)) ** 2 + _row_norms(model.conv_body, slice(None)) ** 2
    read = _col_norms(model.conv_body, slice(None)) ** 2 + _col_norms(model.conv_up, slice(None)) ** 2
    for rrdb in model.trunk:
        for block in rrdb.blocks:
            written = written + _row_norms(block.convs[-1], slice(None)) ** 2
            for conv in block.convs:
                read = read + _col_norms(conv, slice(0, feat)) ** 2
    return (written.sqrt() * read.sqrt()).detach()


def growth_importance(model: SRNet, rrdb: int, block: int, conv: int) -> Tensor:
    """Per output channel of growth conv ``conv`` of a block: its filter norm x the norm of its readers."""
    convs = model.trunk[rrdb].blocks[block].convs
    feat, growth = model.conv_first.out_channels, convs[0].out_channels
    start = feat + conv * growth
    read = sum(_col_norms(later, slice(start, start + growth)) ** 2 for later in convs[conv + 1 :])
    return (_row_norms(convs[conv], slice(None)) * read.sqrt()).detach()


def top_channels(scores: Tensor, count: int) -> tuple[int, ...]:
    """Indices of the ``count`` highest scores, in their original order (keeps slices contiguous-ish)."""
    if not 0 < count <= scores.numel():
        raise ValueError(f"cannot keep {count} of {scores.numel()} channels")
    return tuple(sorted(torch.topk(scores, count).indices.tolist()))
