"""Runtime numbers of one filter instance: fps in/out, latency percentiles, dropped frames.

Time is injected (a callable returning monotonic nanoseconds) so tests run on a fake clock. The
native bridge stamps frames with ``std::chrono::steady_clock``, which on Linux is CLOCK_MONOTONIC,
the clock behind ``time.monotonic_ns``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Clock = Callable[[], int]
NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class _Done:
    done_ns: int
    latency_ns: int | None
    inference_ns: int


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))  # ceil(q/100 * n), 1-based
    return ordered[rank - 1]


class FilterStats:
    """Counters and a sliding window of recent frames (thread-safe).

    Args:
        clock: monotonic nanoseconds (default ``time.monotonic_ns``).
        window_s: fps and latency percentiles are computed over this many recent seconds.
        max_samples: cap on the frames kept in the window.
    """

    def __init__(self, clock: Clock = time.monotonic_ns, window_s: float = 5.0, max_samples: int = 1000) -> None:
        self.clock = clock
        self.window_ns = int(window_s * NS_PER_S)
        self._lock = threading.Lock()
        self._done: deque[_Done] = deque(maxlen=max_samples)
        self._rendered: deque[tuple[int, int]] = deque(maxlen=max_samples)
        self.frames_processed = 0
        self.frames_failed = 0
        self.frames_passed_through = 0
        self.frames_rendered = 0
        self.frames_dropped = 0

    def input_counters(self, rendered: int | None, dropped: int | None, now_ns: int | None = None) -> None:
        """Record the bridge's totals: frames the filter rendered and frames dropped before processing."""
        now = self.clock() if now_ns is None else now_ns
        with self._lock:
            if rendered is not None:
                self.frames_rendered = int(rendered)
                self._rendered.append((now, int(rendered)))
            if dropped is not None:
                self.frames_dropped = int(dropped)

    def frame_done(self, started_ns: int, captured_ns: int | None = None, done_ns: int | None = None) -> None:
        """One frame enhanced: inference from ``started_ns``, latency from ``captured_ns`` (if known)."""
        done = self.clock() if done_ns is None else done_ns
        latency = done - captured_ns if captured_ns is not None and captured_ns <= done else None
        with self._lock:
            self.frames_processed += 1
            self._done.append(_Done(done, latency, done - started_ns))

    def frame_failed(self) -> None:
        with self._lock:
            self.frames_failed += 1

    def frame_passed_through(self) -> None:
        with self._lock:
            self.frames_passed_through += 1

    def snapshot(self, now_ns: int | None = None) -> dict[str, Any]:
        """Numbers over the last ``window_s`` seconds plus the totals (ms, frames per second).

        Rates and percentiles are 0 when no frame was seen in the window (the answer travels as OBS
        data, which has no null).
        """
        now = self.clock() if now_ns is None else now_ns
        start = now - self.window_ns
        with self._lock:
            recent = [d for d in self._done if d.done_ns >= start]
            rendered = [r for r in self._rendered if r[0] >= start]
            totals = {
                "frames_processed": self.frames_processed,
                "frames_failed": self.frames_failed,
                "frames_passed_through": self.frames_passed_through,
                "frames_rendered": self.frames_rendered,
                "frames_dropped": self.frames_dropped,
            }
        latencies = [d.latency_ns / 1e6 for d in recent if d.latency_ns is not None]
        inference = [d.inference_ns / 1e6 for d in recent]
        return {
            "fps_in": _rate([r[0] for r in rendered], [r[1] for r in rendered], now),
            "fps_out": _rate([d.done_ns for d in recent], list(range(len(recent))), now),
            "latency_ms_p50": _round(percentile(latencies, 50)),
            "latency_ms_p95": _round(percentile(latencies, 95)),
            "inference_ms_p50": _round(percentile(inference, 50)),
            "inference_ms_p95": _round(percentile(inference, 95)),
            **totals,
        }


def _rate(times: list[int], counts: list[int], now: int) -> float:
    """Events per second between the first sample in the window and now (0 with < 2 samples)."""
    if len(times) < 2 or now <= times[0]:
        return 0.0
    # Count events after the first sample, over the time from it to now (not to the last sample,
    # so a stalled stream decays to 0 instead of keeping its last rate).
    return round((counts[-1] - counts[0]) * NS_PER_S / (now - times[0]), 2)


def _round(value: float | None) -> float:
    return 0.0 if value is None else round(value, 2)
