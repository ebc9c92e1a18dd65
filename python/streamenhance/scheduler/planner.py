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
   stream with its members at the smallest tier makes room by downgrading members (``_room_tiers``:
   deadlines before quality: the step that wins back the most of the deadline shortfall per dB
   lost, then utilisation or memory per dB; steps a later one made unneeded are undone).
4. Upgrade: one tier at a time, best ΔPSNR per unit of load first, while everything still fits.
   Hysteresis: going above a stream's previous tier needs the budget x ``upgrade_headroom`` (for it
   and its co-located streams) and ``cooldown_s`` since its last change; downgrades are immediate.
5. Move: a few streams whose cooldown passed may move to another device where they get at least
   ``move_gain_db`` more (with the headroom budget); at most ``max_moves`` per plan.
6. Verify: the estimator's exact costs at the final loads; a stream over budget is downgraded (or,
   at the smallest tier, its device's largest consumer is) until all fit or nothing is left to drop.

Fast path (``place``): an arrival or switch next to placed streams takes the best (tier, device)
that fits as things stand, the others unchanged; when none does, one device makes room by stepping
members down (as in step 3; the newcomer then takes the highest tier that fits with the upgrade
headroom), confirmed by the exact costs of that device. It reads the placement from a ``Roster`` kept
between decisions, not from the whole stream list; the caller runs the full plan later, off the
decision path.

Caveats: greedy, not optimal (a multiple-choice knapsack per device is NP-hard); the co-located
count used in step 1 is an estimate (the previous count, at least an even share), which step 5
corrects. When even the smallest tier fits nowhere, the stream still gets the least-bad device and
its reason says "over capacity": the planner never drops a stream.

The bicubic rung (``LADDER[0]``: the native scaler, no network, ΔPSNR 0) is a last resort, not a tier
to trade: keep, admit and make-room stop at the smallest network tier (``FLOOR``). Only a stream that
fits nowhere at ``FLOOR`` even after members made room takes the rung (next to members at their
tiers, else with members stepping down to ``FLOOR``, else to the rung too), and the verify step drops a
stream from ``FLOOR`` to the rung only when nobody on its device runs above ``FLOOR``. A stream on the
rung climbs back by the ordinary upgrade step (cooldown and headroom apply). The fast path never
assigns the rung: when a newcomer needs it, the full plan runs. An estimator with no cost for the rung
(a profile that never measured it) prices it out, and the planner behaves as without it.
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
from streamenhance.scheduler.variants import LADDER

FLOOR = LADDER.index(TIERS[0])  # the smallest network tier; below it only the bicubic rung


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
    # The exact check's stage rows: (features, owner, stage p50s, stream id of each owner value).
    rows: tuple[np.ndarray, np.ndarray, np.ndarray, Sequence[str]] | None = None
    layout: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # (config, device, tier) per stream (plan)


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
    mask = bank.mask[cfg, tier]  # (n, 2)
    x = bank.rows[cfg, tier, dev][mask]  # (rows, F): the stages that run
    owner = np.repeat(np.arange(len(cfg)), mask.sum(1))
    set_coload(x, others[owner], others_macs[owner], dev_macs[owner])
    p50, p95 = planner.estimator.predict_rows(x)  # type: ignore[attr-defined]
    return x, owner, p50, p95


# Co-located counts with tolerances of their own; more are costed as the grid's last count (as ``_at_count``).
N_COUNTS = int(N_GRID[-1]) + 1


