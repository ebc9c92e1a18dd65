"""``streamenhance profile --json OUT``: measure the engine's cost per (tier, resolution, co-located streams)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from streamenhance.cli.options import add_cell_limit_flags, positive_int
from streamenhance.scheduler.variants import LADDER

RESOLUTIONS = ("360p", "480p", "720p", "1080p")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("profile", help="measure model costs on this machine for the scheduler",
                                   description=__doc__)
    parser.add_argument("--json", type=Path, required=True, metavar="OUT", help="profile file to write")
    parser.add_argument("--device", default="cpu", help="cpu or cuda:N (default cpu)")
    parser.add_argument("--kinds", nargs="+", choices=("sr", "ar"), default=["sr", "ar"])
    parser.add_argument("--tiers", nargs="+", choices=LADDER, default=list(LADDER),
                        help="rungs to measure (default all; bicubic = the native scaler, no network)")
    parser.add_argument("--resolutions", nargs="+", choices=RESOLUTIONS, default=list(RESOLUTIONS))
    parser.add_argument("--colocated", nargs="+", type=positive_int, default=[1, 2, 4], metavar="K",
                        help="streams running at once (default 1 2 4)")
    add_cell_limit_flags(parser, min_frames=5, min_seconds=2.0, max_seconds=30.0, what="frames per stream and cell")
    parser.add_argument("--update", action="store_true",
                        help="add the measured cells to the existing --json profile (same device) instead of "
                             "replacing it; the update is recorded in its meta")
    parser.add_argument("--smoke", action="store_true", help="mark the result as a smoke profile (not for scheduling)")
    parser.add_argument("--wait-idle", type=float, default=0.0, metavar="MINUTES",
                        help="first wait (polling every 5 minutes) until no `streamenhance train` runs, "
                             "at most this long")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def wait_idle(minutes: float, poll_s: float = 300.0) -> bool:
    """Wait until no training process runs (at most ``minutes``); True when the machine is free."""
    from streamenhance.scheduler.profile import training_processes

    deadline = time.monotonic() + minutes * 60.0
    while True:
        running = training_processes()
        if not running:
            return True
        if time.monotonic() >= deadline:
            return False
        print(f"profile: {len(running)} training process(es) running; checking again in {poll_s / 60:.0f} min",
              file=sys.stderr)
        time.sleep(min(poll_s, max(deadline - time.monotonic(), 1.0)))


def run(args: argparse.Namespace) -> int:
    from streamenhance.scheduler.profile import CellLimits, Profile, format_command, measure_profile

    if args.wait_idle > 0 and not wait_idle(args.wait_idle):
        print("profile: training still running after the wait; measuring anyway (marked as not valid)", file=sys.stderr)
    limits = CellLimits(min_frames=args.min_frames, min_seconds=args.min_seconds, max_seconds=args.max_seconds)
    profile = measure_profile(
        kinds=args.kinds, tiers=args.tiers, resolutions=args.resolutions, colocated=args.colocated, limits=limits,
        device=args.device, progress=not args.no_progress, command=format_command(sys.argv[1:]), smoke=args.smoke,
    )
    if args.update:
        profile = Profile.load(args.json).updated(profile)
    profile.save(args.json)
    valid = profile.meta["conditions"]["valid"]
    print(f"wrote {args.json}: {len(profile.rows)} cells in {profile.meta['seconds']:.0f} s"
          + ("" if valid else " (NOT valid for scheduling: smoke run or other jobs were running)"))
    for note in profile.meta["notes"]:
        print(f"note: {note}")
    return 0
