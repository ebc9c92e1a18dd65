"""``schedule-bench``: every policy on every workload of the simulated rig, plus predictor accuracy,
decision latency and (optionally) live streams through the real engine on this machine.

The simulated rig is built from the measured profile (``simulator.build_rig``): the measured CPU
plus derived devices. The JSON output has the fixed shape

    {"predictor": {"within_10pct", "mape", "split", ...},
     "workloads": {"steady" | "flash_crowd" | "drift" | "failure": {POLICY: {"on_time", "streams_per_device",
                   "mean_dpsnr", "migrations_per_hour", ...}}},
     "decision_ms_p99_64_streams": float, ...}

with extra keys beside the required ones (rig description, quality sources, real mode).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from streamenhance.scheduler.clock import FakeClock
from streamenhance.scheduler.costs import TableCost
from streamenhance.scheduler.dataset import train_on_profiles
from streamenhance.scheduler.policies.learned import LearnedPolicy
from streamenhance.scheduler.policy import make_policy
from streamenhance.scheduler.predictor import PerfPredictor
from streamenhance.scheduler.profile import Profile, default_profile
from streamenhance.scheduler.quality import QualityTable, quality_table
from streamenhance.scheduler.simulator import (
    FPS_MIX,
    RESOLUTION_MIX,
    Rig,
    WorkloadSpec,
    build_rig,
    nominal_capacity,
    sized_rig,
    rate_for_load,
    run_policy,
    unservable,
    standard_workloads,
)
from streamenhance.scheduler.streams import StreamInfo, StreamRequest

POLICIES = ("learned", "static_smallest", "static_largest", "greedy_flops", "round_robin", "least_loaded",
            "offline_table", "oracle")
WORKLOADS = ("steady", "flash_crowd", "drift", "failure")
REQUIRED_KEYS = ("on_time", "streams_per_device", "mean_dpsnr", "migrations_per_hour")


@dataclass
class BenchConfig:
    """What to run.

    Attributes:
        profile: measured profile file (default: the shipped one).
        duration_s: simulated seconds per workload; rate_per_s: stream arrivals per second (default:
            steady mean concurrency = ``load`` x the rig's nominal smallest-tier capacity).
        predictor_steps: offline training steps; holdout: share of cells held out for the accuracy figure.
        real: live streams through the real engine (0 = skip); real_seconds, real_size, real_fps: their shape.
        decision_trials: re-plans timed for the decision latency.
    """

    profile: Path | None = None
    duration_s: float = 1800.0
    rate_per_s: float | None = None
    load: float = 0.2
    seed: int = 0
    policies: Sequence[str] = POLICIES
    workloads: Sequence[str] = WORKLOADS
    predictor_steps: int = 1500
    holdout: float = 0.25
    real: int = 0
    real_seconds: float = 20.0
    real_size: tuple[int, int] = (480, 270)
    real_fps: float = 10.0
    decision_trials: int = 300
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def policy_factory(name: str, rig: Rig, predictor: PerfPredictor, quality: QualityTable,
                   table: TableCost) -> Callable[..., Any]:
    """A factory ``(clock, rng, true_costs) -> Policy`` for the simulator."""

    def make(*, clock: FakeClock, rng: random.Random, true_costs: Any) -> Any:
        common: dict[str, Any] = {"clock": clock, "rng": rng, "quality": quality}
        if name == "learned":
            return LearnedPolicy(predictor=predictor.clone(clock=clock), **common)
        if name == "oracle":
            return make_policy(name, true_costs=true_costs, **common)
        if name in ("offline_table", "round_robin", "least_loaded"):
            return make_policy(name, table=table, **common)
        return make_policy(name, **common)

    return make


def run_workloads(cfg: BenchConfig, rig: Rig, predictor: PerfPredictor, quality: QualityTable) -> dict[str, Any]:
    """Simulate every (workload, policy); returns ``{workload: {policy: summary}}``."""
    from tqdm import tqdm

    assert cfg.rate_per_s is not None
    specs = standard_workloads(cfg.duration_s, cfg.rate_per_s)
    table = TableCost(rig.profiles())
    out: dict[str, Any] = {}
    jobs = [(w, p) for w in cfg.workloads for p in cfg.policies]
    bar = tqdm(jobs, desc="schedule-bench", unit="run", disable=not cfg.progress, dynamic_ncols=True)
    for workload, name in bar:
        bar.set_postfix_str(f"{workload} {name}")
        spec: WorkloadSpec = specs[workload]
        factory = policy_factory(name, rig, predictor, quality, table)
        holder: dict[str, Any] = {}

        def tracked(**kwargs: Any) -> Any:
            holder["policy"] = factory(**kwargs)
            return holder["policy"]

        started = time.perf_counter()
        result = run_policy(rig, spec, tracked, seed=cfg.seed, quality=quality)
        summary = result.summary()
        policy = holder["policy"]
        if name == "learned":
            summary["retrains"] = float(policy.predictor.retrains)
        summary["wall_s"] = time.perf_counter() - started
        out.setdefault(workload, {})[name] = summary
    return out


def random_request(rng: np.random.Generator) -> StreamRequest:
    weights = np.array([w for _, w in RESOLUTION_MIX])
    (w, h) = RESOLUTION_MIX[int(rng.choice(len(RESOLUTION_MIX), p=weights / weights.sum()))][0]
    fps = FPS_MIX[int(rng.choice(len(FPS_MIX), p=[f[1] for f in FPS_MIX]))][0]
    return StreamRequest(w, h, fps, 2.0, "auto" if rng.random() < 0.5 else "off", float(rng.uniform(1000, 50000)))


def decision_latency(rig: Rig, predictor: PerfPredictor, quality: QualityTable, *, streams: int = 64,
                     trials: int = 300, seed: int = 0) -> dict[str, Any]:
    """Time ``learned``'s decisions with ``streams`` active streams on the rig.

    Each trial is one departure plus one arrival followed by ``choose`` over all streams (the decision
    the arrival waits for: the fast placement, or the full plan when the newcomer fits nowhere as
    things stand), then the full plan the maintenance pass runs after a fast placement (timed
    separately as ``rebalance``: it runs off the decision path); cost grids of the workload's
    configurations are computed beforehand (``warm``; the service does not warm yet). Also reports full re-plans (no stream placed yet) and
    the cold grid computation.
    """
    rng = np.random.default_rng(seed)
    clock = FakeClock(0.0)
    policy = LearnedPolicy(predictor=predictor.clone(clock=clock), clock=clock, quality=quality)
    devices = rig.infos()
    configs = [StreamInfo(f"c{i}", StreamRequest(w, h, f, 2.0, m)) for i, ((w, h), f, m) in enumerate(
        ((r, f, m) for r, _ in RESOLUTION_MIX for f, _ in FPS_MIX for m in ("off", "auto")))]
    started = time.perf_counter()
    policy.warm(configs, devices)
    cold_ms = (time.perf_counter() - started) * 1e3
    active = [StreamInfo(f"s{i}", random_request(rng)) for i in range(streams)]
    for info, a in policy.choose(active, devices, None).items():
        next(s for s in active if s.id == info).assignment = a
    times, cpu, full, rebalance, fast = [], [], [], [], 0
    for trial in range(trials):
        policy.on_stream_closed(active.pop(int(rng.integers(len(active)))).id)
        active.append(StreamInfo(f"n{trial}", random_request(rng), since=clock.now()))
        c0, t0 = time.process_time(), time.perf_counter()
        chosen = policy.choose(active, devices, None)
        times.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
        for info in active:
            info.assignment = chosen[info.id]
        if policy.wants_rebalance():
            # The maintenance pass's full plan (off the decision path in the service and simulator).
            fast += 1
            t0 = time.perf_counter()
            chosen = policy.choose(active, devices, None)
            rebalance.append((time.perf_counter() - t0) * 1e3)
            for info in active:
                info.assignment = chosen[info.id]
        clock.advance(1.0)
    for _ in range(max(trials // 10, 5)):
        fresh = [StreamInfo(s.id, s.request) for s in active]
        t0 = time.perf_counter()
        policy.choose(fresh, devices, None)
        full.append((time.perf_counter() - t0) * 1e3)
    from streamenhance.scheduler.profile import conditions

    return {"p99_ms": float(np.percentile(times, 99)), "p50_ms": float(np.median(times)),
            "cpu_p99_ms": float(np.percentile(cpu, 99)), "cpu_p50_ms": float(np.median(cpu)),
            "conditions": conditions(),
            "full_replan_p99_ms": float(np.percentile(full, 99)), "cold_grids_ms": cold_ms,
            "fast_path_share": fast / trials,
            "rebalance_p99_ms": float(np.percentile(rebalance, 99)) if rebalance else float("nan"),
            "streams": float(streams), "devices": float(len(devices)), "trials": float(trials)}


def run_bench(cfg: BenchConfig) -> dict[str, Any]:
    """Everything ``schedule-bench`` reports (see the module docstring for the shape)."""
    profile = Profile.load(cfg.profile) if cfg.profile else default_profile()
    rig = build_rig(profile)
    profiles = rig.profiles()
    quality = quality_table()
    capacity = nominal_capacity(rig)
    if cfg.rate_per_s is None:
        cfg.rate_per_s = rate_for_load(rig, cfg.load)
    started = time.perf_counter()
    _held, report = train_on_profiles(profiles, seed=cfg.seed, steps=cfg.predictor_steps, holdout=cfg.holdout)
    predictor, full_report = train_on_profiles(profiles, seed=cfg.seed, steps=cfg.predictor_steps)
    train_s = time.perf_counter() - started
    test = report["test"]
    result: dict[str, Any] = {
        "predictor": {"within_10pct": test["within_10pct"], "mape": test["mape"], "split": report["split"],
                      "p95_within_10pct": test["p95_within_10pct"], "p95_mape": test["p95_mape"],
                      "colocated": report.get("test_colocated"), "measured_device": report.get("test_measured_device"),
                      "train": report["train"], "train_seconds_both_fits": train_s},
    }
    result["workloads"] = run_workloads(cfg, rig, predictor, quality)
    # 64 streams on a rig sized for them (more gpu-l devices), and on the default rig, where most of
    # them are over capacity (every decision is a full plan that makes room and fails).
    latency = decision_latency(sized_rig(profile, 64), predictor, quality, trials=cfg.decision_trials, seed=cfg.seed)
    latency["rig"] = "default rig + gpu-l devices until 64 streams are 55% of the nominal capacity"
    latency["saturated_default_rig"] = decision_latency(rig, predictor, quality, trials=cfg.decision_trials,
                                                        seed=cfg.seed)
    result["decision_ms_p99_64_streams"] = latency["p99_ms"]
    result["decision"] = latency
    learned = [w["learned"] for w in result["workloads"].values() if "learned" in w]
    for key, name in (("online_mape", "online_mape_sim"), ("online_within_10pct", "online_within_10pct_sim")):
        values = [s[key] for s in learned if np.isfinite(s[key])]
        result["predictor"][name] = float(np.mean(values)) if values else float("nan")
    result["rig"] = rig.describe()
    result["rig_unservable_configs"] = unservable(rig)
    result["profile"] = {"device": profile.device.as_dict(), "meta": profile.meta}
    result["quality"] = quality.summary()
    result["config"] = {"duration_s": cfg.duration_s, "rate_per_s": cfg.rate_per_s, "load": cfg.load,
                        "nominal_capacity_streams": capacity, "seed": cfg.seed,
                        "predictor_steps": cfg.predictor_steps, "holdout": cfg.holdout}
    if cfg.real:
        from streamenhance.scheduler.realrun import run_real

        result["real"] = run_real(cfg.real, cfg.real_seconds, cfg.real_size, cfg.real_fps, profile, seed=cfg.seed)
    return result


def check_shape(result: dict[str, Any]) -> list[str]:
    """Problems with ``result``'s required shape (empty when it is right)."""
    problems = []
    pred = result.get("predictor", {})
    if not (isinstance(pred.get("within_10pct"), float) and 0.0 <= pred["within_10pct"] <= 1.0):
        problems.append("predictor.within_10pct must be a float in 0..1")
    if not isinstance(pred.get("mape"), float):
        problems.append("predictor.mape must be a float")
    if not isinstance(pred.get("split"), str):
        problems.append("predictor.split must be a string")
    for workload, policies in result.get("workloads", {}).items():
        if workload not in WORKLOADS:
            problems.append(f"unknown workload {workload}")
        for name, summary in policies.items():
            if name not in POLICIES:
                problems.append(f"unknown policy {name}")
            for key in REQUIRED_KEYS:
                if not isinstance(summary.get(key), float):
                    problems.append(f"workloads.{workload}.{name}.{key} must be a float")
            if not 0.0 <= summary.get("on_time", -1.0) <= 1.0:
                problems.append(f"workloads.{workload}.{name}.on_time must be in 0..1")
    if not isinstance(result.get("decision_ms_p99_64_streams"), float):
        problems.append("decision_ms_p99_64_streams must be a float")
    return problems


def markdown(result: dict[str, Any]) -> str:
    """The results as Markdown tables (policies x workloads)."""
    lines = []
    p = result["predictor"]
    lines.append(f"Predictor (held-out): {p['within_10pct']:.1%} of p50 predictions within ±10%, MAPE {p['mape']:.1%} "
                 f"(p95: {p['p95_within_10pct']:.1%}, {p['p95_mape']:.1%}); split: {p['split']}")
    lines.append("")
    d = result["decision"]
    lines.append(f"Decision latency, 64 streams ({d.get('devices', 0):.0f} devices): p99 "
                 f"{result['decision_ms_p99_64_streams']:.3f} ms wall, {d['cpu_p99_ms']:.3f} ms CPU, "
                 f"{d.get('fast_path_share', 0.0):.0%} placed on the fast path; the full plan that follows "
                 f"(maintenance pass) p99 {d.get('rebalance_p99_ms', float('nan')):.3f} ms, a plan from scratch "
                 f"p99 {d['full_replan_p99_ms']:.3f} ms; load average {d['conditions']['load_avg_1m']:.1f}")
    sat = d.get("saturated_default_rig")
    if sat:
        lines.append(f"On the default {sat['devices']:.0f}-device rig (64 streams, most over capacity): p99 "
                     f"{sat['p99_ms']:.3f} ms, {sat['fast_path_share']:.0%} on the fast path")
    for workload, policies in result["workloads"].items():
        lines += ["", f"**{workload}**", "",
                  "| policy | on time | real-time streams / device | mean ΔPSNR (dB) | migrations / h "
                  "| tier switches / h | max streams |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for name, s in policies.items():
            lines.append(f"| {name} | {s['on_time']:.4%} | {s['streams_per_device']:.2f} | {s['mean_dpsnr']:.3f} | "
                         f"{s['migrations_per_hour']:.1f} | {s.get('tier_switches_per_hour', 0.0):.1f} | "
                         f"{s.get('max_streams', 0):.0f} |")
    if "real" in result:
        lines += ["", *real_table(result["real"])]
    return "\n".join(lines)


def real_table(real: dict[str, Any]) -> list[str]:
    """Markdown lines of the real-engine runs (one row per policy)."""
    width, height = real["size"]
    lines = [f"Real engine on this CPU: {real['streams']} streams of {width}x{height} at {real['fps']:g} fps, "
             f"{real['seconds']:.0f} s per policy", "",
             "| policy | on time | missed frames | mean ΔPSNR (dB) | mean ms | p95 ms | tiers (frames) | predictor MAPE |",
             "|---|---:|---:|---:|---:|---:|---|---:|"]
    for name, r in real["policies"].items():
        tiers = ", ".join(f"{t} {n}" for t, n in r["tiers"].items())
        lines.append(f"| {name} | {r['on_time']:.1%} | {r['missed']} | {r['mean_dpsnr']:.3f} | {r['mean_ms']:.1f} | "
                     f"{r['p95_ms']:.1f} | {tiers} | {r['predictor_mape']:.1%} |")
    return lines

