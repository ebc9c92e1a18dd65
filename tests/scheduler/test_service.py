"""The process-wide facade: register, assignment, report, update, close; thread safety; singleton."""

from __future__ import annotations

import threading

import pytest

from streamenhance.config import TIERS
from streamenhance.errors import ConfigError
from streamenhance.scheduler import service
from streamenhance.scheduler.policy import StaticPlacement
from streamenhance.scheduler.service import COMMON_CONFIGS, Scheduler, StreamHandle
from streamenhance.scheduler.streams import StreamRequest
from streamenhance.scheduler.variants import LADDER


@pytest.fixture
def scheduler(trained, rig, clock, no_leaked_threads):
    sched = Scheduler("learned", placement=StaticPlacement(rig.infos()), predictor=trained[0].clone(clock=clock),
                      clock=clock)
    yield sched
    sched.close()
    assert all(s["tier"] in LADDER for s in sched.snapshot()["streams"])  # no stream left undecided


def test_register_report_update_close(scheduler: Scheduler) -> None:
    handle = scheduler.register_stream(StreamRequest(1280, 720, fps=30.0, scale=2.0, mode="auto", bitrate_kbps=4000))
    a = handle.assignment
    assert a.tier in LADDER and a.device in {d.id for d in scheduler.devices()} and a.reason.startswith("learned:")
    version = handle.version
    for _ in range(5):
        handle.report(3.0)
    snap = scheduler.snapshot()
    assert snap["collector"]["series"][0]["count"] == 5 and snap["decisions"]["count"] >= 1
    summary = scheduler.summary()
    assert summary["scheduler_policy"] == "learned" and summary["scheduler_streams"] == 1
    assert all(isinstance(v, (str, int, float)) for v in summary.values())
    new = handle.update(1920, 1080)
    assert handle.request.width == 1920 and new == handle.assignment and handle.version >= version
    handle.close()
    handle.close()  # idempotent
    assert scheduler.snapshot()["streams"] == []
    with pytest.raises(ConfigError, match="not registered"):
        _ = handle.assignment
    handle.report(1.0)  # a frame finishing after close is ignored


def test_warm_up_computes_the_common_configurations_before_any_stream(scheduler: Scheduler) -> None:
    """After ``warm`` (the maintenance thread's first job) a common stream adds no cost grid to the planner."""
    scheduler.warm()
    bank = scheduler.policy._planner.bank(scheduler.devices())  # type: ignore[attr-defined]
    assert len(bank.requests) == len(COMMON_CONFIGS) and bank.tol_done.all()
    scheduler.register_stream(StreamRequest(1280, 720, fps=30.0, scale=2.0, mode="auto", bitrate_kbps=4000))
    assert len(scheduler.policy._planner.bank(scheduler.devices()).requests) == len(COMMON_CONFIGS)  # type: ignore[attr-defined]


def test_misses_trigger_a_replan(scheduler: Scheduler) -> None:
    handle = scheduler.register_stream(StreamRequest(640, 360, fps=60.0))
    decisions = scheduler.snapshot()["decisions"]["count"]
    handle.report(handle.request.deadline_ms * 3)
    assert scheduler.snapshot()["decisions"]["count"] == decisions + 1


def test_concurrent_streams(scheduler: Scheduler) -> None:
    errors: list[BaseException] = []

    def stream(i: int) -> None:
        try:
            with scheduler.register_stream(StreamRequest(640 + 2 * i, 360, fps=30.0)) as handle:
                for _ in range(20):
                    assert handle.assignment.tier in LADDER
                    handle.report(2.0)
        except BaseException as exc:  # noqa: BLE001 - collected for the assert below
            errors.append(exc)

    threads = [threading.Thread(target=stream, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and scheduler.snapshot()["streams"] == []


def test_device_loss_replaces_streams(scheduler: Scheduler) -> None:
    handles = [scheduler.register_stream(StreamRequest(854, 480, fps=30.0)) for _ in range(6)]
    survivors = scheduler.devices()[:3]
    scheduler.set_devices(survivors)
    assert all(h.assignment.device in {d.id for d in survivors} for h in handles)


def test_register_validates(scheduler: Scheduler) -> None:
    with pytest.raises(ConfigError):
        scheduler.register_stream((1280, 720))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="fps"):
        StreamRequest(1280, 720, fps=0)
    with pytest.raises(ConfigError, match="width"):
        StreamRequest(0, 720)
    with pytest.raises(ConfigError, match="mode"):
        StreamRequest(1280, 720, mode="max")
    with pytest.raises(ConfigError, match="scale"):
        StreamRequest(1280, 720, scale=3.0)


def test_baseline_policy_by_name(rig, clock) -> None:
    sched = Scheduler("static_smallest", placement=StaticPlacement(rig.infos()), clock=clock)
    handle = sched.register_stream(StreamRequest(640, 360))
    assert handle.assignment.tier == "tiny" and sched.predictor is None


def test_background_maintenance_thread_stops(trained, rig, clock, no_leaked_threads) -> None:
    sched = Scheduler("learned", placement=StaticPlacement(rig.infos()), predictor=trained[0].clone(clock=clock),
                      clock=clock, background=True, maintain_every_s=0.01)
    sched.register_stream(StreamRequest(640, 360))
    sched.close()


def test_process_wide_scheduler_and_advisor(trained, rig, clock, no_leaked_threads) -> None:
    service.reset_scheduler()
    try:
        mine = service.configure_scheduler(policy="learned", placement=StaticPlacement(rig.infos()),
                                           predictor=trained[0].clone(clock=clock), clock=clock)
        assert service.get_scheduler() is mine
        handle = service.stream_advisor(1280, 720, fps=30, scale=2, mode="off", bitrate_kbps=0,
                                        device_preference="auto")
        assert isinstance(handle, StreamHandle) and handle.assignment.tier in LADDER
        handle.close()
    finally:
        service.reset_scheduler()


def test_a_saturated_device_reports_every_stream_on_it_over_capacity(trained, rig, clock, no_leaked_threads) -> None:
    """More work than the device has time for: every member is late, not only the one that tipped it over."""
    cpu = [d for d in rig.infos() if d.kind == "cpu"][:1]
    sched = Scheduler("learned", placement=StaticPlacement(cpu), predictor=trained[0].clone(clock=clock), clock=clock)
    try:
        handles = [sched.register_stream(StreamRequest(1920, 1080, fps=60.0)) for _ in range(6)]
        reasons = [h.assignment.reason for h in handles]
        assert all(h.assignment.tier == TIERS[0] for h in handles)
        assert all("over capacity" in r for r in reasons), reasons
        assert any("of its time" in r for r in reasons), reasons  # the device-level check, not only per stream
        assert sched.summary()["scheduler_over_capacity"] == len(handles)
    finally:
        sched.close()
