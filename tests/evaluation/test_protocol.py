"""Protocol extensions: timed evaluation gives the same numbers, timing bookkeeping, the fixed-size timer."""

from __future__ import annotations

import time

import numpy as np
import pytest

from streamenhance.errors import ConfigError
from streamenhance.evaluation.protocol import (
    Stopwatch,
    Timing,
    bicubic_method,
    evaluate,
    evaluate_timed,
    time_method,
)
from tests.evaluation.conftest import textured

IMAGES = [("a", textured(40, 48, 1)), ("b", textured(64, 64, 2)), ("g", textured(36, 44, 3)[:, :, 0])]


def test_timed_evaluation_gives_the_numbers_of_evaluate() -> None:
    plain = evaluate(bicubic_method, "bicubic", IMAGES, "toy", 2)
    timed, timing = evaluate_timed(bicubic_method, "bicubic", IMAGES, "toy", 2)
    assert timed == plain
    assert set(timing.ms_per_image) == {"a", "b", "g"}
    assert timing.input_hw == {"a": (20, 24), "b": (32, 32), "g": (18, 22)}
    assert timing.input_summary == "3 inputs, 22x18 to 32x32, median 24x20"
    assert timing.warmup and timing.ms_median == pytest.approx(np.median(list(timing.ms_per_image.values())))


def test_warmup_call_is_not_timed() -> None:
    calls: list[tuple[int, int]] = []

    def slow_first(lr: np.ndarray, hr_hw: tuple[int, int]) -> np.ndarray:
        calls.append(hr_hw)
        if len(calls) == 1:
            time.sleep(0.2)
        return bicubic_method(lr, hr_hw)

    _, timing = evaluate_timed(slow_first, "m", IMAGES[:2], "toy", 2)
    assert len(calls) == 3  # warm-up + one call per image
    assert max(timing.ms_per_image.values()) < 150


def test_stopwatch_separates_wall_and_cpu_time() -> None:
    with Stopwatch() as watch:
        time.sleep(0.05)
    assert watch.wall_ms >= 45
    assert watch.cpu_ms < watch.wall_ms / 2  # sleeping costs no CPU
    timing = Timing.from_watches({"x": watch}, {"x": (4, 4)}, warmup=False)
    assert timing.ms_median == watch.wall_ms and timing.cpu_ms_median == watch.cpu_ms


def test_time_method_warms_up_then_takes_the_median() -> None:
    durations = iter([0.3, 0.0, 0.04, 0.0])
    calls = []

    def method(lr: np.ndarray, hr_hw: tuple[int, int]) -> np.ndarray:
        calls.append(1)
        time.sleep(next(durations))
        return lr

    wall, cpu = time_method(method, np.zeros((4, 4, 3), np.uint8), (4, 4), repeats=3)
    assert len(calls) == 4
    assert wall < 30  # median of (0, 40, 0) ms: the 300 ms warm-up is not counted
    assert cpu >= 0
    with pytest.raises(ConfigError, match="repeats"):
        time_method(method, np.zeros((4, 4, 3), np.uint8), (4, 4), repeats=0)
