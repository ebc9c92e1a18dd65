"""streamenhance: real-time compression-artifact removal and super-resolution of live video.

    >>> from streamenhance import Enhancer
    >>> out = Enhancer(scale=2.0).enhance(frame)   # BGR(A) uint8 in, BGR(A) uint8 out

Heavy submodules (torch) load on first use, so ``import streamenhance`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from streamenhance import advice
from streamenhance.errors import (
    ConfigError,
    FrameFormatError,
    FrameTypeError,
    MediaError,
    NativeUnavailableError,
    StreamEnhanceError,
    WeightsError,
)

if TYPE_CHECKING:
    from streamenhance.engine import Enhancer, StreamState

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "Enhancer",
    "FrameFormatError",
    "FrameTypeError",
    "MediaError",
    "NativeUnavailableError",
    "StreamEnhanceError",
    "StreamState",
    "WeightsError",
    "__version__",
]


def _process_scheduler(*args: Any) -> advice.TierAdvice:
    """Streams of ``Enhancer(tier="auto")`` register with the process-wide scheduler (loaded on first use)."""
    from streamenhance.scheduler.service import stream_advisor

    return stream_advisor(*args)


advice.set_default_advisor(_process_scheduler)


def __getattr__(name: str) -> Any:
    if name in ("Enhancer", "StreamState"):
        from streamenhance import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'streamenhance' has no attribute {name!r}")
