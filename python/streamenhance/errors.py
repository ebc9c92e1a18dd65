"""The project's error hierarchy.

Every error also inherits the builtin a caller would expect, so ``except ValueError`` still catches a
bad frame. Messages follow "what, expected, got".
"""

from __future__ import annotations


class StreamEnhanceError(Exception):
    """Base of every error raised by streamenhance."""


class FrameFormatError(StreamEnhanceError, ValueError):
    """A frame or array has the wrong shape, size, strides or layout."""


class FrameTypeError(StreamEnhanceError, TypeError):
    """A frame or array has the wrong type or dtype."""


class NativeUnavailableError(StreamEnhanceError, RuntimeError):
    """The compiled extension (or its CUDA part) is missing; the message keeps the import error."""


class WeightsError(StreamEnhanceError, ValueError):
    """A weight file is missing, corrupt, or does not match the requested model."""


class ConfigError(StreamEnhanceError, ValueError):
    """An option (scale, mode, tier, device, ...) has a value outside its allowed set."""


class MediaError(StreamEnhanceError, ValueError):
    """A media file cannot be decoded or encoded."""
