"""Cost estimators the planner reads: the learned predictor, the offline profile table, and a shared grid.

Every estimator answers two questions about a stream request on a set of devices:

* ``grid``: total pipeline p50/p95 (ms) for every rung of ``LADDER`` (bicubic, then the network tiers) and device over a grid of co-located load
  (others on the device x their summed MACs/s relative to the device's), plus solo utilisation and
  memory. The planner caches it per estimator ``version()`` and inverts it into "how much other load
  can this stream tolerate".
* ``exact``: p50/p95 of given streams at their exact co-located load (the planner's final check).

Costs are before the per-device ``bias()`` (1 for estimators that do not learn online). A rung a cost
source knows nothing about (the bicubic rung of a profile that never measured it) costs ``UNKNOWN_MS``:
the planner then never finds it fits.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from streamenhance.config import BICUBIC
from streamenhance.scheduler.devices import DeviceInfo
from streamenhance.scheduler.features import BASE_COLUMNS, RowSpec, features, memory_estimate_mb, set_coload
from streamenhance.scheduler.predictor import PerfPredictor
from streamenhance.scheduler.profile import Profile, ProfileRow
from streamenhance.scheduler.streams import StreamRequest
from streamenhance.scheduler.variants import LADDER, Stage, macs_per_second, pipeline

# Co-location grid: other streams on the device, and their summed MACs/s over the device's MACs/s.
N_GRID = np.array([0, 1, 2, 4, 8, 16, 32], dtype=np.float64)
R_GRID = np.array([0.0, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.5, 4.0, 8.0], dtype=np.float64)
UNKNOWN_MS = 1e9  # the cost of a rung with no measurement: huge but finite, so it never fits


@dataclass(frozen=True)
class GridCosts:
    """Costs of one stream request: ``p50``/``p95`` (T, D, N, R) ms, ``util``/``mem`` (T, D), ``own`` (T,) MACs/s."""

    p50: np.ndarray
    p95: np.ndarray
    util: np.ndarray
    mem: np.ndarray
    own: np.ndarray


class CostEstimator(Protocol):
    """What the planner needs from a cost source."""

    name: str

    def version(self) -> Hashable: ...

    def grid(self, request: StreamRequest, devices: Sequence[DeviceInfo]) -> GridCosts: ...

    def exact(self, requests: Sequence[StreamRequest], tiers: Sequence[str], devices: Sequence[DeviceInfo],
              others: np.ndarray, others_macs: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def bias(self, device_id: str) -> float: ...


def stage_rows(request: StreamRequest, tier: str, device: DeviceInfo, others: int = 0,
               others_macs: float = 0.0) -> list[RowSpec]:
    """Predictor rows of every network stage of ``request`` at ``tier`` on ``device``."""
    return [RowSpec(s.variant, request.in_pixels, s.out_pixels, request.fps, device, others, others_macs)
            for s in pipeline(request, tier)]


def stage_slots(request: StreamRequest) -> np.ndarray:
    """(T, 2) which stage slots (AR, SR) ``request`` runs at each rung of ``LADDER`` (the bicubic rung: the
    scaler alone, in the SR slot)."""
    return np.array([[any(s.variant.kind == kind for s in pipeline(request, tier)) for kind in ("ar", "sr")]
                     for tier in LADDER])


# ---------------------------------------------------------------------- learned predictor


class PredictorCost:
    """Costs from ``PerfPredictor``: a pipeline's p50/p95 are the sums over its stages.

    Static feature rows (everything but co-location) are cached per (request config, device), so
    planning only fills the co-location columns and runs the NumPy MLP. Rows sit in two stage slots
    (AR, SR) per rung; a slot a rung does not run holds zeros and is masked out (``stage_mask``).
    """

    name = "predictor"

    def __init__(self, predictor: PerfPredictor) -> None:
        self.predictor = predictor
        self._static: dict[tuple[object, ...], tuple[np.ndarray, np.ndarray]] = {}

    def version(self) -> Hashable:
        return ("predictor", id(self.predictor), self.predictor.version)

    def bias(self, device_id: str) -> float:
        return self.predictor.bias(device_id)

    def static(self, request: StreamRequest, device: DeviceInfo) -> tuple[np.ndarray, np.ndarray]:
        """(T, 2, C) feature rows of every rung and stage slot with zero co-location, and the (T, 2) slots
        each rung runs (``stage_slots``)."""
        key = (request.config_key(), device.id, device.device_class)
        cached = self._static.get(key)
        if cached is None:
            mask = stage_slots(request)
            rows = [r for tier in LADDER for r in stage_rows(request, tier, device)]
            x = np.zeros((*mask.shape, len(BASE_COLUMNS) + len(self.predictor.vocabulary) + 1), np.float32)
            x[mask] = features(rows, self.predictor.vocabulary)  # pipeline order is AR then SR: slot order
            cached = self._static[key] = (x, mask)
        return cached

    def grid(self, request: StreamRequest, devices: Sequence[DeviceInfo]) -> GridCosts:
        n_t, n_d, n_n, n_r = len(LADDER), len(devices), len(N_GRID), len(R_GRID)
        x = self.stage_features(request, devices)  # (T, D, 2, C)
        rows = np.broadcast_to(x[:, :, :, None, None, :], (n_t, n_d, 2, n_n, n_r, x.shape[-1])).copy()
        others = np.broadcast_to(N_GRID[None, None, None, :, None], rows.shape[:-1])
        ratio = np.broadcast_to(R_GRID[None, None, None, None, :], rows.shape[:-1])
        flat = rows.reshape(-1, rows.shape[-1])
        set_coload(flat, others.reshape(-1), ratio.reshape(-1), 1.0)
        pred = self.predictor.predict_features(flat)
        shape = (n_t, n_d, 2, n_n, n_r)
        runs = self.stage_mask(request)[:, None, :, None, None]  # slots a rung does not run cost nothing
        p50 = (pred.p50_ms.reshape(shape) * runs).sum(2)
        p95 = (pred.p95_ms.reshape(shape) * runs).sum(2)
        # Planning utilisation is the busy share (solo p50 x fps): a frame occupies the device while it
        # runs, and that share is what decides whether a device can keep up. The efficiency output is
        # informational (how much of the device a running frame actually uses).
        busy = np.minimum(pred.p50_ms * request.fps / 1e3, 1.0).reshape(shape) * runs
        mem = (pred.memory_mb.reshape(shape) * runs)[:, :, :, 0, 0].sum(2)
        own = np.array([macs_per_second(request, t) for t in LADDER])
        util = np.minimum(busy[:, :, :, 0, 0].sum(2), 1.0)
        unseen = np.array([LADDER.index(t) - 1 not in self.predictor.tiers_seen for t in LADDER])
        p50[unseen], p95[unseen], util[unseen] = UNKNOWN_MS, UNKNOWN_MS, 1.0  # never measured: never fits
        return GridCosts(p50, p95, util, mem, own)

    def stage_features(self, request: StreamRequest, devices: Sequence[DeviceInfo]) -> np.ndarray:
        """(T, D, 2, C) zero-co-location feature rows of every rung, device and stage slot (a slot the
        rung does not run is a row of zeros, masked out by ``stage_mask``)."""
        return np.stack([self.static(request, device)[0] for device in devices], 1)

    @staticmethod
    def stage_mask(request: StreamRequest) -> np.ndarray:
        """(T, 2): which of the two stage slots (AR, SR) ``request`` runs at each rung."""
        return stage_slots(request)

    def predict_rows(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(p50, p95) of feature rows, before bias."""
        pred = self.predictor.predict_features(x)
        return pred.p50_ms, pred.p95_ms

    def exact_rows(self, requests: Sequence[StreamRequest], tiers: Sequence[str], devices: Sequence[DeviceInfo],
                   others: np.ndarray, others_macs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Feature rows of every stage of every stream, and the stream index of each row."""
        blocks, owner = [], []
        for i, (request, tier, device) in enumerate(zip(requests, tiers, devices, strict=True)):
            t = LADDER.index(tier)
            x, mask = self.static(request, device)
            blocks.append(x[t][mask[t]])
            owner += [i] * len(blocks[-1])
        x = np.concatenate(blocks, 0).copy()
        owner_idx = np.asarray(owner)
        dev_macs = np.array([d.macs_per_s for d in devices])
        set_coload(x, np.asarray(others)[owner_idx], np.asarray(others_macs)[owner_idx], dev_macs[owner_idx])
        return x, owner_idx

    def exact(self, requests: Sequence[StreamRequest], tiers: Sequence[str], devices: Sequence[DeviceInfo],
              others: np.ndarray, others_macs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not requests:
            return np.zeros(0), np.zeros(0)
        x, owner = self.exact_rows(requests, tiers, devices, others, others_macs)
        pred = self.predictor.predict_features(x)
        n = len(requests)
        return np.bincount(owner, pred.p50_ms, n), np.bincount(owner, pred.p95_ms, n)


# ---------------------------------------------------------------------- offline profile table


class ProfileTable:
    """Interpolated costs of one device class from its profile rows.

    Latency is interpolated linearly in log-log between measured input sizes (and extrapolated with the
    end slopes); x4 SR, absent from the profile, is the x2 cost scaled by the MACs-per-frame ratio.
    """

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.device = profile.device
        self._solo: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, np.ndarray, float]] = {}
        groups: dict[tuple[str, str], list[ProfileRow]] = {}
        for row in profile.rows:
            if row.colocated == 1:
                groups.setdefault((row.kind, row.tier), []).append(row)
        for key, rows in groups.items():
            rows.sort(key=lambda r: r.width * r.height)
            x = np.log([r.width * r.height for r in rows])
            eff = float(np.median([min(1.0, max(r.cpu_util, 0.05)) for r in rows]))
            p50 = np.log([r.p50_ms for r in rows])
            self._solo[key] = (x, p50, np.log([max(r.p95_ms, r.p50_ms) for r in rows]), eff)

    def has(self, kind: str, tier: str) -> bool:
        return (kind, tier) in self._solo

    def solo(self, kind: str, tier: str, in_pixels: float) -> tuple[float, float, float]:
        """(p50 ms, p95 ms, efficiency) of one stage alone on the device (``UNKNOWN_MS`` for an unmeasured
        bicubic rung; an unmeasured network is a ``KeyError``)."""
        if tier == BICUBIC and (kind, tier) not in self._solo:
            return UNKNOWN_MS, UNKNOWN_MS, 1.0
        x, y50, y95, eff = self._solo[(kind, tier)]
        q = float(np.log(max(in_pixels, 1.0)))
        return float(np.exp(_interp(q, x, y50))), float(np.exp(_interp(q, x, y95))), eff

    def stage(self, stage: Stage, in_pixels: int) -> tuple[float, float, float]:
        """Solo cost of a pipeline stage (x4 scaled from x2)."""
        v = stage.variant
        p50, p95, eff = self.solo(v.kind, v.tier, in_pixels)
        if v.kind == "sr" and v.scale != 2:
            from streamenhance.scheduler.variants import variant

            x2 = variant("sr", v.tier, 2)
            factor = stage.macs_per_frame / max(x2.macs_per_pixel * in_pixels * 4, 1.0)
            p50, p95 = p50 * factor, p95 * factor
        return p50, p95, eff


def _interp(q: float, x: np.ndarray, y: np.ndarray) -> float:
    if x.size == 1:
        return float(y[0])
    if q < x[0]:
        return float(y[0] + (q - x[0]) * (y[1] - y[0]) / (x[1] - x[0]))
    if q > x[-1]:
        return float(y[-1] + (q - x[-1]) * (y[-1] - y[-2]) / (x[-1] - x[-2]))
    return float(np.interp(q, x, y))


class TableCost:
    """The offline profile table: solo costs only (no co-location, no online learning).

    Devices whose class has no profile use the closest profiled device scaled by the ratio of
    measured conv throughput (a first-order guess).
    """

    name = "offline_table"

    def __init__(self, profiles: Sequence[Profile]) -> None:
        self.tables = {p.device.device_class: ProfileTable(p) for p in profiles}
        if not self.tables:
            from streamenhance.errors import ConfigError

            raise ConfigError("offline table: no profiles given")

    def version(self) -> Hashable:
        return ("table", id(self))

    def bias(self, device_id: str) -> float:
        return 1.0

    def _table(self, device: DeviceInfo) -> tuple[ProfileTable, float]:
        table = self.tables.get(device.device_class)
        if table is not None:
            return table, 1.0
        nearest = min(self.tables.values(), key=lambda t: abs(np.log(t.device.macs_per_s / device.macs_per_s)))
        return nearest, nearest.device.macs_per_s / device.macs_per_s

    def solo(self, request: StreamRequest, tier: str, device: DeviceInfo) -> tuple[float, float, float, float]:
        """(p50, p95, utilisation, memory MB) of the whole pipeline alone on ``device``."""
        table, factor = self._table(device)
        p50 = p95 = util = mem = 0.0
        for stage in pipeline(request, tier):
            s50, s95, eff = table.stage(stage, request.in_pixels)
            p50, p95 = p50 + s50 * factor, p95 + s95 * factor
            util += min(1.0, s50 * factor * request.fps / 1e3)  # busy share, as PredictorCost
            mem += memory_estimate_mb(stage.variant, request.in_pixels, stage.out_pixels, device.kind == "cuda")
        return p50, p95, min(util, 1.0), mem

    def grid(self, request: StreamRequest, devices: Sequence[DeviceInfo]) -> GridCosts:
        n_t, n_d = len(LADDER), len(devices)
        p50 = np.zeros((n_t, n_d))
        p95, util, mem = np.zeros_like(p50), np.zeros_like(p50), np.zeros_like(p50)
        for t, tier in enumerate(LADDER):
            for d, device in enumerate(devices):
                p50[t, d], p95[t, d], util[t, d], mem[t, d] = self.solo(request, tier, device)
        shape = (n_t, n_d, len(N_GRID), len(R_GRID))
        own = np.array([macs_per_second(request, t) for t in LADDER])
        return GridCosts(np.broadcast_to(p50[..., None, None], shape), np.broadcast_to(p95[..., None, None], shape),
                         util, mem, own)

    def exact(self, requests: Sequence[StreamRequest], tiers: Sequence[str], devices: Sequence[DeviceInfo],
              others: np.ndarray, others_macs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = np.array([self.solo(r, t, d)[:2] for r, t, d in zip(requests, tiers, devices, strict=True)])
        out = out.reshape(-1, 2)
        return out[:, 0], out[:, 1]
