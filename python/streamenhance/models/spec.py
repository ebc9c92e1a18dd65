"""``ModelSpec``: everything the engine and the scheduler know about a model, read from weight metadata."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SizeRequirements:
    """Input side constraints: at least ``minimum`` pixels and a multiple of ``multiple_of`` (pad to it)."""

    minimum: int = 1
    multiple_of: int = 1

    def padded(self, side: int) -> int:
        """Smallest side >= ``side`` that meets the requirements."""
        side = max(side, self.minimum)
        return -(-side // self.multiple_of) * self.multiple_of


@dataclass(frozen=True)
class ModelSpec:
    """A model's identity and shape.

    Attributes:
        arch: registered architecture name (``sr_rrdb`` or ``ar_unet``).
        tier: ladder position (``tiny`` .. ``large``).
        scale: integer upscale of the network (1 for artifact removal).
        mode: degradation the weights were trained for (``mild`` or ``strong``).
        hyperparameters: constructor arguments of the architecture.
        size: input side requirements.
        supports_half: whether fp16 inference is numerically safe.
        params: number of parameters.
        macs_per_pixel: multiply-accumulates per *output* pixel.
        training: free-form training record (data, steps, date, measured PSNR...).
    """

    arch: str
    tier: str
    scale: int
    mode: str
    hyperparameters: dict[str, Any]
    size: SizeRequirements = SizeRequirements()
    supports_half: bool = True
    params: int = 0
    macs_per_pixel: float = 0.0
    training: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """``sr`` for super-resolution, ``ar`` for artifact removal."""
        return "ar" if self.scale == 1 else "sr"

    @property
    def name(self) -> str:
        """Canonical weight-file stem, e.g. ``sr_small_x2_mild`` or ``ar_small_strong``."""
        scale = f"_x{self.scale}" if self.kind == "sr" else ""
        return f"{self.kind}_{self.tier}{scale}_{self.mode}"

    def to_metadata(self) -> dict[str, str]:
        """String-only safetensors metadata."""
        return {
            "format": METADATA_FORMAT,
            "arch": self.arch,
            "tier": self.tier,
            "scale": str(self.scale),
            "mode": self.mode,
            "hyperparameters": json.dumps(self.hyperparameters, sort_keys=True),
            "size_minimum": str(self.size.minimum),
            "size_multiple_of": str(self.size.multiple_of),
            "supports_half": "true" if self.supports_half else "false",
            "params": str(self.params),
            "macs_per_pixel": repr(float(self.macs_per_pixel)),
            "training": json.dumps(self.training, sort_keys=True),
        }

    @classmethod
    def from_metadata(cls, metadata: dict[str, str]) -> ModelSpec:
        """Inverse of ``to_metadata``; raises ``KeyError``/``ValueError`` on malformed metadata."""
        if metadata.get("format") != METADATA_FORMAT:
            raise ValueError(f"metadata format: expected {METADATA_FORMAT!r}, got {metadata.get('format')!r}")
        return cls(
            arch=metadata["arch"],
            tier=metadata["tier"],
            scale=int(metadata["scale"]),
            mode=metadata["mode"],
            hyperparameters=json.loads(metadata["hyperparameters"]),
            size=SizeRequirements(int(metadata["size_minimum"]), int(metadata["size_multiple_of"])),
            supports_half=metadata["supports_half"] == "true",
            params=int(metadata["params"]),
            macs_per_pixel=float(metadata["macs_per_pixel"]),
            training=json.loads(metadata.get("training", "{}")),
        )


METADATA_FORMAT = "streamenhance/1"
