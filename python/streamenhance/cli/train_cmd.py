"""``streamenhance train``: train SR or AR weights from ``<data>/train`` (CPU or CUDA), resumable."""

from __future__ import annotations

import argparse
from dataclasses import astuple
from pathlib import Path

from streamenhance.cli.options import positive_int
from streamenhance.config import TIERS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train super-resolution or artifact-removal weights", description=__doc__)
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    sr = kinds.add_parser("sr", help="super-resolution (L1 on MATLAB-bicubic LR/HR patches)")
    _common(sr, steps=20000, batch=16, patch=48, lr=1e-3)
    sr.add_argument("--scale", type=int, choices=(2, 4), default=2)
    sr.add_argument(
        "--mode", choices=("mild", "strong"), default="mild",
        help="mild: clean MATLAB-bicubic LR (default); strong: H.264/JPEG LR restored by the installed AR strong weights",
    )
    ar = kinds.add_parser("ar", help="artifact removal (L1 + deep supervision on H.264/JPEG-degraded clips)")
    _common(ar, steps=8000, batch=8, patch=96, lr=5e-4)
    ar.add_argument("--mode", choices=("mild", "strong"), required=True)
    ar.add_argument("--sequences", type=positive_int, default=400, help="synthesized clips (default 400)")
    ar.add_argument(
        "--ms-ssim-weight", type=float, default=None,
        help="weight of (1 - MS-SSIM of Y, 3 scales) beside L1 (default: the recipe's, 0.1; 0: L1 only)",
    )
    ar.set_defaults(scale=1)
    calibrate = kinds.add_parser(
        "calibrate-auto", help="fit the auto-mode constants against the oracle on stream-like training clips"
    )
    calibrate.add_argument("--data", type=Path, default=None)
    calibrate.add_argument(
        "--sequences", type=positive_int, default=160, help="clean sequences, 4 CRFs + 1 JPEG each (default 160)"
    )
    calibrate.add_argument("--frames", type=positive_int, default=60, help="frames per clip (default 60: one GOP)")
    calibrate.add_argument("--keyint", type=positive_int, default=60, help="H.264 keyframe interval (default 60)")
    calibrate.add_argument("--seed", type=int, default=0)
    calibrate.set_defaults(func=run_calibration)
    _register_prune(kinds)
    _register_detail(kinds)


def _common(parser: argparse.ArgumentParser, steps: int, batch: int, patch: int, lr: float) -> None:
    parser.add_argument("--tier", choices=TIERS, required=True)
    parser.add_argument("--steps", type=positive_int, default=steps, help=f"optimisation steps (default {steps})")
    parser.add_argument(
        "--expand-convs", action="store_true",
        help="train each 3x3 conv as a sum of linear branches (RepVGG/ECBSR-style), merged into the plain net on save",
    )
    _loop_options(parser, batch, patch, lr)
    parser.set_defaults(func=run)


