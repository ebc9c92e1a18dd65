"""``streamenhance enhance IN -o OUT``: enhance an image or a video file (audio copied through)."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from streamenhance.cli.options import add_engine_flags
from streamenhance.errors import MediaError

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("enhance", help="enhance an image or a video file", description=__doc__)
    parser.add_argument("input", type=Path, help="image (png, jpg, ...) or video (mp4, mkv, ...)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output file (same kind as the input)")
    add_engine_flags(parser)
    parser.add_argument("--crf", type=int, default=18, help="x264 quality of the output video (default 18)")
    parser.add_argument("--preset", default="veryfast", help="x264 preset of the output video (default veryfast)")
    parser.add_argument("--metrics-port", type=int, default=None, metavar="PORT",
                        help="serve the scheduler's Prometheus metrics on 127.0.0.1:PORT while it runs")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    source: Path = args.input
    if not source.exists():
        raise MediaError(f"input not found: {source}")
    server = _serve_metrics(args.metrics_port) if args.metrics_port is not None else None
    try:
        return _enhance(args, source)
    finally:
        if server is not None:
            server[0].shutdown()
            server[0].server_close()


def _serve_metrics(port: int) -> Any:
    """Prometheus ``/metrics`` of the process-wide scheduler on loopback (needs ``streamenhance[metrics]``)."""
    from streamenhance.scheduler import get_scheduler

    server = get_scheduler().collector.serve(port)
    log.info("metrics on http://127.0.0.1:%d/metrics", server[0].server_port)
    return server


def _enhance(args: argparse.Namespace, source: Path) -> int:
    from streamenhance.engine import Enhancer
    from streamenhance.io import is_image_path, is_video_path, probe, read_image, transcode, write_image

    if is_image_path(source):
        if not is_image_path(args.output):
            raise MediaError(f"output {args.output} must be an image file for an image input")
        enhancer = Enhancer(args.scale, args.mode, args.tier, args.device, bitrate_kbps=args.bitrate or 0)
        started = time.perf_counter()
        write_image(args.output, enhancer.enhance(read_image(source)))
        _report(enhancer, 1, time.perf_counter() - started, args.output)
        return 0
    if not is_video_path(source):
        raise MediaError(f"{source}: unknown file type (images: png/jpg/bmp/..., videos: mp4/mkv/mov/...)")
    info = probe(source)
    bitrate = args.bitrate if args.bitrate is not None else info.bitrate_kbps
    enhancer = Enhancer(args.scale, args.mode, args.tier, args.device, bitrate_kbps=bitrate, fps=float(info.fps))
    out_w, out_h = enhancer.output_size(info.width, info.height)
    log.info("%s: %dx%d @ %.3g fps, %.0f kbps -> %dx%d", source, info.width, info.height, float(info.fps), bitrate, out_w, out_h)
    with tqdm(total=info.frames or None, unit="frame", desc="enhance", dynamic_ncols=True) as bar:
        started = time.perf_counter()
        frames = transcode(source, args.output, enhancer.enhance, crf=args.crf, preset=args.preset, on_frame=lambda: bar.update(1))
        seconds = time.perf_counter() - started
    _report(enhancer, frames, seconds, args.output)
    return 0


def _report(enhancer, frames: int, seconds: float, output: Path) -> None:
    state = enhancer.describe()
    print(
        f"wrote {output}: {frames} frame(s) in {seconds:.1f} s ({frames / max(seconds, 1e-9):.2f} fps), "
        f"mode {state['mode']} ({state['mode_reason']}), tier {state['tier']}, device {state['device']}, "
        f"models {', '.join(state['models']) or 'none'}"
    )
