"""``streamenhance bench``: ms/frame of every SR tier, input size and device, our path against PyTorch
eager and OpenCV ``dnn_superres`` ESPCN in the same run, plus the pre/post kernels against memory
bandwidth.

Paths (all x2 super-resolution, no artifact removal):

* ``fused`` / ``host``: ``Enhancer(scale=2, mode="off", tier=T).enhance(bgr)`` — uint8 BGR in host
  memory to uint8 BGR in host memory: for ``tiny``, the whole network in one native fused kernel
  (``native.fused_sr``: threads + SIMD on the CPU, one fp32 CUDA kernel on a GPU); otherwise native
  pre/post kernels around the PyTorch network (the row's ``kernel`` says which);
* ``fused`` / ``device`` (CUDA only): the same with the frame already a CUDA array;
* ``torch`` / ``host``: the same weights in PyTorch eager, conversions written in torch
  (``from_numpy``, permute, ``/ 255``, ``forward`` = bicubic base + residual, clamp, round, back);
* ``torch`` / ``device``: ``forward`` alone on a tensor already in the network's layout on the device
  (CPU: float32 channels_last; CUDA: float16 channels_last);
* ``opencv_espcn`` / ``host``: OpenCV's ESPCN x2 (``cv2.dnn_superres``, the peers' released model),
  uint8 BGR to uint8 BGR.

Costs do not depend on weight values: tiers without shipped weights run a freshly built ladder
model (``scheduler.profile.prepare_weights``), and each row says which weights it ran. Frames are
random; every cell runs ``warmup`` frames first, then until ``min_frames`` and ``min_seconds`` (at
most ``max_seconds``, but always one timed frame; the profiler's ``CellLimits``); ``ms`` is the median.
"""

from __future__ import annotations

import platform
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from streamenhance.config import TIERS
from streamenhance.errors import ConfigError, WeightsError

if TYPE_CHECKING:  # the CLI imports this module to build its parser: nothing heavy at import time
    from streamenhance.scheduler.profile import CellLimits

SIZES: dict[str, tuple[int, int]] = {"540p": (960, 540), "720p": (1280, 720), "1080p": (1920, 1080)}
PATHS = ("fused", "torch", "opencv_espcn")
FORMAT = "streamenhance-bench/1"
UNTRAINED = "untrained ladder model (speed only)"


@dataclass(frozen=True)
class Row:
    """One measured cell; the first eight fields are the published JSON shape. ``kernel``: what ran the
    network (``native fused (avx2)``, ``native fused (cuda)``, ``torch``, ``opencv dnn``)."""

    tier: str
    input: str
    scale: float
    device: str
    path: str
    residency: str
    ms: float
    fps: float
    p95_ms: float
    frames: int
    weights: str
    kernel: str


def time_frames(run: Callable[[], object], limits: CellLimits, sync: Callable[[], None] = lambda: None) -> list[float]:
    """Per-call milliseconds of ``run`` after the warm-up (``sync`` waits for queued device work)."""
    for _ in range(limits.warmup):
        run()
    sync()
    times: list[float] = []
    started = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        run()
        sync()
        times.append((time.perf_counter() - t0) * 1e3)
        elapsed = time.perf_counter() - started
        enough = len(times) >= limits.min_frames and elapsed >= limits.min_seconds
        if enough or elapsed >= limits.max_seconds:
            return times


def frame_size(size: str) -> tuple[int, int]:
    """(width, height) of a size name (``540p``, ``720p``, ``1080p``) or of ``WxH``.

    Raises:
        ConfigError: anything else, or sides outside 8..8192.
    """
    if size in SIZES:
        return SIZES[size]
    try:
        w, h = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise ConfigError(f"bench size: expected {', '.join(SIZES)} or WxH, got {size!r}") from None
    if not (8 <= w <= 8192 and 8 <= h <= 8192):
        raise ConfigError(f"bench size: expected sides in 8..8192, got {size!r}")
    return w, h


def _row(tier: str, frame: np.ndarray, device: str, path: str, residency: str, times: Sequence[float],
         weights: str, kernel: str) -> Row:
    ms = float(np.median(times))
    size = f"{frame.shape[1]}x{frame.shape[0]}"
    return Row(tier, size, 2.0, device, path, residency, round(ms, 3), round(1e3 / ms, 3),
               round(float(np.percentile(times, 95)), 3), len(times), weights, kernel)


def _sync_for(device: str) -> Callable[[], None]:
    if not device.startswith("cuda"):
        return lambda: None
    import torch

    return lambda: torch.cuda.synchronize(device)


