"""Restart and engine failure in a real OBS 29, with weights whose output is exactly known.

One scenario, two OBS runs on the same configuration:
1. identity weights (artifact removal = identity, SR = MATLAB bicubic): add the filter, check that the
   picture OBS shows is the engine's output for that frame, quit OBS (it saves the collection);
2. corrupt a weight file, start OBS again: the filter comes back with its settings, the engine cannot
   load, the filter passes the input through with exactly one log line, and OBS keeps rendering.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.e2e import images
from tests.e2e.conftest import engine_problem, unavailable
from tests.e2e.harness import NetNamespace, ObsConfig, ObsProcess, keeps_render_rate

pytestmark = pytest.mark.obs

KIND = "streamenhance_filter"
SETTINGS = {"scale": 2.0, "mode": "off", "tier": "tiny", "device": "cpu"}
CORRUPTED = "sr_tiny_x2_mild.safetensors"


@pytest.fixture(scope="module")
def scenario(netns: NetNamespace, obs_home: Path, identity_weights: Path) -> Iterator[dict[str, Any]]:
    problem = engine_problem(identity_weights, mode="off", tier="tiny")
    if problem is not None:
        unavailable(f"the engine cannot run with identity weights: {problem}")
    weights = obs_home / "restart-weights"
    shutil.copytree(identity_weights, weights)
    config = ObsConfig(obs_home / "restart", port=4456)  # a port of its own: a stuck OBS of another module cannot answer
    config.seed()
    config.install_script()
    degraded = images.degrade(images.original(), factor=2, quality=35)
    picture = images.save_png(degraded, obs_home / "restart-640x360.png")
    env = {"STREAMENHANCE_WEIGHTS_DIR": str(weights)}
    result: dict[str, Any] = {"degraded": degraded, "identity_weights": identity_weights}

    first = ObsProcess(config, netns, extra_env=env).start()
    try:
        first.wait_warm()
        first.add_image_scene("Restart", "RestartImg", picture)
        first.call("CreateSourceFilter", sourceName="RestartImg", filterName="Enhance", filterKind=KIND,
                   filterSettings=SETTINGS)
        result["first_status"] = first.wait_processed("RestartImg", "Enhance", 3)
        result["first_shot"] = images.load_rgb(first.screenshot("Restart", obs_home / "restart-first.png"))
    finally:
        result["first_exit"] = first.stop()

    (weights / CORRUPTED).write_bytes(b"this is not a safetensors file\n" * 8)
    second = ObsProcess(config, netns, extra_env=env).start()
    try:
        second.wait_warm()
        result["filters"] = second.call("GetSourceFilterList", sourceName="RestartImg")["filters"]
        seen: list[Any] = []

        def restored_size() -> tuple[int, int] | None:
            size = second.source_size("Restart", "RestartImg")
            seen[:] = [size, second.status()]
            return size if size == (1280, 720) else None

        result["size"] = second.wait_for(restored_size, 10, interval=0.02, what="the restored size", last=seen)
        # The harness starts OBS with --scene Scene: make the filter's scene render every frame again.
        second.call("SetCurrentProgramScene", sceneName="Restart")
        result["second_status"] = second.wait_for(
            lambda: (s := second.filter_status("RestartImg", "Enhance"))["state"] == "failed" and s, 60,
            what="the engine failure to be reported")
        # Steady state, not the scene switch: OBS composes both scenes while the transition runs (300 ms
        # fade), which lagged frames on a slow 2-core host with software GL.
        time.sleep(1.0)
        result["window"] = second.render_window(3)
        result["without_filter"] = second.filter_window("RestartImg", "Enhance", 3)
        result["second_shot"] = images.load_rgb(second.screenshot("Restart", obs_home / "restart-second.png"))
        result["error_lines"] = second.log_lines("[streamenhance] filter 'Enhance': engine unavailable")
        result["alive"] = second.alive
        yield result
    finally:
        code = second.stop()
    assert code == 0, f"OBS exited with {code}; {second.diagnostics()}"


def test_obs_shows_the_engine_output_for_the_frame(scenario: dict[str, Any]) -> None:
    """Readback, worker, upload and draw keep every pixel (colour path included)."""
    from streamenhance import Enhancer

    degraded = scenario["degraded"]
    bgra = np.dstack([degraded[..., ::-1], np.full(degraded.shape[:2], 255, np.uint8)])
    expected = Enhancer(**SETTINGS, weights_dir=scenario["identity_weights"]).enhance(bgra)[..., 2::-1]
    shot = scenario["first_shot"]
    assert shot.shape == (720, 1280, 3)
    assert images.psnr(shot, expected) > 50, images.psnr(shot, expected)
    assert scenario["first_status"]["models"] == "sr_tiny_x2_mild"
    assert scenario["first_exit"] == 0


def test_restarted_obs_restores_the_filter(scenario: dict[str, Any]) -> None:
    (entry,) = scenario["filters"]
    assert entry["filterName"] == "Enhance" and entry["filterKind"] == KIND and entry["filterEnabled"]
    assert {k: entry["filterSettings"][k] for k in SETTINGS} == SETTINGS
    assert scenario["size"] == (1280, 720)
    assert scenario["second_status"]["settings"] == {**scenario["second_status"]["settings"], **SETTINGS}


def test_engine_failure_passes_frames_through_with_one_log_line(scenario: dict[str, Any]) -> None:
    status = scenario["second_status"]
    assert status["state"] == "failed" and status["last_error"].startswith("WeightsError")
    assert len(scenario["error_lines"]) == 1, scenario["error_lines"]
    # OBS keeps rendering at its rate, and shows the input stretched to the filter's size.
    assert scenario["alive"]
    window = scenario["window"]
    assert window.rendered >= 80, window
    assert keeps_render_rate(window, [scenario["without_filter"]]), (window, scenario["without_filter"])
    stretched = images.bilinear(scenario["degraded"], 1280, 720)
    assert images.psnr(scenario["second_shot"], stretched) > 35
