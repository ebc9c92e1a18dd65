"""Pruning: exact weight surgery, norm/ablation choices, the greedy round choice, and an end-to-end run."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from streamenhance.models import SRNet, load_model
from streamenhance.models.tiers import SR_LADDER
from streamenhance.training import prune, surgery

SMALL = {"num_feat": 8, "num_rrdb": 2, "num_rdb": 2, "num_dense": 3, "growth": 4}


def _model(**shape: int) -> SRNet:
    torch.manual_seed(0)
    model = SRNet(scale=2, **(shape or SMALL))
    with torch.no_grad():  # untrained trunks are damped x0.1; make every branch matter
        for conv in model.modules():
            if isinstance(conv, torch.nn.Conv2d):
                conv.weight.normal_(0, 0.3)
                conv.bias.normal_(0, 0.1)
    return model.eval()


def _out(model: SRNet, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x)


@pytest.fixture
def x() -> torch.Tensor:
    torch.manual_seed(1)
    return torch.rand(2, 3, 12, 10)


def _zero(conv: torch.nn.Conv2d, rows=slice(None), cols=slice(None)) -> None:
    with torch.no_grad():
        conv.weight[rows, cols] = 0
        if cols == slice(None):
            conv.bias[rows] = 0


def test_keeping_everything_reproduces_the_network(x) -> None:
    model = _model()
    copy = surgery.apply(model, surgery.keep_all(model))
    assert torch.equal(_out(copy, x), _out(model, x))
    assert surgery.hyperparameters_of(copy) == {"scale": 2, **SMALL}


def test_dropping_a_growth_conv_equals_zeroing_it(x) -> None:
    model = _model()
    zeroed = _model()
    for rrdb in zeroed.trunk:
        for block in rrdb.blocks:
            _zero(block.convs[1])
    keep = surgery.keep_all(model)
    dense = tuple(tuple(surgery.BlockKeep((0,), (b.channels[0],)) for b in blocks) for blocks in keep.dense)
    pruned = surgery.apply(model, dataclasses.replace(keep, dense=dense))
    assert prune.shape(pruned)["num_dense"] == 2
    torch.testing.assert_close(_out(pruned, x), _out(zeroed, x), rtol=0, atol=1e-6)


def test_a_dead_trunk_channel_is_the_one_removed_and_removing_it_changes_nothing(x) -> None:
    model = _model()
    dead = 5
    _zero(model.conv_first, rows=dead)
    _zero(model.conv_body, rows=dead)
    for rrdb in model.trunk:
        for block in rrdb.blocks:
            _zero(block.convs[-1], rows=dead)
    scores = surgery.trunk_importance(model)
    assert scores[dead] == 0 and (scores[torch.arange(8) != dead] > 0).all()
    pruned = surgery.apply(model, prune.shrink_trunk(model, 7))
    assert pruned.conv_first.out_channels == 7
    torch.testing.assert_close(_out(pruned, x), _out(model, x), rtol=0, atol=1e-6)


def test_an_unread_growth_channel_is_the_one_removed_and_removing_it_changes_nothing(x) -> None:
    model = _model()
    feat, growth, unread = 8, 4, 2
    for rrdb in model.trunk:
        for block in rrdb.blocks:
            for later in block.convs[1:]:
                _zero(later, cols=feat + unread)  # nothing reads channel 2 of growth conv 0
            _zero(block.convs[2], cols=feat + growth + unread)  # nor channel 2 of growth conv 1
    keep = prune.shrink_growth(model, 3)
    assert all(ch == (0, 1, 3) for blocks in keep.dense for b in blocks for ch in b.channels)
    pruned = surgery.apply(model, keep)
    torch.testing.assert_close(_out(pruned, x), _out(model, x), rtol=0, atol=1e-6)


def test_ablation_drops_the_block_that_does_nothing(x) -> None:
    model = _model()
    for rrdb in model.trunk:
        _zero(rrdb.blocks[1].convs[-1])  # block 1 of every RRDB is the identity
    reference = _out(model, x)

    def closeness(candidate: torch.nn.Module) -> float:
        return -float((_out(candidate, x) - reference).abs().max())

    keep = prune.drop_dense_block(model, closeness)
    assert keep.blocks == ((0,), (0,))
    torch.testing.assert_close(_out(surgery.apply(model, keep), x), reference, rtol=0, atol=1e-6)


def test_non_uniform_plans_are_refused() -> None:
    model = _model()
    keep = surgery.keep_all(model)
    with pytest.raises(ValueError, match="not uniform"):
        surgery.apply(model, dataclasses.replace(keep, blocks=((0,), (0, 1))))
    with pytest.raises(ValueError, match="keep 9 of 8"):
        prune.shrink_trunk(model, 9)


def test_candidates_move_toward_the_target_and_never_past_it() -> None:
    model = _model()
    target = {"num_feat": 6, "num_rrdb": 2, "num_rdb": 1, "num_dense": 3, "growth": 4}
    found = prune.candidates(model, target, notch=4, score=lambda m: 0.0)
    shapes = {c.operation: prune.shape(c.model) for c in found}
    assert sorted(shapes) == ["dense blocks 2 -> 1 (ablation)", "trunk channels 8 -> 6 (norm)"]
    assert shapes["trunk channels 8 -> 6 (norm)"]["num_feat"] == 6  # notch 4 stops at the target
    assert all(c.macs_per_pixel < prune.macs_per_output_pixel(model, "residual") for c in found)


def test_the_round_takes_the_least_psnr_lost_per_mac_saved() -> None:
    m = _model()
    cheap_but_costly = prune.Candidate("a", m, val_psnr=30.0, macs_per_pixel=100.0)  # -2 dB for 900 MACs
    gentle = prune.Candidate("b", m, val_psnr=31.8, macs_per_pixel=800.0)  # -0.2 dB for 200 MACs
    assert prune.choose([cheap_but_costly, gentle], psnr_now=32.0, macs_now=1000.0).operation == "b"


def test_pareto_flags() -> None:
    points = [(100.0, 30.0), (50.0, 29.0), (60.0, 28.0), (100.0, 29.5), (10.0, 27.0)]
    assert prune.pareto_flags(points) == [True, True, False, False, True]


@pytest.mark.data
def test_prune_run_reaches_the_target_shape_and_resumes(tmp_path: Path, data_root: Path) -> None:
    from streamenhance.models import describe, save_model

    parent_hp = {"scale": 2, **SR_LADDER["tiny"], "num_feat": SR_LADDER["tiny"]["num_feat"] + 4, "num_dense": 3}
    parent = SRNet(**parent_hp)
    parent_path = tmp_path / "parent.safetensors"
    save_model(parent_path, parent, describe(parent, "sr_rrdb", "small", "mild", parent_hp))
    request = prune.PruneRequest(
        parent=parent_path, target_tier="tiny", round_steps=2, final_steps=3, batch=2, patch=16, lr=1e-4,
        distill=0.5, data=data_root, out=tmp_path / "out.safetensors", run_dir=tmp_path / "run", threads=1,
    )
    spec, report = prune.run(request)
    assert [r.index for r in report.rounds] == list(range(len(report.rounds)))
    assert report.rounds[0].operation == "parent" and len(report.rounds) == 3  # 4 trunk channels fewer, 3 -> 2 convs
    assert report.rounds[-1].hyperparameters == SR_LADDER["tiny"] and report.rounds[-1].fine_tune_steps == 3
    assert any(r.pareto for r in report.rounds)
    loaded_spec, model = load_model(request.out)
    assert loaded_spec.tier == "tiny" and loaded_spec.hyperparameters == {"scale": 2, **SR_LADDER["tiny"]}
    assert loaded_spec.training["pruned_from"] == spec.training["pruned_from"] == "sr_small_x2_mild"
    assert len(loaded_spec.training["pruning"]) == 2
    saved = json.loads((request.run_dir / "prune_report.json").read_text())
    assert len(saved["rounds"]) == 3
    _, again = prune.run(request)  # resumed: nothing left to prune, no round added
    assert len(again.rounds) == 3
