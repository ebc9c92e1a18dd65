"""The ``streamenhance`` command: one subcommand module per job, each with ``register(subparsers)``."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

# Subcommand modules, imported lazily so `streamenhance --help` does not import torch.
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "streamenhance.cli.enhance_cmd",
    "streamenhance.cli.demo_cmd",
    "streamenhance.cli.train_cmd",
    "streamenhance.cli.eval_cmd",
    "streamenhance.cli.info_cmd",
    "streamenhance.cli.obs_cmd",
    "streamenhance.cli.profile_cmd", "streamenhance.cli.schedule_cmd",
    "streamenhance.cli.bench_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamenhance",
        description="Real-time compression-artifact removal and super-resolution for live video.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue  # subcommand not part of this build
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    from streamenhance.errors import StreamEnhanceError

    try:
        return int(args.func(args) or 0)
    except StreamEnhanceError as exc:
        print(f"streamenhance {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
