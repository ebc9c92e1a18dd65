"""``streamenhance bench``: JSON shape, like-for-like paths, kernels against bandwidth, CLI. Tiny frames:
these check the benchmark, they do not time anything."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from streamenhance.bench import speed
from streamenhance.cli.main import main
from streamenhance.errors import ConfigError
from streamenhance.evaluation.peers import default_peers_root
from streamenhance.scheduler.profile import CellLimits
from streamenhance.training.images import default_data_root

QUICK = CellLimits(warmup=0, min_frames=2, min_seconds=0.0, max_seconds=5.0)
SHAPE = {"tier": str, "input": str, "scale": float, "device": str, "path": str, "residency": str, "ms": float,
         "fps": float}


def test_rows_have_the_published_shape_and_consistent_numbers() -> None:
    result = speed.run_bench(tiers=["tiny"], sizes=["64x36"], paths=["fused", "torch"], limits=QUICK)
    assert result["format"] == speed.FORMAT and isinstance(result["machine"], str) and result["machine"]
    cells = {(r["path"], r["residency"]) for r in result["rows"]}
    assert cells == {("fused", "host"), ("torch", "host"), ("torch", "device")}
    for row in result["rows"]:
        for key, kind in SHAPE.items():
            assert isinstance(row[key], kind), (key, row)
        assert row["input"] == "64x36" and row["device"] == "cpu" and row["scale"] == 2.0
        assert row["frames"] >= 2 and row["ms"] > 0 and row["p95_ms"] >= row["ms"] * 0.999
        assert row["fps"] == pytest.approx(1e3 / row["ms"], rel=1e-3)
        # Which weights ran is said, not hidden: shipped tiny weights, or a freshly built ladder model.
        assert row["weights"] == speed.UNTRAINED or row["weights"].startswith("trained (sr_tiny_x2_")
    kernels = {(r["path"], r["residency"]): r["kernel"] for r in result["rows"]}
    assert kernels[("fused", "host")].startswith("native fused") and kernels[("torch", "host")] == "torch"


def test_fused_and_torch_paths_compute_the_same_picture(tmp_path: Path) -> None:
    """The comparison is like for like: same weights, same output within one uint8 level."""
    from streamenhance.engine import Enhancer
    from streamenhance.models import load_model
    from streamenhance.scheduler.profile import prepare_weights

    prepare_weights(tmp_path, ["sr"], ["tiny"])
    frame = np.random.default_rng(1).integers(0, 256, (36, 64, 3), dtype=np.uint8)
    engine = Enhancer(scale=2.0, mode="off", tier="tiny", device="cpu", weights_dir=tmp_path, advisor=None)
    ours = engine.enhance(frame)
    _spec, model = load_model(next(tmp_path.glob("sr_tiny_x2_*.safetensors")))
    reference = speed._torch_host_to_host(model, "cpu", half=False)(frame)
    assert ours.shape == reference.shape == (72, 128, 3)
    assert np.abs(ours.astype(int) - reference.astype(int)).max() <= 1


def test_kernels_are_measured_against_a_plain_copy() -> None:
    rows = speed.kernel_rows("cpu", QUICK, size="64x36")
    assert [r["kernel"] for r in rows] == ["bgr_to_planar_f32", "planar_to_bgr_f32_plus_base"]
    for row in rows:
        assert row["bytes"] > 0 and row["gb_s"] > 0 and row["bandwidth_gb_s"] > 0
        assert row["of_bandwidth"] == pytest.approx(row["gb_s"] / row["bandwidth_gb_s"], rel=0.02)


@pytest.mark.parametrize("size", ["540p", "720p", "1080p", "960x540"])
def test_size_names_and_wxh(size: str) -> None:
    assert speed.frame_size(size) in {(960, 540), (1280, 720), (1920, 1080)}


@pytest.mark.parametrize("size", ["4k", "0x10", "10x99999", "64"])
def test_bad_sizes_are_config_errors(size: str) -> None:
    with pytest.raises(ConfigError, match="bench size"):
        speed.frame_size(size)


def test_bad_tier_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="bench tier"):
        speed.run_bench(tiers=["huge"], sizes=["64x36"], limits=QUICK)


def test_missing_peers_are_reported_as_skipped() -> None:
    result = speed.run_bench(tiers=["tiny"], sizes=["64x36"], paths=["opencv_espcn"], limits=QUICK, peers_root=None)
    assert result["rows"] == [] and result["skipped"] and "no peers folder" in result["skipped"][0]


@pytest.mark.data
def test_opencv_espcn_runs_in_the_same_bench() -> None:
    peers = default_peers_root(default_data_root())
    if peers is None:
        pytest.skip("no peers folder beside the data")
    result = speed.run_bench(tiers=["tiny"], sizes=["64x36"], paths=["opencv_espcn"], limits=QUICK, peers_root=peers)
    (row,) = result["rows"]
    assert row["path"] == "opencv_espcn" and row["tier"] == "espcn" and row["residency"] == "host" and row["ms"] > 0


def test_cli_writes_json_and_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, md = tmp_path / "bench.json", tmp_path / "bench.md"
    code = main(["bench", "--json", str(out), "--md", str(md), "--tiers", "tiny", "--sizes", "64x36",
                 "--paths", "fused", "--min-frames", "1", "--min-seconds", "0", "--no-progress"])
    assert code == 0
    result = json.loads(out.read_text())
    assert [r["path"] for r in result["rows"]] == ["fused"] and result["rows"][0]["input"] == "64x36"
    assert "| cpu | 64x36 | tiny | fused | host |" in md.read_text()
    assert "bgr_to_planar_f32" in capsys.readouterr().out
