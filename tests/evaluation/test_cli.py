"""``streamenhance eval`` end to end on a tiny data root: exit code, files, and the numbers in them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamenhance.cli.main import main
from streamenhance.evaluation.protocol import bicubic_method, evaluate, set_images
from streamenhance.models import catalog


def _eval(data: Path, out: Path, *extra: str) -> int:
    return main(
        [
            "eval",
            "--data",
            str(data),
            "--sets",
            "Set5",
            "--clips",
            "calendar",
            "--crfs",
            "30",
            "--qualities",
            "10,40",
            "--speed-size",
            "32x24",
            "--speed-repeats",
            "1",
            "--device",
            "cpu",
            "--json",
            str(out / "r.json"),
            "--md",
            str(out / "r.md"),
            "--plot",
            str(out / "r.png"),
            *extra,
        ]
    )


def test_eval_all_suites_writes_json_markdown_and_plot(
    fake_data_root: Path, identity_weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    (tmp_path / "no_peers").mkdir()
    out = tmp_path / "out"
    assert (
        _eval(fake_data_root, out, "--weights", str(identity_weights), "--peers-dir", str(tmp_path / "no_peers")) == 0
    )
    result = json.loads((out / "r.json").read_text())
    markdown = (out / "r.md").read_text()
    assert markdown.strip() in capsys.readouterr().out
    assert (out / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    sr = {(r["method"], r["scale"]): r for r in result["sr"]["records"]}
    expected = evaluate(bicubic_method, "bicubic", set_images(fake_data_root, "Set5"), "Set5", 2)
    assert sr[("bicubic (MATLAB)", 2)]["psnr_y"] == pytest.approx(expected.psnr_y, abs=1e-12)
    assert sr[("bicubic (MATLAB)", 2)]["per_image"] == pytest.approx(expected.per_image)
    specs = {e.spec.name: e.spec for e in catalog(identity_weights)}
    ours = sr[("streamenhance tiny", 2)]
    assert ours["kind"] == "ours" and ours["params"] == specs["sr_tiny_x2_mild"].params
    assert ours["psnr_y"] == pytest.approx(expected.psnr_y, abs=0.05)  # zero residual: the bicubic base
    assert {(s["method"], s["scale"]) for s in result["sr"]["speed"]} >= {
        ("bicubic (MATLAB)", 2),
        ("streamenhance tiny", 4),
    }
    assert all(s["input_hw"] == [24, 32] and s["ms"] >= 0 for s in result["sr"]["speed"])

    video = result["video"]
    compressed = {r["method"] for r in video["compressed_sr"]}
    assert compressed == {
        "bicubic (MATLAB)",
        "streamenhance tiny",
        "streamenhance tiny + AR mild",
        "streamenhance tiny + AR strong",
    }
    restored = {r["method"]: r for r in video["artifact_removal"]}
    assert restored["streamenhance AR strong"]["psnr_y"] == pytest.approx(restored["decoded H.264"]["psnr_y"], abs=1e-9)
    assert {(r["method"], r["scale"]) for r in video["temporal"] if r["kind"] == "baseline"} == {
        ("bicubic (MATLAB)", 2),
        ("bicubic (MATLAB)", 4),
    }
    assert video["clips"]["Vid4_calendar"] == {"frames": 3, "hw": [48, 64], "fps": 25}

    jpeg = {(r["method"], r["quality"]): r for r in result["jpeg"]["records"]}
    assert set(jpeg) == {
        (m, q) for m in ("JPEG (decoded)", "streamenhance AR mild", "streamenhance AR strong") for q in (10, 40)
    }
    assert jpeg[("streamenhance AR strong", 10)]["psnr"] == pytest.approx(
        jpeg[("JPEG (decoded)", 10)]["psnr"], abs=1e-9
    )
    assert jpeg[("JPEG (decoded)", 10)]["psnr"] < jpeg[("JPEG (decoded)", 40)]["psnr"]

    missing = {m["name"]: m["reason"] for m in result["unavailable"]}
    assert "not found" in missing["PAN x2"] and "not found" in missing["DnCNN-3"]
    assert "- PAN x2: unavailable: peer weights not found" in markdown
    assert result["options"]["crfs"] == [30] and result["environment"]["cpu_count"] >= 1


def test_eval_without_our_weights_reports_them_unavailable(fake_data_root: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    empty = tmp_path / "no_weights"
    empty.mkdir()
    out = tmp_path / "out"
    assert _eval(fake_data_root, out, "--suite", "sr", "--weights", str(empty), "--no-peers", "--scale", "2") == 0
    result = json.loads((out / "r.json").read_text())
    assert [r["method"] for r in result["sr"]["records"]] == ["bicubic (MATLAB)"]
    reasons = {m["name"]: m["reason"] for m in result["unavailable"]}
    assert list(reasons) == ["streamenhance x2"] and "no SR weights" in reasons["streamenhance x2"]
    assert "video" not in result and "jpeg" not in result


def test_eval_with_the_real_peers_on_tiny_images(fake_data_root: Path, peers_root: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "out"
    code = _eval(
        fake_data_root,
        out,
        "--suite",
        "sr",
        "--scale",
        "2",
        "--peers-dir",
        str(peers_root),
        "--speed-size",
        "off",
        "--weights",
        str(tmp_path),
    )
    assert code == 0
    records = {r["method"]: r for r in json.loads((out / "r.json").read_text())["sr"]["records"]}
    assert records["PAN"]["params"] == 261_403 and records["PAN"]["reference"] == 38.00
    assert records["PAN"]["psnr_y"] > records["bicubic (MATLAB)"]["psnr_y"]
    if "OpenCV FSRCNN" in records:  # present when opencv-contrib is installed
        assert records["OpenCV FSRCNN"]["params"] == 8_496


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--crfs", "abc"], "--crfs: expected comma-separated integers"),
        (["--qualities", "0"], "--qualities: expected values from"),
        (["--suite", "jpeg"], "--plot: expected the sr suite"),
        (["--plot-set", "BSD100"], "--plot: expected the sr suite to measure BSD100 x2"),
        (["--speed-size", "640"], "--speed-size: expected WxH"),
        (["--peers-dir", "/nonexistent/peers"], "--peers-dir: expected a folder"),
        (["--weights", "/nonexistent/weights"], "--weights: expected a folder"),
    ],
)
def test_eval_bad_options_are_clean_errors(
    fake_data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], fragment: str
) -> None:
    assert _eval(fake_data_root, tmp_path, *extra) == 2
    assert fragment in capsys.readouterr().err
