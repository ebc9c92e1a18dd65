"""The BGR-in/BGR-out enhancement pipeline."""

from __future__ import annotations

from streamenhance.engine.pipeline import Enhancer, StreamState

__all__ = ["Enhancer", "StreamState"]