class _Bank:
    """Cost grids of every request config seen, stacked for one (estimator version, device list), and
    their tolerances M* per (device, co-located count), filled on first use (``Planner.tolerance_stack``)."""

    def __init__(self, key: Hashable, devices: Sequence[DeviceInfo]) -> None:
        self.key = key
        self.devices = list(devices)
        self.dev_macs = np.array([d.macs_per_s for d in devices])
        self.mem_mb = np.array([d.memory_mb for d in devices])
        self.dev_index = {d.id: i for i, d in enumerate(devices)}
        self.a = np.zeros((0, len(LADDER), len(devices)))  # own load in device units (MACs/s over the device's)
        self.tol = np.zeros((2, len(devices), N_COUNTS, 0, len(LADDER)))  # M* keep / upgrade: (2, D, K, C, T)
        self.tol_done = np.zeros((len(devices), N_COUNTS), dtype=bool)
        self.tol_bias = np.full(len(devices), np.nan)  # the rounded log bias the filled slices are for
        self.index: dict[tuple[object, ...], int] = {}
        self.requests: list[StreamRequest] = []
        self.p95 = np.zeros((0, len(LADDER), len(devices), len(N_GRID), len(R_GRID)))
        self.own = np.zeros((0, len(LADDER)))
        self.util = np.zeros((0, len(LADDER), len(devices)))
        self.mem = np.zeros((0, len(LADDER), len(devices)))
        self.q: list[list[float]] = []
        self.budget = np.zeros(0)
        self.rows: np.ndarray | None = None  # (C, T, D, 2, F) stage features, for estimators that have them
        self.mask = np.zeros((0, len(LADDER), 2), dtype=bool)  # which stage slots each (config, rung) runs

    def add(self, request: StreamRequest, grid: GridCosts, quality: QualityTable, margin: float,
            rows: np.ndarray | None = None, mask: np.ndarray | None = None) -> int:
        self.index[request.config_key()] = len(self.requests)
        self.requests.append(request)
        self.p95 = np.concatenate([self.p95, np.asarray(grid.p95)[None]])
        self.own = np.concatenate([self.own, grid.own[None]])
        self.a = np.concatenate([self.a, (grid.own[:, None] / self.dev_macs[None, :])[None]])
        self.tol = np.zeros((2, len(self.devices), N_COUNTS, len(self.requests), len(LADDER)))
        self.tol_done[:] = False
        self.util = np.concatenate([self.util, grid.util[None]])
        self.mem = np.concatenate([self.mem, grid.mem[None]])
        self.q.append([quality.stream_gain(request, t) for t in LADDER])
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

        The device bias scales latency (the tolerances), not the busy shares: streams whose frames tick
        together (OBS filters on one render tick) each see the others' frames, which raises observed
        latency and with it the bias while the device's busy share stays what it was. Scaling the shares
        too kept every stream of a real 4-stream run on the bicubic rung where all fitted at ``tiny``
        (docs/SCHEDULER.md, Results); the price is that lost capacity (a noisy neighbour) shrinks only
        the latency room."""
        keep, up = self.tolerance_arrays(bank, others, bias)
        n_c = len(bank.requests)
        static = self._static.get((bank.key, n_c))
        if static is None:
            static = self._static[(bank.key, n_c)] = (bank.a.tolist(), bank.mem.tolist(), bank.util.tolist())
        return keep.tolist(), up.tolist(), static[0], static[2], static[1]

    def tolerance_arrays(self, bank: _Bank, others: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(M* keep, M* upgrade), each (C, T, D), at ``others`` co-located streams per device."""
        tol = self.tolerance_stack(bank, others, bias)
        d = np.arange(len(bank.devices))
        k = np.minimum(others, N_COUNTS - 1).astype(int)
        return tol[0, d, k].transpose(1, 2, 0), tol[1, d, k].transpose(1, 2, 0)

    def tolerance_stack(self, bank: _Bank, others: np.ndarray, bias: np.ndarray) -> np.ndarray:
        """The bank's (2, D, K, C, T) M* (keep, upgrade), filled at least at (d, ``others[d]``) for the
        devices' current ``bias`` (to 1 %).

        The inversion is the costliest NumPy part of planning, and between two decisions the counts and
        biases rarely change: a (device, count) slice is inverted once (the missing ones of all devices
        in one batch) and kept until its device's bias moves or a config is added.
        """
        log_bias = np.round(np.log(bias), 2)
        stale = log_bias != bank.tol_bias
        if stale.any():
            bank.tol_done[stale] = False
            bank.tol_bias = np.where(stale, log_bias, bank.tol_bias)
        k = np.minimum(others, N_COUNTS - 1).astype(int)
        d = np.flatnonzero(~bank.tol_done[np.arange(len(k)), k])
        if len(d):
            p95 = _at_count(bank.p95[:, :, d], k[d]) * np.exp(bank.tol_bias[d])[None, None, :, None]
            budget = np.broadcast_to(bank.budget[:, None, None], p95.shape[:3])
            for which, scale in enumerate((1.0, self.options.upgrade_headroom)):
                bank.tol[which, d, k[d]] = invert(p95, budget * scale).transpose(2, 0, 1)
            bank.tol_done[d, k[d]] = True
        return bank.tol

    def config_index(self, bank: _Bank, request: StreamRequest) -> int:
        index = bank.index.get(request.config_key())
        return self._add(bank, request) if index is None else index

    def refresh(self) -> None:
        """Recompute the grids of every known config for the estimator's current version (after a
        retrain), so the next decision does not pay for it."""
        if self._bank is not None:
            self.bank(self._bank.devices)

    def warm(self, streams: Sequence[StreamInfo], devices: Sequence[DeviceInfo]) -> None:
        """Compute the grids of these streams' configs and their tolerances now (off the decision path)."""
        bank = self.bank(devices)
        for info in streams:
            self.config_index(bank, info.request)
        bias = np.array([self.estimator.bias(d.id) for d in devices])
        for k in range(N_COUNTS):  # and their tolerances at every co-located count
            self.tolerance_stack(bank, np.full(len(devices), k), bias)

    # ------------------------------------------------------------------ plan

    def place(self, roster: Roster, streams: Sequence[StreamInfo], devices: Sequence[DeviceInfo],
              fresh: Sequence[int]) -> PlanResult | None:
        """Fast path for arrivals and resolution switches: every stream but ``fresh`` (indices into
        ``streams``) keeps its assignment, except where one must step down to make room, and each fresh
        stream, in turn, takes the (device, tier) with the most ΔPSNR that passes the plan's tolerance
        test on every (tier, device) at once (at the count each device has with it; utilisation and
        memory limits as for a new stream in ``plan``; above the smallest tier, the upgrade headroom
        for it and its neighbours), confirmed by the estimator's exact costs for it and the streams on
        that device (best 3 candidates). When none passes, a device makes room: its members step down
        until the newcomer fits at the smallest tier (``_room_tiers``: deadlines before quality), the
        newcomer takes the highest tier that then fits with the headroom, and the exact costs of that
        device, the only one that changes, confirm.

        The placement is read from ``roster`` (updated here), so the cost does not grow with the
        streams' Python objects. The result is feasible but not re-optimised: the caller re-plans
        later, off the decision path. Returns None (``roster`` may then be half-updated: the caller
        plans in full and rebuilds it) when a fresh stream fits nowhere even with the others at the
        smallest tier, the devices changed, or the estimator has no feature rows.
        """
        if not hasattr(self.estimator, "stage_features") or roster.devices != tuple(d.id for d in devices):
            return None
        bank = self.bank(devices)
        configs = [self.config_index(bank, streams[f].request) for f in fresh]  # may add grids: before the placer
        placer = _Placer(self, bank, roster)
        assignments = {info.id: info.assignment for info in streams}
        planned: dict[str, PlannedStream] = {}
        checks: list[tuple[_Choice, list[str]]] = []
        for f, c in zip(fresh, configs, strict=True):
            info = streams[f]
            roster.drop(info.id)
            choice = placer.place(info, c)
            if choice is None:
                return None
            checks.append((choice, placer.commit(choice, info, c, assignments, planned)))
        return PlanResult(assignments, planned, 0, _joined_rows(checks))  # type: ignore[arg-type]

    def plan(self, streams: Sequence[StreamInfo], devices: Sequence[DeviceInfo]) -> PlanResult:
        """Assign every stream of ``streams`` to one of ``devices`` (see the module docstring)."""
        if not streams:
            return PlanResult({}, layout=(np.zeros(0, dtype=int),) * 3)
        if not devices:
            from streamenhance.errors import ConfigError

            raise ConfigError("scheduler: no device to place streams on")
        state = _State(self, streams, devices)
        state.keep()
        state.admit()
        state.upgrade()
        state.move()
        return state.verify_and_finish()


