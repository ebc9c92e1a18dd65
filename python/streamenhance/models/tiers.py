"""The tier ladder: hyperparameters of every (kind, tier) before training.

Issue "model ladder" replaces hand-set widths by pruning; until then these are the starting points.
Cost figures (params, MACs per output pixel) are measured by ``streamenhance info --models`` and
written into each weight file's metadata.
"""

from __future__ import annotations

from typing import Any

from streamenhance.config import TIERS
from streamenhance.errors import ConfigError

SR_ARCH = "sr_rrdb"
AR_ARCH = "ar_unet"

SR_LADDER: dict[str, dict[str, int]] = {
    "tiny": {"num_feat": 16, "num_rrdb": 1, "num_rdb": 1, "num_dense": 2, "growth": 12},
    "small": {"num_feat": 24, "num_rrdb": 1, "num_rdb": 2, "num_dense": 3, "growth": 12},
    "medium": {"num_feat": 32, "num_rrdb": 2, "num_rdb": 2, "num_dense": 3, "growth": 16},
    "large": {"num_feat": 48, "num_rrdb": 3, "num_rdb": 3, "num_dense": 4, "growth": 24},
}

AR_LADDER: dict[str, dict[str, int]] = {
    "tiny": {"channels": 8, "num_blocks": 2},
    "small": {"channels": 12, "num_blocks": 3},
    "medium": {"channels": 16, "num_blocks": 4},
    "large": {"channels": 24, "num_blocks": 6},
}


def hyperparameters(kind: str, tier: str, scale: int = 2) -> tuple[str, dict[str, Any]]:
    """(arch, constructor kwargs) of a ladder entry; ``ConfigError`` for unknown kind/tier."""
    if tier not in TIERS:
        raise ConfigError(f"tier: expected one of {', '.join(TIERS)}, got {tier!r}")
    if kind == "sr":
        return SR_ARCH, {"scale": scale, **SR_LADDER[tier]}
    if kind == "ar":
        return AR_ARCH, dict(AR_LADDER[tier])
    raise ConfigError(f"kind: expected 'sr' or 'ar', got {kind!r}")