def _torch_host_to_host(model: Any, device: str, half: bool) -> Callable[[np.ndarray], np.ndarray]:
    """The eager reference: uint8 BGR (H, W, 3) -> uint8 BGR (2H, 2W, 3), conversions in torch."""
    import torch

    dtype = torch.float16 if half else torch.float32

    def run(frame: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x = torch.from_numpy(frame).to(device).flip(-1).permute(2, 0, 1)[None].to(dtype).div_(255.0)
            y = model(x.contiguous(memory_format=torch.channels_last))
            y = y.clamp_(0.0, 1.0).mul_(255.0).round_().to(torch.uint8)
            return y[0].permute(1, 2, 0).flip(-1).contiguous().cpu().numpy()

    return run


def _torch_rows(tier: str, device: str, weights_file: Path, frame: np.ndarray, limits: CellLimits,
                note: str) -> list[Row]:
    import torch

    from streamenhance.models import load_model

    half = device.startswith("cuda")
    _spec, model = load_model(weights_file, device)
    model = model.to(memory_format=torch.channels_last)
    if half:
        model = model.half()
    sync = _sync_for(device)
    host = _torch_host_to_host(model, device, half)
    rows = [_row(tier, frame, device, "torch", "host", time_frames(lambda: host(frame), limits, sync), note, "torch")]
    h, w = frame.shape[:2]
    x = torch.rand(1, 3, h, w, device=device, dtype=torch.float16 if half else torch.float32)
    x = x.contiguous(memory_format=torch.channels_last)

    def forward() -> object:
        with torch.inference_mode():
            return model(x)

    rows.append(_row(tier, frame, device, "torch", "device", time_frames(forward, limits, sync), note, "torch"))
    return rows


def _fused_rows(tier: str, device: str, folder: Path, frame: np.ndarray, limits: CellLimits,
                note: str) -> list[Row]:
    from streamenhance.engine import Enhancer

    engine = Enhancer(scale=2.0, mode="off", tier=tier, device=device, weights_dir=folder, advisor=None)
    sync = _sync_for(device)
    times = time_frames(lambda: engine.enhance(frame), limits, sync)
    rows = [_row(tier, frame, device, "fused", "host", times, note, engine.describe()["sr_kernel"])]
    if device.startswith("cuda"):
        import torch

        on_device = torch.from_numpy(frame).to(device)
        times = time_frames(lambda: engine.enhance(on_device), limits, sync)
        rows.append(_row(tier, frame, device, "fused", "device", times, note, engine.describe()["sr_kernel"]))
    engine.close()
    return rows


def _espcn_row(frame: np.ndarray, limits: CellLimits, peers_root: Path) -> Row:
    from streamenhance.evaluation.peers import opencv_method

    path = peers_root / "opencv_dnn_superres" / "ESPCN_x2.pb"
    method, _params = opencv_method(path, "ESPCN", 2)
    hr_hw = (frame.shape[0] * 2, frame.shape[1] * 2)
    return _row("espcn", frame, "cpu", "opencv_espcn", "host", time_frames(lambda: method(frame, hr_hw), limits),
                f"peer {path.name}", "opencv dnn")


def _weights_note(source: str) -> str:
    return f"trained ({source.removeprefix('shipped:')})" if source.startswith("shipped:") else UNTRAINED


def kernel_rows(device: str, limits: CellLimits, size: str = "1080p") -> list[dict[str, Any]]:
    """Native pre/post kernels on a ``size`` frame against this machine's copy bandwidth.

    ``bandwidth_gb_s`` is what a plain copy of the same number of bytes (read + write) reaches here
    (NumPy on the CPU, a device-to-device copy on CUDA); ``of_bandwidth`` = kernel GB/s / that.
    """
    from streamenhance import native

    w, h = frame_size(size)
    sync = _sync_for(device)
    frame = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    if device.startswith("cuda"):
        import torch

        frame_in: Any = torch.from_numpy(frame).to(device)
    else:
        frame_in = frame
    planar = native.bgr_to_planar(frame_in)
    cases = [("bgr_to_planar_f32", lambda: native.bgr_to_planar(frame_in, out=planar), h * w * (3 + 12)),
             ("planar_to_bgr_f32_plus_base", lambda: native.planar_to_bgr(planar, base=planar), h * w * (12 + 12 + 3))]
    rows = []
    for name, run, moved in cases:
        ms = float(np.median(time_frames(run, limits, sync)))
        reference = _copy_gb_s(moved, device, limits)
        gb_s = moved / ms / 1e6
        rows.append({"kernel": name, "input": f"{w}x{h}", "device": device, "ms": round(ms, 4),
                     "bytes": moved, "gb_s": round(gb_s, 2), "bandwidth_gb_s": round(reference, 2),
                     "of_bandwidth": round(gb_s / reference, 3)})
    return rows


def _copy_gb_s(moved: int, device: str, limits: CellLimits) -> float:
    """GB/s of a plain copy that reads and writes ``moved`` bytes in all."""
    half = max(moved // 2, 1)
    if device.startswith("cuda"):
        import torch

        src = torch.empty(half, dtype=torch.uint8, device=device)
        dst = torch.empty_like(src)
        ms = float(np.median(time_frames(lambda: dst.copy_(src), limits, _sync_for(device))))
    else:
        src = np.ones(half, dtype=np.uint8)
        dst = np.empty_like(src)
        ms = float(np.median(time_frames(lambda: np.copyto(dst, src), limits)))
    return moved / ms / 1e6


def machine(device: str) -> str:
    """A line naming the CPU (or GPU), the core count and the torch version."""
    import os

    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads)"
    if device.startswith("cuda"):
        text += f", {torch.cuda.get_device_name(device)}"
    return text


def run_bench(*, tiers: Sequence[str] = TIERS, sizes: Sequence[str] = tuple(SIZES), devices: Sequence[str] = ("cpu",),
              paths: Sequence[str] = PATHS, limits: CellLimits | None = None, peers_root: Path | None = None,
              progress: Callable[[Iterable[Any]], Iterable[Any]] = lambda items: items) -> dict[str, Any]:
    """Every requested (device, size, tier, path) cell; see the module docstring."""
    from streamenhance.scheduler.profile import CellLimits, conditions, prepare_weights

    limits = limits or CellLimits(min_frames=3, min_seconds=1.0, max_seconds=20.0)
    for name, values, allowed in (("tier", tiers, TIERS), ("path", paths, PATHS)):
        bad = [v for v in values if v not in allowed]
        if bad or not values:
            raise ConfigError(f"bench {name}: expected some of {', '.join(allowed)}, got {', '.join(bad) or 'none'}")
    shapes = {size: frame_size(size) for size in sizes}
    rows: list[Row] = []
    skipped: list[str] = []
    with tempfile.TemporaryDirectory(prefix="se-bench-") as tmp:
        folder = Path(tmp)
        sources = prepare_weights(folder, ["sr"], list(tiers))
        cells = [(d, s, t) for d in devices for s in sizes for t in tiers]
        rng = np.random.default_rng(0)
        for device, size, tier in progress(cells):
            w, h = shapes[size]
            frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            note = _weights_note(sources[("sr", tier)])
            if "fused" in paths:
                rows += _fused_rows(tier, device, folder, frame, limits, note)
            if "torch" in paths:
                weights_file = next(folder.glob(f"sr_{tier}_x2_*.safetensors"))
                rows += _torch_rows(tier, device, weights_file, frame, limits, note)
            if "opencv_espcn" in paths and device == "cpu" and tier == tiers[0]:  # once per size
                if peers_root is None:
                    skipped.append(f"opencv_espcn {size}: no peers folder (--peers-dir or $STREAMENHANCE_PEERS)")
                    continue
                try:
                    rows.append(_espcn_row(frame, limits, peers_root))
                except (ModuleNotFoundError, WeightsError, OSError) as exc:
                    skipped.append(f"opencv_espcn {size}: {exc}")
    kernels = [k for device in devices for k in kernel_rows(device, limits)]
    return {"format": FORMAT, "rows": [asdict(r) for r in rows], "kernels": kernels, "machine": machine(devices[0]),
            "limits": asdict(limits), "conditions": conditions(), "skipped": skipped}


def markdown(result: dict[str, Any]) -> str:
    """The rows as a Markdown table (ms and fps per path), then the kernels."""
    lines = [f"Machine: {result['machine']}", "",
             "| device | input | tier | path | residency | kernel | ms/frame | fps | p95 ms | frames | weights |",
             "|---|---|---|---|---|---|---:|---:|---:|---:|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['device']} | {r['input']} | {r['tier']} | {r['path']} | {r['residency']} | "
                     f"{r.get('kernel', '')} | {r['ms']:.1f} | {r['fps']:.2f} | {r['p95_ms']:.1f} | {r['frames']} | "
                     f"{r['weights']} |")
    if result.get("kernels"):
        lines += ["", "| kernel | input | device | ms | GB/s | copy GB/s | of copy |", "|---|---|---|---:|---:|---:|---:|"]
        for k in result["kernels"]:
            lines.append(f"| {k['kernel']} | {k['input']} | {k['device']} | {k['ms']:.3f} | {k['gb_s']:.1f} | "
                         f"{k['bandwidth_gb_s']:.1f} | {k['of_bandwidth']:.2f} |")
    for line in result.get("skipped", []):
        lines.append(f"\nSkipped: {line}")
    return "\n".join(lines) + "\n"
