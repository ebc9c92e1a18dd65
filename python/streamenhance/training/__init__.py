"""Training: data synthesis, samplers, the resumable loop and the SR/AR recipes."""

from __future__ import annotations

from streamenhance.training.recipes import TrainRequest, run

__all__ = ["TrainRequest", "run"]
