"""The process-wide scheduler facade: streams register, read their assignment, report frame times.

    from streamenhance.scheduler import StreamRequest, get_scheduler

    handle = get_scheduler().register_stream(StreamRequest(1280, 720, fps=30, scale=2, mode="auto"))
    handle.assignment          # Assignment(tier="small", device="cpu", reason="learned: predicted p95 ...")
    handle.report(23.4)        # after every frame: engine milliseconds
    handle.update(1920, 1080)  # the input resolution changed
    handle.close()             # the stream ended

The engine must not import the scheduler (layering): it receives a factory with plain arguments,
``stream_advisor(width, height, fps, scale, mode, bitrate_kbps, device_preference) -> handle``, from
the layer that builds it (OBS filter, CLI), and talks to the handle through a small protocol: the
``assignment`` attribute (``tier``, ``device``, ``reason``), ``version``, ``report(ms)``,
``update(width, height)`` and ``close()``.

Every method is thread-safe. Decisions run in the calling thread under one lock (an arrival next to
placed streams takes the policy's fast path, about 1 ms for 64 streams once the stream
configuration's cost grid is cached; see docs/SCHEDULER.md); the full plan a fast placement leaves
pending (``wants_rebalance``) and predictor retraining run in ``maintain``, called by a background
thread (``background=True``) or by the owner.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from streamenhance.errors import ConfigError, WeightsError
from streamenhance.scheduler.clock import Clock, MonotonicClock
from streamenhance.scheduler.collector import MetricCollector
from streamenhance.scheduler.devices import DeviceInfo
from streamenhance.scheduler.policy import LocalPlacement, Placement, Policy, make_policy
from streamenhance.scheduler.predictor import PerfPredictor
from streamenhance.scheduler.streams import Assignment, StreamInfo, StreamRequest

LOG = logging.getLogger("streamenhance.scheduler")
POLICY_ENV = "STREAMENHANCE_SCHEDULER_POLICY"
PREDICTOR_PATH = Path(__file__).resolve().parent / "profiles" / "predictor.safetensors"
# Stream configurations warmed at start-up by the maintenance thread (x2, every common size, 30/60 fps, with
# and without artifact removal): the first decision for a new configuration otherwise pays for its cost grids.
COMMON_CONFIGS = tuple(StreamRequest(w, h, fps, 2.0, mode) for w, h in ((640, 360), (854, 480), (1280, 720),
                                                                       (1920, 1080))
                       for fps in (30.0, 60.0) for mode in ("off", "auto"))


class StreamHandle:
    """One registered stream. Read ``assignment`` before each frame, ``report`` after it."""

    def __init__(self, scheduler: Scheduler, stream_id: str) -> None:
        self._scheduler = scheduler
        self.id = stream_id
        self.closed = False

    @property
    def assignment(self) -> Assignment:
        """The current (tier, device, reason); changes when the scheduler re-plans."""
        return self._scheduler._assignment(self.id)

    @property
    def version(self) -> int:
        """Increments whenever ``assignment`` changes (cheap change detection for the engine)."""
        return self._scheduler._version(self.id)

    @property
    def request(self) -> StreamRequest:
        return self._scheduler._request(self.id)

    def report(self, observed_ms: float, variant: str = "pipeline") -> None:
        """One frame took ``observed_ms`` in the engine (enhance call; CUDA: device time)."""
        self._scheduler._report(self.id, observed_ms, variant)

    def update(self, width: int, height: int, fps: float | None = None) -> Assignment:
        """The stream's input size (or frame rate) changed: re-plan and return the new assignment."""
        return self._scheduler._update(self.id, width, height, fps)

    def close(self) -> None:
        """Unregister (idempotent); the capacity is re-planned for the others."""
        if not self.closed:
            self.closed = True
            self._scheduler._close(self.id)

    def __enter__(self) -> StreamHandle:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class Scheduler:
    """Streams, devices, a policy and a predictor behind one lock.

    Args:
        policy: a policy name (``make_policy``) or instance (default ``$STREAMENHANCE_SCHEDULER_POLICY``
            or ``learned``).
        placement: device source (default: this process's devices).
        predictor: the cost model of ``learned`` (default: shipped weights, else trained on the
            shipped profiles at first use).
        clock: time source; rng: randomness given to the policy.
        collector: where frame times are recorded (default: a new one).
        background: run ``maintain`` every ``maintain_every_s`` seconds on a daemon thread.
        policy_options: keyword arguments of the policy when ``policy`` is a name.
    """

    def __init__(
        self,
        policy: str | Policy | None = None,
        *,
        placement: Placement | None = None,
        predictor: PerfPredictor | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        collector: MetricCollector | None = None,
        background: bool = False,
        maintain_every_s: float = 1.0,
        policy_options: dict[str, Any] | None = None,
    ) -> None:
        self.clock = clock or MonotonicClock()
        self.placement = placement or LocalPlacement()
        self.collector = collector or MetricCollector(clock=self.clock)
        self._predictor = predictor
        name = policy if policy is not None else os.environ.get(POLICY_ENV, "learned")
        if isinstance(name, Policy):
            self.policy = name
        else:
            self.policy = make_policy(name, clock=self.clock, rng=rng or random.Random(0), **(policy_options or {}))
        self._lock = threading.RLock()
        self._streams: dict[str, StreamInfo] = {}
        self._versions: dict[str, int] = {}
        self._devices: list[DeviceInfo] | None = None
        self._ids = itertools.count(1)
        self._decisions: deque[float] = deque(maxlen=1024)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._background, args=(maintain_every_s,),
                                            name="streamenhance-scheduler", daemon=True)
            self._thread.start()

    # ------------------------------------------------------------------ public

    @property
    def predictor(self) -> PerfPredictor | None:
        if self._predictor is None and self.policy.name == "learned":
            self._predictor = default_predictor(clock=self.clock)
        return self._predictor

    def devices(self) -> list[DeviceInfo]:
        with self._lock:
            if self._devices is None:
                self._devices = self.placement.devices()
            return list(self._devices)

    def register_stream(self, request: StreamRequest) -> StreamHandle:
        """Add a stream and decide for it (the others may be re-planned too)."""
        if not isinstance(request, StreamRequest):
            raise ConfigError(f"register_stream: expected a StreamRequest, got {type(request).__name__}")
        with self._lock:
            stream_id = f"stream-{next(self._ids)}"
            now = self.clock.now()
            self._streams[stream_id] = StreamInfo(stream_id, request, since=now, arrived=now)
            self._versions[stream_id] = 0
            self._decide_locked()
        return StreamHandle(self, stream_id)

    def set_devices(self, devices: Sequence[DeviceInfo]) -> None:
        """Replace the device list (a device failed or appeared): every stream is re-placed."""
        with self._lock:
            self._devices = list(devices)
            self.policy.on_devices_changed(self._devices)
            self._decide_locked()

    def maintain(self) -> None:
        """Retrain when the predictor drifted, and re-plan when the policy asks for it."""
        self.policy.maintain()
        with self._lock:
            if self.policy.wants_replan() or self.policy.wants_rebalance():
                self._decide_locked()

    def snapshot(self) -> dict[str, Any]:
        """Plain-dict status: devices, streams with their assignments, decision times, collector figures."""
        with self._lock:
            streams = [{"id": s.id, "width": s.request.width, "height": s.request.height, "fps": s.request.fps,
                        "scale": s.request.scale, "mode": s.request.mode,
                        "tier": s.assignment.tier if s.assignment else None,
                        "device": s.assignment.device if s.assignment else None,
                        "reason": s.assignment.reason if s.assignment else ""} for s in self._streams.values()]
            decisions = list(self._decisions)
            devices = [d.as_dict() for d in (self._devices or [])]
        return {
            "policy": self.policy.status(),
            "devices": devices,
            "streams": streams,
            "decisions": {"count": len(decisions), "last_ms": decisions[-1] if decisions else None,
                          "p99_ms": float(np.percentile(decisions, 99)) if decisions else None},
            "collector": self.collector.snapshot(),
        }

    def summary(self) -> dict[str, str | int | float]:
        """Flat scalars for status pages that take no nested data (OBS GetStatus): policy, counts,
        decision p99, streams over capacity, predictor version / retrains / drift."""
        with self._lock:
            decisions = list(self._decisions)
            streams, devices = len(self._streams), len(self._devices or [])
        status = self.policy.status()
        predictor = status.get("predictor", {}) if isinstance(status.get("predictor"), dict) else {}
        return {"scheduler_policy": self.policy.name, "scheduler_streams": streams, "scheduler_devices": devices,
                "scheduler_decision_ms_p99": float(np.percentile(decisions, 99)) if decisions else 0.0,
                "scheduler_over_capacity": int(status.get("over_capacity", 0)),
                "scheduler_predictor_version": int(predictor.get("version", 0)),
                "scheduler_predictor_retrains": int(predictor.get("retrains", 0)),
                "scheduler_predictor_drift": float(predictor.get("drift", 0.0))}

    def close(self) -> None:
        """Stop the background thread (streams stay registered)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    # ------------------------------------------------------------------ handle plumbing

    def _info(self, stream_id: str) -> StreamInfo:
        info = self._streams.get(stream_id)
        if info is None:
            raise ConfigError(f"stream {stream_id!r} is not registered (closed?)")
        return info

    def _assignment(self, stream_id: str) -> Assignment:
        with self._lock:
            assignment = self._info(stream_id).assignment
            assert assignment is not None  # every registered stream is decided before register returns
            return assignment

    def _version(self, stream_id: str) -> int:
        with self._lock:
            return self._versions.get(stream_id, -1)

    def _request(self, stream_id: str) -> StreamRequest:
        with self._lock:
            return self._info(stream_id).request

    def _report(self, stream_id: str, observed_ms: float, variant: str) -> None:
        with self._lock:
            info = self._streams.get(stream_id)
            if info is None or info.assignment is None:
                return  # a frame finishing after close: nothing to learn
            device = info.assignment.device
            self.policy.on_frame_done(stream_id, float(observed_ms))
            if self.policy.wants_replan():
                self._decide_locked()
        self.collector.record(stream_id, variant, device, float(observed_ms))

    def _update(self, stream_id: str, width: int, height: int, fps: float | None) -> Assignment:
        with self._lock:
            info = self._info(stream_id)
            request = info.request.with_size(width, height)
            if fps is not None:
                request = replace(request, fps=fps)
            if request != info.request:
                info.request = request
                self._decide_locked()
            assert info.assignment is not None
            return info.assignment

    def _close(self, stream_id: str) -> None:
        with self._lock:
            if self._streams.pop(stream_id, None) is None:
                return
            self._versions.pop(stream_id, None)
            self.policy.on_stream_closed(stream_id)
            self._decide_locked()
        self.collector.forget(stream_id)

    def _decide_locked(self) -> None:
        infos = list(self._streams.values())
        if not infos:
            return
        devices = self.devices()
        started = time.perf_counter()
        chosen = self.policy.choose(infos, devices, self.predictor)
        self.placement.commit(chosen)
        self._decisions.append((time.perf_counter() - started) * 1e3)
        now = self.clock.now()
        for info in infos:
            new = chosen[info.id]
            old = info.assignment
            if old != new:
                if old is None or old.tier != new.tier or old.device != new.device:
                    info.since = now
                info.assignment = new
                self._versions[info.id] = self._versions.get(info.id, 0) + 1

    def warm(self, requests: Sequence[StreamRequest] = COMMON_CONFIGS) -> None:
        """Precompute the policy's costs for streams like ``requests`` (one at a time, so a decision never
        waits for more than one configuration)."""
        for i, request in enumerate(requests):
            with self._lock:
                self.policy.warm([StreamInfo(f"warm-{i}", request)], self.devices(), self.predictor)

    def _background(self, every_s: float) -> None:
        try:
            self.warm()
        except Exception:  # a cold start is slower, not broken
            LOG.exception("scheduler warm-up failed")
        while not self._stop.wait(every_s):
            try:
                self.maintain()
            except Exception:  # the maintenance thread must not die: log and go on
                LOG.exception("scheduler maintenance failed")


def default_predictor(clock: Clock | None = None) -> PerfPredictor:
    """The shipped predictor weights when they were trained on the shipped profile, else one trained
    now on the shipped profiles (a few seconds)."""
    from streamenhance.scheduler.dataset import train_on_profiles
    from streamenhance.scheduler.profile import shipped_profiles

    profiles = shipped_profiles()
    if PREDICTOR_PATH.exists():
        try:
            predictor = PerfPredictor.load(PREDICTOR_PATH, clock=clock)
        except WeightsError as exc:  # an older format or a damaged file: train a fresh one instead
            LOG.warning("predictor weights unusable (%s); retraining on the shipped profile", exc)
        else:
            stamps = {p.stamp for p in profiles}
            if predictor.training_info.get("profile_created") in stamps:
                return predictor
            LOG.info("predictor weights were trained on another profile; retraining on the shipped one")
    if not profiles:
        raise ConfigError("learned scheduler: no predictor weights and no profile to train one on")
    predictor, _report = train_on_profiles(profiles, clock=clock)
    return predictor


_GLOBAL: Scheduler | None = None
_GLOBAL_LOCK = threading.Lock()


def get_scheduler() -> Scheduler:
    """The process-wide scheduler (created on first use: policy from ``$STREAMENHANCE_SCHEDULER_POLICY``,
    default ``learned``, local devices, background maintenance)."""
    global _GLOBAL
    with _GLOBAL_LOCK:
        if _GLOBAL is None:
            _GLOBAL = Scheduler(background=True)
        return _GLOBAL


def scheduler_summary() -> dict[str, str | int | float]:
    """``summary()`` of the process-wide scheduler; empty while no stream has created it (never creates it)."""
    with _GLOBAL_LOCK:
        scheduler = _GLOBAL
    return scheduler.summary() if scheduler is not None else {}


def configure_scheduler(scheduler: Scheduler | None = None, **kwargs: Any) -> Scheduler:
    """Replace the process-wide scheduler (an instance, or ``Scheduler(**kwargs)``); returns it."""
    global _GLOBAL
    new = scheduler or Scheduler(**kwargs)
    with _GLOBAL_LOCK:
        old, _GLOBAL = _GLOBAL, new
    if old is not None and old is not new:
        old.close()
    return new


def reset_scheduler() -> None:
    """Forget the process-wide scheduler (tests)."""
    global _GLOBAL
    with _GLOBAL_LOCK:
        old, _GLOBAL = _GLOBAL, None
    if old is not None:
        old.close()


def stream_advisor(width: int, height: int, fps: float = 30.0, scale: float = 2.0, mode: str = "off",
                   bitrate_kbps: float = 0.0, device_preference: str = "auto") -> StreamHandle:
    """Register a stream with the process-wide scheduler from plain arguments (the engine's factory)."""
    request = StreamRequest(int(width), int(height), float(fps), float(scale), mode, float(bitrate_kbps),
                            device_preference)
    return get_scheduler().register_stream(request)
