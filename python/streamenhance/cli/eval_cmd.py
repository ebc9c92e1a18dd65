"""``streamenhance eval``: ours beside bicubic and other projects' released models, under published protocols.

Suites: ``sr`` (Set5/Set14/BSD100, MATLAB-bicubic protocol, x2/x4), ``video`` (H.264-compressed input at
several CRFs, x2 SR and x1 artifact removal, temporal stability on Vid4 calendar), ``jpeg`` (Classic5 gray),
``auto`` (mode auto's mild/strong choice against the better of the two on clips synthesized from the held-out
training stills; not part of ``all``).
Writes a Markdown report to stdout (and ``--md``), every number to ``--json``, a PSNR-vs-speed plot to ``--plot``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from pathlib import Path

from streamenhance.cli.options import positive_int
from streamenhance.config import MODES, TIERS
from streamenhance.errors import ConfigError

SUITE_CHOICES = ("sr", "video", "jpeg", "auto", "all")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate ours and peers (SR sets, compressed video, JPEG; published protocols)",
        description=__doc__,
    )
    add = parser.add_argument
    add(
        "--data",
        type=Path,
        default=None,
        help="data root with eval/ (auto suite: train/) (default $STREAMENHANCE_DATA or ../shared/data)",
    )
    add("--suite", choices=SUITE_CHOICES, default="all", help="what to measure (default all)")
    add("--sets", default="Set5,Set14,BSD100", help="sr suite: comma-separated sets (default Set5,Set14,BSD100)")
    add("--scale", type=int, choices=(2, 4), action="append", help="sr suite: scale, repeatable (default 2 and 4)")
    add(
        "--mode",
        choices=MODES,
        default="off",
        help="sr suite: our artifact removal before SR (default off: clean sets)",
    )
    add("--video-modes", default="off,mild,strong", help="video/jpeg suites: our modes (default off,mild,strong)")
    add(
        "--tier",
        choices=TIERS,
        action="append",
        help="our SR tier(s) (default: every installed tier); auto suite: the AR tier (default: the engine's)",
    )
    add("--device", default="auto", help="device of ours (peers run on the CPU)")
    add(
        "--weights",
        type=Path,
        default=None,
        help="folder of our weights (default $STREAMENHANCE_WEIGHTS_DIR / packaged)",
    )
    add(
        "--peers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="include other projects' models (default on)",
    )
    add(
        "--peers-dir",
        type=Path,
        default=None,
        help="peers folder (default $STREAMENHANCE_PEERS or peers/ beside the data)",
    )
    add("--clips", default="calendar,pan_ppt3", help="video suite: clips (default calendar,pan_ppt3)")
    add("--crfs", default="23,28,33,38", help="video suite: H.264 CRFs (default 23,28,33,38)")
    add("--temporal-scales", default="2,4", help="video suite: scales of the calendar temporal test (default 2,4)")
    add("--qualities", default="10,20,30,40", help="jpeg suite: JPEG qualities (default 10,20,30,40)")
    add(
        "--limit",
        type=int,
        default=None,
        help="at most N images per set / frames per clip / held-out stills (auto suite) (quick runs)",
    )
    add(
        "--auto-frames",
        type=positive_int,
        default=None,
        help="auto suite: frames per clip (default 60: one GOP, a keyframe every 2 s at 30 fps, as calibrated)",
    )
    add("--speed-size", default="640x360", help="sr suite: WxH input of the fixed-size speed test, or 'off'")
    add("--speed-repeats", type=int, default=3, help="timed calls per method in the speed test (default 3)")
    add("--json", type=Path, default=None, help="write every number as JSON here")
    add("--md", type=Path, default=None, help="write the Markdown report here")
    add("--plot", type=Path, default=None, help="write a PSNR vs ms/frame scatter (PNG) here")
    add("--plot-set", default="Set5", help="set of the plot (default Set5)")
    add("--plot-scale", type=int, choices=(2, 4), default=2, help="scale of the plot (default 2)")
    parser.set_defaults(func=run)


def _ints(text: str, option: str, allowed: tuple[int, ...] | None = None) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"{option}: expected comma-separated integers, got {text!r}") from None
    bad = [v for v in values if allowed is not None and v not in allowed]
    if not values or bad:
        expected = f"values from {', '.join(map(str, allowed))}" if allowed else "at least one value"
        raise ConfigError(f"{option}: expected {expected}, got {text!r}")
    return values


def _names(text: str, option: str, allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
    values = tuple(v.strip() for v in text.split(",") if v.strip())
    bad = [v for v in values if allowed is not None and v not in allowed]
    if not values or bad:
        raise ConfigError(f"{option}: expected one or more of {', '.join(allowed or ())}, got {text!r}")
    return values


def _speed_size(text: str) -> tuple[int, int] | None:
    """``WxH`` -> (h, w); ``off`` -> None."""
    if text.lower() in ("off", "none", "0"):
        return None
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--speed-size: expected WxH (e.g. 640x360) or off, got {text!r}") from None
    if width < 8 or height < 8:
        raise ConfigError(f"--speed-size: expected sides >= 8, got {text!r}")
    return height, width


def run(args: argparse.Namespace) -> int:
    from streamenhance.engine.devices import resolve_device
    from streamenhance.evaluation import report, suites, video
    from streamenhance.evaluation.protocol import SET_FOLDERS
    from streamenhance.training.images import resolve_data_root

    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit: expected >= 1, got {args.limit}")
    if args.speed_repeats < 1:
        raise ConfigError(f"--speed-repeats: expected >= 1, got {args.speed_repeats}")
    for option, folder in (("--peers-dir", args.peers_dir), ("--weights", args.weights)):
        if folder is not None and not folder.is_dir():
            raise ConfigError(f"{option}: expected a folder, got {str(folder)!r}")
    device = str(resolve_device(args.device))  # "auto" -> the device ours really runs on, for the report
    names = ("sr", "video", "jpeg") if args.suite == "all" else (args.suite,)
    options = suites.SuiteOptions(
        data_root=resolve_data_root(args.data),
        sets=_names(args.sets, "--sets", tuple(SET_FOLDERS)),
        scales=tuple(dict.fromkeys(args.scale or (2, 4))),
        sr_mode=args.mode,
        modes=_names(args.video_modes, "--video-modes", ("off", "mild", "strong")),
        tiers=tuple(args.tier) if args.tier else None,
        device=device,
        weights_dir=args.weights,
        peers=args.peers,
        peers_root=args.peers_dir,
        clips=_names(args.clips, "--clips", ("calendar", *video.PAN_CLIPS)),
        crfs=_ints(args.crfs, "--crfs", tuple(range(52))),
        temporal_scales=_ints(args.temporal_scales, "--temporal-scales", (2, 4)),
        qualities=_ints(args.qualities, "--qualities", tuple(range(1, 101))),
        limit=args.limit,
        auto_frames=args.auto_frames,
        speed_hw=_speed_size(args.speed_size),
        speed_repeats=args.speed_repeats,
    )
    if args.plot and ("sr" not in names or args.plot_set not in options.sets or args.plot_scale not in options.scales):
        measured = f"--suite {args.suite}, sets {','.join(options.sets)}, scales {','.join(map(str, options.scales))}"
        raise ConfigError(
            f"--plot: expected the sr suite to measure {args.plot_set} x{args.plot_scale}, got {measured}"
        )
    started = time.perf_counter()
    result = {
        "options": asdict(options),
        "environment": report.environment(device),
        **suites.run_suites(names, options),
    }
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["environment"]["load_average_end"] = report.environment(device)["load_average"]
    markdown = report.render_markdown(result)
    print(markdown)
    if args.json:
        report.write_json(args.json, result)
    if args.md:
        args.md.parent.mkdir(parents=True, exist_ok=True)
        args.md.write_text(markdown)
    if args.plot:
        report.write_plot(args.plot, result, args.plot_set, args.plot_scale)
    return 0
