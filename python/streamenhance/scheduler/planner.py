"""The capacity planner shared by ``learned``, ``offline_table`` and ``oracle``.

Problem: give every stream a (tier, device) so that the summed quality (ΔPSNR per tier) is as high
as possible, subject to, for every stream, predicted p95 latency <= deadline x ``margin`` at the load
its device will carry, and, per device, summed utilisation <= ``util_max`` and memory <=
``mem_max`` x the device's memory.

Algorithm (greedy, O(streams x tiers x devices) after the cost look-ups):

1. Costs: each estimator's ``grid`` (cached per estimator version and request config) gives p95 over
   a grid of co-located load. For every (stream, tier, device) it is inverted into the tolerance
   M* = the largest summed MACs/s of the *other* streams (relative to the device) at which the
   stream still meets its budget. A device then fits a set of streams when its total load L obeys
   L - own_j <= M*_j for each member j, i.e. L <= min_j(own_j + M*_j): one number per device.
2. Keep: placed streams stay on their device at the smallest tier when that still fits, then get
   back their previous tier where it still fits (in arrival order).
3. Admit: new and displaced streams go, at the smallest tier, to their preferred device if it fits,
   else to the device left with the most slack; when none has room, the device that could fit the
   stream with its members at the smallest tier makes room by downgrading members, cheapest
   ΔPSNR loss per unit of load first (deadlines before quality).
4. Upgrade: one tier at a time, best ΔPSNR per unit of load first, while everything still fits.
   Hysteresis: going above a stream's previous tier needs the budget x ``upgrade_headroom`` (for it
   and its co-located streams) and ``cooldown_s`` since its last change; downgrades are immediate.
5. Move: a few streams whose cooldown passed may move to another device where they get at least
   ``move_gain_db`` more (with the headroom budget); at most ``max_moves`` per plan.
6. Verify: the estimator's exact costs at the final loads; a stream over budget is downgraded (or,
   at the smallest tier, its device's largest consumer is) until all fit or nothing is left to drop.

Fast path (``place``): an arrival or switch next to placed streams takes the best (tier, device)
that fits as things stand, the others unchanged; the caller runs the full plan later.

Caveats: greedy, not optimal (a multiple-choice knapsack per device is NP-hard); the co-located
count used in step 1 is an estimate (the previous count, at least an even share), which step 5
corrects. When even the smallest tier fits nowhere, the stream still gets the least-bad device and
its reason says "over capacity": the planner never drops a stream.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamenhance.config import TIERS
from streamenhance.scheduler.clock import Clock, MonotonicClock
from streamenhance.scheduler.costs import N_GRID, R_GRID, CostEstimator, GridCosts
from streamenhance.scheduler.devices import DeviceInfo
from streamenhance.scheduler.quality import QualityTable
from streamenhance.scheduler.streams import Assignment, StreamInfo, StreamRequest


@dataclass
class PlanOptions:
    """Thresholds and hysteresis of the planner (see the module docstring)."""

    margin: float = 0.8
    # Utilisation headroom is what protects against load the scheduler cannot see (another process on
    # the device): at 0.7 a neighbour taking a quarter of the device slows streams down but does not
    # push the device past all of its time.
    util_max: float = 0.7
    util_keep: float = 0.8
    mem_max: float = 0.9
    upgrade_headroom: float = 0.85
    cooldown_s: float = 15.0
    verify_rounds: int = 6
    move_gain_db: float = 0.5
    max_moves: int = 2
    move_candidates: int = 8


@dataclass
class PlannedStream:
    """What the planner predicted for a stream it placed (for observations and status)."""

    tier: str
    device: str
    p50_ms: float
    p95_ms: float
    budget_ms: float
    over_capacity: bool


@dataclass
class PlanResult:
    """Assignments, what was predicted for each stream, and how many streams are over capacity."""

    assignments: dict[str, Assignment]
    planned: dict[str, PlannedStream] = field(default_factory=dict)
    over_capacity: int = 0
    rows: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # (features, stream index, p50) of the check


def invert(p95: np.ndarray, budget: np.ndarray) -> np.ndarray:
    """Largest co-load ratio (R_GRID units) at which ``p95`` (..., R) stays <= ``budget`` (...); -1 if none."""
    p = np.maximum.accumulate(p95, axis=-1)  # enforce monotone growth with load
    fits = p <= budget[..., None]
    count = fits.sum(-1)
    idx = np.clip(count - 1, 0, len(R_GRID) - 1)
    nxt = np.clip(count, 0, len(R_GRID) - 1)
    lo = np.take_along_axis(p, idx[..., None], -1)[..., 0]
    hi = np.take_along_axis(p, nxt[..., None], -1)[..., 0]
    frac = np.clip(np.log(budget / lo) / np.maximum(np.log(hi / lo), 1e-9), 0.0, 1.0)
    value = R_GRID[idx] + (R_GRID[nxt] - R_GRID[idx]) * frac
    value = np.where(count >= len(R_GRID), R_GRID[-1], value)
    return np.where(count == 0, -1.0, value)


def _at_count(p95: np.ndarray, others: np.ndarray) -> np.ndarray:
    """(C, T, D, R) slice of a (C, T, D, N, R) grid at ``others`` (D,) co-located streams, interpolated
    in log-latency between grid counts (rounding would make feasibility jump at grid points)."""
    n = np.clip(np.asarray(others, dtype=np.float64), N_GRID[0], N_GRID[-1])
    hi = np.searchsorted(N_GRID, n, side="left").clip(1, len(N_GRID) - 1)
    lo = hi - 1
    w = ((n - N_GRID[lo]) / (N_GRID[hi] - N_GRID[lo]))[None, None, :, None]
    d = np.arange(p95.shape[2])
    return np.exp((1 - w) * np.log(p95[:, :, d, lo, :]) + w * np.log(p95[:, :, d, hi, :]))


def _stage_costs(planner: Planner, bank: _Bank, cfg: np.ndarray, tier: np.ndarray, dev: np.ndarray, others: np.ndarray,
                 others_macs: np.ndarray, dev_macs: np.ndarray) -> tuple[np.ndarray, ...]:
    """Stage rows of streams (``cfg``, ``tier``, ``dev``, one entry per stream) with their co-load
    filled in, each row's stream index (grouped, in order), and the predicted stage p50 / p95
    (unbiased): one MLP call for all of them."""
    from streamenhance.scheduler.features import set_coload

    assert bank.rows is not None
    mask = bank.mask[cfg]  # (n, 2)
    x = bank.rows[cfg, tier, dev][mask]  # (rows, F): the stages that run
    owner = np.repeat(np.arange(len(cfg)), mask.sum(1))
    set_coload(x, others[owner], others_macs[owner], dev_macs[owner])
    p50, p95 = planner.estimator.predict_rows(x)  # type: ignore[attr-defined]
    return x, owner, p50, p95


class _Bank:
    """Cost grids of every request config seen, stacked for one (estimator version, device list)."""

    def __init__(self, key: Hashable, devices: Sequence[DeviceInfo]) -> None:
        self.key = key
        self.devices = list(devices)
        self.index: dict[tuple[object, ...], int] = {}
        self.requests: list[StreamRequest] = []
        self.p95 = np.zeros((0, len(TIERS), len(devices), len(N_GRID), len(R_GRID)))
        self.own = np.zeros((0, len(TIERS)))
        self.util = np.zeros((0, len(TIERS), len(devices)))
        self.mem = np.zeros((0, len(TIERS), len(devices)))
        self.q: list[list[float]] = []
        self.budget = np.zeros(0)
        self.rows: np.ndarray | None = None  # (C, T, D, 2, F) stage features, for estimators that have them
        self.mask = np.zeros((0, 2), dtype=bool)

    def add(self, request: StreamRequest, grid: GridCosts, quality: QualityTable, margin: float,
            rows: np.ndarray | None = None, mask: np.ndarray | None = None) -> int:
        self.index[request.config_key()] = len(self.requests)
        self.requests.append(request)
        self.p95 = np.concatenate([self.p95, np.asarray(grid.p95)[None]])
        self.own = np.concatenate([self.own, grid.own[None]])
        self.util = np.concatenate([self.util, grid.util[None]])
        self.mem = np.concatenate([self.mem, grid.mem[None]])
        self.q.append([quality.stream_gain(request, t) for t in TIERS])
        self.budget = np.append(self.budget, request.deadline_ms * margin)
        if rows is not None and mask is not None:
            self.rows = rows[None] if self.rows is None else np.concatenate([self.rows, rows[None]])
            self.mask = np.concatenate([self.mask, mask[None]])
        return len(self.requests) - 1


class Planner:
    """Greedy capacity planner over a ``CostEstimator`` (see the module docstring).

    Args:
        estimator: where costs come from.
        quality: ΔPSNR per tier.
        options: thresholds and hysteresis.
        clock: time, for the upgrade cooldown.
        tag: prefix of the reasons (the policy name).
    """

    def __init__(self, estimator: CostEstimator, quality: QualityTable, options: PlanOptions | None = None,
                 clock: Clock | None = None, tag: str = "planner") -> None:
        self.estimator = estimator
        self.quality = quality
        self.options = options or PlanOptions()
        self.clock = clock or MonotonicClock()
        self.tag = tag
        self._bank: _Bank | None = None
        self._tolerances: dict[tuple[object, ...], tuple[np.ndarray, np.ndarray]] = {}
        self._static: dict[tuple[object, ...], tuple[list[Any], list[Any]]] = {}

    # ------------------------------------------------------------------ costs

    def bank(self, devices: Sequence[DeviceInfo]) -> _Bank:
        """The grids for ``devices`` at the estimator's current version (rebuilt, same configs, when stale)."""
        key = (self.estimator.version(), tuple(d.id for d in devices))
        bank = self._bank
        if bank is None or bank.key != key:
            old = bank.requests if bank is not None else []
            bank = self._bank = _Bank(key, devices)
            for request in old:
                self._add(bank, request)
        return bank

    def _add(self, bank: _Bank, request: StreamRequest) -> int:
        grid = self.estimator.grid(request, bank.devices)
        features = getattr(self.estimator, "stage_features", None)
        if features is None:
            return bank.add(request, grid, self.quality, self.options.margin)
        rows, mask = features(request, bank.devices), self.estimator.stage_mask(request)  # type: ignore[attr-defined]
        return bank.add(request, grid, self.quality, self.options.margin, rows, mask)

    def tolerances(self, bank: _Bank, others: np.ndarray, bias: np.ndarray) -> tuple[list[Any], ...]:
        """Per config: (M* keep, M* upgrade, own load, utilisation, memory) as nested lists [C][T][D].

        The inversion is the costliest NumPy part of a plan, and between two plans usually one device's
        co-located count (or bias, kept to 1 %) changed: slices are cached per device.
        """
        keep, up = self.tolerance_arrays(bank, others, bias)
        dev_macs = np.array([d.macs_per_s for d in bank.devices])
        n_c = len(bank.requests)
        static = self._static.get((bank.key, n_c))
        if static is None:
            static = self._static[(bank.key, n_c)] = ((bank.own[:, :, None] / dev_macs[None, None, :]).tolist(),
                                                      bank.mem.tolist())
        util = (bank.util * np.exp(np.round(np.log(bias), 2))[None, None, :]).tolist()
        return keep.tolist(), up.tolist(), static[0], util, static[1]

    def tolerance_arrays(self, bank: _Bank, others: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(M* keep, M* upgrade), each (C, T, D), at ``others`` co-located streams per device."""
        n_c, n_d = len(bank.requests), len(bank.devices)
        keep = np.empty((n_c, len(TIERS), n_d))
        up = np.empty_like(keep)
        log_bias = np.round(np.log(bias), 2)
        for d in range(n_d):
            key = (bank.key, n_c, d, float(others[d]), float(log_bias[d]))
            cached = self._tolerances.get(key)
            if cached is None:
                p95 = _at_count(bank.p95[:, :, d : d + 1], others[d : d + 1])[:, :, 0] * math.exp(log_bias[d])
                budget = np.broadcast_to(bank.budget[:, None], p95.shape[:2])
                cached = (invert(p95, budget), invert(p95, budget * self.options.upgrade_headroom))
                if len(self._tolerances) >= 64:
                    self._tolerances.pop(next(iter(self._tolerances)))
                self._tolerances[key] = cached
            keep[:, :, d], up[:, :, d] = cached
        return keep, up

    def config_index(self, bank: _Bank, request: StreamRequest) -> int:
        index = bank.index.get(request.config_key())
        return self._add(bank, request) if index is None else index

    def refresh(self) -> None:
        """Recompute the grids of every known config for the estimator's current version (after a
        retrain), so the next decision does not pay for it."""
        if self._bank is not None:
            self.bank(self._bank.devices)

    def warm(self, streams: Sequence[StreamInfo], devices: Sequence[DeviceInfo]) -> None:
        """Compute the grids of these streams' configs now (off the decision path)."""
        bank = self.bank(devices)
        for info in streams:
            self.config_index(bank, info.request)

    # ------------------------------------------------------------------ plan

    def place(self, streams: Sequence[StreamInfo], devices: Sequence[DeviceInfo],
              fresh: Sequence[int]) -> PlanResult | None:
        """Fast path for arrivals and resolution switches: every stream but ``fresh`` (indices into
        ``streams``) keeps its assignment, and each fresh stream, in turn, takes the (device, tier)
        with the most ΔPSNR that passes the plan's tolerance test on every (tier, device) at once (at
        the count each device has with it; utilisation and memory limits as for a new stream in
        ``plan``; above the smallest tier, the upgrade headroom for it and its neighbours), confirmed
        by the estimator's exact costs for it and the streams on that device (best 3 candidates).

        A few NumPy evaluations per fresh stream instead of a plan's greedy phases. The
        result is feasible but not re-optimised: the caller re-plans later, off the decision path.
        Returns None when a fresh stream fits nowhere without changing the others (``plan`` then
        makes room), a kept stream's device is gone, or the estimator has no feature rows.
        """
        if not hasattr(self.estimator, "stage_features"):
            return None
        bank = self.bank(devices)
        cfg = np.array([self.config_index(bank, s.request) for s in streams], dtype=int)
        dev_index = {d.id: i for i, d in enumerate(devices)}
        n = len(streams)
        dev, tier = np.full(n, -1), np.full(n, -1)
        todo = set(fresh)
        for i, info in enumerate(streams):
            if i in todo:
                continue
            a = info.assignment
            d = dev_index.get(a.device, -1) if a is not None else -1
            if d < 0:
                return None
            dev[i], tier[i] = d, TIERS.index(a.tier)  # type: ignore[union-attr]
        ctx = _Placing(self, bank, cfg, devices)
        touched: dict[int, tuple[np.ndarray, np.ndarray, float, float]] = {}
        for f in fresh:
            choice = ctx.best(f, dev, tier, streams[f])
            if choice is None:
                return None
            dev[f], tier[f], costs = choice
            touched.update(costs)
        return ctx.result(streams, dev, tier, fresh, touched)

    def plan(self, streams: Sequence[StreamInfo], devices: Sequence[DeviceInfo]) -> PlanResult:
        """Assign every stream of ``streams`` to one of ``devices`` (see the module docstring)."""
        if not streams:
            return PlanResult({})
        if not devices:
            from streamenhance.errors import ConfigError

            raise ConfigError("scheduler: no device to place streams on")
        state = _State(self, streams, devices)
        state.keep()
        state.admit()
        state.upgrade()
        state.move()
        return state.verify_and_finish()


