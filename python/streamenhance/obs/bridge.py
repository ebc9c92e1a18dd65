"""Glue between the native bridge (``streamenhance._obs_bridge``) and ``FilterController``.

The bridge calls plain methods with strings, ints and arrays (``_BridgeInstance``); this module
turns them into controller calls, routes the package's log records into OBS's log, and answers the
vendor requests that need Python (``ListDevices``).
"""

from __future__ import annotations

import json
import logging
import os
import platform
import sys
import threading
import time
from types import ModuleType
from typing import Any

import numpy as np

from streamenhance.errors import NativeUnavailableError
from streamenhance.obs.filter import FilterController
from streamenhance.obs.settings import bridge_table

LOG = logging.getLogger("streamenhance.obs")
PACKAGE_LOGGER = "streamenhance"
FILTER_ID = "streamenhance_filter"


def import_bridge() -> ModuleType:
    """The compiled bridge, importable only inside OBS's process (it links libobs).

    Raises:
        NativeUnavailableError: the module is missing (built only where libobs-dev is installed)
            or cannot load; the message keeps the import error.
    """
    try:
        from streamenhance import _obs_bridge  # type: ignore[attr-defined]
    except ImportError as exc:
        raise NativeUnavailableError(
            f"streamenhance._obs_bridge is not available ({exc}); it is built only where libobs "
            "development files are found (Debian: apt-get install libobs-dev, then pip install -e .)"
        ) from exc
    return _obs_bridge


class _BridgeInstance:
    """What the bridge holds per filter instance; JSON strings in, plain values out."""

    def __init__(self, settings_json: str, name: str, fps: float) -> None:
        self.controller = FilterController(_loads(settings_json), name=name, fps=fps)

    def update(self, settings_json: str) -> None:
        self.controller.update(_loads(settings_json))

    def layout(self, width: int, height: int) -> tuple[int, int, bool]:
        layout = self.controller.layout(width, height)
        return layout.width, layout.height, layout.compare

    def process(self, frame: np.ndarray, captured_ns: int, rendered: int, dropped: int) -> np.ndarray | None:
        _apply_thread_policy()  # called on the filter's worker thread
        return self.controller.process(frame, captured_ns, rendered, dropped)

    def wants_frames(self) -> bool:
        return self.controller.wants_frames()

    def status_json(self, native_json: str) -> str:
        return json.dumps(self.controller.status(_loads(native_json)))

    def close(self) -> None:
        self.controller.close()


