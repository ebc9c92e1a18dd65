"""``streamenhance demo``: the main job on an embedded default clip (no external files)."""

from __future__ import annotations

import argparse
from pathlib import Path

from streamenhance.cli.options import positive_int
from streamenhance.config import MODES, TIERS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="render, degrade, enhance and measure a broadcast-like clip", description=__doc__
    )
    parser.add_argument("-o", "--out-dir", type=Path, default=Path("demo_out"), help="output folder (default demo_out)")
    parser.add_argument("--frames", type=positive_int, default=90, help="clip length in frames (default 90 = 3 s)")
    parser.add_argument("--bitrate", type=positive_int, default=250, metavar="KBPS", help="H.264 bitrate of the degraded stream (default 250)")
    parser.add_argument("--mode", choices=MODES, default="auto")
    parser.add_argument("--tier", choices=("auto", *TIERS), default="auto")
    parser.add_argument("--device", default="auto")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from streamenhance.demo.job import DemoConfig, run_demo

    config = DemoConfig(
        out_dir=args.out_dir, frames=args.frames, bitrate_kbps=args.bitrate,
        mode=args.mode, tier=args.tier, device=args.device,
    )
    report = run_demo(config)
    q, s = report["quality"], report["speed"]
    print(
        f"demo: bicubic {q['bicubic']['psnr_y']:.2f} dB, streamenhance {q['enhanced']['psnr_y']:.2f} dB "
        f"({q['gain_db']:+.2f} dB), {s['fps']} fps {s['input']} -> {s['output']}; wrote {args.out_dir}/"
    )
    if (preview := report["preview"]) is not None:
        print(
            f"demo: the live run used no network on this device; preview with tier {preview['tier']}: "
            f"{preview['psnr_y']:.2f} dB ({preview['gain_db']:+.2f} dB) at {preview['fps']} fps -> preview.mp4"
        )
    return 0