class _Placing:
    """Placing one stream next to the streams already placed (``Planner.place``): the plan's
    tolerance test for every (tier, device) at once, then the exact check of the chosen device."""

    def __init__(self, planner: Planner, bank: _Bank, cfg: np.ndarray, devices: Sequence[DeviceInfo]) -> None:
        self.p, self.bank, self.cfg, self.devices = planner, bank, cfg, list(devices)
        self.dev_macs = np.array([d.macs_per_s for d in devices])
        self.bias = np.array([planner.estimator.bias(d.id) for d in devices])
        self.mem_cap = np.array([planner.options.mem_max * d.memory_mb for d in devices])
        self.dev_index = {d.id: i for i, d in enumerate(devices)}
        self.own = bank.own[:, :, None] / self.dev_macs[None, None, :]  # (C, T, D) load in device units

    def best(self, f: int, dev: np.ndarray, tier: np.ndarray, info: StreamInfo) -> tuple[Any, ...] | None:
        """(device, tier, {stream index: (stage rows, stage p50s, p50, p95)} of it and the streams on
        that device) for stream ``f``, or None when it fits nowhere without changing the others."""
        bank, opt, n_d = self.bank, self.p.options, len(self.devices)
        members = np.flatnonzero(dev >= 0)
        md, mt, mc = dev[members], tier[members], self.cfg[members]
        counts = np.bincount(md, minlength=n_d)
        # Tolerances at the count each device has with the newcomer on it (cached per device and count).
        keep, up = self.p.tolerance_arrays(bank, counts, self.bias)
        a_m = self.own[mc, mt, md]
        load = np.bincount(md, a_m, n_d)
        util = np.bincount(md, bank.util[mc, mt, md] * self.bias[md], n_d)
        memory = np.bincount(md, bank.mem[mc, mt, md], n_d)
        cap_keep, cap_up = np.full(n_d, np.inf), np.full(n_d, np.inf)
        np.minimum.at(cap_keep, md, a_m + keep[mc, mt, md])
        np.minimum.at(cap_up, md, a_m + up[mc, mt, md])
        c = int(self.cfg[f])
        a_n = self.own[c]  # (T, D)
        # Above the smallest tier: the upgrade headroom for the newcomer and its neighbours (as in plan).
        m_n = np.concatenate([keep[c][:1], up[c][1:]])
        cap = np.concatenate([np.broadcast_to(cap_keep, (1, n_d)), np.broadcast_to(cap_up, (len(TIERS) - 1, n_d))])
        ok = ((m_n >= 0) & (load[None] + a_n <= np.minimum(cap, a_n + m_n))
              & (util[None] + bank.util[c] * self.bias[None] <= opt.util_max)
              & (memory[None] + bank.mem[c] <= self.mem_cap[None]))
        pref = self.dev_index.get(info.request.device_preference, -1)
        current = self.dev_index.get(info.assignment.device, -1) if info.assignment is not None else -1
        q = bank.q[c]
        slack = np.minimum(cap, a_n + m_n) - (load[None] + a_n)
        candidates = sorted(((q[t], d == pref, d == current, slack[t, d], t, d) for t, d in zip(*np.nonzero(ok))),
                            reverse=True)
        for *_, t, d in candidates[:3]:
            together = np.append(members[md == d], f)
            x, owner, stage, p50, p95 = self._exact(together, np.append(tier[together[:-1]], t), int(d))
            headroom = 1.0 if t == 0 else opt.upgrade_headroom
            if np.all(p95 <= bank.budget[self.cfg[together]] * headroom):
                costs = {int(j): (x[owner == k], stage[owner == k], float(p50[k]), float(p95[k]))
                         for k, j in enumerate(together)}
                return int(d), int(t), costs
        return None

    def _exact(self, streams: np.ndarray, tiers: np.ndarray, d: int) -> tuple[np.ndarray, ...]:
        """(stage rows, each row's position in ``streams``, unbiased stage p50s, p50, p95) of ``streams``
        at ``tiers`` together on device ``d``."""
        cfg, n = self.cfg[streams], len(streams)
        own = self.bank.own[cfg, tiers]
        x, owner, p50, p95 = _stage_costs(self.p, self.bank, cfg, tiers, np.full(n, d), np.full(n, n - 1),
                                          own.sum() - own, np.full(n, self.dev_macs[d]))
        bias = self.bias[d]
        return x, owner, p50, np.bincount(owner, p50, n) * bias, np.bincount(owner, p95, n) * bias

    def result(self, streams: Sequence[StreamInfo], dev: np.ndarray, tier: np.ndarray, fresh: Sequence[int],
               touched: dict[int, tuple[np.ndarray, np.ndarray, float, float]]) -> PlanResult:
        """Assignments (the others' unchanged), the prediction and stage rows of every stream whose
        load changed (``touched``: stage rows, stage p50s, p50, p95 per stream index)."""
        tag, budget = self.p.tag, self.bank.budget[self.cfg]
        counts = np.bincount(dev, minlength=len(self.devices))
        assignments = {info.id: info.assignment for info in streams}  # type: ignore[misc]
        for f in fresh:
            d = int(dev[f])
            assignments[streams[f].id] = Assignment(
                TIERS[int(tier[f])], self.devices[d].id,
                f"{tag}: predicted p95 {touched[f][3]:.1f} ms of a {budget[f]:.1f} ms budget on {self.devices[d].id} "
                f"({_streams(int(counts[d]))}); placed on arrival, full re-plan follows")
        planned = {}
        order = sorted(touched)
        for j in order:
            a, (_x, _stage, p50, p95) = assignments[streams[j].id], touched[j]
            planned[streams[j].id] = PlannedStream(a.tier, a.device, p50, p95, float(budget[j]), False)
        rows = None
        if order:
            rows = (np.concatenate([touched[j][0] for j in order]),
                    np.concatenate([np.full(len(touched[j][0]), j) for j in order]),
                    np.concatenate([touched[j][1] for j in order]))
        return PlanResult(assignments, planned, 0, rows)  # type: ignore[arg-type]


