"""Device names -> torch devices, and a one-off throughput measurement per device."""

from __future__ import annotations

import re
import time
from functools import lru_cache

import torch

from streamenhance import native
from streamenhance.errors import ConfigError

_DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def cuda_usable() -> bool:
    """A GPU is usable when both torch and the native kernels can reach it."""
    return torch.cuda.is_available() and native.cuda_available()


def resolve_device(name: str) -> torch.device:
    """``auto`` | ``cpu`` | ``cuda`` | ``cuda:N`` -> torch device; auto prefers CUDA when usable.

    Raises:
        ConfigError: malformed name, or CUDA asked for but not usable.
    """
    if not isinstance(name, str) or not _DEVICE_PATTERN.match(name):
        raise ConfigError(f"device: expected auto, cpu or cuda:N, got {name!r}")
    if name == "auto":
        return torch.device("cuda", 0) if cuda_usable() else torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not cuda_usable():
            raise ConfigError(f"device {name!r}: CUDA is not usable here ({_cuda_reason()})")
        index = device.index or 0
        if index >= torch.cuda.device_count():
            raise ConfigError(f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s)")
        return torch.device("cuda", index)
    return device


def _cuda_reason() -> str:
    if not torch.cuda.is_available():
        return "torch sees no CUDA device"
    return "the native extension was built without CUDA or sees no device"


@lru_cache(maxsize=8)
def conv_throughput(device: torch.device) -> float:
    """Measured 3x3-conv multiply-accumulates per second on ``device`` (run once per process).

    Used only to choose a tier when tier="auto" and no scheduler decides; about 50 ms on a CPU.
    """
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    channels, side = 32, 128 if device.type == "cpu" else 512
    conv = torch.nn.Conv2d(channels, channels, 3, padding=1).to(device, dtype).to(memory_format=torch.channels_last)
    x = torch.rand(1, channels, side, side, device=device, dtype=dtype).to(memory_format=torch.channels_last)
    with torch.inference_mode():
        conv(x)
        _sync(device)
        runs = 5
        start = time.perf_counter()
        for _ in range(runs):
            conv(x)
        _sync(device)
        seconds = (time.perf_counter() - start) / runs
    return channels * channels * 9 * side * side / seconds


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
