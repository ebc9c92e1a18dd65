"""The policy interface, the policy registry, and the placement backend interface.

``Policy.choose(streams, devices, predictor) -> {stream_id: Assignment}`` decides for every stream;
``on_frame_done`` and ``on_devices_changed`` let a policy learn and react (the shape of Ray Serve's
``choose_replicas`` + hooks and of Clockwork's scheduler). Policies are chosen by name
(``make_policy("learned")``) and are plain objects: time and randomness are injected.

``Placement`` is where devices come from and where decisions go: ``LocalPlacement`` serves this
process's CPU and GPUs; a multi-server backend implements the same two methods (devices of several
hosts, ids like ``host-b/cuda:1``; ``commit`` sends the assignments to the hosts).
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Protocol

from streamenhance.errors import ConfigError
from streamenhance.scheduler.clock import Clock, MonotonicClock
from streamenhance.scheduler.devices import DeviceInfo
from streamenhance.scheduler.predictor import PerfPredictor
from streamenhance.scheduler.quality import QualityTable, quality_table
from streamenhance.scheduler.streams import Assignment, StreamInfo


class Policy(ABC):
    """Base of every scheduling policy.

    Args:
        clock: time source (``FakeClock`` in tests and the simulator).
        rng: seeded randomness (policies that need none ignore it).
        quality: ΔPSNR per tier (default: installed weights, else the placeholder table).
    """

    name: ClassVar[str] = ""

    def __init__(self, *, clock: Clock | None = None, rng: random.Random | None = None,
                 quality: QualityTable | None = None) -> None:
        self.clock = clock or MonotonicClock()
        self.rng = rng or random.Random(0)
        self.quality = quality or quality_table()

    @abstractmethod
    def choose(self, streams: Sequence[StreamInfo], devices: Sequence[DeviceInfo],
               predictor: PerfPredictor | None) -> dict[str, Assignment]:
        """An assignment for every stream of ``streams`` on one of ``devices`` (all alive)."""

    def on_frame_done(self, stream_id: str, observed_ms: float) -> None:
        """One frame of ``stream_id`` took ``observed_ms`` (engine time)."""

    def on_devices_changed(self, devices: Sequence[DeviceInfo]) -> None:
        """The device set changed (a GPU was lost or added); the next ``choose`` re-places streams."""

    def on_stream_closed(self, stream_id: str) -> None:
        """``stream_id`` left; forget what the policy kept about it."""

    def warm(self, streams: Sequence[StreamInfo], devices: Sequence[DeviceInfo],
             predictor: PerfPredictor | None = None) -> None:
        """Precompute whatever decisions for streams like these need (off the decision path)."""

    def wants_replan(self) -> str | None:
        """A reason to call ``choose`` again now (e.g. deadline misses), or None."""
        return None

    def wants_rebalance(self) -> str | None:
        """A reason for a full ``choose`` at the next maintenance pass (not urgent: the current
        assignments are feasible, a full plan may raise quality), or None."""
        return None

    def maintain(self) -> None:
        """Periodic work off the frame path (retraining, cache refresh)."""

    def status(self) -> dict[str, Any]:
        """Policy-specific figures for status pages."""
        return {"policy": self.name}


POLICIES: dict[str, type[Policy]] = {}


def register_policy(cls: type[Policy]) -> type[Policy]:
    """Class decorator: make ``cls`` available to ``make_policy`` under ``cls.name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__}: a policy needs a name")
    if cls.name in POLICIES and POLICIES[cls.name] is not cls:
        raise ValueError(f"policy {cls.name!r} is already registered by {POLICIES[cls.name].__name__}")
    POLICIES[cls.name] = cls
    return cls


def policy_names() -> tuple[str, ...]:
    _load_builtin()
    return tuple(POLICIES)


def make_policy(name: str, **kwargs: Any) -> Policy:
    """Build the policy registered as ``name`` with ``kwargs``.

    Raises:
        ConfigError: unknown name.
    """
    _load_builtin()
    cls = POLICIES.get(name)
    if cls is None:
        raise ConfigError(f"policy: expected one of {', '.join(POLICIES)}, got {name!r}")
    return cls(**kwargs)


def _load_builtin() -> None:
    from streamenhance.scheduler import policies  # noqa: F401  (registers the built-in policies)


# ---------------------------------------------------------------------- placement backends


class Placement(Protocol):
    """Where devices come from and where decisions are sent."""

    def devices(self) -> list[DeviceInfo]: ...

    def commit(self, assignments: Mapping[str, Assignment]) -> None: ...


class LocalPlacement:
    """This process's devices; decisions are read by the engine through stream handles (no commit work).

    Args:
        discover: returns the device list (default ``devices.discover_devices``, called once, lazily).
    """

    def __init__(self, discover: Callable[[], list[DeviceInfo]] | None = None) -> None:
        self._discover = discover
        self._devices: list[DeviceInfo] | None = None

    def devices(self) -> list[DeviceInfo]:
        if self._devices is None:
            if self._discover is None:
                from streamenhance.scheduler.devices import discover_devices

                self._discover = discover_devices
            self._devices = list(self._discover())
        return list(self._devices)

    def set_devices(self, devices: Sequence[DeviceInfo]) -> None:
        self._devices = list(devices)

    def commit(self, assignments: Mapping[str, Assignment]) -> None:
        return None


class StaticPlacement(LocalPlacement):
    """A fixed device list (tests, the simulator)."""

    def __init__(self, devices: Sequence[DeviceInfo]) -> None:
        super().__init__(lambda: list(devices))
