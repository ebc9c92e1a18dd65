"""Trace-driven simulator: a rig of devices with true costs, workloads, and a policy under test.

True cost of a stream's frame on a device = solo cost of each stage (the device's profile,
interpolated in log-log over input size) x a co-location slowdown x log-normal noise:

* slowdown = 1 + gamma x (B + hidden)^eta, B = summed busy fractions of the other streams on the
  device (busy fraction = solo latency x fps, at most 1), ``hidden`` = a noisy neighbour's busy
  fraction; gamma and eta are fitted to the measured co-located rows (k saturating streams:
  B = k - 1). When B + hidden + the stream's own busy fraction >= 1 the device cannot keep up and
  every frame on it is late;
* noise sigma = ln(p95/p50) / 1.645, the median over the measured solo rows.

Devices: the measured CPU (its profile) and devices *derived* from it (a second CPU class and two
synthetic accelerators): solo cost = per-frame overhead + measured cost / speed, the same noise and
interference. Only the measured device's numbers are measurements; ``Rig.describe()`` says which.

The loop advances in 1 s epochs on a ``FakeClock``: events (arrivals, departures, resolution switches,
device failures, neighbours) trigger ``policy.choose``; then every stream's frames of the epoch are
drawn (misses ~ Binomial(frames, P(latency > deadline))), three sampled frames per stream are fed to
``on_frame_done`` (one of them a late frame whenever the epoch had one), and ``wants_replan`` /
``maintain`` run. Everything random comes from one seeded ``numpy.random.Generator``.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from streamenhance.config import TIERS
from streamenhance.scheduler.clock import FakeClock
from streamenhance.scheduler.costs import N_GRID, R_GRID, GridCosts, ProfileTable
from streamenhance.scheduler.devices import DeviceInfo
from streamenhance.scheduler.features import memory_estimate_mb
from streamenhance.scheduler.policy import Policy
from streamenhance.scheduler.predictor import PerfPredictor
from streamenhance.scheduler.profile import Profile
from streamenhance.scheduler.quality import QualityTable
from streamenhance.scheduler.streams import StreamInfo, StreamRequest
from streamenhance.scheduler.variants import LADDER, macs_per_second, pipeline

Z95 = 1.6448536269514722
_NORMAL = statistics.NormalDist()


# ---------------------------------------------------------------------- interference fit


@dataclass(frozen=True)
class Interference:
    """slowdown = 1 + gamma x busy^eta (busy: summed busy fractions of the other streams)."""

    gamma: float
    eta: float
    points: int = 0
    rms_log_error: float = 0.0

    def slowdown(self, busy: np.ndarray | float) -> np.ndarray:
        return 1.0 + self.gamma * np.power(np.maximum(busy, 0.0), self.eta)


def fit_interference(profile: Profile) -> Interference:
    """Fit gamma, eta to the co-located rows: p50(k) / p50(1) = 1 + gamma (k - 1)^eta (log least squares).

    Without co-located rows the model is plain processor sharing (gamma = eta = 1).
    """
    solo = {(r.kind, r.tier, r.width, r.height): r.p50_ms for r in profile.rows if r.colocated == 1}
    xs, ys = [], []
    for r in profile.rows:
        base = solo.get((r.kind, r.tier, r.width, r.height))
        if r.colocated > 1 and base:
            xs.append(r.colocated - 1.0)
            ys.append(r.p50_ms / base)
    if not xs:
        return Interference(1.0, 1.0)
    x, y = np.asarray(xs), np.asarray(ys)
    # With one co-located count (k = 2 only) eta is not identifiable: keep processor sharing's eta = 1.
    etas = np.linspace(0.3, 1.5, 121) if len(set(xs)) > 1 else np.array([1.0])
    best: tuple[float, float, float] | None = None
    for eta in etas:
        # For a fixed eta the best gamma in log space has no closed form; a 1-D search is cheap.
        for gamma in np.linspace(0.02, 2.0, 199):
            err = float(np.mean((np.log(1 + gamma * x**eta) - np.log(y)) ** 2))
            if best is None or err < best[0]:
                best = (err, gamma, eta)
    assert best is not None
    return Interference(float(best[1]), float(best[2]), len(xs), math.sqrt(best[0]))


def noise_sigma(profile: Profile) -> float:
    """Median ln(p95/p50)/1.645 of the solo rows, clamped to [0.02, 0.3]."""
    values = [math.log(max(r.p95_ms, r.p50_ms) / r.p50_ms) / Z95
              for r in profile.rows if r.colocated == 1 and r.frames >= 3]
    return float(np.clip(np.median(values) if values else 0.08, 0.02, 0.3))


# ---------------------------------------------------------------------- devices of the rig


@dataclass
class TrueDevice:
    """A rig device and its true cost model."""

    info: DeviceInfo
    table: ProfileTable
    interference: Interference
    sigma: float
    speed: float = 1.0
    overhead_ms: float = 0.0

    def slowdown(self, own_busy: float, others_busy: float) -> float:
        """Co-location slowdown of a stream: the fitted interference of the others' busy share; ``inf``
        when the device is asked for more than all of its time (frames arrive periodically, so a stream
        alone does not queue behind itself)."""
        if own_busy + others_busy >= 1.0:
            return math.inf
        return float(self.interference.slowdown(others_busy))

    def solo_stage_ms(self, request: StreamRequest, tier: str) -> list[float]:
        """Noise-free solo p50 of each stage of ``request`` at ``tier``."""
        return [self.overhead_ms + self.table.stage(s, request.in_pixels)[0] / self.speed
                for s in pipeline(request, tier)]


@dataclass
class Rig:
    """Devices of a simulated installation."""

    devices: list[TrueDevice]

    def by_id(self) -> dict[str, TrueDevice]:
        return {d.info.id: d for d in self.devices}

    def infos(self) -> list[DeviceInfo]:
        return [d.info for d in self.devices]

    def describe(self) -> list[dict[str, Any]]:
        return [{"id": d.info.id, "kind": d.info.kind, "measured": d.info.measured, "derivation": d.info.derivation,
                 "speed_vs_measured": d.speed, "overhead_ms": d.overhead_ms, "memory_mb": d.info.memory_mb,
                 "interference": {"gamma": round(d.interference.gamma, 4), "eta": round(d.interference.eta, 4),
                                  "points": d.interference.points,
                                  "rms_log_error": round(d.interference.rms_log_error, 4)},
                 "noise_sigma": round(d.sigma, 4)} for d in self.devices]

    def profiles(self) -> list[Profile]:
        """A profile per device: the measured one as is, derived ones generated from the true model."""
        out = []
        for d in self.devices:
            if d.speed == 1.0 and d.overhead_ms == 0.0 and d.info.measured:
                out.append(Profile(d.info, list(d.table.profile.rows), dict(d.table.profile.meta)))
            else:
                out.append(derived_profile(d))
        return out


PARTIAL_COLOCATED = (2, 4, 8, 16)  # co-located counts of the rows at the others' frame rate
PARTIAL_FPS = (15.0, 30.0, 60.0)


def derived_profile(device: TrueDevice) -> Profile:
    """Rows of the measured grid on a derived device, from its true model (p95 from the noise sigma),
    plus rows with the other streams at their frame rate instead of back to back: a device that holds
    many streams mostly sees partial load, and a predictor that only saw saturating neighbours has
    to guess what a few light ones cost (it guessed high: 16x the solo p95 for three 30 fps streams)."""
    rows, sigma = [], math.exp(Z95 * device.sigma)
    for r in device.table.profile.rows:
        base = device.table.solo(r.kind, r.tier, r.width * r.height)[0]
        solo = device.overhead_ms + base / device.speed
        p50 = solo * float(device.interference.slowdown(r.colocated - 1.0))
        # k saturating streams keep a derived device fully busy (the measured CPU's figure is its own).
        rows.append(replace(r, p50_ms=p50, p95_ms=p50 * sigma, mean_ms=p50, cpu_util=1.0, weights=r.weights))
        if r.colocated != 1:
            continue
        for k in PARTIAL_COLOCATED:
            for fps in PARTIAL_FPS:
                others_busy = (k - 1) * solo * fps / 1e3
                if others_busy + solo * fps / 1e3 >= 0.95:
                    continue
                p50 = solo * float(device.interference.slowdown(others_busy))
                rows.append(replace(r, colocated=k, others_fps=fps, p50_ms=p50, p95_ms=p50 * sigma, mean_ms=p50,
                                    cpu_util=min(1.0, (others_busy + solo * fps / 1e3)), weights=r.weights))
    meta = {"derived_from": device.table.profile.device.id, "derivation": device.info.derivation}
    return Profile(device.info, rows, meta)


@dataclass(frozen=True)
class DerivedSpec:
    """A device derived from the measured one."""

    id: str
    kind: str
    speed: float
    overhead_ms: float
    compute_units: int
    mem_bandwidth_gbps: float
    memory_mb: float
    derivation: str


DEFAULT_DERIVED = (
    DerivedSpec("cpu-16c", "cpu", 6.0, 0.0, 16, 150.0, 32768.0,
                "derived: measured CPU cost / 6 (16 cores at 75% scaling of the 2-core machine)"),
    DerivedSpec("gpu-s", "cuda", 150.0, 0.3, 58, 900.0, 16384.0,
                "synthetic accelerator: measured CPU cost / 150 + 0.3 ms per stage (launch, copies)"),
    DerivedSpec("gpu-l-0", "cuda", 600.0, 0.2, 132, 3350.0, 81920.0,
                "synthetic accelerator: measured CPU cost / 600 + 0.2 ms per stage (H100-class guess, NOT measured)"),
    DerivedSpec("gpu-l-1", "cuda", 600.0, 0.2, 132, 3350.0, 81920.0,
                "synthetic accelerator: measured CPU cost / 600 + 0.2 ms per stage (H100-class guess, NOT measured)"),
)


def sized_rig(measured: Profile, streams: int, load: float = 0.55) -> Rig:
    """The default rig with as many more ``gpu-l`` devices (the same derived class, so a predictor
    trained on the default rig knows them) as it takes for ``streams`` streams of the workload mix to
    be ``load`` of its nominal smallest-tier capacity: a rig that a deployment of that many streams
    would have, for timing decisions that place streams instead of declaring them over capacity."""
    derived = list(DEFAULT_DERIVED)
    template = derived[-1]
    per_device = nominal_capacity(build_rig(measured, [template])) - nominal_capacity(build_rig(measured, []))
    short = streams / load - nominal_capacity(build_rig(measured))
    for k in range(max(0, math.ceil(short / per_device))):
        derived.append(replace(template, id=f"gpu-l-{k + 2}"))
    return build_rig(measured, derived)


def build_rig(measured: Profile, derived: Sequence[DerivedSpec] = DEFAULT_DERIVED, measured_id: str = "cpu-0") -> Rig:
    """The measured device plus ``derived`` ones (see the module docstring)."""
    interference, sigma = fit_interference(measured), noise_sigma(measured)
    base = replace(measured.device, id=measured_id, measured=True, derivation="measured: this machine's profile")
    table = ProfileTable(Profile(base, measured.rows, measured.meta))
    devices = [TrueDevice(base, table, interference, sigma)]
    for spec in derived:
        family = spec.id.rsplit("-", 1)[0] if spec.id[-1].isdigit() else spec.id  # gpu-l-0, gpu-l-1: one class
        info = DeviceInfo(id=spec.id, kind=spec.kind, device_class=f"derived-{family}",
                          compute_units=spec.compute_units, mem_bandwidth_gbps=spec.mem_bandwidth_gbps,
                          macs_per_s=measured.device.macs_per_s * spec.speed, memory_mb=spec.memory_mb, measured=False,
                          derivation=spec.derivation)
        devices.append(TrueDevice(info, table, interference, sigma, spec.speed, spec.overhead_ms))
    return Rig(devices)


# ---------------------------------------------------------------------- the oracle's view


class TrueCost:
    """``CostEstimator`` with the simulator's true mean costs: the oracle's input. Hidden load (a noisy
    neighbour) enters as ``bias`` = 1 / (1 - hidden busy fraction), the share of the device left.

    The co-location grid is in others' MACs/s relative to the device (as the planner uses it); it is
    turned into busy fractions with the stream's own solo MACs throughput, exact for a device shared
    by streams of one config and a close approximation otherwise.
    """

    name = "true"

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self._devices = rig.by_id()
        self.hidden: dict[str, float] = {}
        self._stamp = 0

    def set_hidden(self, hidden: dict[str, float]) -> None:
        if hidden != self.hidden:
            self.hidden = dict(hidden)
            self._stamp += 1

    def version(self) -> Hashable:
        return ("true", id(self), self._stamp)

    def bias(self, device_id: str) -> float:
        """Hidden load leaves 1 - hidden of the device: costs and utilisation scale by 1 / (1 - hidden)."""
        return 1.0 / max(1.0 - self.hidden.get(device_id, 0.0), 0.05)

    def _costs(self, request: StreamRequest, tier: str, device: TrueDevice,
               busy_others: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        solo = sum(device.solo_stage_ms(request, tier))
        own = min(1.0, solo * request.fps / 1e3)
        slow = np.array([device.slowdown(own, float(b)) for b in np.atleast_1d(busy_others)])
        p50 = np.minimum(solo * slow, 1e9)  # an overloaded device: a huge but finite cost for the planner
        return p50, p50 * math.exp(Z95 * device.sigma)

    def _busy_per_ratio(self, request: StreamRequest, tier: str, device: TrueDevice) -> float:
        """Busy fraction per unit of others' MACs/s ratio, assuming the others run like this stream."""
        solo_s = sum(device.solo_stage_ms(request, tier)) / 1e3
        macs_frame = macs_per_second(request, tier) / request.fps
        return solo_s * device.info.macs_per_s / max(macs_frame, 1.0)

    def grid(self, request: StreamRequest, devices: Sequence[DeviceInfo]) -> GridCosts:
        n_t, n_d = len(LADDER), len(devices)
        p50 = np.zeros((n_t, n_d, len(N_GRID), len(R_GRID)))
        p95 = np.zeros_like(p50)
        util, mem = np.zeros((n_t, n_d)), np.zeros((n_t, n_d))
        for t, tier in enumerate(LADDER):
            for d, info in enumerate(devices):
                dev = self._devices[info.id]
                busy = R_GRID * self._busy_per_ratio(request, tier, dev)
                a, b = self._costs(request, tier, dev, busy)
                p50[t, d], p95[t, d] = a[None, :], b[None, :]
                solo = sum(dev.solo_stage_ms(request, tier))
                util[t, d] = min(1.0, solo * request.fps / 1e3)
                mem[t, d] = sum(memory_estimate_mb(s.variant, request.in_pixels, s.out_pixels, info.kind == "cuda")
                                for s in pipeline(request, tier))
        own = np.array([macs_per_second(request, t) for t in LADDER])
        return GridCosts(p50, p95, util, mem, own)

    def exact(self, requests: Sequence[StreamRequest], tiers: Sequence[str], devices: Sequence[DeviceInfo],
              others: np.ndarray, others_macs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(requests)
        p50, p95 = np.zeros(n), np.zeros(n)
        # Exact busy fractions: the sum over the actual co-located streams.
        by_device: dict[str, list[int]] = {}
        for i, d in enumerate(devices):
            by_device.setdefault(d.id, []).append(i)
        for dev_id, members in by_device.items():
            dev = self._devices[dev_id]
            busy = np.array([min(1.0, sum(dev.solo_stage_ms(requests[i], tiers[i])) * requests[i].fps / 1e3)
                             for i in members])
            total = busy.sum()
            for k, i in enumerate(members):
                a, b = self._costs(requests[i], tiers[i], dev, np.asarray(total - busy[k]))
                p50[i], p95[i] = float(a[0]), float(b[0])
        return p50, p95


# ---------------------------------------------------------------------- workloads


@dataclass(frozen=True)
class Event:
    time: float
    kind: str  # arrive | depart | switch | fail | neighbour
    stream: str = ""
    request: StreamRequest | None = None
    device: str = ""
    value: float = 0.0


@dataclass(frozen=True)
class WorkloadSpec:
    """Arrival process and mix of a workload.

    Attributes:
        rate_per_s: Poisson arrival rate; durations are log-normal (median ``median_duration_s``).
        crowd: (start, end, factor): arrivals x factor in [start, end) (flash crowd).
        neighbour: (start, end, device, busy): hidden load on a device (drift).
        switch_share: share of streams that switch resolution once mid-stream (drift).
        failure: (time, device): the device is removed (failure).
    """

    name: str
    duration_s: float = 1800.0
    rate_per_s: float = 0.2
    median_duration_s: float = 240.0
    duration_sigma: float = 0.6
    crowd: tuple[float, float, float] | None = None
    neighbour: tuple[float, float, str, float] | None = None
    switch_share: float = 0.0
    failure: tuple[float, str] | None = None


def nominal_capacity(rig: Rig, util_max: float = 0.85) -> float:
    """Streams of the workload mix the rig could hold at the smallest tier, ignoring interference:
    sum over devices of util_max / mean busy fraction (a stream that does not fit a device alone counts
    as occupying all of it)."""
    total = 0.0
    for device in rig.devices:
        busy = 0.0
        for (w, h), pw in RESOLUTION_MIX:
            for fps, pf in FPS_MIX:
                for mode in ("off", "auto"):
                    solo = sum(device.solo_stage_ms(StreamRequest(w, h, fps, 2.0, mode), TIERS[0]))
                    fits = solo * math.exp(Z95 * device.sigma) <= 0.8 * 1e3 / fps
                    busy += pw * pf * 0.5 * (min(1.0, solo * fps / 1e3) if fits else 1.0)
        total += util_max / busy
    return total


def unservable(rig: Rig) -> list[str]:
    """Configurations of the workload mix that no device can serve even alone at the smallest tier
    (solo p95 > 0.8 x deadline): no policy can keep those on time."""
    out = []
    for (w, h), _ in RESOLUTION_MIX:
        for fps, _ in FPS_MIX:
            for mode in ("off", "auto"):
                request = StreamRequest(w, h, fps, 2.0, mode)
                if all(sum(d.solo_stage_ms(request, TIERS[0])) * math.exp(Z95 * d.sigma) > 0.8 * 1e3 / fps
                       for d in rig.devices):
                    out.append(f"{w}x{h}@{fps:g} mode {mode}")
    return out


def rate_for_load(rig: Rig, load: float, spec_median_s: float = 240.0, sigma: float = 0.6) -> float:
    """Arrival rate whose steady mean concurrency is ``load`` x ``nominal_capacity`` (Little's law)."""
    mean_duration = spec_median_s * math.exp(sigma * sigma / 2.0)
    return load * nominal_capacity(rig) / mean_duration


RESOLUTION_MIX = (((640, 360), 0.35), ((854, 480), 0.3), ((1280, 720), 0.25), ((1920, 1080), 0.10))
FPS_MIX = ((30.0, 0.7), (60.0, 0.3))


def standard_workloads(duration_s: float = 1800.0, rate_per_s: float = 0.2, neighbour_device: str = "gpu-l-0",
                       failed_device: str = "gpu-l-1") -> dict[str, WorkloadSpec]:
    """The four benchmark workloads (steady, flash_crowd, drift, failure) on one arrival rate."""
    t = duration_s
    return {
        "steady": WorkloadSpec("steady", t, rate_per_s),
        "flash_crowd": WorkloadSpec("flash_crowd", t, rate_per_s, crowd=(0.3 * t, 0.45 * t, 4.0)),
        "drift": WorkloadSpec("drift", t, rate_per_s, neighbour=(0.3 * t, 0.6 * t, neighbour_device, 0.25),
                              switch_share=0.4),
        "failure": WorkloadSpec("failure", t, rate_per_s, failure=(0.5 * t, failed_device)),
    }


def _pick(rng: np.random.Generator, options: Sequence[tuple[Any, float]]) -> Any:
    weights = np.array([w for _, w in options])
    return options[int(rng.choice(len(options), p=weights / weights.sum()))][0]


def generate_events(spec: WorkloadSpec, seed: int) -> list[Event]:
    """The event trace of ``spec`` (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    events: list[Event] = []
    t, n = 0.0, 0
    peak = spec.rate_per_s * (spec.crowd[2] if spec.crowd else 1.0)
    while True:
        t += float(rng.exponential(1.0 / peak))  # thinning of a Poisson process with a time-varying rate
        if t >= spec.duration_s:
            break
        rate = spec.rate_per_s * (spec.crowd[2] if spec.crowd and spec.crowd[0] <= t < spec.crowd[1] else 1.0)
        if rng.random() > rate / peak:
            continue
        (w, h), fps = _pick(rng, RESOLUTION_MIX), _pick(rng, FPS_MIX)
        bitrate = float(np.exp(rng.uniform(np.log(1000), np.log(50000))))
        mode = "auto" if rng.random() < 0.5 else "off"
        request = StreamRequest(w, h, fps, 2.0, mode, bitrate)
        sid = f"s{n:05d}"
        n += 1
        life = float(rng.lognormal(np.log(spec.median_duration_s), spec.duration_sigma))
        events.append(Event(t, "arrive", sid, request))
        if spec.switch_share and rng.random() < spec.switch_share:
            at = t + float(rng.uniform(0.2, 0.8)) * life
            new = _pick(rng, [(r, wgt) for r, wgt in RESOLUTION_MIX if r != (w, h)])
            events.append(Event(at, "switch", sid, request.with_size(*new)))
        events.append(Event(t + life, "depart", sid))
    if spec.neighbour:
        start, end, device, busy = spec.neighbour
        events += [Event(start, "neighbour", device=device, value=busy),
                   Event(end, "neighbour", device=device, value=0.0)]
    if spec.failure:
        events.append(Event(spec.failure[0], "fail", device=spec.failure[1]))
    events.sort(key=lambda e: (e.time, e.kind != "fail"))
    return [e for e in events if e.time < spec.duration_s]


# ---------------------------------------------------------------------- the loop


@dataclass
class SimResult:
    """Figures of one policy on one workload."""

    frames: int = 0
    on_time_frames: int = 0
    dpsnr_sum: float = 0.0
    realtime_stream_epochs: float = 0.0
    device_epochs: float = 0.0
    migrations: int = 0
    tier_switches: int = 0
    decisions: list[tuple[int, float]] = field(default_factory=list)
    prediction_pairs: list[tuple[float, float]] = field(default_factory=list)
    over_capacity_epochs: int = 0
    max_streams: int = 0
    retrains: int = 0
    duration_s: float = 0.0
    tier_epochs: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, float]:
        hours = max(self.duration_s, 1.0) / 3600.0
        pairs = np.array(self.prediction_pairs) if self.prediction_pairs else np.zeros((0, 2))
        errors = np.abs(pairs[:, 0] / pairs[:, 1] - 1.0) if len(pairs) else np.zeros(0)
        decisions = np.array([ms for _, ms in self.decisions]) if self.decisions else np.zeros(1)
        return {
            "on_time": self.on_time_frames / max(self.frames, 1),
            "streams_per_device": self.realtime_stream_epochs / max(self.device_epochs, 1.0),
            "mean_dpsnr": self.dpsnr_sum / max(self.frames, 1),
            "migrations_per_hour": self.migrations / hours,
            "tier_switches_per_hour": self.tier_switches / hours,
            "frames": float(self.frames),
            "max_streams": float(self.max_streams),
            "decision_ms_p99": float(np.percentile(decisions, 99)),
            "decision_ms_mean": float(decisions.mean()),
            "online_mape": float(errors.mean()) if errors.size else float("nan"),
            "online_within_10pct": float((errors <= 0.1).mean()) if errors.size else float("nan"),
            "retrains": float(self.retrains),
            "tier_share": {t: c / max(sum(self.tier_epochs.values()), 1) for t, c in sorted(self.tier_epochs.items())},
        }


class Simulation:
    """One policy on one workload on one rig (see the module docstring).

    Args:
        rig: devices and true costs.
        events: the workload trace (``generate_events``).
        policy: the policy under test; it must use ``clock`` (a ``FakeClock``) for its time.
        predictor: passed to ``policy.choose`` (the learned policy's model).
        quality: ΔPSNR per tier (delivered only by frames on time).
        true_costs: the oracle's estimator, kept in sync with hidden load.
        seed: seed of the frame noise.
    """

    def __init__(self, rig: Rig, events: Sequence[Event], policy: Policy, clock: FakeClock, *,
                 predictor: PerfPredictor | None = None, quality: QualityTable, duration_s: float,
                 true_costs: TrueCost | None = None, seed: int = 0, observations: int = 3) -> None:
        self.rig, self.events, self.policy, self.clock = rig, list(events), policy, clock
        self.predictor, self.quality, self.duration_s = predictor, quality, duration_s
        self.true_costs, self.rng, self.observations = true_costs, np.random.default_rng(seed), observations
        self.devices = {d.info.id: d for d in rig.devices}
        self.alive = [d.info for d in rig.devices]
        self.hidden: dict[str, float] = {}
        self.streams: dict[str, StreamInfo] = {}
        self.result = SimResult(duration_s=duration_s)
        self._solo: dict[tuple[object, ...], list[float]] = {}

    def _solo_ms(self, request: StreamRequest, tier: str, device: str) -> list[float]:
        key = (request.config_key(), tier, device)
        if key not in self._solo:
            self._solo[key] = self.devices[device].solo_stage_ms(request, tier)
        return self._solo[key]

    def decide(self) -> None:
        infos = list(self.streams.values())
        if not infos:
            return
        if self.true_costs is not None:
            self.true_costs.set_hidden(self.hidden)
        started = time.perf_counter()
        chosen = self.policy.choose(infos, self.alive, self.predictor)
        self.result.decisions.append((len(infos), (time.perf_counter() - started) * 1e3))
        now = self.clock.now()
        for info in infos:
            new = chosen[info.id]
            old = info.assignment
            if old is not None and (old.device != new.device or old.tier != new.tier):
                self.result.migrations += old.device != new.device
                self.result.tier_switches += old.tier != new.tier
                info.since = now
            elif old is None:
                info.since = now
            info.assignment = new

    def warm(self) -> None:
        """Let the policy precompute costs of the trace's stream configurations (not timed, as a
        deployment would at start-up for the configurations it expects; the service does not yet)."""
        seen: dict[tuple[object, ...], StreamInfo] = {}
        for event in self.events:
            if event.request is not None:
                seen.setdefault(event.request.config_key(), StreamInfo("warm", event.request))
        if self.true_costs is not None:
            self.true_costs.set_hidden(self.hidden)
        self.policy.warm(list(seen.values()), self.alive, self.predictor)

    def run(self) -> SimResult:
        """Run the whole trace; returns the figures."""
        self.warm()
        events = self.events
        i = 0
        for epoch in range(int(self.duration_s)):
            self.clock.set(float(epoch))
            changed = False
            while i < len(events) and events[i].time < epoch + 1:
                changed |= self._apply(events[i])
                i += 1
            if changed:
                self.decide()
            self._frames()
            self.policy.maintain()
            if self.policy.wants_replan() or self.policy.wants_rebalance():
                self.decide()
        self.result.retrains = getattr(self.predictor, "retrains", 0) if self.predictor is not None else 0
        return self.result

    def _apply(self, event: Event) -> bool:
        if event.kind == "arrive" and event.request is not None:
            now = self.clock.now()
            self.streams[event.stream] = StreamInfo(event.stream, event.request, since=now, arrived=now)
        elif event.kind == "depart":
            if self.streams.pop(event.stream, None) is None:
                return False
            self.policy.on_stream_closed(event.stream)
        elif event.kind == "switch" and event.request is not None:
            info = self.streams.get(event.stream)
            if info is None:
                return False
            info.request = event.request
        elif event.kind == "fail":
            self.alive = [d for d in self.alive if d.id != event.device]
            lost = 0
            for info in self.streams.values():
                if info.assignment is not None and info.assignment.device == event.device:
                    lost += int(info.request.fps * 0.5)  # frames in flight when the device went away
            self.result.frames += lost
            self.policy.on_devices_changed(self.alive)
        elif event.kind == "neighbour":
            self.hidden[event.device] = event.value
            # Hidden from real policies (they see it only in frame times); the oracle knows in hindsight.
            return self.true_costs is not None and self.policy.name == "oracle"
        return True

    def _frames(self) -> None:
        infos = [s for s in self.streams.values() if s.assignment is not None]
        self.result.device_epochs += len(self.alive)
        self.result.max_streams = max(self.result.max_streams, len(infos))
        if not infos:
            return
        placed = [(s.request, s.assignment) for s in infos if s.assignment is not None]
        solo = np.array([sum(self._solo_ms(request, a.tier, a.device)) for request, a in placed])
        fps = np.array([s.request.fps for s in infos])
        busy = np.minimum(1.0, solo * fps / 1e3)
        dev_ids = [s.assignment.device for s in infos]  # type: ignore[union-attr]
        totals: dict[str, float] = {}
        for d, b in zip(dev_ids, busy, strict=True):
            totals[d] = totals.get(d, 0.0) + float(b)
        others = np.array([totals[d] for d in dev_ids]) - busy
        hidden = np.array([self.hidden.get(d, 0.0) for d in dev_ids])
        slow = np.array([float(self.devices[d].slowdown(b, o + h))
                         for d, b, o, h in zip(dev_ids, busy, others, hidden, strict=True)])
        median = solo * slow
        sigma = np.array([self.devices[d].sigma for d in dev_ids])
        deadline = 1e3 / fps
        z = (np.log(deadline) - np.log(median)) / sigma
        # A device asked for more than all of its time cannot keep up: every frame on it is late.
        p_miss = np.array([1.0 if not np.isfinite(m) else 0.5 * math.erfc(v / math.sqrt(2.0))
                           for m, v in zip(median, z, strict=True)])
        median = np.where(np.isfinite(median), median, deadline * 10.0)
        z = np.where(np.isfinite(z), z, -10.0)
        frames = fps.astype(np.int64)
        misses = self.rng.binomial(frames, p_miss)
        gains = np.array([self.quality.stream_gain(s.request, s.assignment.tier)  # type: ignore[union-attr]
                          for s in infos])
        on_time = frames - misses
        self.result.frames += int(frames.sum())
        self.result.on_time_frames += int(on_time.sum())
        self.result.dpsnr_sum += float((on_time * gains).sum())
        self.result.realtime_stream_epochs += float((misses == 0).sum())
        for s in infos:
            tier = s.assignment.tier  # type: ignore[union-attr]
            self.result.tier_epochs[tier] = self.result.tier_epochs.get(tier, 0) + 1
        self._observe(infos, median, sigma, deadline, misses, p_miss)

    def _observe(self, infos: list[StreamInfo], median: np.ndarray, sigma: np.ndarray, deadline: np.ndarray,
                 misses: np.ndarray, p_miss: np.ndarray) -> None:
        k = self.observations
        z = self.rng.standard_normal((len(infos), k))
        samples = median[:, None] * np.exp(sigma[:, None] * z)
        planned = getattr(self.policy, "planned", None)
        for i, info in enumerate(infos):
            row = samples[i]
            if misses[i] > 0 and row.max() <= deadline[i]:
                # The epoch had a late frame: show one (drawn from the tail beyond the deadline).
                u = 1.0 - p_miss[i] * float(self.rng.random())
                row[0] = median[i] * math.exp(sigma[i] * _NORMAL.inv_cdf(min(max(u, 1e-12), 1 - 1e-12)))
            for value in row:
                self.policy.on_frame_done(info.id, float(value))
            if planned is not None:
                plan = planned(info.id)
                if plan is not None:
                    self.result.prediction_pairs.append((plan.p50_ms, float(median[i])))


def run_policy(rig: Rig, spec: WorkloadSpec, policy_factory: Any, *, seed: int, quality: QualityTable,
               predictor: PerfPredictor | None = None) -> SimResult:
    """Simulate ``policy_factory(clock, rng, true_costs)`` on ``spec`` (fresh clock, same trace per seed)."""
    import random

    clock = FakeClock(0.0)
    true_costs = TrueCost(rig)
    policy = policy_factory(clock=clock, rng=random.Random(seed), true_costs=true_costs)
    events = generate_events(spec, seed)
    sim = Simulation(rig, events, policy, clock, predictor=predictor, quality=quality, duration_s=spec.duration_s,
                     true_costs=true_costs, seed=seed + 1)
    return sim.run()

