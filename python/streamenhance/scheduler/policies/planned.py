"""Policies that run the shared capacity planner on a fixed cost source: ``offline_table`` and ``oracle``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from streamenhance.errors import ConfigError
from streamenhance.scheduler.costs import CostEstimator, TableCost
from streamenhance.scheduler.devices import DeviceInfo
from streamenhance.scheduler.planner import PlanOptions, Planner
from streamenhance.scheduler.policy import Policy, register_policy
from streamenhance.scheduler.predictor import PerfPredictor
from streamenhance.scheduler.profile import Profile
from streamenhance.scheduler.streams import Assignment, StreamInfo


class _Planned(Policy):
    def __init__(self, *, estimator: CostEstimator, options: PlanOptions | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.planner = Planner(estimator, self.quality, options, self.clock, tag=self.name)
        self.over_capacity = 0

    def choose(self, streams: Sequence[StreamInfo], devices: Sequence[DeviceInfo],
               predictor: PerfPredictor | None) -> dict[str, Assignment]:
        result = self.planner.plan(streams, devices)
        self.over_capacity = result.over_capacity
        return result.assignments

    def warm(self, streams: Sequence[StreamInfo], devices: Sequence[DeviceInfo],
             predictor: PerfPredictor | None = None) -> None:
        self.planner.warm(streams, devices)

    def status(self) -> dict[str, Any]:
        return {"policy": self.name, "over_capacity": self.over_capacity}


@register_policy
class OfflineTablePolicy(_Planned):
    """``offline_table``: the planner of ``learned`` on the measured profile table alone.

    Costs are the solo p50/p95 interpolated from the profile (no co-location term, no online
    learning, no per-device correction); the only shared-device limit is summed solo utilisation
    <= ``util_max``. Caveats: co-located streams slow each other down more than additive
    utilisation says, and devices without a profile are guessed from conv throughput; it never
    learns from misses.
    """

    name = "offline_table"

    def __init__(self, *, profiles: Sequence[Profile] | None = None, table: TableCost | None = None,
                 options: PlanOptions | None = None, **kwargs: Any) -> None:
        if table is None:
            from streamenhance.scheduler.profile import shipped_profiles

            table = TableCost(profiles if profiles is not None else shipped_profiles())
        super().__init__(estimator=table, options=options, **kwargs)


@register_policy
class OraclePolicy(_Planned):
    """``oracle``: the planner with hindsight: the simulator's true mean costs, interference model and
    hidden load (noisy neighbours) included.

    An upper reference, not a deployable policy: it needs ``true_costs`` (``simulator.TrueCost``).
    Caveats: still the greedy planner (not the optimum); per-frame noise is unknown to it as well.
    """

    name = "oracle"

    def __init__(self, *, true_costs: CostEstimator | None = None, options: PlanOptions | None = None,
                 **kwargs: Any) -> None:
        if true_costs is None:
            raise ConfigError("oracle: needs true_costs (the simulator's cost model); it cannot run live")
        super().__init__(estimator=true_costs, options=options, **kwargs)
