"""Flags shared by subcommands: the engine's, and how long a measured cell runs."""

from __future__ import annotations

import argparse

from streamenhance.config import BICUBIC, MODES, SCALES, TIERS


def add_engine_flags(parser: argparse.ArgumentParser, default_mode: str = "auto") -> None:
    parser.add_argument("--scale", type=float, default=2.0, help=f"output/input size ratio: {', '.join(f'{s:g}' for s in SCALES)} (default 2)")
    parser.add_argument("--mode", choices=MODES, default=default_mode, help=f"artifact removal (default {default_mode})")
    parser.add_argument("--tier", choices=("auto", BICUBIC, *TIERS), default="auto",
                        help=f"model size (default auto; {BICUBIC}: no network, the native scaler alone)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda:N (default auto)")
    parser.add_argument(
        "--bitrate", type=float, default=None, metavar="KBPS",
        help="bitrate of the input stream, for --mode auto (default: read from the video; unknown for images)",
    )


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def add_cell_limit_flags(parser: argparse.ArgumentParser, *, min_frames: int, min_seconds: float, max_seconds: float,
                         what: str = "timed frames per cell") -> None:
    """``--min-frames/--min-seconds/--max-seconds`` (``scheduler.profile.CellLimits``) with these defaults."""
    parser.add_argument("--min-frames", type=positive_int, default=min_frames,
                        help=f"{what} at least (default {min_frames})")
    parser.add_argument("--min-seconds", type=float, default=min_seconds,
                        help=f"seconds per cell at least (default {min_seconds:g})")
    parser.add_argument("--max-seconds", type=float, default=max_seconds,
                        help=f"stop a cell after this long once it has a timed frame (default {max_seconds:g})")
