"""Enhancer(tier="auto") with a tier advisor: registration, size changes, reports, close, failures."""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import streamenhance
from streamenhance import Enhancer, advice
from tests.conftest import write_model


@dataclass
class FakeAssignment:
    tier: str
    device: str = "cpu"
    reason: str = "fake: test"


@dataclass
class FakeAdvice:
    args: tuple
    assignment: FakeAssignment
    version: int = 0
    reports: list[float] = field(default_factory=list)
    sizes: list[tuple[int, int]] = field(default_factory=list)
    closed: int = 0

    def report(self, observed_ms: float) -> None:
        self.reports.append(observed_ms)

    def update(self, width: int, height: int, fps: float | None = None) -> FakeAssignment:
        self.sizes.append((width, height))
        return self.assignment

    def close(self) -> None:
        self.closed += 1


class FakeAdvisor:
    def __init__(self, tier: str) -> None:
        self.tier = tier
        self.streams: list[FakeAdvice] = []

    def __call__(self, *args: object) -> FakeAdvice:
        self.streams.append(FakeAdvice(args, FakeAssignment(self.tier)))
        return self.streams[-1]


@pytest.fixture
def ladder(tmp_path: Path, weights_env) -> Path:
    """SR tiny and medium installed (not small, not large)."""
    for tier in ("tiny", "medium"):
        write_model(tmp_path, "sr", tier, "mild", scale=2)
    weights_env(tmp_path)
    return tmp_path


