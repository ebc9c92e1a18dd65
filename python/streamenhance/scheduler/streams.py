"""What the scheduler is asked to serve (``StreamRequest``) and what it answers (``Assignment``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from streamenhance.config import BICUBIC, MAX_SIDE, MODES, TIERS, check_choice, output_size, scale_ratio
from streamenhance.errors import ConfigError


@dataclass(frozen=True)
class StreamRequest:
    """One live stream to enhance.

    Attributes:
        width, height: input frame size in pixels.
        fps: frame rate; the frame deadline is ``1000 / fps`` ms.
        scale: output/input ratio (1, 1.33, 1.5, 2 or 4), as for ``Enhancer``.
        mode: artifact removal (``off``, ``mild``, ``strong``, ``auto``); anything but ``off`` runs
            an AR net before SR (``auto`` is costed as if AR runs: the cost must fit either way).
        bitrate_kbps: bitrate of the incoming stream (0 = unknown); informational for the policy.
        device_preference: ``auto`` or a device id (``cpu``, ``cuda:0``); a preference, not a pin:
            it is honoured when the stream fits there.
    """

    width: int
    height: int
    fps: float = 30.0
    scale: float = 2.0
    mode: str = "off"
    bitrate_kbps: float = 0.0
    device_preference: str = "auto"

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 1 <= value <= MAX_SIDE:
                raise ConfigError(f"{name}: expected an integer in 1..{MAX_SIDE}, got {value!r}")
        if not (isinstance(self.fps, (int, float)) and math.isfinite(self.fps) and 0 < self.fps <= 1000):
            raise ConfigError(f"fps: expected a number in (0, 1000], got {self.fps!r}")
        scale_ratio(self.scale)
        check_choice("mode", self.mode, MODES)
        if not (math.isfinite(self.bitrate_kbps) and self.bitrate_kbps >= 0):
            raise ConfigError(f"bitrate_kbps: expected a number >= 0, got {self.bitrate_kbps!r}")
        if not isinstance(self.device_preference, str) or not self.device_preference:
            raise ConfigError(f"device_preference: expected 'auto' or a device id, got {self.device_preference!r}")

    @property
    def deadline_ms(self) -> float:
        """Frame interval in milliseconds."""
        return 1000.0 / self.fps

    @property
    def in_pixels(self) -> int:
        return self.width * self.height

    @property
    def out_size(self) -> tuple[int, int]:
        return output_size(self.width, self.height, self.scale)

    @property
    def runs_ar(self) -> bool:
        return self.mode != "off"

    def with_size(self, width: int, height: int) -> StreamRequest:
        """The same stream at another resolution (a mid-stream switch)."""
        return replace(self, width=width, height=height)

    def config_key(self) -> tuple[int, int, float, float, str]:
        """What the cost of a stream depends on (bitrate and preference do not change it)."""
        return (self.width, self.height, float(self.fps), float(self.scale), "off" if self.mode == "off" else "ar")


@dataclass(frozen=True)
class Assignment:
    """The scheduler's answer for one stream.

    Attributes:
        tier: SR model size, one of ``config.TIERS``, or ``bicubic`` (no network: the floor a stream
            falls back to when no network meets its deadline).
        device: device id (``cpu``, ``cuda:0``, or a simulated device's id).
        reason: one human-readable line (shown in OBS GetStatus and logs).
    """

    tier: str
    device: str
    reason: str = ""

    def __post_init__(self) -> None:
        check_choice("tier", self.tier, (BICUBIC, *TIERS))


@dataclass
class StreamInfo:
    """A stream as policies see it: its request and its current assignment (``None`` before the first).

    Attributes:
        id: stable stream id.
        request: what it needs.
        assignment: what it runs now.
        since: clock time of the last change of tier or device (for hysteresis).
        arrived: clock time of registration.
    """

    id: str
    request: StreamRequest
    assignment: Assignment | None = None
    since: float = 0.0
    arrived: float = 0.0

    @property
    def deadline_ms(self) -> float:
        return self.request.deadline_ms