class _State:
    """Working arrays of one plan (kept out of ``Planner`` so plans never share state)."""

    def __init__(self, planner: Planner, streams: Sequence[StreamInfo], devices: Sequence[DeviceInfo]) -> None:
        opt = planner.options
        self.p, self.opt, self.streams, self.devices = planner, opt, list(streams), list(devices)
        self.now = planner.clock.now()
        n_s, n_d = len(streams), len(devices)
        dev_index = {d.id: i for i, d in enumerate(devices)}
        self.dev_macs = np.array([d.macs_per_s for d in devices])
        self.current = [dev_index.get(s.assignment.device, -1) if s.assignment else -1 for s in streams]
        self.prev_tier = [TIERS.index(s.assignment.tier) if s.assignment else -1 for s in streams]
        bank = planner.bank(devices)
        cfg = [planner.config_index(bank, s.request) for s in streams]
        counts = np.bincount([c for c in self.current if c >= 0], minlength=n_d)
        # Others on the device: at least an even share of the streams, at least what it holds now.
        est_others = np.maximum(counts, math.ceil(n_s / n_d)) - 1
        self.bias = np.array([planner.estimator.bias(d.id) for d in devices])
        m_keep, m_up, a, u, mem = planner.tolerances(bank, np.maximum(est_others, 0), self.bias)
        self.m_keep = [m_keep[c] for c in cfg]
        self.m_up = [m_up[c] for c in cfg]
        self.a = [a[c] for c in cfg]
        self.u = [u[c] for c in cfg]
        self.mem = [mem[c] for c in cfg]
        self.q = [bank.q[c] for c in cfg]
        self.own_macs = bank.own[cfg]
        self.bank, self.cfg = bank, np.asarray(cfg)
        self.budget = bank.budget[cfg]
        self.mem_cap = [opt.mem_max * d.memory_mb for d in devices]
        self.pref = [dev_index.get(s.request.device_preference, -1) for s in streams]
        self.tier = [-1] * n_s
        self.dev = [-1] * n_s
        self.over = [False] * n_s
        self.members: list[list[int]] = [[] for _ in range(n_d)]
        self.load = [0.0] * n_d
        self.util = [0.0] * n_d
        self.memory = [0.0] * n_d
        self.cap = [math.inf] * n_d
        self.cap_up = [math.inf] * n_d
        # The same sums with every member at the smallest tier: can a device make room at all?
        self.load0 = [0.0] * n_d
        self.util0 = [0.0] * n_d
        self.cap0 = [math.inf] * n_d
        self.rows: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    # ------------------------------------------------------------------ device bookkeeping

    def _refresh(self, d: int) -> None:
        members, tier = self.members[d], self.tier
        self.load[d] = sum(self.a[j][tier[j]][d] for j in members)
        self.util[d] = sum(self.u[j][tier[j]][d] for j in members)
        self.memory[d] = sum(self.mem[j][tier[j]][d] for j in members)
        self.cap[d] = min((self.a[j][tier[j]][d] + self.m_keep[j][tier[j]][d] for j in members), default=math.inf)
        self.cap_up[d] = min((self.a[j][tier[j]][d] + self.m_up[j][tier[j]][d] for j in members), default=math.inf)
        self.load0[d] = sum(self.a[j][0][d] for j in members)
        self.util0[d] = sum(self.u[j][0][d] for j in members)
        self.cap0[d] = min((self.a[j][0][d] + self.m_keep[j][0][d] for j in members), default=math.inf)

    def _add(self, s: int, t: int, d: int) -> None:
        self.tier[s], self.dev[s] = t, d
        self.members[d].append(s)
        a = self.a[s][t][d]
        self.load[d] += a
        self.util[d] += self.u[s][t][d]
        self.memory[d] += self.mem[s][t][d]
        self.cap[d] = min(self.cap[d], a + self.m_keep[s][t][d])
        self.cap_up[d] = min(self.cap_up[d], a + self.m_up[s][t][d])
        self.load0[d] += self.a[s][0][d]
        self.util0[d] += self.u[s][0][d]
        self.cap0[d] = min(self.cap0[d], self.a[s][0][d] + self.m_keep[s][0][d])

    def _remove(self, s: int) -> None:
        d = self.dev[s]
        self.members[d].remove(s)
        self.dev[s] = -1
        self._refresh(d)

    def _set_tier(self, s: int, t: int) -> None:
        d = self.dev[s]
        self._remove(s)
        self._add(s, t, d)

    def _slack(self, s: int, t: int, d: int, mode: str) -> float:
        """Remaining tolerance (device-load units) after adding s at t on d; < 0 when it does not fit.

        ``mode``: ``keep`` (a stream staying where it is: the loosest limits), ``admit`` (a new stream),
        ``up`` (an upgrade or a move: the budget x ``upgrade_headroom`` for it and its neighbours).
        """
        up = mode == "up"
        m_own = (self.m_up if up else self.m_keep)[s][t][d]
        if m_own < 0:
            return -1.0
        util_limit = self.opt.util_keep if mode == "keep" else self.opt.util_max
        if self.util[d] + self.u[s][t][d] > util_limit or self.memory[d] + self.mem[s][t][d] > self.mem_cap[d]:
            return -1.0
        a = self.a[s][t][d]
        cap = min(self.cap_up[d] if up else self.cap[d], a + m_own)
        return cap - (self.load[d] + a)

    # ------------------------------------------------------------------ phases

    def keep(self) -> None:
        """Placed streams keep their device at the smallest tier, then get their previous tier back."""
        placed = [s for s in range(len(self.streams)) if self.current[s] >= 0]
        for s in placed:
            if self._slack(s, 0, self.current[s], "keep") >= 0:
                self._add(s, 0, self.current[s])
        for s in placed:
            target = self.prev_tier[s]
            if self.dev[s] < 0 or target <= 0:
                continue
            d = self.dev[s]
            self._remove(s)
            t = next((t for t in range(target, 0, -1) if self._slack(s, t, d, "keep") >= 0), 0)
            self._add(s, t, d)

    def admit(self) -> None:
        """New and displaced streams at the smallest tier (making room when no device has any)."""
        n_d = len(self.devices)
        rest = [s for s in range(len(self.streams)) if self.dev[s] < 0]
        rest.sort(key=lambda s: -max(self.a[s][0]))
        for s in rest:
            # A displaced stream moves only where it fits with headroom (no ping-pong between two
            # devices it barely fits on); a new one takes any device it fits.
            mode = "up" if self.current[s] >= 0 else "admit"
            pref = self.pref[s]
            if pref >= 0 and self._slack(s, 0, pref, mode) >= 0:
                self._add(s, 0, pref)
                continue
            slacks = [self._slack(s, 0, d, mode) for d in range(n_d)]
            best = max(range(n_d), key=lambda d: slacks[d])
            if slacks[best] >= 0:
                self._add(s, 0, best)
            elif not self._make_room(s):
                self.over[s] = True
                # Nothing fits: the device with the most utilisation left, so that the stream that
                # cannot be served does not push a device past all of its time (that would make every
                # stream on it late).
                def left(d: int) -> float:
                    return self.opt.util_keep - self.util[d] - self.u[s][0][d]

                best, current = max(range(n_d), key=left), self.current[s]
                # Stay while the device still carries it, or is not clearly worse (hysteresis band).
                stay = current >= 0 and (left(current) >= 0.0 or left(current) >= left(best) - 0.2)
                self._add(s, 0, current if stay else best)

    def _make_room(self, s: int) -> bool:
        best, best_slack = -1, -math.inf
        for d in range(len(self.devices)):
            a0, m0 = self.a[s][0][d], self.m_keep[s][0][d]
            if m0 < 0 or self.util0[d] + self.u[s][0][d] > self.opt.util_max:
                continue
            slack = min(self.cap0[d], a0 + m0) - (self.load0[d] + a0)
            if slack > best_slack:
                best, best_slack = d, slack
        if best < 0 or best_slack < 0:
            return False
        d = best
        while self._slack(s, 0, d, "admit") < 0:
            down = [j for j in self.members[d] if self.tier[j] > 0]
            if not down:
                return False
            j = max(down, key=lambda j: (self.a[j][self.tier[j]][d] - self.a[j][self.tier[j] - 1][d])
                    / max(self.q[j][self.tier[j]] - self.q[j][self.tier[j] - 1], 1e-6))
            self._set_tier(j, self.tier[j] - 1)
        self._add(s, 0, d)
        return True

    def _may_go_beyond(self, s: int) -> bool:
        return self.prev_tier[s] < 0 or self.now - self.streams[s].since >= self.opt.cooldown_s

    def upgrade(self) -> None:
        top = len(TIERS) - 1
        for _ in range(top):
            order = []
            for s in range(len(self.streams)):
                t, d = self.tier[s], self.dev[s]
                if t >= top or self.over[s]:
                    continue
                beyond = t + 1 > self.prev_tier[s]
                if beyond and not self._may_go_beyond(s):
                    continue
                cost = max(self.a[s][t + 1][d] - self.a[s][t][d], 1e-12)
                order.append(((self.q[s][t + 1] - self.q[s][t]) / cost, s, beyond))
            if not order:
                return
            order.sort(reverse=True)
            changed = False
            for _gain, s, beyond in order:
                t, d = self.tier[s], self.dev[s]
                self._remove(s)
                if self._slack(s, t + 1, d, "up" if beyond else "keep") >= 0:
                    self._add(s, t + 1, d)
                    changed = True
                else:
                    self._add(s, t, d)
            if not changed:
                return

    def move(self) -> None:
        """Move a few streams to a device where they get clearly more quality (cooldown + headroom)."""
        if self.opt.max_moves <= 0 or len(self.devices) < 2:
            return
        top = len(TIERS) - 1
        candidates = [s for s in range(len(self.streams))
                      if self.tier[s] < top and not self.over[s] and self.prev_tier[s] >= 0 and self._may_go_beyond(s)]
        candidates.sort(key=lambda s: self.q[s][top] - self.q[s][self.tier[s]], reverse=True)
        moves = 0
        for s in candidates[: self.opt.move_candidates]:
            t, d = self.tier[s], self.dev[s]
            self._remove(s)
            best_gain, best = self.opt.move_gain_db, None
            for e in range(len(self.devices)):
                if e == d:
                    continue
                for t2 in range(top, t, -1):
                    gain = self.q[s][t2] - self.q[s][t]
                    if gain < best_gain:
                        break
                    if self._slack(s, t2, e, "up") >= 0:
                        best_gain, best = gain, (t2, e)
                        break
            if best is None:
                self._add(s, t, d)
                continue
            self._add(s, best[0], best[1])
            moves += 1
            if moves >= self.opt.max_moves:
                return

    def _exact(self) -> tuple[np.ndarray, np.ndarray]:
        n = len(self.streams)
        dev = np.asarray(self.dev)
        tier = np.asarray(self.tier)
        counts = np.array([len(m) for m in self.members])
        others = counts[dev] - 1
        dev_load = np.array(self.load) * self.dev_macs
        own = self.own_macs[np.arange(n), tier]
        others_macs = np.maximum(dev_load[dev] - own, 0.0)
        bias = self.bias[dev]
        if self.bank.rows is not None:
            return self._exact_rows(dev, tier, others, others_macs, bias)
        p50, p95 = self.p.estimator.exact([i.request for i in self.streams], [TIERS[t] for t in self.tier],
                                          [self.devices[d] for d in self.dev], others, others_macs)
        return p50 * bias, p95 * bias

    def _exact_rows(self, dev: np.ndarray, tier: np.ndarray, others: np.ndarray, others_macs: np.ndarray,
                    bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised exact costs from the bank's stage features (one MLP call for all streams)."""
        n = len(self.streams)
        x, owner, p50_rows, p95_rows = _stage_costs(self.p, self.bank, self.cfg, tier, dev, others, others_macs,
                                                    self.dev_macs[dev])
        self.rows = (x, owner, p50_rows)
        return np.bincount(owner, p50_rows, n) * bias, np.bincount(owner, p95_rows, n) * bias

    def verify_and_finish(self) -> PlanResult:
        p50, p95 = self._exact()
        for _ in range(self.opt.verify_rounds):
            bad = [s for s in range(len(self.streams)) if p95[s] > self.budget[s] and not self.over[s]]
            if not bad:
                break
            changed = False
            squeezed: set[int] = set()
            for s in bad:
                if self.tier[s] > 0:
                    self._set_tier(s, self.tier[s] - 1)
                    changed = True
                    continue
                d = self.dev[s]
                if d in squeezed:
                    continue
                # At the smallest tier already: its device's largest consumer steps down instead.
                squeezed.add(d)
                members = [j for j in self.members[d] if self.tier[j] > 0]
                if not members:
                    for j in self.members[d]:
                        self.over[j] = self.over[j] or p95[j] > self.budget[j]
                    continue
                victim = max(members, key=lambda j: (self.tier[j], self.a[j][self.tier[j]][d]))
                self._set_tier(victim, self.tier[victim] - 1)
                changed = True
            if not changed:
                break
            p50, p95 = self._exact()
        return self._result(p50, p95)

    def _result(self, p50: np.ndarray, p95: np.ndarray) -> PlanResult:
        assignments: dict[str, Assignment] = {}
        tag = self.p.tag
        # A device asked for more than all of its time cannot keep up: every stream on it is late, whatever
        # the latency model says at a co-load beyond anything it was trained on.
        saturated = np.array(self.util) > 1.0
        dev = np.asarray(self.dev, dtype=int)
        late = (p95 > self.budget) | saturated[dev]  # as predicted at the final loads
        over_prefix = f"{tag}: over"
        for s, info in enumerate(self.streams):
            d = self.dev[s]
            device = self.devices[d].id
            tier = TIERS[self.tier[s]]
            old = info.assignment
            same = old is not None and old.tier == tier and old.device == device
            if same and bool(late[s]) == old.reason.startswith(over_prefix):  # type: ignore[union-attr]
                assignments[info.id] = old  # unchanged: keep the reason of the decision that made it
            elif saturated[d]:
                assignments[info.id] = Assignment(
                    tier, device, f"{tag}: over capacity: {device} is asked for {self.util[d]:.0%} of its time "
                    f"({_streams(len(self.members[d]))}); smallest tiers, least-bad device")
            elif late[s]:
                assignments[info.id] = Assignment(
                    tier, device, f"{tag}: over capacity: predicted p95 {p95[s]:.1f} ms > {self.budget[s]:.1f} ms "
                    f"budget on {device}; smallest tier, least-bad device")
            else:
                assignments[info.id] = Assignment(
                    tier, device, f"{tag}: predicted p95 {p95[s]:.1f} ms of a {self.budget[s]:.1f} ms budget on "
                    f"{device} ({_streams(len(self.members[d]))})")
        planned = _Planned(self.streams, assignments, p50, p95, self.budget, late)
        return PlanResult(assignments, planned, int(late.sum()), self.rows)


class _Planned(dict):  # type: ignore[type-arg]
    """``{stream_id: PlannedStream}`` built on first access of each id (most plans are never inspected)."""

    def __init__(self, streams: list[StreamInfo], assignments: dict[str, Assignment], p50: np.ndarray, p95: np.ndarray,
                 budget: np.ndarray, late: np.ndarray) -> None:
        super().__init__()
        self._index = {info.id: i for i, info in enumerate(streams)}
        self._assignments, self._arrays = assignments, (p50, p95, budget, late)

    def __missing__(self, stream_id: str) -> PlannedStream:
        i = self._index[stream_id]
        p50, p95, budget, late = self._arrays
        a = self._assignments[stream_id]
        value = PlannedStream(a.tier, a.device, float(p50[i]), float(p95[i]), float(budget[i]), bool(late[i]))
        self[stream_id] = value
        return value

    def get(self, stream_id: str,  # type: ignore[override]
            default: PlannedStream | None = None) -> PlannedStream | None:
        return self[stream_id] if stream_id in self else default

    def pop(self, stream_id: str,  # type: ignore[override]
            default: PlannedStream | None = None) -> PlannedStream | None:
        value = self.get(stream_id, default)
        self._index.pop(stream_id, None)
        super().pop(stream_id, None)
        return value

    def __contains__(self, stream_id: object) -> bool:
        return stream_id in self._index or dict.__contains__(self, stream_id)


def _streams(count: int) -> str:
    return f"{count} stream" if count == 1 else f"{count} streams"
