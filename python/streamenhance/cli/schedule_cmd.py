"""``streamenhance schedule-bench --json OUT``: every scheduling policy on simulated workloads, from measured costs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from streamenhance.cli.options import positive_int


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError(f"expected a positive size, got {text!r}")
    return width, height


# Same as scheduler.bench.POLICIES / WORKLOADS (a test checks): importing the bench here would import torch
# for `streamenhance --help`.
POLICIES = ("learned", "static_smallest", "static_largest", "greedy_flops", "round_robin", "least_loaded",
            "offline_table", "oracle")
WORKLOADS = ("steady", "flash_crowd", "drift", "failure")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("schedule-bench", help="benchmark the scheduling policies", description=__doc__)
    parser.add_argument("--json", type=Path, required=True, metavar="OUT", help="results file to write")
    parser.add_argument("--real", type=int, default=0, metavar="N", help="also run N live streams through the engine")
    parser.add_argument("--real-seconds", type=float, default=20.0, help="length of the live run (default 20)")
    parser.add_argument("--real-size", type=_size, default=(480, 270), help="live stream input size (default 480x270)")
    parser.add_argument("--real-fps", type=float, default=10.0, help="live stream frame rate (default 10)")
    parser.add_argument("--profile", type=Path, default=None, help="measured profile (default: the shipped one)")
    parser.add_argument("--duration", type=float, default=1800.0, help="simulated seconds per workload (default 1800)")
    parser.add_argument("--rate", type=float, default=None,
                        help="stream arrivals per second (default: from --load)")
    parser.add_argument("--load", type=float, default=0.2,
                        help="steady mean concurrency as a share of the rig's nominal smallest-tier capacity "
                             "(default 0.2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--policies", nargs="+", choices=POLICIES, default=list(POLICIES))
    parser.add_argument("--workloads", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    parser.add_argument("--steps", type=positive_int, default=1500, help="predictor training steps (default 1500)")
    parser.add_argument("--decision-trials", type=positive_int, default=300)
    parser.add_argument("--save-predictor", type=Path, default=None, metavar="PATH",
                        help="also train the predictor on the measured profile alone and save it (safetensors)")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from streamenhance.scheduler.bench import BenchConfig, check_shape, markdown, run_bench

    cfg = BenchConfig(profile=args.profile, duration_s=args.duration, seed=args.seed, policies=args.policies,
                      workloads=args.workloads, predictor_steps=args.steps, real=args.real,
                      real_seconds=args.real_seconds, real_size=args.real_size, real_fps=args.real_fps,
                      decision_trials=args.decision_trials, progress=not args.no_progress, load=args.load)
    if args.rate is not None:
        cfg.rate_per_s = args.rate
    result = run_bench(cfg)
    invoked = Path(sys.argv[0]).name == "streamenhance"
    in_process = "streamenhance schedule-bench (in-process)"
    result["command"] = "streamenhance " + " ".join(sys.argv[1:]) if invoked else in_process
    problems = check_shape(result)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1, default=float) + "\n")
    print(markdown(result))
    print(f"\nwrote {args.json}")
    if args.save_predictor is not None:
        _save_predictor(args)
    if problems:
        print("result shape problems: " + "; ".join(problems), file=sys.stderr)
        return 1
    return 0


def _save_predictor(args: argparse.Namespace) -> None:
    from streamenhance.scheduler.dataset import train_on_profiles
    from streamenhance.scheduler.profile import Profile, default_profile

    profile = Profile.load(args.profile) if args.profile else default_profile()
    predictor, report = train_on_profiles([profile], seed=args.seed, steps=args.steps)
    predictor.save(args.save_predictor, training={"profile_command": profile.meta.get("command", ""),
                                                  "profile_created": profile.stamp,
                                                  "report": report["train"], "steps": args.steps, "seed": args.seed})
    print(f"wrote {args.save_predictor}: predictor trained on {len(profile.rows)} measured rows")
