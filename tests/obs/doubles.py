"""Test doubles for the OBS filter logic: a fake clock and engines with known behaviour (tests only)."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from streamenhance.config import output_size
from streamenhance.obs.settings import FilterSettings


class FakeClock:
    """Monotonic nanoseconds that move only when told to."""

    def __init__(self, start_ns: int = 1_000_000_000) -> None:
        self.now = start_ns

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1e9)


class NearestEngine:
    """Nearest-neighbour upscale to ``config.output_size`` (the size contract of ``Enhancer``)."""

    def __init__(self, settings: FilterSettings, fps: float, clock: FakeClock | None = None,
                 cost_s: float = 0.0) -> None:
        self.settings, self.fps, self.clock, self.cost_s = settings, fps, clock, cost_s
        self.closed = False
        self.frames = 0

    def enhance(self, frame: np.ndarray) -> np.ndarray:
        height, width = frame.shape[:2]
        out_w, out_h = output_size(width, height, self.settings.scale)
        rows = np.arange(out_h) * height // out_h
        cols = np.arange(out_w) * width // out_w
        if self.clock is not None:
            self.clock.advance(self.cost_s)
        self.frames += 1
        return np.ascontiguousarray(frame[rows][:, cols])

    def describe(self) -> dict[str, Any]:
        mode = "strong" if self.settings.mode == "auto" else self.settings.mode
        return {"scale": self.settings.scale, "mode": mode, "mode_setting": self.settings.mode, "tier": "tiny",
                "device": "cpu", "models": ["ar_tiny_strong", "sr_tiny_x2_mild"]}

    def close(self) -> None:
        self.closed = True


class EngineFactory:
    """Builds ``NearestEngine``s (or raises ``error``), recording every build."""

    def __init__(self, error: Exception | None = None, clock: FakeClock | None = None, cost_s: float = 0.0,
                 gate: threading.Event | None = None) -> None:
        self.error, self.clock, self.cost_s, self.gate = error, clock, cost_s, gate
        self.built: list[NearestEngine] = []
        self.calls = 0

    def __call__(self, settings: FilterSettings, fps: float) -> NearestEngine:
        self.calls += 1
        if self.gate is not None:
            self.gate.wait(10)
        if self.error is not None:
            raise self.error
        engine = NearestEngine(settings, fps, self.clock, self.cost_s)
        self.built.append(engine)
        return engine


def bgra(height: int = 36, width: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 4), dtype=np.uint8)
