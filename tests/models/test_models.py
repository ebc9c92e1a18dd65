"""Architectures, registry, specs and safetensors round-trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from streamenhance.errors import WeightsError
from streamenhance.models import ARNet, SRNet, build_model, catalog, describe, load_model, read_spec, save_model
from streamenhance.models.bicubic import upscale
from streamenhance.models.registry import get_arch, register_arch, registered_archs
from streamenhance.models.tiers import AR_LADDER, SR_LADDER, hyperparameters
from streamenhance.native import reference


@pytest.mark.parametrize("tier", list(SR_LADDER))
@pytest.mark.parametrize("scale", [2, 4])
def test_sr_shapes_and_roundtrip(tmp_path: Path, tier: str, scale: int) -> None:
    arch, hp = hyperparameters("sr", tier, scale)
    model = build_model(arch, hp)
    x = torch.rand(1, 3, 9, 7)
    assert model(x).shape == (1, 3, 9 * scale, 7 * scale)
    spec = describe(model, arch, tier, "mild", hp)
    save_model(str(tmp_path / "m.safetensors"), model, spec)  # a str path works as well as a Path
    loaded_spec, loaded = load_model(tmp_path / "m.safetensors")
    assert loaded_spec == spec
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model.eval()(x))


@pytest.mark.parametrize("tier", list(AR_LADDER))
def test_ar_shapes_sides_and_roundtrip(tmp_path: Path, tier: str) -> None:
    arch, hp = hyperparameters("ar", tier)
    model = build_model(arch, hp)
    assert isinstance(model, ARNet)
    x = torch.rand(2, 3, 16, 24)
    out, sides = model.forward_with_sides(x)
    assert out.shape == x.shape and len(sides) == hp["num_blocks"]
    assert all(side.shape == x.shape for side in sides)
    torch.testing.assert_close(out, model(x))
    spec = describe(model, arch, tier, "strong", hp)
    assert spec.size.multiple_of == 4 and spec.kind == "ar" and spec.name == f"ar_{tier}_strong"
    save_model(tmp_path / "a.safetensors", model, spec)
    assert read_spec(tmp_path / "a.safetensors") == spec


def test_ladder_cost_grows_with_tier() -> None:
    for kind, ladder in (("sr", SR_LADDER), ("ar", AR_LADDER)):
        costs = []
        for tier in ladder:
            arch, hp = hyperparameters(kind, tier)
            spec = describe(build_model(arch, hp), arch, tier, "mild", hp)
            costs.append((spec.params, spec.macs_per_pixel))
        assert costs == sorted(costs), kind


def test_sr_macs_match_hand_count() -> None:
    """tiny x2: conv_first 3->16, dense 16->12 and 28->16, body 16->16, up 16->12, per LR pixel / 4."""
    arch, hp = hyperparameters("sr", "tiny", 2)
    spec = describe(build_model(arch, hp), arch, "tiny", "mild", hp)
    per_lr_pixel = 9 * (3 * 16 + 16 * 12 + 28 * 16 + 16 * 16 + 16 * 12)
    assert spec.macs_per_pixel == pytest.approx(per_lr_pixel / 4)


def test_zero_residual_sr_is_matlab_bicubic() -> None:
    model = SRNet(scale=2, num_feat=8, num_rrdb=1, num_rdb=1, num_dense=2, growth=4)
    torch.nn.init.zeros_(model.conv_up.weight)
    torch.nn.init.zeros_(model.conv_up.bias)
    x = torch.rand(1, 3, 11, 13)
    expected = reference.resize(x.numpy().astype("float64"), (22, 26))
    with torch.no_grad():
        torch.testing.assert_close(model(x).double(), torch.from_numpy(expected), atol=1e-5, rtol=0)
    torch.testing.assert_close(upscale(x, 2).double(), torch.from_numpy(expected), atol=1e-5, rtol=0)


def test_registry_rejects_duplicates_and_unknown_names() -> None:
    assert {"sr_rrdb", "ar_unet"} <= set(registered_archs())
    with pytest.raises(ValueError, match="already registered"):
        register_arch("sr_rrdb")(SRNet)
    with pytest.raises(WeightsError, match="expected one of ar_unet, sr_rrdb"):
        get_arch("nope")


def test_bad_hyperparameters_raise() -> None:
    with pytest.raises(WeightsError, match="invalid hyperparameters"):
        build_model("sr_rrdb", {"scale": 3, "num_feat": 8, "num_rrdb": 1, "num_rdb": 1, "num_dense": 2, "growth": 4})


def _saved(tmp_path: Path) -> Path:
    arch, hp = hyperparameters("sr", "tiny", 2)
    model = build_model(arch, hp)
    path = tmp_path / "w.safetensors"
    save_model(path, model, describe(model, arch, "tiny", "mild", hp))
    return path


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="not found"):
        load_model(tmp_path / "absent.safetensors")


@pytest.mark.parametrize("keep", [0, 7, 100, 1000])
def test_truncated_file(tmp_path: Path, keep: int) -> None:
    path = _saved(tmp_path)
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(WeightsError):
        load_model(path)


def test_pickle_file_is_rejected_without_unpickling(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    torch.save({"weights": torch.zeros(3)}, path)  # a pickle archive under a safetensors name
    with pytest.raises(WeightsError, match="corrupt or not safetensors"):
        load_model(path)


def test_foreign_safetensors_without_metadata(tmp_path: Path) -> None:
    path = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(WeightsError, match="invalid streamenhance metadata"):
        load_model(path)


def test_mismatched_tensors(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    spec = read_spec(path)
    save_file({"conv_first.weight": torch.zeros(1)}, str(path), metadata=spec.to_metadata())
    with pytest.raises(WeightsError, match="does not match sr_rrdb"):
        load_model(path)


def test_nan_weights_are_rejected(tmp_path: Path) -> None:
    arch, hp = hyperparameters("sr", "tiny", 2)
    model = build_model(arch, hp)
    model.conv_first.weight.data[0, 0, 0, 0] = float("nan")
    path = tmp_path / "nan.safetensors"
    save_model(path, model, describe(build_model(arch, hp), arch, "tiny", "mild", hp))
    with pytest.raises(WeightsError, match="NaN"):
        load_model(path)


def test_catalog_lists_specs_sorted(tmp_path: Path) -> None:
    _saved(tmp_path)
    entries = catalog(tmp_path)
    assert [e.spec.name for e in entries] == ["sr_tiny_x2_mild"]
    assert catalog(str(tmp_path)) == entries  # a str folder is a folder too
    assert catalog(tmp_path / "missing") == []


def test_metadata_is_plain_strings(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    from safetensors import safe_open

    with safe_open(str(path), "pt") as handle:
        metadata = handle.metadata()
    assert metadata["format"] == "streamenhance/1" and metadata["arch"] == "sr_rrdb"
    assert json.loads(metadata["hyperparameters"])["num_feat"] == 16
