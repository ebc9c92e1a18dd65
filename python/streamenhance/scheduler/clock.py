"""Injected time: the scheduler never reads the wall clock directly (ARCHITECTURE.md guideline 18)."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Monotonic seconds."""

    def now(self) -> float: ...


class MonotonicClock:
    """``time.monotonic`` seconds."""

    def now(self) -> float:
        return time.monotonic()


class FakeClock:
    """A clock that moves only when told to (tests, the simulator). Thread-safe.

    Args:
        start: initial time in seconds.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (>= 0); returns the new time."""
        if seconds < 0:
            raise ValueError(f"advance: expected seconds >= 0, got {seconds}")
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, seconds: float) -> None:
        """Jump to ``seconds`` (never backwards)."""
        with self._lock:
            if seconds < self._now:
                raise ValueError(f"set: time only moves forward ({seconds} < {self._now})")
            self._now = float(seconds)
