"""``streamenhance eval``: PSNR/SSIM under the published MATLAB-bicubic protocol, bicubic alongside."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from streamenhance.config import MODES, TIERS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("eval", help="evaluate on Set5/Set14/BSD100 (MATLAB-bicubic protocol)", description=__doc__)
    parser.add_argument("--data", type=Path, default=None, help="data root with eval/ (default $STREAMENHANCE_DATA or ../shared/data)")
    parser.add_argument("--sets", default="Set5,Set14,BSD100", help="comma-separated sets (default Set5,Set14,BSD100)")
    parser.add_argument("--scale", type=int, default=2, choices=(2, 4), help="integer scale (default 2)")
    parser.add_argument("--mode", choices=MODES, default="off", help="artifact removal before SR (default off: clean sets)")
    parser.add_argument("--tier", choices=TIERS, action="append", help="tier(s) to evaluate (default: every installed tier)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--md", type=Path, default=None, help="write a Markdown table here")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from streamenhance.engine import Enhancer
    from streamenhance.evaluation.protocol import bicubic_method, engine_method, evaluate, set_images
    from streamenhance.models import catalog
    from streamenhance.training.images import resolve_data_root

    data_root = resolve_data_root(args.data)
    tiers = args.tier or sorted(
        {e.spec.tier for e in catalog() if e.spec.kind == "sr" and e.spec.scale == args.scale}, key=TIERS.index
    )
    methods = [("bicubic", bicubic_method)]
    for tier in tiers:
        enhancer = Enhancer(scale=float(args.scale), mode=args.mode, tier=tier, device=args.device)
        methods.append((f"streamenhance {tier} (mode {args.mode})", engine_method(enhancer.enhance)))
    results = []
    for set_name in (s.strip() for s in args.sets.split(",") if s.strip()):
        images = set_images(data_root, set_name)
        for name, method in tqdm(methods, desc=f"{set_name} x{args.scale}", unit="method"):
            started = time.perf_counter()
            result = evaluate(method, name, images, set_name, args.scale)
            results.append({**asdict(result), "seconds": round(time.perf_counter() - started, 2)})
    table = _markdown(results, args.scale)
    print(table)
    if args.json:
        args.json.write_text(json.dumps({"protocol": "MATLAB bicubic BI, Y, shave=scale", "results": results}, indent=2) + "\n")
    if args.md:
        args.md.write_text(table + "\n")
    return 0


def _markdown(results: list[dict], scale: int) -> str:
    sets = list(dict.fromkeys(r["set_name"] for r in results))
    methods = list(dict.fromkeys(r["method"] for r in results))
    by_key = {(r["set_name"], r["method"]): r for r in results}
    lines = [f"| method (x{scale}) | " + " | ".join(f"{s} PSNR / SSIM" for s in sets) + " |", "|---|" + "---:|" * len(sets)]
    for method in methods:
        cells = [f"{by_key[(s, method)]['psnr_y']:.2f} / {by_key[(s, method)]['ssim_y']:.4f}" for s in sets]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
