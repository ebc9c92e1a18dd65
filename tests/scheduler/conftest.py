"""Scheduler fixtures: a synthetic profile (no measuring in unit tests), a rig, a small trained predictor."""

from __future__ import annotations

import math

import pytest

from streamenhance.config import BICUBIC, TIERS
from streamenhance.scheduler.devices import DeviceInfo
from streamenhance.scheduler.profile import Profile, ProfileRow
from streamenhance.scheduler import variants
from streamenhance.scheduler.variants import ModelVariant

RES = ((640, 360), (854, 480), (1280, 720), (1920, 1080))


# (params, MACs per output pixel) of every rung the scheduler costs, as the scenarios were written against: tiny is
# the former 12 + 8-channel net, the rest the 2026-12-07 ladder. The scheduler reads the shipped weights' own figures
# (``variants.variant``), which move whenever a net is retrained at another shape; these stand in for them in every
# test of this folder, so a scenario's outcome depends on the scheduler's code alone.
SYNTHETIC_VARIANTS: dict[tuple[str, str, int], tuple[int, float]] = {
    ("sr", BICUBIC, 2): (0, 740.0), ("sr", BICUBIC, 4): (0, 740.0),
    ("sr", "tiny", 2): (5996, 1485.0), ("sr", "tiny", 4): (15516, 963.0),
    ("sr", "small", 2): (42276, 10530.0), ("sr", "small", 4): (50088, 3118.5),
    ("sr", "medium", 2): (133676, 33336.0), ("sr", "medium", 4): (144080, 8982.0),
    ("sr", "large", 2): (914868, 228420.0), ("sr", "large", 4): (930456, 58077.0),
    ("ar", "tiny", 1): (69547, 5616.0), ("ar", "small", 1): (197439, 14904.0),
    ("ar", "medium", 1): (424275, 30816.0), ("ar", "large", 1): (1285371, 89424.0),
}


def synthetic_variant(kind: str, tier: str, scale: int = 2, mode: str = "mild", weights_dir: object = None) -> ModelVariant:
    """``variants.variant`` with the figures of ``SYNTHETIC_VARIANTS`` (same signature, weights ignored)."""
    kind = "sr" if tier == BICUBIC else kind
    scale = scale if kind == "sr" else 1
    params, macs = SYNTHETIC_VARIANTS[(kind, tier, scale)]
    return ModelVariant(kind, tier, scale, mode if kind == "ar" else "-", params, macs, "synthetic")


@pytest.fixture(scope="session", autouse=True)
def synthetic_variants():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(variants, "variant", synthetic_variant)
        yield


def synthetic_profile(colocated: tuple[int, ...] = (1, 2, 4), device_id: str = "cpu", bicubic: bool = True) -> Profile:
    """A made-up CPU profile with plausible shape: latency = overhead + MACs / throughput, co-location slowdown
    (with the bicubic rung's SR rows unless ``bicubic`` is False)."""
    device = DeviceInfo(id=device_id, kind="cpu", device_class="cpu-test", compute_units=2, mem_bandwidth_gbps=20.0,
                        macs_per_s=2e10, memory_mb=8192.0, derivation="synthetic test profile")
    rows = []
    cells = [("sr", BICUBIC)] * bicubic + [(kind, tier) for kind in ("sr", "ar") for tier in TIERS]
    for kind, tier in cells:
        v = variants.variant(kind, tier, 2 if kind == "sr" else 1, "strong")
        eff = 0.35 if kind == "sr" else 0.8  # SR's thin convs run far below the conv throughput
        for w, h in RES:
            out_px = w * h * (4 if kind == "sr" else 1)
            solo = 2.0 + v.macs_per_pixel * out_px / (device.macs_per_s * eff) * 1e3 + out_px * 2e-6
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
