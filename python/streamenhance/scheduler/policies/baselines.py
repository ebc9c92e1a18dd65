"""Baseline policies: fixed tiers, FLOPs rule, round robin and least loaded.

All of them are sticky: a stream keeps its (tier, device) while its device is alive, and only new
or displaced streams are placed, so none of them ever migrates a healthy stream. None learns or
reacts to deadline misses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from streamenhance.config import TIERS
from streamenhance.engine.selection import AUTO_TIER_BUDGET
from streamenhance.errors import ConfigError
from streamenhance.scheduler.costs import TableCost
from streamenhance.scheduler.devices import DeviceInfo
from streamenhance.scheduler.policy import Policy, register_policy
from streamenhance.scheduler.predictor import PerfPredictor
from streamenhance.scheduler.profile import Profile
from streamenhance.scheduler.streams import Assignment, StreamInfo
from streamenhance.scheduler.variants import macs_per_second


class _DeviceLoad:
    """What baselines track per device while placing: streams, demanded MACs/s, table utilisation."""

    def __init__(self, devices: Sequence[DeviceInfo]) -> None:
        self.count = {d.id: 0 for d in devices}
        self.macs = {d.id: 0.0 for d in devices}
        self.util = {d.id: 0.0 for d in devices}


class _Sticky(Policy):
    """Keeps existing assignments on live devices; ``_place`` decides for the others."""

    def choose(self, streams: Sequence[StreamInfo], devices: Sequence[DeviceInfo],
               predictor: PerfPredictor | None) -> dict[str, Assignment]:
        if not devices:
            raise ConfigError("scheduler: no device to place streams on")
        alive = {d.id: d for d in devices}
        load = _DeviceLoad(devices)
        out: dict[str, Assignment] = {}
        pending = []
        for info in streams:
            a = info.assignment
            if a is not None and a.device in alive:
                out[info.id] = a
                self._account(load, info, a.tier, alive[a.device])
            else:
                pending.append(info)
        for info in pending:
            out[info.id] = self._place(info, devices, load)
            self._account(load, info, out[info.id].tier, alive[out[info.id].device])
        return out

    def _account(self, load: _DeviceLoad, info: StreamInfo, tier: str, device: DeviceInfo) -> None:
        load.count[device.id] += 1
        load.macs[device.id] += macs_per_second(info.request, tier)
        load.util[device.id] += self._util(info, tier, device)

    def _util(self, info: StreamInfo, tier: str, device: DeviceInfo) -> float:
        return 0.0

    def _preferred(self, info: StreamInfo, devices: Sequence[DeviceInfo]) -> DeviceInfo | None:
        return next((d for d in devices if d.id == info.request.device_preference), None)

    def _place(self, info: StreamInfo, devices: Sequence[DeviceInfo], load: _DeviceLoad) -> Assignment:
        raise NotImplementedError


class _Static(_Sticky):
    tier: str = ""

    def _place(self, info: StreamInfo, devices: Sequence[DeviceInfo], load: _DeviceLoad) -> Assignment:
        device = self._preferred(info, devices) or min(devices, key=lambda d: load.count[d.id])
        return Assignment(self.tier, device.id, f"{self.name}: fixed tier, device with the fewest streams")


@register_policy
class StaticSmallestPolicy(_Static):
    """``static_smallest``: always the smallest tier; new streams go to the device with the fewest streams.

    Caveats: never uses spare capacity for quality; never reacts to overload.
    """

    name = "static_smallest"
    tier = TIERS[0]


@register_policy
class StaticLargestPolicy(_Static):
    """``static_largest``: always the largest tier; new streams go to the device with the fewest streams.

    Caveats: misses deadlines whenever the largest model does not fit; never reacts.
    """

    name = "static_largest"
    tier = TIERS[-1]


@register_policy
class GreedyFlopsPolicy(_Sticky):
    """``greedy_flops``: the engine's tier="auto" rule extended to shared devices.

    Each device may spend ``AUTO_TIER_BUDGET`` of its measured conv throughput (MACs/s); a new stream
    goes to the device with the most unspent budget and takes the largest tier whose MACs/s fit
    in it (else the smallest). Caveats: MACs are a poor proxy for latency (memory-bound stages,
    per-frame overhead, co-location slowdown are ignored); sticky, no reaction to misses.
    """

    name = "greedy_flops"

    def _place(self, info: StreamInfo, devices: Sequence[DeviceInfo], load: _DeviceLoad) -> Assignment:
        def free(d: DeviceInfo) -> float:
            return d.macs_per_s * AUTO_TIER_BUDGET - load.macs[d.id]

        device = self._preferred(info, devices) or max(devices, key=free)
        tier = TIERS[0]
        for t in TIERS:
            if macs_per_second(info.request, t) <= free(device):
                tier = t
        reason = f"{self.name}: largest tier within {AUTO_TIER_BUDGET:g} of the free conv MACs/s"
        return Assignment(tier, device.id, reason)


class _TablePolicy(_Sticky):
    """Baselines that read the offline profile table (solo costs, no co-location)."""

    def __init__(self, *, profiles: Sequence[Profile] | None = None, table: TableCost | None = None,
                 margin: float = 0.8, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if table is None:
            from streamenhance.scheduler.profile import shipped_profiles

            table = TableCost(profiles if profiles is not None else shipped_profiles())
        self.table = table
        self.margin = margin

    def _util(self, info: StreamInfo, tier: str, device: DeviceInfo) -> float:
        return self.table.solo(info.request, tier, device)[2]

    def _largest_fitting(self, info: StreamInfo, device: DeviceInfo, util_left: float) -> str:
        tier = TIERS[0]
        for t in TIERS:
            _p50, p95, util, _mem = self.table.solo(info.request, t, device)
            if p95 <= info.deadline_ms * self.margin and util <= util_left:
                tier = t
        return tier


@register_policy
class RoundRobinPolicy(_TablePolicy):
    """``round_robin``: new streams cycle over the devices; tier = largest whose solo table p95 fits.

    Caveats: ignores what already runs on the device (co-location), so a busy device keeps getting
    streams in turn; sticky, no reaction to misses.
    """

    name = "round_robin"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._next = 0

    def _place(self, info: StreamInfo, devices: Sequence[DeviceInfo], load: _DeviceLoad) -> Assignment:
        device = self._preferred(info, devices)
        if device is None:
            device = devices[self._next % len(devices)]
            self._next += 1
        tier = self._largest_fitting(info, device, 1.0)
        return Assignment(tier, device.id, f"{self.name}: next device in turn, largest tier whose solo p95 fits")


@register_policy
class LeastLoadedPolicy(_TablePolicy):
    """``least_loaded``: a new stream goes to the device with the lowest summed table utilisation and
    takes the largest tier whose solo p95 fits its deadline and whose utilisation fits what is left.

    Caveats: utilisation is additive solo utilisation (co-location slowdown ignored); one stream at a
    time (no global re-plan); sticky, no reaction to misses.
    """

    name = "least_loaded"

    def _place(self, info: StreamInfo, devices: Sequence[DeviceInfo], load: _DeviceLoad) -> Assignment:
        device = self._preferred(info, devices) or min(devices, key=lambda d: load.util[d.id])
        tier = self._largest_fitting(info, device, max(0.0, 1.0 - load.util[device.id]))
        return Assignment(tier, device.id, f"{self.name}: least utilised device, largest tier that fits what is left")