def _frame(height: int, width: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_streams_register_report_and_follow_the_assignment(ladder: Path) -> None:
    advisor = FakeAdvisor("medium")
    enhancer = Enhancer(scale=2, mode="off", tier="auto", device="cpu", fps=50, advisor=advisor)
    for _ in range(3):
        enhancer.enhance(_frame(24, 32))
    [stream] = advisor.streams
    assert stream.args == (32, 24, 50.0, 2.0, "off", 0.0, "cpu")
    assert len(stream.reports) == 3 and all(ms > 0 for ms in stream.reports)
    info = enhancer.describe()
    assert info["tier"] == "medium" and info["tier_reason"] == "scheduler: fake: test"

    stream.assignment, stream.version = FakeAssignment("tiny", reason="fake: downgraded"), 1
    enhancer.enhance(_frame(24, 32))
    assert enhancer.describe()["tier"] == "tiny" and enhancer.describe()["models"] == ["sr_tiny_x2_mild"]

    enhancer.enhance(_frame(20, 30))  # a new input size is told to the advisor
    assert stream.sizes == [(30, 20)]
    enhancer.close()
    assert stream.closed == 1 and len(advisor.streams) == 1


def test_a_tier_that_is_not_installed_falls_back_below_it(ladder: Path) -> None:
    enhancer = Enhancer(scale=2, mode="off", tier="auto", device="cpu", advisor=FakeAdvisor("large"))
    enhancer.enhance(_frame(16, 16))
    info = enhancer.describe()
    assert info["tier"] == "medium" and "tier large is not installed: medium" in info["tier_reason"]
    small = Enhancer(scale=2, mode="off", tier="auto", device="cpu", advisor=FakeAdvisor("small"))
    small.enhance(_frame(16, 16))
    assert small.describe()["tier"] == "tiny"


def test_an_enhancer_dropped_without_close_unregisters(ladder: Path) -> None:
    advisor = FakeAdvisor("tiny")
    enhancer = Enhancer(scale=2, mode="off", tier="auto", device="cpu", advisor=advisor)
    enhancer.enhance(_frame(16, 16))
    del enhancer
    gc.collect()
    assert advisor.streams[0].closed == 1


def test_explicit_tiers_and_no_advisor_do_not_register(ladder: Path) -> None:
    advisor = FakeAdvisor("tiny")
    Enhancer(scale=2, mode="off", tier="medium", device="cpu", advisor=advisor).enhance(_frame(16, 16))
    assert advisor.streams == []
    local = Enhancer(scale=2, mode="off", tier="auto", device="cpu", advisor=None)
    local.enhance(_frame(16, 16))
    assert local.describe()["tier_reason"].startswith("auto: est.")


def test_a_failing_advisor_leaves_the_local_rule_in_charge(ladder: Path, caplog: pytest.LogCaptureFixture) -> None:
    def broken(*_args: object) -> FakeAdvice:
        raise RuntimeError("scheduler down")

    enhancer = Enhancer(scale=2, mode="off", tier="auto", device="cpu", advisor=broken)
    out = enhancer.enhance(_frame(16, 16))
    assert out.shape == (32, 32, 3) and enhancer.describe()["tier_reason"].startswith("auto: est.")
    assert "tier advisor failed (RuntimeError: scheduler down)" in caplog.text


def test_the_package_installs_the_process_scheduler_as_default(ladder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamenhance.scheduler import service

    service.reset_scheduler()
    monkeypatch.setattr(advice, "_default", [streamenhance._process_scheduler])
    enhancer = Enhancer(scale=2, mode="off", tier="auto", device="cpu")
    try:
        enhancer.enhance(_frame(16, 16))
        streams = service.get_scheduler().snapshot()["streams"]
        assert len(streams) == 1 and streams[0]["width"] == 16
        assert enhancer.describe()["tier_reason"].startswith("scheduler: learned:")
        assert service.scheduler_summary()["scheduler_streams"] == 1
        enhancer.close()
        assert service.get_scheduler().snapshot()["streams"] == []
    finally:
        service.reset_scheduler()
    assert service.scheduler_summary() == {}


def test_an_advised_bicubic_rung_runs_no_network(ladder: Path) -> None:
    """The scheduler's floor: no network, output of the plain scaler, reports keep flowing."""
    advisor = FakeAdvisor("bicubic")
    enhancer = Enhancer(scale=2, mode="off", tier="auto", device="cpu", advisor=advisor)
    image = _frame(12, 20)
    out = enhancer.enhance(image)
    plain = Enhancer(scale=2, mode="off", tier="bicubic", device="cpu", advisor=None).enhance(image)
    np.testing.assert_array_equal(out, plain)
    info = enhancer.describe()
    assert info["tier"] == "bicubic" and info["models"] == [] and info["tier_reason"] == "scheduler: fake: test"
    assert len(advisor.streams[0].reports) == 1
    advisor.streams[0].assignment = FakeAssignment("tiny")
    advisor.streams[0].version += 1
    enhancer.enhance(image)
    assert enhancer.describe()["models"] == ["sr_tiny_x2_mild"]


@pytest.mark.parametrize("advised", ["tiny", "medium"])
def test_artifact_removal_runs_at_the_advised_sr_tier(ladder: Path, advised: str) -> None:
    """The scheduler costs AR at the SR net's tier: the engine must run that AR, not a fixed one."""
    for tier in ("tiny", "small", "medium"):
        write_model(ladder, "ar", tier, "mild")
    enhancer = Enhancer(scale=2, mode="mild", tier="auto", device="cpu", advisor=FakeAdvisor(advised))
    enhancer.enhance(_frame(16, 16))
    assert enhancer.describe()["models"] == [f"ar_{advised}_mild", f"sr_{advised}_x2_mild"]


@pytest.mark.parametrize(("macs_per_second", "expected"), [(1e18, "medium"), (1.0, "tiny")])
def test_artifact_removal_alone_picks_its_tier_by_throughput(
    ladder: Path, monkeypatch: pytest.MonkeyPatch, macs_per_second: float, expected: str
) -> None:
    """x1 with tier auto has no SR plan: the largest AR net that fits the frame interval runs, else the cheapest."""
    for tier in ("tiny", "small", "medium"):
        write_model(ladder, "ar", tier, "mild")
    monkeypatch.setattr("streamenhance.engine.pipeline.conv_throughput", lambda device: macs_per_second)
    enhancer = Enhancer(scale=1, mode="mild", tier="auto", device="cpu", advisor=None)
    enhancer.enhance(_frame(16, 16))
    assert enhancer.describe()["models"] == [f"ar_{expected}_mild"]


@pytest.mark.parametrize(("advised", "expected"), [("small", "small"), ("large", "medium"), ("tiny", "tiny")])
def test_artifact_removal_alone_registers_and_runs_the_advised_tier(ladder: Path, advised: str, expected: str) -> None:
    """x1 with tier auto is a stream like any other: the scheduler costs AR-only streams, so the engine registers
    it, reports its frame times and runs the assigned AR tier (the largest installed at or below it)."""
    for tier in ("tiny", "small", "medium"):
        write_model(ladder, "ar", tier, "mild")
    advisor = FakeAdvisor(advised)
    enhancer = Enhancer(scale=1, mode="mild", tier="auto", device="cpu", fps=25, advisor=advisor)
    for _ in range(2):
        enhancer.enhance(_frame(16, 24))
    [stream] = advisor.streams
    assert stream.args == (24, 16, 25.0, 1.0, "mild", 0.0, "cpu") and len(stream.reports) == 2
    info = enhancer.describe()
    assert info["models"] == [f"ar_{expected}_mild"] and info["tier"] == expected
    assert info["tier_reason"].startswith("scheduler: fake: test")
    assert ("not installed" in info["tier_reason"]) == (advised != expected)

    stream.assignment, stream.version = FakeAssignment("tiny"), 1  # a re-plan moves the stream
    enhancer.enhance(_frame(16, 24))
    assert enhancer.describe()["models"] == ["ar_tiny_mild"]


def test_artifact_removal_alone_on_the_bicubic_rung_passes_frames_through(ladder: Path) -> None:
    write_model(ladder, "ar", "tiny", "mild")
    advisor = FakeAdvisor("bicubic")
    enhancer = Enhancer(scale=1, mode="mild", tier="auto", device="cpu", advisor=advisor)
    image = _frame(16, 24)
    np.testing.assert_array_equal(enhancer.enhance(image), image)
    info = enhancer.describe()
    assert info["models"] == [] and info["mode"] == "off" and info["tier"] == "bicubic"
    assert len(advisor.streams[0].reports) == 1


def test_artifact_removal_off_at_x1_does_not_register(ladder: Path) -> None:
    """Nothing can run: no stream for the scheduler to place."""
    advisor = FakeAdvisor("tiny")
    enhancer = Enhancer(scale=1, mode="off", tier="auto", device="cpu", advisor=advisor)
    enhancer.enhance(_frame(16, 24))
    assert advisor.streams == [] and enhancer.describe()["tier"] == "none"


def test_tier_auto_loads_no_artifact_removal_net_before_the_first_frame(ladder: Path) -> None:
    """With tier auto the AR tier follows the SR plan, known on the first frame: nothing is loaded up front,
    but a mode without weights still fails at construction."""
    from streamenhance.engine.pipeline import MODEL_CACHE
    from streamenhance.errors import WeightsError

    path = write_model(ladder, "ar", "small", "mild")
    Enhancer(scale=2, mode="mild", tier="auto", device="cpu", advisor=FakeAdvisor("tiny"))
    assert path.resolve() not in MODEL_CACHE.loaded_files()
    with pytest.raises(WeightsError, match="mode 'strong'"):
        Enhancer(scale=2, mode="strong", tier="auto", device="cpu", advisor=None)