def list_devices() -> dict[str, Any]:
    """Devices the filter can run on, and what ``auto`` resolves to (imports torch)."""
    import torch

    from streamenhance.engine.devices import cuda_usable, resolve_device

    devices: list[dict[str, Any]] = [
        {"name": "cpu", "description": platform.processor() or platform.machine(), "threads": torch.get_num_threads()}
    ]
    if cuda_usable():
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            devices.append(
                {"name": f"cuda:{index}", "description": props.name, "memory_mb": props.total_memory // 2**20}
            )
    return {"devices": devices, "auto": str(resolve_device("auto"))}


def _list_devices_json(request_json: str) -> str:
    try:
        return json.dumps(list_devices())
    except Exception as exc:  # answered to the websocket client instead of raising into OBS
        return json.dumps({"devices": [], "error": f"{type(exc).__name__}: {exc}"})


def _loads(text: str) -> dict[str, Any]:
    value = json.loads(text) if text else {}
    return value if isinstance(value, dict) else {}


class ObsLogHandler(logging.Handler):
    """Forwards log records to OBS's log (``blog``) through the bridge."""

    def __init__(self, bridge: ModuleType) -> None:
        super().__init__(logging.INFO)
        self._bridge = bridge
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = (
                self._bridge.LOG_ERROR
                if record.levelno >= logging.ERROR
                else self._bridge.LOG_WARNING
                if record.levelno >= logging.WARNING
                else self._bridge.LOG_INFO
            )
            self._bridge.log(level, self.format(record))
        except Exception:
            self.handleError(record)


_state: dict[str, Any] = {"bridge": None, "handler": None, "warm_up": None}
WARM_UP_DONE = "engine modules loaded"


def _warm_up() -> None:
    """Import the engine (torch) once, early, off OBS's UI thread.

    The import holds the GIL for long stretches (loading libtorch); done at script load, it is over
    before filters need the engine, so their size and settings changes are not held up by it.
    """
    lower_thread_priority()
    start = time.monotonic()
    try:
        import streamenhance.engine  # noqa: F401
    except Exception as exc:  # reported once here; each filter reports its own failure too
        LOG.error("engine modules failed to load (%s: %s)", type(exc).__name__, exc)
        return
    LOG.info("%s in %.1f s; CPU inference uses %d thread(s)", WARM_UP_DONE, time.monotonic() - start,
             inference_threads())


def inference_threads() -> int:
    """CPU inference inside OBS runs on one core fewer than the machine has.

    OBS composes and encodes on the CPU too (and renders there under software GL): with every core
    busy enhancing, OBS lags frames.
    """
    return max(1, (os.cpu_count() or 1) - 1)


_worker = threading.local()


BACKGROUND_NICE = 19


def lower_thread_priority() -> bool:
    """Give the calling thread the lowest CPU priority (Linux: nice 19 for this thread only).

    OBS composes, encodes and (under software GL) renders on the CPU at normal priority; inference
    in the background then takes only the CPU time OBS leaves, so a slow frame delays the filter's
    output, never OBS's. Threads started from this one inherit it (the engine builder does).
    The render thread never takes the GIL, so a starved holder of the GIL cannot stall OBS.

    Returns:
        True when the priority was lowered (False elsewhere, or when the OS refused).
    """
    if not sys.platform.startswith("linux"):  # elsewhere PRIO_PROCESS takes a process id, not a thread's
        return False
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), BACKGROUND_NICE))
    except OSError as exc:
        LOG.warning("could not lower the priority of thread %s (%s)", threading.current_thread().name, exc)
        return False
    return True


def _apply_thread_policy() -> None:
    """Set the inference thread count and background priority on the calling worker thread, once.

    torch keeps the count per thread (a thread that already ran an op keeps its own), so it is set on
    the thread that runs the engine, before its first frame.
    """
    if getattr(_worker, "threads", None) is not None:
        return
    import torch

    from streamenhance import native

    lower_thread_priority()  # first: pools that start below inherit it
    _worker.threads = inference_threads()
    torch.set_num_threads(_worker.threads)
    native.set_num_threads(_worker.threads)


def load() -> None:
    """Register the filter type (once per process) and attach this package's logic to it.

    Called from the OBS script's ``script_load``. Filters that already exist (the script was
    reloaded) get a fresh controller.

    Raises:
        NativeUnavailableError: the bridge is missing or not inside OBS.
    """
    bridge = import_bridge()
    if _state["handler"] is None:
        handler = ObsLogHandler(bridge)
        logger = logging.getLogger(PACKAGE_LOGGER)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False  # OBS also logs stderr: one line per record is enough
        _state["handler"] = handler
    _state["bridge"] = bridge
    bridge.register_filter(bridge_table(), _BridgeInstance, _list_devices_json)
    if _state["warm_up"] is None:
        _state["warm_up"] = threading.Thread(target=_warm_up, name="streamenhance-warm-up", daemon=True)
        _state["warm_up"].start()


def unload() -> None:
    """Detach the logic: existing filters pass frames through, the type is hidden. Idempotent.

    The log handler stays: a filter's worker may still finish a call and log after this, and the
    bridge (hence OBS's log) outlives the script.
    """
    bridge = _state["bridge"]
    if bridge is not None:
        bridge.unregister_filter()
        _state["bridge"] = None
    warm_up = _state["warm_up"]
    if warm_up is not None:
        warm_up.join(60.0)  # OBS may finalize Python next: no import may still be running
