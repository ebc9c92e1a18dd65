"""Public option values shared by every layer (engine, OBS settings, CLI) and their validation."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Literal

from streamenhance.errors import ConfigError

Mode = Literal["off", "mild", "strong", "auto"]
MODES: tuple[str, ...] = ("off", "mild", "strong", "auto")
TIERS: tuple[str, ...] = ("tiny", "small", "medium", "large")
# The rung below the network ladder: no network at all, only the native bicubic scaler. The scheduler
# falls back to it when no network meets a stream's deadline (a frame late is worse than a plain one).
BICUBIC: str = "bicubic"

# User-facing scale values and the exact ratios they stand for: 1.33 is 4/3 (1080p -> 1440p).
SCALE_RATIOS: dict[float, Fraction] = {
    1.0: Fraction(1),
    1.33: Fraction(4, 3),
    1.5: Fraction(3, 2),
    2.0: Fraction(2),
    4.0: Fraction(4),
}
SCALES: tuple[float, ...] = tuple(SCALE_RATIOS)

# Largest frame side accepted anywhere (input or output); the native kernels enforce the same limit.
MAX_SIDE = 16384


def scale_ratio(scale: float) -> Fraction:
    """Exact ratio of a user-facing scale (1, 1.33, 1.5, 2 or 4).

    Raises:
        ConfigError: ``scale`` is not one of the supported values.
    """
    for value, ratio in SCALE_RATIOS.items():
        if math.isclose(float(scale), value, abs_tol=1e-3):
            return ratio
    raise ConfigError(f"scale: expected one of {', '.join(f'{s:g}' for s in SCALES)}, got {scale!r}")


def output_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """Output (width, height) of a ``width`` x ``height`` frame enhanced at ``scale`` (half rounds up)."""
    ratio = scale_ratio(scale)
    return (int(math.floor(width * ratio + Fraction(1, 2))), int(math.floor(height * ratio + Fraction(1, 2))))


def check_choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    """Return ``value`` if allowed, else raise ``ConfigError`` listing the allowed values."""
    if value not in allowed:
        raise ConfigError(f"{name}: expected one of {', '.join(allowed)}, got {value!r}")
    return value
