"""How the engine asks a tier advisor (the scheduler) for a stream's model size, without importing it.

The engine sits left of the scheduler in the layering, so it only knows this protocol; the package root
installs the process-wide scheduler as the default advisor (lazily: nothing loads before the first
stream with ``tier="auto"``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class TierAdvice(Protocol):
    """One registered stream (``scheduler.service.StreamHandle`` satisfies it)."""

    @property
    def assignment(self) -> Any: ...  # .tier, .device, .reason

    @property
    def version(self) -> int: ...

    def report(self, observed_ms: float) -> None: ...

    def update(self, width: int, height: int, fps: float | None = None) -> Any: ...

    def close(self) -> None: ...


# (width, height, fps, scale, mode, bitrate_kbps, device_preference) -> a registered stream
Advisor = Callable[[int, int, float, float, str, float, str], TierAdvice]

_default: list[Advisor | None] = [None]


def set_default_advisor(advisor: Advisor | None) -> None:
    """The advisor an ``Enhancer(tier="auto")`` registers its streams with (None: none)."""
    _default[0] = advisor


def default_advisor() -> Advisor | None:
    return _default[0]