class Roster:
    """The placement the last decision left (per stream: config, device and tier index, and the request
    and assignment it was given), kept between decisions so that the fast path reads arrays instead of
    walking every stream, and tells changed streams by identity.

    Slots of departed streams are reused; ``dev`` is -1 on a free slot.
    """

    def __init__(self, devices: tuple[str, ...], streams: Sequence[StreamInfo], assignments: dict[str, Assignment],
                 layout: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        self.devices = devices
        self.ids: list[str | None] = [info.id for info in streams]
        self.slot = {info.id: i for i, info in enumerate(streams)}
        self.given = {info.id: (info.request, assignments[info.id]) for info in streams}
        self.cfg, self.dev, self.tier = (np.array(v, dtype=int) for v in layout)
        self._free: list[int] = []

    def __len__(self) -> int:
        return len(self.slot)

    def changed(self, streams: Sequence[StreamInfo], limit: int) -> list[int] | None:
        """Indices of the streams that are new or whose request or assignment is not what was given;
        None when more than ``limit`` are, or a stream left without ``drop`` (its load would stay)."""
        given, fresh, new = self.given, [], 0
        for i, info in enumerate(streams):
            g = given.get(info.id)
            if g is not None and (g[0] is info.request or g[0] == info.request) and (
                    g[1] is info.assignment or g[1] == info.assignment):
                continue
            fresh.append(i)
            new += g is None
            if len(fresh) > limit:
                return None
        return fresh if len(streams) - new == len(given) else None

    def drop(self, stream_id: str) -> bool:
        """Forget a stream (departed, or about to be placed again); False when it was not placed."""
        s = self.slot.pop(stream_id, None)
        if s is None:
            return False
        del self.given[stream_id]
        self.ids[s], self.dev[s] = None, -1
        self._free.append(s)
        return True

    def put(self, stream_id: str, request: StreamRequest, assignment: Assignment, cfg: int, dev: int,
            tier: int) -> None:
        s = self.slot.get(stream_id)
        if s is None:
            s = self._free.pop() if self._free else self._grow()
            self.slot[stream_id], self.ids[s] = s, stream_id
        self.cfg[s], self.dev[s], self.tier[s] = cfg, dev, tier
        self.given[stream_id] = (request, assignment)

    def _grow(self) -> int:
        n = len(self.ids)
        extra = max(n, 8)
        self.cfg = np.append(self.cfg, np.zeros(extra, dtype=int))
        self.dev = np.append(self.dev, np.full(extra, -1))
        self.tier = np.append(self.tier, np.zeros(extra, dtype=int))
        self.ids += [None] * extra
        self._free += range(n + extra - 1, n, -1)
        return n


@dataclass
class _Choice:
    """Where a fresh stream goes: device, tier, the members already there (roster slots) with their tiers
    after it (lower where they made room), and the exact check of them all (stage rows, each row's
    position with the newcomer last, stage p50s, p50, p95)."""

    device: int
    tier: int
    members: np.ndarray
    tiers: np.ndarray
    check: tuple[np.ndarray, ...]


def _room_tiers(a: list[list[float]], m: list[list[float]], u: list[list[float]], mem: list[list[float]],
                q: list[list[float]], tiers: list[int], floors: list[int], new: tuple[float, float, float, float],
                limits: tuple[float, float]) -> list[int] | None:
    """The tiers of a device's members once they made room for a newcomer; None when even their
    ``floors`` (the lowest tier each may step down to) do not.

    ``a``, ``m``, ``u``, ``mem``, ``q``: per member and tier, its load (device units), tolerance M*,
    utilisation, memory and ΔPSNR; ``tiers``: their tiers now; ``new``: the newcomer's (load, M*,
    utilisation, memory); ``limits``: the device's (utilisation, memory) limits. One member steps down
    one tier at a time, deadlines before quality: while someone (newcomer or member) would miss its
    budget at the device's total load, the step that wins back the most of that shortfall per dB of
    ΔPSNR lost (stepping down both frees load and raises the stream's own tolerance); then, while
    utilisation or memory is over its limit, the step that frees the most of it per dB. Last, steps a
    later one made unnecessary are undone (most ΔPSNR back first), so that no member could be one
    tier higher.
    """
    t = list(tiers)
    a_n, m_n, u_n, mem_n = new
    total = a_n + sum(a[j][t[j]] for j in range(len(t)))
    util = u_n + sum(u[j][t[j]] for j in range(len(t)))
    memory = mem_n + sum(mem[j][t[j]] for j in range(len(t)))
    while True:
        # The total load each member still meets its budget at: the lowest two (and the newcomer's) bind.
        first, low1, low2 = -1, a_n + m_n, a_n + m_n
        for j, tj in enumerate(t):
            reach = a[j][tj] + m[j][tj]
            if reach < low1:
                first, low1, low2 = j, reach, low1
            elif reach < low2:
                low2 = reach
        short = total - low1
        if short <= 0 and util <= limits[0] and memory <= limits[1]:
            return _undo_steps(a, m, u, mem, q, tiers, t, new, limits)
        best, best_gain = -1, -math.inf
        for j, tj in enumerate(t):
            if tj <= floors[j]:
                continue
            if short > 0:
                rest = low2 if j == first else low1
                freed = short - max(total - a[j][tj] + a[j][tj - 1] - min(rest, a[j][tj - 1] + m[j][tj - 1]), 0.0)
            elif util > limits[0]:
                freed = u[j][tj] - u[j][tj - 1]
            else:
                freed = mem[j][tj] - mem[j][tj - 1]
            gain = freed / max(q[j][tj] - q[j][tj - 1], 1e-6)
            if gain > best_gain:
                best, best_gain = j, gain
        if best < 0:
            return None
        tj = t[best]
        total += a[best][tj - 1] - a[best][tj]
        util += u[best][tj - 1] - u[best][tj]
        memory += mem[best][tj - 1] - mem[best][tj]
        t[best] = tj - 1


def _undo_steps(a: list[list[float]], m: list[list[float]], u: list[list[float]], mem: list[list[float]],
                q: list[list[float]], before: list[int], t: list[int], new: tuple[float, float, float, float],
                limits: tuple[float, float]) -> list[int]:
    """``t`` with members raised back toward their tiers ``before`` one tier at a time while the
    device still fits (``_room_tiers``' arguments)."""
    a_n, m_n, u_n, mem_n = new

    def fits(t: list[int]) -> bool:
        total = a_n + sum(a[j][tj] for j, tj in enumerate(t))
        return (total <= min([a_n + m_n] + [a[j][tj] + m[j][tj] for j, tj in enumerate(t)])
                and u_n + sum(u[j][tj] for j, tj in enumerate(t)) <= limits[0]
                and mem_n + sum(mem[j][tj] for j, tj in enumerate(t)) <= limits[1])

    for j in sorted((j for j in range(len(t)) if t[j] < before[j]), key=lambda j: q[j][t[j]] - q[j][t[j] + 1]):
        while t[j] < before[j]:
            t[j] += 1
            if not fits(t):
                t[j] -= 1
                break
    return t


def _top_tier(a: list[list[float]], m: list[list[float]], u: list[list[float]], mem: list[list[float]],
              tiers: list[int], new: tuple[list[float], ...], limits: tuple[float, float]) -> int:
    """The highest tier a newcomer takes next to members at ``tiers`` by the tolerance test with the
    upgrade headroom for it and them (``m``: upgrade tolerances; ``new``: the newcomer's load,
    tolerance, utilisation and memory per tier); ``FLOOR`` when no tier above it fits."""
    load = sum(a[j][tj] for j, tj in enumerate(tiers))
    reach = min((a[j][tj] + m[j][tj] for j, tj in enumerate(tiers)), default=math.inf)
    util = sum(u[j][tj] for j, tj in enumerate(tiers))
    memory = sum(mem[j][tj] for j, tj in enumerate(tiers))
    a_n, m_n, u_n, mem_n = new
    for t in range(len(a_n) - 1, FLOOR, -1):
        if (0 <= m_n[t] and load <= m_n[t] and load + a_n[t] <= reach and util + u_n[t] <= limits[0]
                and memory + mem_n[t] <= limits[1]):
            return t
    return FLOOR


# Devices the make-room step tries, most room at the smallest tiers first (each try costs an exact check).
MAKE_ROOM_DEVICES = 3


@dataclass
class _View:
    """The placed streams as a fresh one sees them: per member (roster slot, device, tier, config, count
    index of its device), per device the count index with the newcomer and the load, utilisation,
    memory and capacity (min of load + M*, keep and upgrade) of its members, all at that count."""

    slots: np.ndarray
    md: np.ndarray
    mt: np.ndarray
    mc: np.ndarray
    km: np.ndarray
    k: np.ndarray
    tol: np.ndarray
    load: np.ndarray
    util: np.ndarray
    memory: np.ndarray
    cap: np.ndarray  # (2, D): keep, upgrade


class _Placer:
    """Placing fresh streams next to the roster's (``Planner.place``): the plan's tolerance test for every
    (tier, device) at once, or a device making room, then the exact check of the device that changes."""

    def __init__(self, planner: Planner, bank: _Bank, roster: Roster) -> None:
        self.p, self.bank, self.roster, self.opt = planner, bank, roster, planner.options
        devices = bank.devices
        self.d = np.arange(len(devices))
        self.bias = np.array([planner.estimator.bias(d.id) for d in devices])
        self.mem_cap = bank.mem_mb * self.opt.mem_max
        self.util = bank.util  # (C, T, D) busy shares (the bias corrects latency only, see ``Planner.tolerances``)
        self.dev_index = bank.dev_index

    def place(self, info: StreamInfo, c: int) -> _Choice | None:
        """Where ``info`` (config ``c``) goes; None when no device can take it even by making room."""
        view = self._view()
        return self._best(view, info, c) or self._make_room(view, c)

    def _view(self) -> _View:
        r, bank, n_d = self.roster, self.bank, len(self.d)
        slots = np.flatnonzero(r.dev >= 0)
        md, mt, mc = r.dev[slots], r.tier[slots], r.cfg[slots]
        counts = np.bincount(md, minlength=n_d)
        tol = self.p.tolerance_stack(bank, counts, self.bias)
        k = np.minimum(counts, N_COUNTS - 1)
        km = k[md]
        a = bank.a[mc, mt, md]
        cap = np.full((2, n_d), np.inf)
        np.minimum.at(cap, (np.zeros_like(md), md), a + tol[0, md, km, mc, mt])
        np.minimum.at(cap, (np.ones_like(md), md), a + tol[1, md, km, mc, mt])
        return _View(slots, md, mt, mc, km, k, tol, np.bincount(md, a, n_d),
                     np.bincount(md, self.util[mc, mt, md], n_d), np.bincount(md, bank.mem[mc, mt, md], n_d), cap)

    def _best(self, v: _View, info: StreamInfo, c: int) -> _Choice | None:
        """The most ΔPSNR for the newcomer with nobody else changed; None when nothing fits."""
        bank, opt, n_t = self.bank, self.opt, len(LADDER)
        # Above the smallest tier: the upgrade headroom for the newcomer and its neighbours (as in plan).
        up = np.arange(n_t) > FLOOR
        m_n = np.where(up[:, None], v.tol[1, self.d, v.k, c, :].T, v.tol[0, self.d, v.k, c, :].T)  # (T, D)
        cap = v.cap[up.astype(int)]  # (T, D): keep at the smallest tier, upgrade above
        a_n = bank.a[c]
        slack = np.minimum(cap, a_n + m_n) - (v.load + a_n)
        ok = ((np.arange(n_t) >= FLOOR)[:, None] & (m_n >= 0) & (slack >= 0)  # the bicubic rung: full plan only
              & (v.util + self.util[c] <= opt.util_max) & (v.memory + bank.mem[c] <= self.mem_cap))
        t_ok, d_ok = np.nonzero(ok)
        if not len(t_ok):
            return None
        pref = self.dev_index.get(info.request.device_preference, -1)
        current = self.dev_index.get(info.assignment.device, -1) if info.assignment is not None else -1
        q = np.asarray(bank.q[c])
        order = np.lexsort((slack[t_ok, d_ok], d_ok == current, d_ok == pref, q[t_ok]))[::-1]
        for i in order[:3].tolist():
            t, d = int(t_ok[i]), int(d_ok[i])
            on = v.md == d
            cfg = np.append(v.mc[on], c)
            check = self._exact(cfg, np.append(v.mt[on], t), d)
            if np.all(check[4] <= bank.budget[cfg] * (1.0 if t == FLOOR else opt.upgrade_headroom)):
                return _Choice(d, t, v.slots[on], v.mt[on], check)
        return None

    def _make_room(self, v: _View, c: int) -> _Choice | None:
        """The newcomer on the device with the most room were all its members at the smallest tier
        (as the plan's admit step; the next of ``MAKE_ROOM_DEVICES`` when that fails): the members step
        down until it fits at the smallest tier (``_room_tiers``), it takes the highest tier that then
        fits with the upgrade headroom (``_top_tier``), and the exact costs of that device confirm;
        None when no device can make room."""
        bank, opt, n_d = self.bank, self.opt, len(self.d)
        low = np.minimum(v.mt, FLOOR)  # members step down to the smallest network tier, no further
        a0 = bank.a[v.mc, low, v.md]
        cap0 = np.full(n_d, np.inf)
        np.minimum.at(cap0, v.md, a0 + v.tol[0, v.md, v.km, v.mc, low])
        a_n, m_n = bank.a[c, FLOOR], v.tol[0, self.d, v.k, c, FLOOR]
        room = np.minimum(cap0, a_n + m_n) - (np.bincount(v.md, a0, n_d) + a_n)
        util0 = np.bincount(v.md, self.util[v.mc, low, v.md], n_d) + self.util[c, FLOOR]
        memory0 = np.bincount(v.md, bank.mem[v.mc, low, v.md], n_d) + bank.mem[c, FLOOR]
        ok = (m_n >= 0) & (room >= 0) & (util0 <= opt.util_max) & (memory0 <= self.mem_cap)
        for d in sorted(np.flatnonzero(ok).tolist(), key=lambda d: -room[d])[:MAKE_ROOM_DEVICES]:
            on = v.md == d
            cfg = np.append(v.mc[on], c)
            # Per stream on d (the newcomer last) and tier: load, M* keep, M* upgrade, utilisation, memory.
            a, (m, m_up) = bank.a[cfg, :, d].tolist(), v.tol[:, d, v.k[d], cfg].tolist()
            u, mem = self.util[cfg, :, d].tolist(), bank.mem[cfg, :, d].tolist()
            limits = (opt.util_max, float(self.mem_cap[d]))
            tiers = _room_tiers(a[:-1], m[:-1], u[:-1], mem[:-1], [bank.q[j] for j in cfg[:-1].tolist()],
                                v.mt[on].tolist(), low[on].tolist(),
                                (a[-1][FLOOR], m[-1][FLOOR], u[-1][FLOOR], mem[-1][FLOOR]), limits)
            if tiers is None:
                continue
            top = _top_tier(a[:-1], m_up[:-1], u[:-1], mem[:-1], tiers, (a[-1], m_up[-1], u[-1], mem[-1]), limits)
            choice = self._confirm(v.slots[on], v.mc[on], np.array(tiers, dtype=int), low[on], d, c, top)
            if choice is not None:
                return choice
        return None

    def _confirm(self, members: np.ndarray, mc: np.ndarray, tiers: np.ndarray, floors: np.ndarray, d: int, c: int,
                 top: int) -> _Choice | None:
        """The exact check of device ``d`` with the newcomer at ``top`` (with the upgrade headroom),
        else at the smallest tier; while that fails, the member most over its budget (else the
        largest consumer) steps down one more tier, not below its ``floors``, as in ``verify`` (at
        most ``verify_rounds`` checks)."""
        cfg = np.append(mc, c)
        budget = self.bank.budget[cfg]
        if top > FLOOR:
            check = self._exact(cfg, np.append(tiers, top), d)
            if np.all(check[4] <= budget * self.opt.upgrade_headroom):
                return _Choice(d, top, members, tiers, check)
        for _ in range(self.opt.verify_rounds):
            check = self._exact(cfg, np.append(tiers, FLOOR), d)
            over = check[4] / budget
            if np.all(over <= 1.0):
                return _Choice(d, FLOOR, members, tiers, check)
            down = np.flatnonzero(tiers > floors)
            if not len(down):
                return None
            late = down[over[down] > 1.0]
            j = late[np.argmax(over[late])] if len(late) else down[np.argmax(self.bank.a[mc[down], tiers[down], d])]
            tiers = tiers.copy()
            tiers[j] -= 1
        return None

    def _exact(self, cfg: np.ndarray, tiers: np.ndarray, d: int) -> tuple[np.ndarray, ...]:
        """(stage rows, each row's position in ``cfg``, unbiased stage p50s, p50, p95) of streams of
        configs ``cfg`` at ``tiers`` together on device ``d``."""
        n = len(cfg)
        own = self.bank.own[cfg, tiers]
        x, owner, p50, p95 = _stage_costs(self.p, self.bank, cfg, tiers, np.full(n, d), np.full(n, n - 1),
                                          own.sum() - own, np.full(n, self.bank.dev_macs[d]))
        bias = self.bias[d]
        return x, owner, p50, np.bincount(owner, p50, n) * bias, np.bincount(owner, p95, n) * bias

    def commit(self, choice: _Choice, info: StreamInfo, c: int, assignments: dict[str, Assignment],
               planned: dict[str, PlannedStream]) -> list[str]:
        """Record ``choice`` in the roster, ``assignments`` (the newcomer's and every member that stepped
        down) and ``planned`` (everyone on the device: their load changed); returns the stream id of
        each position of the exact check."""
        r, d = self.roster, choice.device
        device = self.bank.devices[d].id
        p50, p95 = choice.check[3].tolist(), choice.check[4].tolist()
        members = choice.members.tolist()
        ids: list[str] = [r.ids[s] for s in members] + [info.id]  # type: ignore[misc]
        budget = self.bank.budget[np.append(r.cfg[choice.members], c)].tolist()
        tiers = [*choice.tiers.tolist(), choice.tier]
        stepped = int(np.sum(r.tier[choice.members] - choice.tiers))

        def reason(k: int, why: str) -> str:
            return (f"{self.p.tag}: predicted p95 {p95[k]:.1f} ms of a {budget[k]:.1f} ms budget on {device} "
                    f"({_streams(len(ids))}); {why}")

        for k, stream_id in enumerate(ids):
            if k == len(members):
                how = f"placed on arrival after {stepped} step(s) down to make room" if stepped else "placed on arrival"
                new = Assignment(LADDER[choice.tier], device, reason(k, f"{how}, full re-plan follows"))
                r.put(stream_id, info.request, new, c, d, choice.tier)
            elif tiers[k] != r.tier[members[k]]:
                new = Assignment(LADDER[tiers[k]], device, reason(k, f"stepped down to make room for {info.id}"))
                r.put(stream_id, r.given[stream_id][0], new, int(r.cfg[members[k]]), d, tiers[k])
            else:
                new = r.given[stream_id][1]
            assignments[stream_id] = new
            planned[stream_id] = PlannedStream(new.tier, device, p50[k], p95[k], budget[k], False)
        return ids


def _joined_rows(checks: list[tuple[_Choice, list[str]]],
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]] | None:
    """The stage rows of every exact check of a fast placement, as ``PlanResult.rows`` (a stream checked
    twice appears twice; the later check is the one that stands)."""
    if not checks:
        return None
    ids: list[str] = []
    xs, owners, stages = [], [], []
    for choice, check_ids in checks:
        x, owner, stage = choice.check[:3]
        xs.append(x)
        owners.append(owner + len(ids))
        stages.append(stage)
        ids += check_ids
    return np.concatenate(xs), np.concatenate(owners), np.concatenate(stages), ids


