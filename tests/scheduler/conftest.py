"""Scheduler fixtures: a synthetic profile (no measuring in unit tests), a rig, a small trained predictor."""

from __future__ import annotations

import math

import pytest

from streamenhance.config import BICUBIC, TIERS
from streamenhance.scheduler.devices import DeviceInfo
from streamenhance.scheduler.profile import Profile, ProfileRow
from streamenhance.scheduler.variants import variant

RES = ((640, 360), (854, 480), (1280, 720), (1920, 1080))


# SR MACs per output pixel behind the synthetic latencies: the rung's constant and tiny's as the tests were written
# against (the 12 + 8-channel tiny; the shipped one is 16 + 12).
SYNTHETIC_SR_MACS = {BICUBIC: 740.0, "tiny": 1485.0}


def synthetic_profile(colocated: tuple[int, ...] = (1, 2, 4), device_id: str = "cpu", bicubic: bool = True) -> Profile:
    """A made-up CPU profile with plausible shape: latency = overhead + MACs / throughput, co-location slowdown
    (with the bicubic rung's SR rows unless ``bicubic`` is False)."""
    device = DeviceInfo(id=device_id, kind="cpu", device_class="cpu-test", compute_units=2, mem_bandwidth_gbps=20.0,
                        macs_per_s=2e10, memory_mb=8192.0, derivation="synthetic test profile")
    rows = []
    cells = [("sr", BICUBIC)] * bicubic + [(kind, tier) for kind in ("sr", "ar") for tier in TIERS]
    for kind, tier in cells:
        v = variant(kind, tier, 2 if kind == "sr" else 1, "strong")
        eff = 0.35 if kind == "sr" else 0.8  # SR's thin convs run far below the conv throughput
        # Latency from fixed made-up costs, so the scenarios below do not move when a shipped net changes shape.
        macs = SYNTHETIC_SR_MACS.get(tier, v.macs_per_pixel) if kind == "sr" else v.macs_per_pixel
        for w, h in RES:
            out_px = w * h * (4 if kind == "sr" else 1)
            solo = 2.0 + macs * out_px / (device.macs_per_s * eff) * 1e3 + out_px * 2e-6
            for k in colocated:
                p50 = solo * (1.0 + 0.8 * (k - 1) ** 0.9)
                rows.append(ProfileRow(kind, tier, v.scale, v.mode if kind == "ar" else "mild", w, h, k, p50,
                                       p50 * math.exp(1.645 * 0.08), p50, 10, 0.9, 500.0, v.params,
                                       v.macs_per_pixel, "ladder"))
    return Profile(device, rows, {"command": "synthetic", "conditions": {"valid": False, "smoke": True}})


@pytest.fixture(scope="session")
def profile() -> Profile:
    return synthetic_profile()


@pytest.fixture(scope="session")
def rig(profile: Profile):
    from streamenhance.scheduler.simulator import build_rig

    return build_rig(profile)


@pytest.fixture(scope="session")
def trained(rig):
    """A predictor trained briefly on the rig's profiles (shared: tests that mutate it take a clone)."""
    from streamenhance.scheduler.dataset import train_on_profiles

    predictor, report = train_on_profiles(rig.profiles(), steps=250, seed=0)
    return predictor, report


@pytest.fixture
def clock():
    from streamenhance.scheduler.clock import FakeClock

    return FakeClock(0.0)


@pytest.fixture
def no_leaked_threads():
    """Teardown invariant of scheduler tests: no scheduler thread outlives the test."""
    import threading

    yield
    leaked = [t.name for t in threading.enumerate() if t.name.startswith("streamenhance-scheduler") and t.is_alive()]
    assert not leaked, f"leaked scheduler threads: {leaked}"
