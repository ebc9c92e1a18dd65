"""Model variants (one network of one tier) and the pipeline a stream runs at a rung of ``LADDER``.

Costs do not depend on weight values, so a variant's params and MACs come from the installed weights'
metadata when present, else from a freshly built ladder model (``models.tiers.hyperparameters``).

The scheduler's ladder has one rung below the networks: ``bicubic``, the engine's native scaler alone
(no network, ΔPSNR 0). It is the floor a stream falls back to when no network meets its deadline.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from streamenhance.config import BICUBIC, TIERS
from streamenhance.scheduler.streams import StreamRequest

AR_MODES = ("mild", "strong")
LADDER: tuple[str, ...] = (BICUBIC, *TIERS)  # what the scheduler can assign, cheapest first
# The bicubic rung's cost in the planner's load unit, conv multiply-adds per output pixel. It does 24
# (4 taps per pass, 2 passes, 3 planes) but is bound by memory traffic and runs unfused (uint8 -> float
# planes -> resize -> pack), so 24 would make it look ~30x cheaper than it is next to the networks and
# their load ~30x heavier to it. Measured for the shipped profile (2-core EPYC, 2026-12-06), x2 p50 at
# 640x360 / 854x480: bicubic 8.5 / 14.9 ms, tiny (then 12 + 8 channels, 1485 MACs per output pixel, fused) 16.9 / 30.5
# ms: the rung costs what ~740 of tiny's MACs do (at 720p and 1080p ~1240: the scaler falls out of cache). The rows
# of 2026-12-07 (tiny 16 + 12, 2556 MACs: 25.1 / 44.4 ms; bicubic 7.8 / 29.3 ms) give ~790 / ~1690; not changed.
BICUBIC_MACS_PER_PIXEL = 740.0


@dataclass(frozen=True)
class ModelVariant:
    """One network: kind ``sr`` (scale 2 or 4) or ``ar`` (scale 1) of one tier.

    Attributes:
        macs_per_pixel: multiply-accumulates per output pixel of the network.
        source: ``weights:<file>`` or ``ladder`` (built from the ladder: shipped weights missing).
    """

    kind: str
    tier: str
    scale: int
    mode: str
    params: int
    macs_per_pixel: float
    source: str = "ladder"

    @property
    def tier_index(self) -> int:
        """Position in the network ladder (tiny = 0); the bicubic rung below it is -1."""
        return LADDER.index(self.tier) - 1

    @property
    def name(self) -> str:
        return f"sr_{self.tier}_x{self.scale}" if self.kind == "sr" else f"ar_{self.tier}_{self.mode}"


@dataclass(frozen=True)
class Stage:
    """One network call of a stream's pipeline: the variant and the pixels it outputs per frame."""

    variant: ModelVariant
    out_pixels: int

    @property
    def macs_per_frame(self) -> float:
        return self.variant.macs_per_pixel * self.out_pixels


_LOCK = threading.Lock()
_CACHE: dict[tuple[str, str, int, str, str], ModelVariant] = {}


def variant(kind: str, tier: str, scale: int = 2, mode: str = "mild", weights_dir: Path | None = None) -> ModelVariant:
    """The variant of ``(kind, tier, scale)``; installed weights win over the ladder. Cached per process."""
    if tier == BICUBIC:
        return ModelVariant("sr", BICUBIC, scale, "-", 0, BICUBIC_MACS_PER_PIXEL, "native")
    key = (kind, tier, scale if kind == "sr" else 1, mode if kind == "ar" else "-", str(weights_dir))
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    found = _from_catalog(kind, tier, key[2], weights_dir) or _from_ladder(kind, tier, key[2])
    result = ModelVariant(kind, tier, key[2], key[3], found[0], found[1], found[2])
    with _LOCK:
        _CACHE.setdefault(key, result)
    return result


def _from_catalog(kind: str, tier: str, scale: int, weights_dir: Path | None) -> tuple[int, float, str] | None:
    from streamenhance.errors import WeightsError
    from streamenhance.models import catalog

    try:
        entries = catalog(weights_dir)
    except WeightsError:
        return None
    for entry in entries:
        spec = entry.spec
        if spec.kind == kind and spec.tier == tier and spec.scale == scale and spec.macs_per_pixel > 0:
            return spec.params, spec.macs_per_pixel, f"weights:{entry.path.name}"
    return None


def _from_ladder(kind: str, tier: str, scale: int) -> tuple[int, float, str]:
    from streamenhance.models import build_model, describe
    from streamenhance.models.tiers import hyperparameters

    arch, hp = hyperparameters(kind, tier, scale) if kind == "sr" else hyperparameters("ar", tier)
    spec = describe(build_model(arch, hp), arch, tier, "-", hp)
    return spec.params, spec.macs_per_pixel, "ladder"


def net_scale(scale: float) -> int:
    """The SR network scale the engine uses for a user scale (as ``Enhancer.net_scale``)."""
    if abs(scale - 1.0) < 1e-3:
        return 1
    return 4 if abs(scale - 4.0) < 1e-3 else 2


def pipeline(request: StreamRequest, tier: str, weights_dir: Path | None = None) -> list[Stage]:
    """Networks the engine runs per frame of ``request`` at ``tier``: AR (when mode != off), then SR.

    As in ``Enhancer``: AR runs at the input size (padded to a multiple of 4) with the same tier as SR;
    x1.33/x1.5 run the x2 net then downscale, so the net outputs 4x the input pixels. The bicubic rung
    is one stage (the scaler, costed as the SR stage of x2 or x4), whatever the mode asks for.
    """
    stages: list[Stage] = []
    width, height = request.width, request.height
    if tier == BICUBIC:
        scale = max(net_scale(request.scale), 2)
        return [Stage(variant("sr", BICUBIC, scale), width * height * scale * scale)]
    if request.runs_ar:
        mode = request.mode if request.mode in AR_MODES else "strong"  # auto: cost of either mode is the same
        padded = (-(-width // 4) * 4) * (-(-height // 4) * 4)
        stages.append(Stage(variant("ar", tier, 1, mode, weights_dir), padded))
    scale = net_scale(request.scale)
    if scale > 1:
        stages.append(Stage(variant("sr", tier, scale, "mild", weights_dir), width * height * scale * scale))
    return stages


def macs_per_second(request: StreamRequest, tier: str) -> float:
    """Conv MACs per second the stream demands at ``tier`` (all stages, at its fps)."""
    return sum(stage.macs_per_frame for stage in pipeline(request, tier)) * request.fps