class _State:
    """Working arrays of one plan (kept out of ``Planner`` so plans never share state)."""

    def __init__(self, planner: Planner, streams: Sequence[StreamInfo], devices: Sequence[DeviceInfo]) -> None:
        opt = planner.options
        self.p, self.opt, self.streams, self.devices = planner, opt, list(streams), list(devices)
        self.now = planner.clock.now()
        n_s, n_d = len(streams), len(devices)
        dev_index = {d.id: i for i, d in enumerate(devices)}
        self.current = [dev_index.get(s.assignment.device, -1) if s.assignment else -1 for s in streams]
        self.prev_tier = [LADDER.index(s.assignment.tier) if s.assignment else -1 for s in streams]
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
        self.rows: tuple[np.ndarray, np.ndarray, np.ndarray, list[str]] | None = None

    # ------------------------------------------------------------------ device bookkeeping

    def _refresh(self, d: int) -> None:
        members, tier = self.members[d], self.tier
        self.load[d] = sum(self.a[j][tier[j]][d] for j in members)
        self.util[d] = sum(self.u[j][tier[j]][d] for j in members)
        self.memory[d] = sum(self.mem[j][tier[j]][d] for j in members)
        self.cap[d] = min((self.a[j][tier[j]][d] + self.m_keep[j][tier[j]][d] for j in members), default=math.inf)
        self.cap_up[d] = min((self.a[j][tier[j]][d] + self.m_up[j][tier[j]][d] for j in members), default=math.inf)

    def _add(self, s: int, t: int, d: int) -> None:
        self.tier[s], self.dev[s] = t, d
        self.members[d].append(s)
        a = self.a[s][t][d]
        self.load[d] += a
        self.util[d] += self.u[s][t][d]
        self.memory[d] += self.mem[s][t][d]
        self.cap[d] = min(self.cap[d], a + self.m_keep[s][t][d])
        self.cap_up[d] = min(self.cap_up[d], a + self.m_up[s][t][d])

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
        """Placed streams keep their device at the smallest tier (the bicubic rung if they are on it), then
        get their previous tier back."""
        placed = [s for s in range(len(self.streams)) if self.current[s] >= 0]
        for s in placed:
            low = min(self.prev_tier[s], FLOOR)
            if self._slack(s, low, self.current[s], "keep") >= 0:
                self._add(s, low, self.current[s])
        for s in placed:
            target, low = self.prev_tier[s], min(self.prev_tier[s], FLOOR)
            if self.dev[s] < 0 or target <= low:
                continue
            d = self.dev[s]
            self._remove(s)
            t = next((t for t in range(target, low, -1) if self._slack(s, t, d, "keep") >= 0), low)
            self._add(s, t, d)

    def admit(self) -> None:
        """New and displaced streams at the smallest tier (making room when no device has any); the
        bicubic rung when no network fits anywhere."""
        rest = [s for s in range(len(self.streams)) if self.dev[s] < 0]
        rest.sort(key=lambda s: -max(self.a[s][FLOOR]))
        for s in rest:
            # A displaced stream moves only where it fits with headroom (no ping-pong between two
            # devices it barely fits on); a new one takes any device it fits.
            mode = "up" if self.current[s] >= 0 else "admit"
            if self._admit_at(s, FLOOR, mode) or self._make_room(s, FLOOR, FLOOR):
                continue
            # Last resort, a plain upscale rather than late frames: next to the members as they are,
            # else with them down to the smallest network tier, else on the rung as well.
            if self._admit_at(s, 0, mode) or self._make_room(s, 0, FLOOR) or self._make_room(s, 0, 0):
                continue
            self._over(s)

    def _admit_at(self, s: int, t: int, mode: str) -> bool:
        """``s`` at tier ``t`` on its preferred device if it fits, else where the most slack is left."""
        pref = self.pref[s]
        if pref >= 0 and self._slack(s, t, pref, mode) >= 0:
            self._add(s, t, pref)
            return True
        slacks = [self._slack(s, t, d, mode) for d in range(len(self.devices))]
        best = max(range(len(slacks)), key=lambda d: slacks[d])
        if slacks[best] < 0:
            return False
        self._add(s, t, best)
        return True

    def _over(self, s: int) -> None:
        """Nothing fits: the device with the most utilisation left, so that the stream that cannot be
        served does not push a device past all of its time (that would make every stream on it late),
        at the cheaper of the rung and the smallest network tier."""
        self.over[s] = True

        def low(d: int) -> int:
            return 0 if self.u[s][0][d] < self.u[s][FLOOR][d] else FLOOR

        def left(d: int) -> float:
            return self.opt.util_keep - self.util[d] - self.u[s][low(d)][d]

        best, current = max(range(len(self.devices)), key=left), self.current[s]
        # Stay while the device still carries it, or is not clearly worse (hysteresis band).
        stay = current >= 0 and (left(current) >= 0.0 or left(current) >= left(best) - 0.2)
        d = current if stay else best
        self._add(s, low(d), d)

    def _make_room(self, s: int, t_new: int, floor: int) -> bool:
        """``s`` at tier ``t_new`` on the device with the most room once its members stepped down, none
        below ``floor`` (or its tier now, if lower); False when no device has room even then."""
        best, best_slack = -1, -math.inf
        for d in range(len(self.devices)):
            a_n, m_n = self.a[s][t_new][d], self.m_keep[s][t_new][d]
            lows = [(j, min(self.tier[j], floor)) for j in self.members[d]]
            if m_n < 0 or sum(self.u[j][t][d] for j, t in lows) + self.u[s][t_new][d] > self.opt.util_max:
                continue
            cap = min((self.a[j][t][d] + self.m_keep[j][t][d] for j, t in lows), default=math.inf)
            slack = min(cap, a_n + m_n) - (sum(self.a[j][t][d] for j, t in lows) + a_n)
            if slack > best_slack:
                best, best_slack = d, slack
        if best < 0 or best_slack < 0:
            return False
        d, members = best, list(self.members[best])

        def column(table: list[list[list[float]]]) -> list[list[float]]:
            return [[row[d] for row in table[j]] for j in members]

        tiers = _room_tiers(column(self.a), column(self.m_keep), column(self.u), column(self.mem),
                            [self.q[j] for j in members], [self.tier[j] for j in members],
                            [min(self.tier[j], floor) for j in members],
                            (self.a[s][t_new][d], self.m_keep[s][t_new][d], self.u[s][t_new][d], self.mem[s][t_new][d]),
                            (self.opt.util_max, self.mem_cap[d]))
        if tiers is None:
            return False
        for j, t in zip(members, tiers, strict=True):
            if t != self.tier[j]:
                self._set_tier(j, t)
        self._add(s, t_new, d)
        return True

    def _may_go_beyond(self, s: int) -> bool:
        return self.prev_tier[s] < 0 or self.now - self.streams[s].since >= self.opt.cooldown_s

    def upgrade(self) -> None:
        top = len(LADDER) - 1
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
        top = len(LADDER) - 1
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
        dev_load = np.array(self.load) * self.bank.dev_macs
        own = self.own_macs[np.arange(n), tier]
        others_macs = np.maximum(dev_load[dev] - own, 0.0)
        bias = self.bias[dev]
        if self.bank.rows is not None:
            return self._exact_rows(dev, tier, others, others_macs, bias)
        p50, p95 = self.p.estimator.exact([i.request for i in self.streams], [LADDER[t] for t in self.tier],
                                          [self.devices[d] for d in self.dev], others, others_macs)
        return p50 * bias, p95 * bias

    def _exact_rows(self, dev: np.ndarray, tier: np.ndarray, others: np.ndarray, others_macs: np.ndarray,
                    bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised exact costs from the bank's stage features (one MLP call for all streams)."""
        n = len(self.streams)
        x, owner, p50_rows, p95_rows = _stage_costs(self.p, self.bank, self.cfg, tier, dev, others, others_macs,
                                                    self.bank.dev_macs[dev])
        self.rows = (x, owner, p50_rows, [info.id for info in self.streams])
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
                if self.tier[s] > FLOOR:
                    self._set_tier(s, self.tier[s] - 1)
                    changed = True
                    continue
                d = self.dev[s]
                if d in squeezed:
                    continue
                # At the smallest tier already: its device's largest consumer steps down instead (the
                # highest tier first, so the bicubic rung comes last; the stream itself may be chosen).
                squeezed.add(d)
                members = [j for j in self.members[d] if self.tier[j] > FLOOR or (
                    self.tier[j] == FLOOR and self.m_keep[j][0][d] >= 0)]  # the rung only where it can fit
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
        # Streams the plan could not fit anywhere are over capacity whatever their predicted p95 says.
        late = (p95 > self.budget) | saturated[dev] | np.array(self.over, dtype=bool)
        over_prefix = f"{tag}: over"
        for s, info in enumerate(self.streams):
            d = self.dev[s]
            device = self.devices[d].id
            tier = LADDER[self.tier[s]]
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
                    f"{device} ({_streams(len(self.members[d]))})" + (RUNG_NOTE if self.tier[s] < FLOOR else ""))
        planned = _Planned(self.streams, assignments, p50, p95, self.budget, late)
        return PlanResult(assignments, planned, int(late.sum()), self.rows, (self.cfg, dev, np.asarray(self.tier)))


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


RUNG_NOTE = "; bicubic: no network fits its deadline here"


def _streams(count: int) -> str:
    return f"{count} stream" if count == 1 else f"{count} streams"