def _loop_options(parser: argparse.ArgumentParser, batch: int, patch: int, lr: float) -> None:
    """Data, batch, schedule, threads and output options shared by every training sub-command."""
    parser.add_argument("--data", type=Path, default=None, help="data root with train/ (default $STREAMENHANCE_DATA or ../shared/data)")
    parser.add_argument("--batch", type=positive_int, default=batch, help=f"batch size (default {batch})")
    parser.add_argument("--patch", type=positive_int, default=patch, help=f"input patch side (default {patch})")
    parser.add_argument("--lr", type=float, default=lr, help=f"peak learning rate, cosine decay (default {lr})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, default=None, help="weight file to write (default under runs/)")
    parser.add_argument("--run-dir", type=Path, default=None, help="checkpoint folder; an existing checkpoint is resumed")


def run(args: argparse.Namespace) -> int:
    from streamenhance.training import TrainRequest
    from streamenhance.training import run as train

    scale = f"_x{args.scale}" if args.kind == "sr" else ""
    name = f"{args.kind}_{args.tier}{scale}_{args.mode}"
    request = TrainRequest(
        kind=args.kind, tier=args.tier, mode=args.mode, scale=args.scale, steps=args.steps, batch=args.batch,
        patch=args.patch, lr=args.lr, data=args.data, out=args.out or Path("runs") / f"{name}.safetensors",
        run_dir=args.run_dir or Path("runs") / name, seed=args.seed, sequences=getattr(args, "sequences", 0),
        threads=args.threads, expand_convs=args.expand_convs,
    )
    if getattr(args, "ms_ssim_weight", None) is not None:
        request.ms_ssim_weight = args.ms_ssim_weight
    spec, result = train(request)
    print(f"wrote {request.out}: {spec.name}, {spec.params:,} params, {spec.macs_per_pixel:,.0f} MACs/px, "
          f"{result.seconds:.0f} s, validation {spec.training.get('validation')}")
    return 0


def run_calibration(args: argparse.Namespace) -> int:
    from streamenhance.engine import modes
    from streamenhance.evaluation.auto_mode import engine_restorers
    from streamenhance.training.auto_mode import CalibrationConfig, calibrate

    config = CalibrationConfig(sequences=args.sequences, frames=args.frames, keyint=args.keyint, seed=args.seed,
                               hysteresis_votes=modes.HYSTERESIS_VOTES)
    restorers, _ = engine_restorers()
    fit = calibrate(args.data, restorers, config, shipped=astuple(modes.fitted_rule()))
    print("\n".join(fit.report_lines()))
    return 0


def _register_prune(kinds: argparse._SubParsersAction) -> None:
    prune = kinds.add_parser(
        "prune", help="shrink trained SR weights to a smaller tier, one pruning round at a time, fine-tuning after each"
    )
    prune.add_argument("--from", dest="parent", type=Path, required=True, help="trained sr_rrdb weights to prune")
    prune.add_argument("--to", dest="tier", choices=TIERS, required=True, help="ladder tier whose shape to reach")
    prune.add_argument("--round-steps", type=positive_int, default=2000, help="fine-tune steps per round (default 2000)")
    prune.add_argument("--final-steps", type=positive_int, default=20000, help="fine-tune steps at the target (default 20000)")
    prune.add_argument("--channel-notch", type=positive_int, default=4, help="channels removed per round (default 4)")
    prune.add_argument("--distill", type=float, default=0.0, help="weight of L1 to the parent's output (default 0: off)")
    _loop_options(prune, batch=16, patch=48, lr=5e-4)
    prune.set_defaults(func=run_prune)


def run_prune(args: argparse.Namespace) -> int:
    from streamenhance.training.prune import PruneRequest
    from streamenhance.training.prune import run as prune

    name = f"sr_{args.tier}_pruned_from_{args.parent.stem}"
    request = PruneRequest(
        parent=args.parent, target_tier=args.tier, round_steps=args.round_steps, final_steps=args.final_steps,
        batch=args.batch, patch=args.patch, lr=args.lr, distill=args.distill, data=args.data,
        out=args.out or Path("runs") / f"{name}.safetensors", run_dir=args.run_dir or Path("runs") / name,
        channel_notch=args.channel_notch, seed=args.seed, threads=args.threads,
    )
    spec, report = prune(request)
    print("round  operation                                   params   MACs/px  PSNR pruned  PSNR tuned  pareto")
    for r in report.rounds:
        print(f"{r.index:>5}  {r.operation:<42} {r.params:>7,} {r.macs_per_pixel:>9,.0f} {r.val_psnr_pruned:>12.2f}"
              f" {r.val_psnr:>11.2f}  {'*' if r.pareto else ''}")
    print(f"wrote {request.out}: {spec.name}, {spec.params:,} params; report {request.run_dir / 'prune_report.json'}")
    return 0


def _register_detail(kinds: argparse._SubParsersAction) -> None:
    detail = kinds.add_parser(
        "detail", help="adversarial fine-tune of fidelity SR weights into a separate 'detail' variant"
    )
    detail.add_argument("--from", dest="parent", type=Path, required=True, help="fidelity-trained sr_rrdb weights")
    detail.add_argument("--steps", type=positive_int, default=6000, help="optimisation steps (default 6000)")
    _loop_options(detail, batch=8, patch=32, lr=1e-4)
    detail.set_defaults(func=run_detail)


def run_detail(args: argparse.Namespace) -> int:
    from streamenhance.training.adversarial import DetailRequest
    from streamenhance.training.adversarial import run as detail

    name = args.parent.stem
    request = DetailRequest(
        parent=args.parent, steps=args.steps, batch=args.batch, patch=args.patch, lr=args.lr, data=args.data,
        out=args.out or Path("runs") / "detail" / f"{name}.safetensors",
        run_dir=args.run_dir or Path("runs") / f"detail_{name}", seed=args.seed, threads=args.threads,
    )
    spec, result = detail(request)
    print(f"wrote {request.out}: detail variant of {name}, {result.seconds:.0f} s, validation {spec.training['validation']}")
    return 0
