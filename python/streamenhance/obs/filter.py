"""``FilterController``: the logic of one OBS filter instance, free of OBS and of model code.

The native bridge (``streamenhance._obs_bridge``) owns the frame path and calls, per instance:

* ``update(values)`` when settings change (cheap: checks them; the engine is rebuilt lazily);
* ``layout(width, height)`` to learn the output size it must report to OBS;
* ``process(frame, ...)`` on the instance's worker thread, the only place the engine runs; it never
  raises: failures become pass-through (``None``) and are logged once per distinct error. Engines
  are built on a short-lived builder thread, so loading weights never stalls the worker;
* ``wants_frames()`` after each of those calls: whether frames are worth reading back at all;
* ``status(native)`` from the websocket thread (vendor request ``GetStatus``);
* ``close()`` when the filter is destroyed or the script unloads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from streamenhance.config import output_size
from streamenhance.obs.settings import FilterSettings, merge
from streamenhance.obs.stats import Clock, FilterStats

LOG = logging.getLogger("streamenhance.obs")


class Engine(Protocol):
    """What the controller needs from ``streamenhance.Enhancer``."""

    def enhance(self, frame: np.ndarray) -> np.ndarray: ...

    def describe(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


EngineFactory = Callable[[FilterSettings, float], Engine]


def enhancer_factory(settings: FilterSettings, fps: float) -> Engine:
    """Build the real engine (imports torch on first use: call it off OBS's UI thread).

    Raises:
        ConfigError / WeightsError: from ``Enhancer``.
    """
    from streamenhance.engine import Enhancer

    return Enhancer(**settings.engine_options(), fps=fps)


@dataclass(frozen=True)
class Layout:
    """What the bridge draws: output size and whether to split the picture into before/after."""

    width: int
    height: int
    compare: bool


class FilterController:
    """Settings, one engine, runtime numbers and error reporting of one filter instance.

    Args:
        values: OBS settings of the instance (missing keys take the table defaults).
        name: display name used in log lines (e.g. ``"Enhance" on "Camera"``).
        fps: OBS's frame rate, for the engine's automatic choices.
        engine_factory: builds the engine for a settings value (tests inject a double).
        clock: monotonic nanoseconds, for the runtime numbers.
        logger: where errors go (inside OBS: the OBS log).
    """

    def __init__(
        self,
        values: Mapping[str, Any] | None = None,
        *,
        name: str = "",
        fps: float = 30.0,
        engine_factory: EngineFactory = enhancer_factory,
        clock: Clock = time.monotonic_ns,
        logger: logging.Logger = LOG,
    ) -> None:
        self.name = name
        self.fps = fps if fps > 0 else 30.0
        self._factory = engine_factory
        self._clock = clock
        self._log = logger
        self.stats = FilterStats(clock)
        self._lock = threading.Lock()  # settings, engine slot, builder, errors, description
        self._engine_lock = threading.Lock()  # held while an engine runs or is closed
        self._settings = FilterSettings()
        self._engine: Engine | None = None
        self._engine_key: tuple[Any, ...] | None = None
        self._builder: threading.Thread | None = None
        self._failed_key: tuple[Any, ...] | None = None
        self._closed = False
        self._logged: set[tuple[str, str]] = set()
        self._last_error: str | None = None
        self._errors = 0
        self._description: dict[str, Any] = {}
        self.update(values or {})

    # ------------------------------------------------------------------ settings

    @property
    def settings(self) -> FilterSettings:
        with self._lock:
            return self._settings

    def update(self, values: Mapping[str, Any]) -> list[str]:
        """Apply OBS settings; bad values keep the previous ones and are logged once each.

        Returns:
            The error messages of rejected values (empty when all were valid).
        """
        with self._lock:
            new, errors = merge(self._settings, values)
            self._settings = new
            if new.engine_key() != self._failed_key:
                self._failed_key = None  # new settings: a failed engine may build now
        for error in errors:
            self._report(error, "setting rejected, keeping the previous value")
        return [str(e) for e in errors]

    def layout(self, width: int, height: int) -> Layout:
        """Output size for a ``width`` x ``height`` input (from ``config.output_size``) and split mode."""
        settings = self.settings
        out_w, out_h = output_size(width, height, settings.scale)
        return Layout(out_w, out_h, settings.compare)

    # ------------------------------------------------------------------ frames

    def process(
        self,
        frame: np.ndarray,
        captured_ns: int | None = None,
        rendered: int | None = None,
        dropped: int | None = None,
    ) -> np.ndarray | None:
        """Enhance one BGRA frame on the worker thread.

        Args:
            frame: HxWx4 uint8 BGRA, valid only during the call.
            captured_ns: when the bridge captured the frame (monotonic ns), for the latency.
            rendered / dropped: the bridge's totals of rendered frames and of frames replaced in
                its mailbox before the worker took them.

        Returns:
            The enhanced HxWx4 uint8 frame of ``layout(W, H)``'s size, or ``None`` to pass the input
            through (closed, identity settings, or a failure, which is logged once).
        """
        started = self._clock()
        self.stats.input_counters(rendered, dropped, started)
        with self._lock:
            settings = self._settings
            key = settings.engine_key()
            idle = self._closed or self._failed_key == key or _is_identity(settings)
            engine = self._engine if self._engine_key == key and not idle else None
            if engine is None and not idle:
                self._start_build_locked(settings)
        if idle and _is_identity(settings):
            self._retire_engine()  # nothing to run: free the models
        if engine is None:  # closed, failed, identity, or the engine is still being built
            self.stats.frame_passed_through()
            return None
        with self._engine_lock:
            if self._engine is not engine:  # replaced or closed meanwhile
                self.stats.frame_passed_through()
                return None
            try:
                out = self._check_output(engine.enhance(frame), frame, settings)
                description = engine.describe()
            except Exception as exc:  # the worker boundary: any failure means pass-through
                self._report(exc, "enhance failed, passing frames through")
                self.stats.frame_failed()
                return None
        with self._lock:
            self._description = description
        self.stats.frame_done(started, captured_ns)
        return out

    def wants_frames(self) -> bool:
        """False while every frame would pass through until the settings change: closed, identity
        settings (once the models are freed) or an engine that failed to build for these settings.
        The bridge then stops reading frames back from the GPU, which costs OBS's render thread."""
        with self._lock:
            settings = self._settings
            if self._closed or self._failed_key == settings.engine_key():
                return False
            return not (_is_identity(settings) and self._engine is None)

    # ------------------------------------------------------------------ engine (re)builds

    def _start_build_locked(self, settings: FilterSettings) -> None:
        """Build the engine for ``settings`` on a thread of its own (caller holds ``_lock``).

        Loading weights (and importing torch the first time) takes seconds: frames pass through
        meanwhile instead of freezing the picture or delaying settings. One build at a time: when the
        settings change during a build, the next frame after it starts another.
        """
        if self._builder is not None:
            return
        self._builder = threading.Thread(
            target=self._build, args=(settings,), name=f"streamenhance-build-{self.name}", daemon=True
        )
        self._builder.start()

    def _build(self, settings: FilterSettings) -> None:
        key = settings.engine_key()
        try:
            engine: Engine | None = self._factory(settings, self.fps)
            error: Exception | None = None
        except Exception as exc:  # e.g. WeightsError for a corrupt file: no retry until settings change
            engine, error = None, exc
        if error is not None:  # recorded before the state says "failed", so the two agree
            self._report(error, "engine unavailable, passing frames through")
        with self._lock:
            self._builder = None
            current = not self._closed and self._settings.engine_key() == key
            if engine is None and current:
                self._failed_key = key
            old = None
            if engine is not None and current:
                old, self._engine, self._engine_key = self._engine, engine, key
            elif engine is not None:
                old = engine  # settings changed or closed while building: not needed any more
        if old is not None:
            self._close(old)
        if engine is not None and current:
            self._log.info("%s: engine ready (%s)", self._who(), _summary(engine))

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait for a running engine build to finish; True when none is running."""
        with self._lock:
            builder = self._builder
        if builder is not None:
            builder.join(timeout)
            return not builder.is_alive()
        return True

    @staticmethod
    def _check_output(out: Any, frame: np.ndarray, settings: FilterSettings) -> np.ndarray:
        height, width = frame.shape[:2]
        out_w, out_h = output_size(width, height, settings.scale)
        if not isinstance(out, np.ndarray) or out.dtype != np.uint8 or out.shape[:2] != (out_h, out_w):
            shape = getattr(out, "shape", None)
            raise ValueError(f"engine output: expected uint8 ({out_h}, {out_w}, 4), got {type(out).__name__} {shape}")
        if out.ndim == 3 and out.shape[2] == 3:  # engines may drop alpha: the bridge uploads BGRA
            alpha = np.full((out_h, out_w, 1), 255, np.uint8)
            out = np.concatenate([out, alpha], axis=2)
        if out.ndim != 3 or out.shape[2] != 4:
            raise ValueError(f"engine output: expected uint8 ({out_h}, {out_w}, 4), got {out.shape}")
        return out

    # ------------------------------------------------------------------ status and shutdown

    def status(self, native: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Runtime numbers, settings and choices, merged over the bridge's own numbers."""
        native = dict(native or {})
        if "frames_rendered" in native or "frames_dropped" in native:
            self.stats.input_counters(native.get("frames_rendered"), native.get("frames_dropped"))
        with self._lock:
            settings = self._settings
            description = dict(self._description)
            failed = self._failed_key is not None and self._failed_key == settings.engine_key()
            last_error, errors = self._last_error, self._errors
        with self._lock:
            building, has_engine = self._builder is not None, self._engine is not None
        if self._closed:
            state = "closed"
        elif failed:
            state = "failed"
        elif _is_identity(settings):
            state = "passthrough"
        elif building:
            state = "loading"
        elif not has_engine:
            state = "starting"
        else:
            state = "running"
        return {
            **native,
            **self.stats.snapshot(),
            "state": state,
            "mode": description.get("mode", settings.mode),
            "mode_setting": settings.mode,
            "tier": description.get("tier", settings.tier),
            "tier_reason": description.get("tier_reason", ""),
            "device": description.get("device", settings.device),
            # A string, not a list: the answer travels as OBS data, whose arrays hold only objects.
            "models": ", ".join(description.get("models", [])),
            "settings": settings.as_dict(),
            "last_error": last_error or "",
            "errors": errors,
            **_scheduler_summary(),
        }

    def close(self, timeout: float = 60.0) -> None:
        """Release the engine; afterwards ``process`` passes frames through. Idempotent.

        Waits (up to ``timeout`` seconds) for an engine build in progress, so no thread of this
        filter still runs Python when OBS shuts the interpreter down.
        """
        with self._lock:
            self._closed = True
        self.wait_idle(timeout)
        self._retire_engine()

    def _retire_engine(self) -> None:
        with self._lock:
            engine, self._engine, self._engine_key = self._engine, None, None
        if engine is not None:
            self._close(engine)

    def _close(self, engine: Engine) -> None:
        """Close ``engine`` once no frame runs through it."""
        with self._engine_lock:
            try:
                engine.close()
            except Exception as exc:
                self._report(exc, "engine close failed")

    # ------------------------------------------------------------------ errors

    def _report(self, exc: BaseException, what: str) -> None:
        """Count an error; log it only the first time this (type, message) is seen."""
        message = str(exc) or type(exc).__name__
        key = (type(exc).__name__, message)
        with self._lock:
            self._errors += 1
            self._last_error = f"{type(exc).__name__}: {message}"
            first = key not in self._logged
            self._logged.add(key)
        if first:
            self._log.error("%s: %s (%s: %s)", self._who(), what, type(exc).__name__, message)

    def _who(self) -> str:
        return f"filter {self.name!r}" if self.name else "filter"


def _is_identity(settings: FilterSettings) -> bool:
    """Scale 1 without artifact removal: the output would equal the input."""
    return settings.scale == 1.0 and settings.mode == "off"


def _summary(engine: Engine) -> str:
    try:
        info = engine.describe()
    except Exception:  # description is informative only
        return "no description"
    return ", ".join(f"{k} {info[k]}" for k in ("scale", "mode_setting", "tier", "device") if k in info)


def _scheduler_summary() -> dict[str, Any]:
    """The process-wide scheduler's flat numbers (policy, streams, decision time ...); {} when unavailable."""
    try:
        from streamenhance.scheduler.service import scheduler_summary

        return dict(scheduler_summary())
    except Exception as exc:  # status must answer even when the scheduler cannot load
        LOG.debug("scheduler summary unavailable: %s", exc)
        return {}
