"""The ``streamenhance`` command: enhance images and videos, demo, info, errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from streamenhance.cli.main import main
from streamenhance.io import probe, read_image, write_image
from tests.io.test_media import gradient_frames, write_clip_with_audio


@pytest.fixture
def weights(identity_weights: Path, weights_env) -> Path:
    weights_env(identity_weights)
    return identity_weights


def test_enhance_image(tmp_path: Path, weights: Path, rng, capsys) -> None:
    image = rng.integers(0, 256, (21, 30, 3), dtype=np.uint8)
    write_image(tmp_path / "in.png", image)
    code = main(["enhance", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--scale", "1.5",
                 "--mode", "strong", "--tier", "tiny", "--device", "cpu"])
    assert code == 0
    assert read_image(tmp_path / "out.png").shape == (32, 45, 3)
    assert "mode strong" in capsys.readouterr().out


def test_enhance_serves_scheduler_metrics_on_loopback(tmp_path: Path, weights: Path, rng, monkeypatch) -> None:
    """--metrics-port: Prometheus text of the process scheduler while the job runs, shut down after."""
    import urllib.request

    from streamenhance import advice
    from streamenhance.cli import enhance_cmd
    from streamenhance.scheduler import service

    pytest.importorskip("prometheus_client")
    monkeypatch.setattr(advice, "_default", [service.stream_advisor])
    served: list[object] = []
    scraped: list[str] = []
    original = enhance_cmd._serve_metrics

    def serve_and_scrape_later(port: int):  # noqa: ANN202
        server = original(port)
        served.append(server)
        return server

    def scrape_then_report(*args):  # noqa: ANN002, ANN202 -- runs while the job's stream is registered
        port = served[0][0].server_port
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            scraped.append(response.read().decode())
        return real_report(*args)

    real_report = enhance_cmd._report
    monkeypatch.setattr(enhance_cmd, "_serve_metrics", serve_and_scrape_later)
    monkeypatch.setattr(enhance_cmd, "_report", scrape_then_report)
    service.reset_scheduler()
    try:
        write_image(tmp_path / "in.png", rng.integers(0, 256, (21, 30, 3), dtype=np.uint8))
        assert main(["enhance", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--mode", "off",
                     "--device", "cpu", "--metrics-port", "0"]) == 0
    finally:
        service.reset_scheduler()
    assert served[0][0].server_address[0] == "127.0.0.1"
    assert 'streamenhance_frames_total{device="cpu",stream="stream-1",variant="pipeline"} 1.0' in scraped[0]


def test_enhance_video_keeps_audio(tmp_path: Path, weights: Path, capsys) -> None:
    write_clip_with_audio(tmp_path / "in.mp4", gradient_frames(8, 36, 48))
    code = main(["enhance", str(tmp_path / "in.mp4"), "-o", str(tmp_path / "out.mp4"), "--device", "cpu"])
    assert code == 0
    info = probe(tmp_path / "out.mp4")
    assert (info.width, info.height, info.has_audio) == (96, 72, True)
    out = capsys.readouterr().out
    assert "8 frame(s)" in out and "bits/pixel" in out  # auto mode used the stream's own bitrate


def test_enhance_odd_video_output_is_cropped_even(tmp_path: Path, weights: Path) -> None:
    write_clip_with_audio(tmp_path / "in.mp4", gradient_frames(3, 30, 42))
    assert main(["enhance", str(tmp_path / "in.mp4"), "-o", str(tmp_path / "o.mp4"), "--scale", "1.5", "--mode", "off"]) == 0
    info = probe(tmp_path / "o.mp4")
    assert (info.width, info.height) == (62, 44)  # 63x45 cropped to even sides


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(b"", "cannot"), (b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 300, "cannot")],
)
def test_enhance_corrupt_video_is_a_clean_error(tmp_path: Path, weights: Path, capsys, content, fragment) -> None:
    (tmp_path / "bad.mp4").write_bytes(content)
    assert main(["enhance", str(tmp_path / "bad.mp4"), "-o", str(tmp_path / "o.mp4")]) == 2
    assert fragment in capsys.readouterr().err


def test_enhance_missing_input(tmp_path: Path, weights: Path, capsys) -> None:
    assert main(["enhance", str(tmp_path / "nope.png"), "-o", str(tmp_path / "o.png")]) == 2
    assert "input not found" in capsys.readouterr().err


def test_enhance_bad_option_value(tmp_path: Path, weights: Path, rng, capsys) -> None:
    write_image(tmp_path / "in.png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    assert main(["enhance", str(tmp_path / "in.png"), "-o", str(tmp_path / "o.png"), "--scale", "3"]) == 2
    assert "scale: expected one of" in capsys.readouterr().err


def test_demo_writes_every_output(tmp_path: Path, weights: Path) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out-dir", str(out), "--frames", "4", "--device", "cpu"]) == 0
    for name in ("degraded.mp4", "enhanced.mp4", "side_by_side.png", "report.json", "report.md"):
        assert (out / name).stat().st_size > 0, name
    report = json.loads((out / "report.json").read_text())
    assert report["speed"]["fps"] > 0
    assert report["quality"]["bicubic"]["psnr_y"] > 20
    # identity weights: the enhanced output is exactly bicubic of the AR-identity input
    assert report["quality"]["enhanced"]["psnr_y"] == pytest.approx(report["quality"]["bicubic"]["psnr_y"], abs=0.01)
    assert probe(out / "enhanced.mp4").width == 1280


def test_demo_with_a_network_has_no_preview(tmp_path: Path, weights: Path) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out-dir", str(out), "--frames", "2", "--tier", "tiny", "--device", "cpu"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["engine"]["tier"] == "tiny" and report["preview"] is None
    assert not (out / "preview.mp4").exists() and "Preview" not in (out / "report.md").read_text()


def test_demo_previews_a_network_when_the_live_run_has_none(tmp_path: Path, weights: Path, capsys) -> None:
    from streamenhance.demo.job import DemoConfig, run_demo

    out = tmp_path / "demo"
    report = run_demo(DemoConfig(out_dir=out, frames=3, tier="bicubic", device="cpu"))  # as a slow device ends up
    assert report["engine"]["tier"] == "bicubic" and report["engine"]["models"] == []
    preview = report["preview"]
    assert preview["tier"] == "tiny" and "sr_tiny_x2_mild" in preview["models"] and preview["fps"] > 0
    # identity weights: the preview is bicubic of the AR-identity input, like the live run
    assert preview["psnr_y"] == pytest.approx(report["quality"]["bicubic"]["psnr_y"], abs=0.01)
    assert probe(out / "preview.mp4").width == 1280 and "preview.mp4" in report["files"]
    assert "Preview: the live run used no network" in (out / "report.md").read_text()


def test_info_ladder(capsys) -> None:
    assert main(["info", "--ladder"]) == 0
    table = capsys.readouterr().out
    assert "| sr | tiny | x2 |" in table and "| ar | large | x1 |" in table


def test_info_json(weights: Path, capsys) -> None:
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert {m["name"] for m in info["models"]} >= {"sr_tiny_x2_mild", "ar_tiny_strong"}
    assert "cuda_compiled" in info["native"]


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("streamenhance")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "enhance" in result.stdout and "demo" in result.stdout
