"""Which weight files serve a request: SR by tier/scale, AR by mode; tier "auto" by measured cost."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from streamenhance.config import BICUBIC, TIERS
from streamenhance.errors import WeightsError
from streamenhance.models import CatalogEntry, choose_ar

T = TypeVar("T")

# Share of the frame interval the SR net may take when tier="auto" picks by cost (the rest is
# pre/post-processing, AR and slack).
AUTO_TIER_BUDGET = 0.5


@dataclass(frozen=True)
class SRPlan:
    """SR weights and how often to apply them (x4 from an x2 net = two passes); no entry: bicubic only."""

    entry: CatalogEntry | None
    passes: int

    @property
    def tier(self) -> str:
        return self.entry.spec.tier if self.entry is not None else BICUBIC


BICUBIC_PLAN = SRPlan(None, 0)


def _rank(tier: str) -> int:
    return TIERS.index(tier) if tier in TIERS else len(TIERS)


def _tier_rank(entry: CatalogEntry) -> int:
    return _rank(entry.spec.tier)


def _names(entries: list[CatalogEntry]) -> str:
    return ", ".join(e.spec.name for e in entries) or "none"


def sr_candidates(entries: list[CatalogEntry], net_scale: int, mode: str) -> list[SRPlan]:
    """SR plans for ``net_scale`` (2 or 4), one per tier, cheapest first.

    Weights trained for ``mode`` are preferred over other modes of the same tier; for x4 a native x4
    net is preferred over two passes of an x2 net.
    """

    def plans_for(scale: int, passes: int) -> dict[str, SRPlan]:
        by_tier: dict[str, SRPlan] = {}
        matching = [e for e in entries if e.spec.kind == "sr" and e.spec.scale == scale]
        for entry in sorted(matching, key=lambda e: e.spec.mode != mode):
            by_tier.setdefault(entry.spec.tier, SRPlan(entry, passes))
        return by_tier

    plans = plans_for(2, 2) if net_scale == 4 else {}
    plans.update(plans_for(net_scale, 1))
    return sorted(plans.values(), key=lambda p: _tier_rank(p.entry))


def choose_sr(entries: list[CatalogEntry], tier: str, net_scale: int, mode: str) -> list[SRPlan]:
    """Candidate plans for an explicit tier (one) or for "auto" (all networks, cheapest first)."""
    if tier == BICUBIC:
        return [BICUBIC_PLAN]
    plans = sr_candidates(entries, net_scale, mode)
    if not plans:
        sr = [e for e in entries if e.spec.kind == "sr"]
        raise WeightsError(f"no super-resolution weights for x{net_scale}; installed: {_names(sr)}")
    if tier == "auto":
        return plans
    chosen = [p for p in plans if p.entry.spec.tier == tier]
    if not chosen:
        tiers = ", ".join(p.entry.spec.tier for p in plans)
        raise WeightsError(f"tier {tier!r} has no x{net_scale} weights; installed tiers: {tiers}")
    return chosen


def _largest_within_budget(cheapest_first: Sequence[T], seconds: Callable[[T], float], fps: float) -> T:
    """The last item whose ``seconds`` fit ``AUTO_TIER_BUDGET`` of the frame interval, else the first."""
    fitting = [item for item in cheapest_first if seconds(item) <= AUTO_TIER_BUDGET / max(fps, 1e-6)]
    return fitting[-1] if fitting else cheapest_first[0]


def auto_tier(plans: list[SRPlan], output_pixels: int, fps: float, macs_per_second: float) -> tuple[SRPlan, str]:
    """Largest tier whose SR cost fits ``AUTO_TIER_BUDGET`` of the frame interval on this device."""
    def seconds(plan: SRPlan) -> float:
        return plan.passes * plan.entry.spec.macs_per_pixel * output_pixels / macs_per_second

    best = _largest_within_budget(plans, seconds, fps)
    return best, _budget_reason(seconds(best), fps)


def _budget_reason(seconds: float, fps: float) -> str:
    budget_ms = AUTO_TIER_BUDGET / max(fps, 1e-6) * 1e3
    return f"auto: est. {seconds * 1e3:.1f} ms/frame of a {budget_ms:.1f} ms budget at {fps:g} fps"


def _ar_nets(entries: list[CatalogEntry], mode: str) -> list[CatalogEntry]:
    """The AR nets of ``mode``, cheapest first."""
    return sorted((e for e in entries if e.spec.kind == "ar" and e.spec.mode == mode), key=lambda e: e.spec.macs_per_pixel)


def auto_ar_tier(
    entries: list[CatalogEntry], mode: str, pixels: int, fps: float, macs_per_second: float
) -> tuple[str, str]:
    """Tier "auto" at x1 without an advisor: the largest AR net of ``mode`` that fits the budget of ``auto_tier``,
    else the cheapest."""
    nets = _ar_nets(entries, mode)
    if not nets:
        return TIERS[0], "auto: no artifact-removal weights"  # choose_ar raises the missing-weights error

    def seconds(entry: CatalogEntry) -> float:
        return entry.spec.macs_per_pixel * pixels / macs_per_second

    best = _largest_within_budget(nets, seconds, fps)
    return best.spec.tier, _budget_reason(seconds(best), fps)


def _at_or_below(cheapest_first: Sequence[T], tier_of: Callable[[T], str], wanted: str) -> T:
    """The item of tier ``wanted``, else the largest below it, else the cheapest (an unknown ``wanted``: the cheapest)."""
    limit = TIERS.index(wanted) if wanted in TIERS else 0
    fitting = [item for item in cheapest_first if _rank(tier_of(item)) <= limit]
    return fitting[-1] if fitting else cheapest_first[0]


def _advised_reason(assignment: Any, installed: str) -> str:
    reason = f"scheduler: {assignment.reason}"
    if installed not in (assignment.tier, BICUBIC):
        reason += f" (tier {assignment.tier} is not installed: {installed})"
    return reason


def advised_plan(plans: list[SRPlan], assignment: Any) -> tuple[SRPlan, str]:
    """The plan of the advisor's tier, else the largest installed tier below it, else the cheapest."""
    plan = BICUBIC_PLAN if assignment.tier == BICUBIC else _at_or_below(plans, lambda p: p.tier, assignment.tier)
    return plan, _advised_reason(assignment, plan.tier)


def advised_ar_tier(entries: list[CatalogEntry], mode: str, assignment: Any) -> tuple[str, str]:
    """x1: the AR tier of the advisor's assignment by ``advised_plan``'s rule; ``bicubic``: no network runs."""
    nets = _ar_nets(entries, mode)
    if assignment.tier == BICUBIC or not nets:  # no nets: choose_ar raises the missing-weights error
        tier = BICUBIC if assignment.tier == BICUBIC else TIERS[0]
    else:
        tier = _at_or_below(nets, lambda e: e.spec.tier, assignment.tier).spec.tier
    return tier, _advised_reason(assignment, tier)


def ar_modes(entries: list[CatalogEntry]) -> tuple[str, ...]:
    return tuple(sorted({e.spec.mode for e in entries if e.spec.kind == "ar"}, key=("mild", "strong").index))
