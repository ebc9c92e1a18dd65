"""``streamenhance train``: train SR or AR weights from ``<data>/train`` (CPU or CUDA), resumable."""

from __future__ import annotations

import argparse
from pathlib import Path

from streamenhance.cli.options import positive_int
from streamenhance.config import TIERS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train super-resolution or artifact-removal weights", description=__doc__)
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    sr = kinds.add_parser("sr", help="super-resolution (L1 on MATLAB-bicubic LR/HR patches)")
    _common(sr, steps=20000, batch=16, patch=48, lr=1e-3)
    sr.add_argument("--scale", type=int, choices=(2, 4), default=2)
    sr.set_defaults(mode="mild")
    ar = kinds.add_parser("ar", help="artifact removal (L1 + deep supervision on H.264/JPEG-degraded clips)")
    _common(ar, steps=8000, batch=8, patch=96, lr=5e-4)
    ar.add_argument("--mode", choices=("mild", "strong"), required=True)
    ar.add_argument("--sequences", type=positive_int, default=400, help="synthesized clips (default 400)")
    ar.set_defaults(scale=1)
    calibrate = kinds.add_parser("calibrate-auto", help="fit the auto-mode thresholds on synthesized training clips")
    calibrate.add_argument("--data", type=Path, default=None)
    calibrate.add_argument("--sequences", type=positive_int, default=120, help="clips per mode (default 120)")
    calibrate.add_argument("--seed", type=int, default=0)
    calibrate.set_defaults(func=run_calibration)


def _common(parser: argparse.ArgumentParser, steps: int, batch: int, patch: int, lr: float) -> None:
    parser.add_argument("--tier", choices=TIERS, required=True)
    parser.add_argument("--data", type=Path, default=None, help="data root with train/ (default $STREAMENHANCE_DATA or ../shared/data)")
    parser.add_argument("--steps", type=positive_int, default=steps, help=f"optimisation steps (default {steps})")
    parser.add_argument("--batch", type=positive_int, default=batch, help=f"batch size (default {batch})")
    parser.add_argument("--patch", type=positive_int, default=patch, help=f"input patch side (default {patch})")
    parser.add_argument("--lr", type=float, default=lr, help=f"peak learning rate, cosine decay (default {lr})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, default=None, help="weight file to write (default runs/<name>.safetensors)")
    parser.add_argument("--run-dir", type=Path, default=None, help="checkpoint folder; an existing checkpoint is resumed")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from streamenhance.training import TrainRequest
    from streamenhance.training import run as train

    scale = f"_x{args.scale}" if args.kind == "sr" else ""
    name = f"{args.kind}_{args.tier}{scale}_{args.mode}"
    request = TrainRequest(
        kind=args.kind, tier=args.tier, mode=args.mode, scale=args.scale, steps=args.steps, batch=args.batch,
        patch=args.patch, lr=args.lr, data=args.data, out=args.out or Path("runs") / f"{name}.safetensors",
        run_dir=args.run_dir or Path("runs") / name, seed=args.seed, sequences=getattr(args, "sequences", 0),
        threads=args.threads,
    )
    spec, result = train(request)
    print(f"wrote {request.out}: {spec.name}, {spec.params:,} params, {spec.macs_per_pixel:,.0f} MACs/px, "
          f"{result.seconds:.0f} s, validation {spec.training.get('validation')}")
    return 0


def run_calibration(args: argparse.Namespace) -> int:
    from streamenhance.training.auto_mode import calibrate

    fit = calibrate(args.data, args.sequences, args.seed)
    print(f"{fit.frames} frames (mild CRF 18-30 / JPEG q45-90 vs strong CRF 31-44 / JPEG q8-40)")
    print(f"STRONG_BELOW_BPP = {fit.strong_below_bpp:.4f}   # training accuracy {fit.bpp_accuracy:.3f}")
    print(f"NR_COEFFICIENTS = ({fit.coefficients[0]:.4f}, {fit.coefficients[1]:.4f}, {fit.coefficients[2]:.4f})"
          f"   # training accuracy {fit.nr_accuracy:.3f}")
    return 0
