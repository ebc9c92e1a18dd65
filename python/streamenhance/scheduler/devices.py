"""Device descriptors: what the predictor and the policies know about a device.

A descriptor is plain data. ``discover_devices`` builds them for this process (CPU, CUDA devices);
the simulator builds measured and derived ones from profile files.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from streamenhance.errors import ConfigError


@dataclass(frozen=True)
class DeviceInfo:
    """One compute device.

    Attributes:
        id: unique id; for local devices the engine's device string (``cpu``, ``cuda:0``).
        kind: ``cpu`` or ``cuda``.
        device_class: identifier of the hardware class (profile key, one-hot input of the predictor).
        compute_units: CPU cores or CUDA SMs.
        mem_bandwidth_gbps: memory bandwidth, GB/s (measured or from a spec sheet).
        macs_per_s: measured 3x3-conv multiply-accumulates per second (``engine.devices.conv_throughput``).
        memory_mb: memory the scheduler may plan with, MB.
        measured: True when the costs of this device come from a real measurement, False when derived.
        derivation: how a derived device's figures were obtained.
    """

    id: str
    kind: str
    device_class: str
    compute_units: int
    mem_bandwidth_gbps: float
    macs_per_s: float
    memory_mb: float
    measured: bool = True
    derivation: str = ""
    labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ("cpu", "cuda"):
            raise ConfigError(f"device kind: expected 'cpu' or 'cuda', got {self.kind!r}")
        if self.compute_units < 1 or self.macs_per_s <= 0 or self.memory_mb <= 0 or self.mem_bandwidth_gbps <= 0:
            raise ConfigError(f"device {self.id!r}: compute_units, macs_per_s, memory_mb and bandwidth must be > 0")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeviceInfo:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown-cpu"


def _total_memory_mb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    except (ValueError, OSError):
        return 4096.0


def cpu_class_name(cores: int | None = None) -> str:
    """Class id of this machine's CPU, e.g. ``cpu-2c-intel-xeon-platinum-8375c``."""
    cores = cores or os.cpu_count() or 1
    model = "".join(c if c.isalnum() else "-" for c in _cpu_model().lower()).strip("-")
    while "--" in model:
        model = model.replace("--", "-")
    return f"cpu-{cores}c-{model[:40]}"


def memory_bandwidth_gbps(megabytes: int = 64) -> float:
    """Measured host copy bandwidth (read + write), GB/s; about 50 ms."""
    import time

    import numpy as np

    src = np.ones(megabytes * 2**20 // 8)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    runs, start = 3, time.perf_counter()
    for _ in range(runs):
        np.copyto(dst, src)
    seconds = (time.perf_counter() - start) / runs
    return 2 * src.nbytes / seconds / 1e9


def local_cpu(macs_per_s: float | None = None, bandwidth_gbps: float | None = None) -> DeviceInfo:
    """Descriptor of this machine's CPU; measures throughput and bandwidth when not given."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if macs_per_s is None:
        import torch

        from streamenhance.engine.devices import conv_throughput

        macs_per_s = conv_throughput(torch.device("cpu"))
    return DeviceInfo(
        id="cpu", kind="cpu", device_class=cpu_class_name(cores), compute_units=cores,
        mem_bandwidth_gbps=bandwidth_gbps or memory_bandwidth_gbps(), macs_per_s=float(macs_per_s),
        memory_mb=0.5 * _total_memory_mb(), measured=True, derivation="this machine",
    )


# Spec-sheet memory bandwidth of common datacenter GPUs (GB/s); torch does not report it.
_GPU_BANDWIDTH = {"H100": 3350.0, "H200": 4800.0, "A100": 2039.0, "L4": 300.0, "A10": 600.0, "T4": 320.0}


def local_cuda(index: int) -> DeviceInfo:
    """Descriptor of ``cuda:index`` (SMs and memory from torch, throughput measured once)."""
    import torch

    from streamenhance.engine.devices import conv_throughput

    props = torch.cuda.get_device_properties(index)
    name = props.name
    bandwidth = next((bw for key, bw in _GPU_BANDWIDTH.items() if key in name), 900.0)
    return DeviceInfo(
        id=f"cuda:{index}", kind="cuda",
        device_class="cuda-" + "".join(c if c.isalnum() else "-" for c in name.lower()),
        compute_units=int(props.multi_processor_count), mem_bandwidth_gbps=bandwidth,
        macs_per_s=conv_throughput(torch.device("cuda", index)), memory_mb=0.8 * props.total_memory / 2**20,
        measured=True, derivation="this machine",
    )


def discover_devices() -> list[DeviceInfo]:
    """The devices this process can run the engine on: the CPU and every usable CUDA device."""
    from streamenhance.engine.devices import cuda_usable

    devices = [local_cpu()]
    if cuda_usable():
        import torch

        devices += [local_cuda(i) for i in range(torch.cuda.device_count())]
    return devices
