"""``schedule-bench --real N``: N live streams through the real engine on this CPU, one run per policy.

``learned`` is compared in the same run with the static tiers (smallest and largest), one policy after
the other on the same machine.

Each stream is a thread with its own Enhancers (one per rung of the ladder, ``bicubic`` included),
fed random frames at its frame rate; before every frame it reads its assignment, after it reports the
engine time. A frame that starts more than one interval late is skipped and counted as missed. The
predictor is trained on the measured profile of this machine only. ΔPSNR is the quality table's gain
of the tier each on-time frame ran at (late and skipped frames count 0). The numbers are only as good
as the machine is quiet.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from streamenhance.scheduler.clock import MonotonicClock
from streamenhance.scheduler.dataset import train_on_profiles
from streamenhance.scheduler.policy import StaticPlacement
from streamenhance.scheduler.profile import Profile, conditions, prepare_weights
from streamenhance.scheduler.quality import quality_table
from streamenhance.scheduler.service import Scheduler
from streamenhance.scheduler.streams import StreamRequest
from streamenhance.scheduler.variants import LADDER


REAL_POLICIES = ("learned", "static_smallest", "static_largest")


def run_real(streams: int, seconds: float, size: tuple[int, int], fps: float, profile: Profile, *,
             seed: int = 0, steps: int = 800, policies: tuple[str, ...] = REAL_POLICIES) -> dict[str, Any]:
    """Run ``streams`` live streams of ``size`` at ``fps`` for ``seconds`` under each policy in turn."""
    from dataclasses import replace

    device = replace(profile.device, id="cpu")
    local = Profile(device, profile.rows, profile.meta)
    predictor, _ = train_on_profiles([local], seed=seed, steps=steps, clock=MonotonicClock())
    before = conditions()
    results = {name: _run_policy(name, predictor, device, streams, seconds, size, fps, seed) for name in policies}
    return {"streams": streams, "seconds": seconds, "size": list(size), "fps": fps, "policies": results,
            "conditions": {"before": before, "after": conditions()}}


def _run_policy(policy: str, predictor: Any, device: Any, streams: int, seconds: float, size: tuple[int, int],
                fps: float, seed: int) -> dict[str, Any]:
    from streamenhance.engine import Enhancer

    scheduler = Scheduler(policy, placement=StaticPlacement([device]), predictor=predictor.clone())
    records: list[list[tuple[float, float, str, float]]] = [[] for _ in range(streams)]
    skipped = [0] * streams
    rng = np.random.default_rng(seed)
    frame = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    with tempfile.TemporaryDirectory(prefix="streamenhance-real-") as tmp:
        folder = Path(tmp)
        prepare_weights(folder, ("sr",), LADDER)
        # Every stream's engines are built and warmed before the clock starts: a tier switch mid-run then
        # costs what the frame costs, and a static policy is not charged for building its engine.
        engines = [{tier: Enhancer(2.0, "off", tier, "cpu", weights_dir=folder) for tier in LADDER}
                   for _ in range(streams)]
        for per_stream in engines:
            for engine in per_stream.values():
                engine.enhance(frame)
        request = StreamRequest(size[0], size[1], fps, 2.0, "off")
        handles = [scheduler.register_stream(request) for _ in range(streams)]
        start = time.perf_counter() + 0.5
        end = start + seconds

        def worker(i: int) -> None:
            handle = handles[i]
            deadline = 1e3 / fps
            due = start
            while True:
                now = time.perf_counter()
                if now >= end:
                    break
                if now < due:
                    time.sleep(due - now)
                elif now - due > 1.0 / fps:
                    late = int((now - due) * fps)
                    skipped[i] += late
                    due += late / fps
                assignment = handle.assignment
                engine = engines[i][assignment.tier]
                planned = scheduler.policy.planned(handle.id) if hasattr(scheduler.policy, "planned") else None
                t0 = time.perf_counter()
                engine.enhance(frame)
                ms = (time.perf_counter() - t0) * 1e3
                handle.report(ms)
                records[i].append((ms, deadline, assignment.tier, planned.p50_ms if planned else float("nan")))
                due += 1.0 / fps
                if i == 0:
                    scheduler.maintain()
            if due < end:  # frames that fell due while the last one ran past the end never started
                skipped[i] += int((end - due) * fps)

        threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(streams)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for handle in handles:
            handle.close()
    flat = [r for rec in records for r in rec]
    total = len(flat) + sum(skipped)
    on_time = sum(1 for ms, deadline, _, _ in flat if ms <= deadline)
    pairs = np.array([(p, ms) for ms, _, _, p in flat if np.isfinite(p)]) if flat else np.zeros((0, 2))
    errors = np.abs(pairs[:, 0] / pairs[:, 1] - 1.0) if len(pairs) else np.zeros(0)
    tiers: dict[str, int] = {}
    for _, _, tier, _ in flat:
        tiers[tier] = tiers.get(tier, 0) + 1
    quality = quality_table()
    gained = sum(quality.stream_gain(request, tier) for ms, deadline, tier, _ in flat if ms <= deadline)
    scheduler.close()
    return {
        "frames": len(flat), "skipped": sum(skipped), "on_time": on_time / max(total, 1),
        "missed": total - on_time, "mean_dpsnr": gained / max(total, 1),
        "mean_ms": float(np.mean([r[0] for r in flat])) if flat else float("nan"),
        "p95_ms": float(np.percentile([r[0] for r in flat], 95)) if flat else float("nan"),
        "tiers": tiers, "predictor_mape": float(errors.mean()) if errors.size else float("nan"),
        "predictor_within_10pct": float((errors <= 0.1).mean()) if errors.size else float("nan"),
        "decisions": scheduler.snapshot()["decisions"],
    }
