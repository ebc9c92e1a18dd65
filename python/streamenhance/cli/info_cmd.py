"""``streamenhance info``: what was built, which devices are usable, which models are installed."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("info", help="build, devices and installed models", description=__doc__)
    parser.add_argument("--ladder", action="store_true", help="print the tier ladder (params, MACs/pixel) as Markdown")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def ladder_rows() -> list[dict[str, object]]:
    """Parameter and MAC counts of every ladder entry, measured on freshly built models."""
    from streamenhance.models import build_model, describe
    from streamenhance.models.tiers import AR_LADDER, SR_LADDER, hyperparameters

    rows = []
    for kind, ladder in (("sr", SR_LADDER), ("ar", AR_LADDER)):
        for tier in ladder:
            for scale in (2, 4) if kind == "sr" else (1,):
                arch, hp = hyperparameters(kind, tier, scale)
                spec = describe(build_model(arch, hp), arch, tier, "-", hp)
                rows.append({"kind": kind, "tier": tier, "scale": scale, "params": spec.params,
                             "macs_per_output_pixel": round(spec.macs_per_pixel),
                             "flops_per_output_pixel": round(2 * spec.macs_per_pixel), "hyperparameters": hp})
    return rows


def run(args: argparse.Namespace) -> int:
    from streamenhance import native
    from streamenhance.engine.devices import cuda_usable
    from streamenhance.models import catalog, weights_dir

    if args.ladder:
        rows = ladder_rows()
        if args.json:
            print(json.dumps(rows, indent=2))
            return 0
        print("| kind | tier | scale | params | MACs / output px | FLOPs / output px | hyperparameters |")
        print("|---|---|---|---:|---:|---:|---|")
        for r in rows:
            hp = ", ".join(f"{k}={v}" for k, v in r["hyperparameters"].items() if k != "scale")
            print(f"| {r['kind']} | {r['tier']} | x{r['scale']} | {r['params']:,} | {r['macs_per_output_pixel']:,} | {r['flops_per_output_pixel']:,} | {hp} |")
        return 0
    models = [{"name": e.spec.name, "file": str(e.path), "params": e.spec.params,
               "macs_per_pixel": round(e.spec.macs_per_pixel), "training": e.spec.training} for e in catalog()]
    info = {"native": native.build_info(), "cuda_usable": cuda_usable(), "weights_dir": str(weights_dir()), "models": models}
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"native: {json.dumps(info['native'])}")
    print(f"CUDA usable: {info['cuda_usable']}")
    print(f"weights: {info['weights_dir']}")
    for m in models:
        validation = m["training"].get("validation", {})
        print(f"  {m['name']:24s} {m['params']:>9,} params {m['macs_per_pixel']:>9,} MACs/px  {validation}")
    return 0
