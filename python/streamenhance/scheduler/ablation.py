"""Which part of ``learned``'s online learning helps: the simulator with parts of it switched off.

    .venv/bin/python -m streamenhance.scheduler.ablation [--duration 1800] [--optimism 0 0.5 1]
        [--retrain] [--frozen] [--workloads steady flash_crowd drift]

Same rig, predictor (1500 steps on the shipped profile), workloads and seed as ``schedule-bench``;
each variant builds ``LearnedPolicy`` over a clone of the predictor with the given ``optimism``
(share of a "faster than predicted" correction applied) and ``retrain``. Prints one JSON line per
(variant, workload): on time, mean ΔPSNR, migrations per hour. Retraining variants take ~2.5 min each.
"""

from __future__ import annotations

import argparse
import json
import random
from typing import Any

from streamenhance.scheduler.bench import WORKLOADS, rate_for_load
from streamenhance.scheduler.clock import FakeClock
from streamenhance.scheduler.dataset import train_on_profiles
from streamenhance.scheduler.policies.learned import LearnedPolicy
from streamenhance.scheduler.predictor import PerfPredictor
from streamenhance.scheduler.profile import default_profile
from streamenhance.scheduler.quality import QualityTable, quality_table
from streamenhance.scheduler.simulator import build_rig, run_policy, standard_workloads


def variant_factory(predictor: PerfPredictor, quality: QualityTable, *, optimism: float, retrain: bool,
                    frozen: bool) -> Any:
    """A simulator policy factory for one variant (``frozen``: no online learning at all)."""

    def make(*, clock: FakeClock, rng: random.Random, true_costs: Any) -> LearnedPolicy:
        clone = predictor.clone(clock=clock)
        clone.optimism = optimism
        policy = LearnedPolicy(predictor=clone, clock=clock, rng=rng, quality=quality, retrain=retrain)
        if frozen:
            policy.on_frame_done = lambda *args, **kwargs: None  # type: ignore[method-assign]
        return policy

    return make


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=1800.0, help="simulated seconds per workload")
    parser.add_argument("--optimism", type=float, nargs="+", default=[0.0, 0.5, 1.0])
    parser.add_argument("--retrain", action="store_true", help="also run each optimism with retraining")
    parser.add_argument("--frozen", action="store_true", help="also run without any online learning")
    parser.add_argument("--workloads", nargs="+", choices=WORKLOADS, default=["steady", "flash_crowd", "drift"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rig = build_rig(default_profile())
    quality = quality_table()
    predictor, _report = train_on_profiles(rig.profiles(), seed=args.seed, steps=1500)
    specs = standard_workloads(args.duration, rate_for_load(rig, 0.2))
    variants = [{"optimism": o, "retrain": r, "frozen": False} for o in args.optimism
                for r in ([False, True] if args.retrain else [False])]
    if args.frozen:
        variants.insert(0, {"optimism": 0.0, "retrain": False, "frozen": True})
    for variant in variants:
        factory = variant_factory(predictor, quality, **variant)
        for workload in args.workloads:
            summary = run_policy(rig, specs[workload], factory, seed=args.seed, quality=quality).summary()
            print(json.dumps({**variant, "workload": workload,
                              **{k: round(float(summary[k]), 6) for k in ("on_time", "mean_dpsnr",
                                                                           "migrations_per_hour")}}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
