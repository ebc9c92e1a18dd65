"""``streamenhance bench --json OUT``: ms/frame per SR tier, input size and device for our path, PyTorch
eager and OpenCV ESPCN in the same run, and the pre/post kernels against memory bandwidth."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from streamenhance.cli.options import add_cell_limit_flags
from streamenhance.config import TIERS


def register(subparsers: argparse._SubParsersAction) -> None:
    from streamenhance.bench.speed import PATHS, SIZES

    parser = subparsers.add_parser("bench", help="speed of every tier: our path vs PyTorch eager vs OpenCV ESPCN",
                                   description=__doc__)
    parser.add_argument("--json", type=Path, required=True, metavar="OUT", help="results file to write")
    parser.add_argument("--md", type=Path, default=None, help="also write the Markdown table here")
    parser.add_argument("--tiers", nargs="+", choices=TIERS, default=list(TIERS))
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), metavar="SIZE",
                        help=f"input sizes: {', '.join(SIZES)} or WxH (default: all three)")
    parser.add_argument("--devices", nargs="+", default=None,
                        help="cpu and/or cuda:N (default: cpu, plus cuda:0 when a CUDA device is usable)")
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=list(PATHS))
    parser.add_argument("--peers-dir", type=Path, default=None,
                        help="peers folder for OpenCV ESPCN (default $STREAMENHANCE_PEERS or peers/ beside the data)")
    add_cell_limit_flags(parser, min_frames=3, min_seconds=1.0, max_seconds=20.0)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from streamenhance.bench.speed import markdown, run_bench
    from streamenhance.engine.devices import cuda_usable
    from streamenhance.evaluation.peers import default_peers_root
    from streamenhance.scheduler.profile import CellLimits
    from streamenhance.training.images import default_data_root

    devices = args.devices or (["cpu", "cuda:0"] if cuda_usable() else ["cpu"])
    peers = args.peers_dir or default_peers_root(default_data_root())
    limits = CellLimits(min_frames=args.min_frames, min_seconds=args.min_seconds, max_seconds=args.max_seconds)

    def progress(cells):  # noqa: ANN001, ANN202
        return tqdm(cells, desc="bench", unit="cell", disable=args.no_progress, file=sys.stderr)

    result = run_bench(tiers=args.tiers, sizes=args.sizes, devices=devices, paths=args.paths, limits=limits,
                       peers_root=peers, progress=progress)
    result["command"] = " ".join(["streamenhance", *sys.argv[1:]]) if sys.argv else "streamenhance bench"
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    table = markdown(result)
    if args.md:
        args.md.write_text(table)
    print(table)
    return 0
