"""FilterController with an injected engine double: sizes, rebuilds, metrics, errors logged once."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest

from streamenhance.config import output_size
from streamenhance.errors import WeightsError
from streamenhance.obs.filter import FilterController, Layout
from tests.obs.doubles import EngineFactory, FakeClock, bgra

LOGGER = "streamenhance.obs"


def controller(factory: EngineFactory, clock: FakeClock | None = None, **values: object) -> FilterController:
    return FilterController(values, name="Enhance", engine_factory=factory, clock=clock or FakeClock())


def run_ready(ctl: FilterController, frame: np.ndarray, **kwargs: object) -> np.ndarray | None:
    """Process once to start the engine build, wait for it, then process for real."""
    ctl.process(frame, **kwargs)
    assert ctl.wait_idle(10)
    return ctl.process(frame, **kwargs)


# ---------------------------------------------------------------------- smoke / shape


@pytest.mark.parametrize("scale", [1.0, 1.33, 1.5, 2.0])
def test_layout_is_config_output_size(scale: float) -> None:
    ctl = controller(EngineFactory(), scale=scale)
    assert ctl.layout(641, 361) == Layout(*output_size(641, 361, scale), False)


def test_process_returns_the_engine_output_of_the_reported_size() -> None:
    factory = EngineFactory()
    ctl = controller(factory, scale=1.5, mode="strong")
    frame = bgra(36, 64)
    assert ctl.process(frame) is None  # the engine is being built: pass through meanwhile
    assert ctl.wait_idle(10)
    out = ctl.process(frame)
    assert out is not None and out.shape == (54, 96, 4) and out.dtype == np.uint8
    assert factory.built[0].settings.scale == 1.5 and factory.built[0].fps == 30.0
    status = ctl.status()
    assert status["state"] == "running" and status["mode"] == "strong" and status["tier"] == "tiny"
    assert status["models"] == "ar_tiny_strong, sr_tiny_x2_mild"


def test_three_channel_output_gets_opaque_alpha() -> None:
    factory = EngineFactory()
    ctl = controller(factory)
    original = factory.__call__

    def drop_alpha(settings, fps):  # noqa: ANN001, ANN202
        engine = original(settings, fps)
        enhance = engine.enhance
        engine.enhance = lambda frame: enhance(frame)[..., :3]  # type: ignore[method-assign]
        return engine

    ctl._factory = drop_alpha
    out = run_ready(ctl, bgra())
    assert out is not None and out.shape[2] == 4 and (out[..., 3] == 255).all()


# ---------------------------------------------------------------------- feature: engine lifecycle


def test_engine_rebuilt_only_when_engine_settings_change() -> None:
    factory = EngineFactory()
    ctl = controller(factory)
    run_ready(ctl, bgra())
    ctl.update({"compare": True})
    assert ctl.process(bgra()) is not None and len(factory.built) == 1
    ctl.update({"compare": True, "scale": 1.5})
    assert ctl.layout(64, 36) == Layout(96, 54, True)  # takes effect at once, engine or not
    out = run_ready(ctl, bgra())
    assert len(factory.built) == 2 and factory.built[0].closed and out is not None and out.shape[:2] == (54, 96)


def test_frames_pass_through_while_the_engine_builds() -> None:
    gate = threading.Event()
    factory = EngineFactory(gate=gate)
    ctl = controller(factory)
    for _ in range(3):
        assert ctl.process(bgra()) is None
    assert ctl.status()["state"] == "loading"
    assert factory.calls == 1  # one build at a time
    gate.set()
    assert ctl.wait_idle(10) and ctl.process(bgra()) is not None


def test_identity_settings_pass_through_without_an_engine() -> None:
    factory = EngineFactory()
    ctl = controller(factory, scale=1.0, mode="off")
    assert ctl.process(bgra()) is None and ctl.wait_idle(1) and factory.calls == 0
    assert ctl.status()["state"] == "passthrough"


def test_close_releases_the_engine_and_passes_through_afterwards() -> None:
    factory = EngineFactory()
    ctl = controller(factory)
    run_ready(ctl, bgra())
    ctl.close()
    ctl.close()  # idempotent
    assert factory.built[0].closed
    assert ctl.process(bgra()) is None and ctl.status()["state"] == "closed"


def test_engine_built_after_close_is_discarded() -> None:
    gate = threading.Event()
    factory = EngineFactory(gate=gate)
    ctl = controller(factory)
    ctl.process(bgra())
    closer = threading.Thread(target=ctl.close)
    closer.start()
    gate.set()
    closer.join(10)
    assert factory.built and factory.built[0].closed


# ---------------------------------------------------------------------- exception: errors logged once


def test_engine_failure_passes_through_and_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    factory = EngineFactory(error=WeightsError("weights file x.safetensors is corrupt"))
    ctl = controller(factory)
    with caplog.at_level(logging.ERROR, LOGGER):
        for _ in range(5):
            assert ctl.process(bgra()) is None
            ctl.wait_idle(10)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["filter 'Enhance': engine unavailable, passing frames through "
                     "(WeightsError: weights file x.safetensors is corrupt)"]
    assert factory.calls == 1  # no retry with the same settings
    status = ctl.status()
    assert status["state"] == "failed" and status["last_error"] == "WeightsError: weights file x.safetensors is corrupt"


def test_new_settings_retry_a_failed_engine(caplog: pytest.LogCaptureFixture) -> None:
    factory = EngineFactory(error=WeightsError("missing"))
    ctl = controller(factory)
    ctl.process(bgra())
    ctl.wait_idle(10)
    factory.error = None
    ctl.update({"tier": "small"})
    assert run_ready(ctl, bgra()) is not None and ctl.status()["state"] == "running"


def test_frames_are_wanted_only_while_they_can_change_the_picture() -> None:
    """The bridge stops reading frames back when every frame would pass through until new settings."""
    factory = EngineFactory(error=WeightsError("missing"))
    ctl = controller(factory)
    assert ctl.wants_frames()  # the first frame starts the build
    ctl.process(bgra())
    ctl.wait_idle(10)
    assert not ctl.wants_frames()  # failed for these settings: no retry until they change
    factory.error = None
    ctl.update({"tier": "small"})
    assert ctl.wants_frames()
    assert run_ready(ctl, bgra()) is not None and ctl.wants_frames()
    ctl.update({"scale": 1.0, "mode": "off"})
    assert ctl.wants_frames()  # identity: one more frame frees the models ...
    assert ctl.process(bgra()) is None
    assert not ctl.wants_frames()  # ... then nothing to do
    ctl.update({"scale": 2.0})
    assert ctl.wants_frames()
    ctl.close()
    assert not ctl.wants_frames()


def test_each_distinct_enhance_error_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    factory = EngineFactory()
    ctl = controller(factory)
    run_ready(ctl, bgra())
    engine = factory.built[0]
    errors = iter([RuntimeError("out of memory"), RuntimeError("out of memory"), ValueError("bad frame"),
                   RuntimeError("out of memory")])

    def failing(frame: np.ndarray) -> np.ndarray:
        raise next(errors)

    engine.enhance = failing  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, LOGGER):
        for _ in range(4):
            assert ctl.process(bgra()) is None
    assert len(caplog.records) == 2
    status = ctl.status()
    assert status["errors"] == 4 and status["frames_failed"] == 4
    assert status["last_error"] == "RuntimeError: out of memory"


def test_wrong_output_size_is_an_error_not_a_picture(caplog: pytest.LogCaptureFixture) -> None:
    factory = EngineFactory()
    ctl = controller(factory)
    run_ready(ctl, bgra())
    factory.built[0].enhance = lambda frame: frame  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, LOGGER):
        assert ctl.process(bgra(36, 64)) is None
    assert "engine output: expected uint8 (72, 128, 4)" in caplog.records[0].getMessage()


def test_bad_setting_keeps_the_previous_value_and_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    ctl = controller(EngineFactory(), scale=1.5)
    with caplog.at_level(logging.ERROR, LOGGER):
        assert ctl.update({"scale": 3}) == ["scale: expected one of 1, 1.33, 1.5, 2, got 3"]
        ctl.update({"scale": 3})
    assert ctl.settings.scale == 1.5 and len(caplog.records) == 1
    assert "setting rejected" in caplog.records[0].getMessage()


# ---------------------------------------------------------------------- feature: metrics


def test_metrics_fps_latency_and_drops_on_a_fake_clock() -> None:
    clock = FakeClock()
    factory = EngineFactory(clock=clock, cost_s=0.1)  # every enhance takes 100 ms of fake time
    ctl = controller(factory, clock)
    ctl.process(bgra(), captured_ns=clock(), rendered=0, dropped=0)
    ctl.wait_idle(10)
    rendered = 0
    for _ in range(20):  # a frame every 100 ms processed; the bridge rendered 3 per processed frame
        captured = clock()
        clock.advance(0.05)  # waited 50 ms in the mailbox
        rendered += 3
        assert ctl.process(bgra(), captured_ns=captured, rendered=rendered, dropped=rendered // 3 * 2) is not None
    status = ctl.status({"frames_rendered": rendered, "frames_dropped": 40})
    assert status["frames_processed"] == 20 and status["frames_dropped"] == 40
    assert status["latency_ms_p50"] == pytest.approx(150.0) and status["latency_ms_p95"] == pytest.approx(150.0)
    assert status["inference_ms_p50"] == pytest.approx(100.0)
    assert status["fps_out"] == pytest.approx(1 / 0.15, rel=0.1)
    assert status["fps_in"] == pytest.approx(3 / 0.15, rel=0.1)
    clock.advance(10)  # nothing for longer than the window: rates fall to zero
    idle = ctl.status()
    assert idle["fps_out"] == 0 and idle["latency_ms_p50"] == 0 and idle["frames_processed"] == 20


def test_native_counters_are_kept_in_the_status() -> None:
    ctl = controller(EngineFactory())
    status = ctl.status({"filter": "Enhance", "source": "Camera", "output_width": 1280})
    assert status["filter"] == "Enhance" and status["source"] == "Camera" and status["output_width"] == 1280
    assert status["settings"] == {"scale": 2.0, "mode": "auto", "tier": "auto", "device": "auto", "bitrate_kbps": 0,
                                  "compare": False}
    assert all(not isinstance(v, list) for v in status.values())  # OBS data has no arrays of strings


def test_update_from_another_thread_while_processing() -> None:
    factory = EngineFactory()
    ctl = controller(factory)
    run_ready(ctl, bgra())
    stop = threading.Event()

    def flip() -> None:
        while not stop.is_set():
            ctl.update({"compare": True})
            ctl.update({"compare": False})

    thread = threading.Thread(target=flip)
    thread.start()
    try:
        outputs = [ctl.process(bgra()) for _ in range(50)]
    finally:
        stop.set()
        thread.join()
    assert all(o is not None and o.shape == (72, 128, 4) for o in outputs)


def test_status_carries_the_tier_reason_and_the_process_scheduler() -> None:
    from streamenhance.scheduler import service
    from streamenhance.scheduler.streams import StreamRequest

    ctl = controller(EngineFactory())
    run_ready(ctl, bgra())
    assert "tier_reason" in ctl.status() and "scheduler_policy" not in ctl.status()  # none was created
    service.reset_scheduler()
    try:
        handle = service.get_scheduler().register_stream(StreamRequest(640, 360, fps=30.0))
        status = ctl.status()
        assert status["scheduler_policy"] == "learned" and status["scheduler_streams"] == 1
        assert all(isinstance(v, (str, int, float)) for k, v in status.items() if k.startswith("scheduler_"))
        handle.close()
    finally:
        service.reset_scheduler()
