"""Per (stream, model variant, device) runtime samples: latency, CPU time, RSS, GPU utilisation/memory.

Memory is bounded: every series is a ring buffer of ``capacity`` samples and at most ``max_series``
series are kept (the least recently updated is dropped first). All methods are thread-safe.

Latency is ``time.perf_counter`` around the call on the CPU; on a CUDA device it is the elapsed time
of two CUDA events recorded on the current stream, read once the end event has completed (no
synchronisation in the frame path). GPU utilisation and memory come from NVML (``nvidia-ml-py``,
optional); Prometheus export needs ``prometheus-client`` (optional). CPU time is the calling
thread's (``time.thread_time``): torch's intra-op worker threads are not attributed to a stream, so
the process total (``resource.getrusage``) is reported beside it.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamenhance.errors import ConfigError
from streamenhance.scheduler.clock import Clock, MonotonicClock

SeriesKey = tuple[str, str, str]  # (stream, variant, device)


@dataclass(frozen=True)
class Sample:
    """One frame of one series."""

    time: float
    latency_ms: float
    cpu_ms: float | None = None


class _Series:
    def __init__(self, capacity: int) -> None:
        self.samples: deque[Sample] = deque(maxlen=capacity)
        self.count = 0
        self.total_ms = 0.0

    def add(self, sample: Sample) -> None:
        self.samples.append(sample)
        self.count += 1
        self.total_ms += sample.latency_ms

    def summary(self) -> dict[str, Any]:
        latency = np.fromiter((s.latency_ms for s in self.samples), dtype=np.float64, count=len(self.samples))
        cpu = [s.cpu_ms for s in self.samples if s.cpu_ms is not None]
        out: dict[str, Any] = {"count": self.count, "window": int(latency.size), "total_ms": self.total_ms}
        if latency.size:
            p50, p95 = np.percentile(latency, [50, 95])
            out["latency_ms"] = {"p50": float(p50), "p95": float(p95), "mean": float(latency.mean()),
                                 "max": float(latency.max()), "last": float(latency[-1])}
        if cpu:
            out["cpu_ms"] = {"mean": float(np.mean(cpu)), "last": float(cpu[-1])}
        return out


class NvmlSampler:
    """GPU utilisation and memory through NVML; ``available`` is False (with ``reason``) without it."""

    def __init__(self) -> None:
        self.reason = ""
        self._nvml: Any = None
        try:
            import pynvml  # provided by nvidia-ml-py

            pynvml.nvmlInit()
            self._nvml = pynvml
        except ImportError as exc:
            self.reason = f"nvidia-ml-py not installed ({exc})"
        except Exception as exc:  # NVMLError: no driver / no GPU
            self.reason = f"NVML unavailable: {exc}"

    @property
    def available(self) -> bool:
        return self._nvml is not None

    def sample(self, index: int) -> dict[str, float] | None:
        """``{"utilization": 0..1, "memory_used_mb", "memory_total_mb"}`` of GPU ``index``, or None."""
        if self._nvml is None:
            return None
        try:
            handle = self._nvml.nvmlDeviceGetHandleByIndex(index)
            util = self._nvml.nvmlDeviceGetUtilizationRates(handle)
            memory = self._nvml.nvmlDeviceGetMemoryInfo(handle)
        except Exception as exc:  # NVMLError for a bad index or a lost GPU
            self.reason = f"NVML sample of GPU {index} failed: {exc}"
            return None
        return {"utilization": util.gpu / 100.0, "memory_used_mb": memory.used / 2**20,
                "memory_total_mb": memory.total / 2**20}


def rss_mb() -> float:
    """Resident set size of this process in MB (``/proc/self/statm``; peak RSS where it is missing)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def process_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class MetricCollector:
    """Thread-safe, bounded store of frame samples.

    Args:
        capacity: samples kept per series (ring buffer).
        max_series: series kept at most; the least recently updated goes first.
        clock: time source of the samples' timestamps.
        nvml: GPU sampler (default: try NVML once).
        gpu_sample_every_s: NVML is read at most this often per GPU.
    """

    def __init__(
        self,
        capacity: int = 256,
        max_series: int = 1024,
        clock: Clock | None = None,
        nvml: NvmlSampler | None = None,
        gpu_sample_every_s: float = 1.0,
    ) -> None:
        if capacity < 1 or max_series < 1:
            raise ConfigError(f"collector: capacity and max_series must be >= 1, got {capacity}, {max_series}")
        self.capacity = capacity
        self.max_series = max_series
        self.clock = clock or MonotonicClock()
        self._lock = threading.Lock()
        self._series: OrderedDict[SeriesKey, _Series] = OrderedDict()
        self._pending: deque[tuple[SeriesKey, Any, Any, float | None]] = deque(maxlen=4 * capacity)
        self._nvml = nvml
        self._gpu: dict[int, tuple[float, dict[str, float]]] = {}
        self._gpu_every = gpu_sample_every_s
        self._registry: Any = None
        self.dropped_series = 0

    # ------------------------------------------------------------------ recording

    def record(self, stream: str, variant: str, device: str, latency_ms: float, cpu_ms: float | None = None) -> None:
        """Add one frame's figures to the series (stream, variant, device)."""
        if not np.isfinite(latency_ms) or latency_ms < 0:
            raise ConfigError(f"latency_ms: expected a finite number >= 0, got {latency_ms!r}")
        sample = Sample(self.clock.now(), float(latency_ms), cpu_ms)
        with self._lock:
            self._add_locked((stream, variant, device), sample)

    def _add_locked(self, key: SeriesKey, sample: Sample) -> None:
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Series(self.capacity)
            while len(self._series) > self.max_series:
                self._series.popitem(last=False)
                self.dropped_series += 1
        else:
            self._series.move_to_end(key)
        series.add(sample)

    @contextmanager
    def measure(self, stream: str, variant: str, device: str) -> Iterator[None]:
        """Time the ``with`` body as one frame of (stream, variant, device).

        On ``cuda:N`` the body is timed with CUDA events on the current stream and resolved later
        (``snapshot`` or the next ``measure``), so this never synchronises the GPU.
        """
        if device.startswith("cuda"):
            with self._measure_cuda((stream, variant, device)):
                yield
            return
        cpu0, start = time.thread_time(), time.perf_counter()
        try:
            yield
        finally:
            latency = (time.perf_counter() - start) * 1e3
            self.record(stream, variant, device, latency, (time.thread_time() - cpu0) * 1e3)

    @contextmanager
    def _measure_cuda(self, key: SeriesKey) -> Iterator[None]:  # pragma: no cover - needs a GPU
        import torch

        self._resolve_pending()
        begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        cpu0 = time.thread_time()
        begin.record()
        try:
            yield
        finally:
            end.record()
            with self._lock:
                self._pending.append((key, begin, end, (time.thread_time() - cpu0) * 1e3))

    def _resolve_pending(self) -> None:
        """Move completed CUDA event pairs into their series (cheap ``query``, no sync)."""
        while True:
            with self._lock:
                if not self._pending or not self._pending[0][2].query():
                    return
                key, begin, end, cpu_ms = self._pending.popleft()
                self._add_locked(key, Sample(self.clock.now(), float(begin.elapsed_time(end)), cpu_ms))

    def forget(self, stream: str) -> None:
        """Drop every series of ``stream`` (it closed)."""
        with self._lock:
            for key in [k for k in self._series if k[0] == stream]:
                del self._series[key]

    # ------------------------------------------------------------------ reading

    def gpu(self, index: int) -> dict[str, float] | None:
        """NVML figures of GPU ``index``, read at most every ``gpu_sample_every_s`` seconds."""
        if self._nvml is None:
            self._nvml = NvmlSampler()
        now = self.clock.now()
        with self._lock:
            cached = self._gpu.get(index)
            if cached is not None and now - cached[0] < self._gpu_every:
                return cached[1]
        sample = self._nvml.sample(index)
        if sample is not None:
            with self._lock:
                self._gpu[index] = (now, sample)
        return sample

    def snapshot(self) -> dict[str, Any]:
        """Plain-dict view: every series' summary, the process' RSS and CPU time, GPUs seen so far."""
        if self._pending:
            self._resolve_pending()
        with self._lock:
            series = [{"stream": k[0], "variant": k[1], "device": k[2], **s.summary()} for k, s in self._series.items()]
            gpus = {f"cuda:{i}": dict(v[1]) for i, v in self._gpu.items()}
            dropped = self.dropped_series
        nvml = self._nvml
        return {
            "time": self.clock.now(),
            "series": series,
            "process": {"rss_mb": rss_mb(), "cpu_s": process_cpu_s(), "pid": os.getpid()},
            "gpus": gpus,
            "nvml": {"available": bool(nvml and nvml.available), "reason": nvml.reason if nvml else "not queried"},
            "limits": {"capacity": self.capacity, "max_series": self.max_series, "dropped_series": dropped},
        }

    def latencies(self, stream: str, variant: str, device: str) -> list[float]:
        """The window of latencies of one series (oldest first)."""
        with self._lock:
            series = self._series.get((stream, variant, device))
            return [s.latency_ms for s in series.samples] if series else []

    # ------------------------------------------------------------------ Prometheus

    def prometheus_registry(self) -> Any:
        """A ``prometheus_client.CollectorRegistry`` exporting this collector (built once).

        Raises:
            ConfigError: ``prometheus-client`` is not installed (``pip install streamenhance[metrics]``).
        """
        try:
            from prometheus_client import CollectorRegistry
        except ImportError as exc:
            raise ConfigError("Prometheus export needs prometheus-client: pip install 'streamenhance[metrics]' "
                              f"({exc})") from exc
        with self._lock:
            if self._registry is None:
                registry = CollectorRegistry(auto_describe=False)
                registry.register(_PrometheusView(self))
                self._registry = registry
            return self._registry

    def prometheus_text(self) -> str:
        """The metrics in the Prometheus text exposition format."""
        from prometheus_client import generate_latest

        return generate_latest(self.prometheus_registry()).decode("utf-8")

    def serve(self, port: int) -> Any:
        """Serve ``/metrics`` on 127.0.0.1:``port`` only (never on other interfaces); returns the server.

        Raises:
            ConfigError: prometheus-client missing or the port is invalid.
        """
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise ConfigError(f"port: expected an integer in 0..65535, got {port!r}")
        registry = self.prometheus_registry()
        from prometheus_client import start_http_server

        return start_http_server(port, addr="127.0.0.1", registry=registry)


class _PrometheusView:
    """A custom Prometheus collector: builds the metric families from ``snapshot()`` at scrape time."""

    def __init__(self, collector: MetricCollector) -> None:
        self._collector = collector

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        snap = self._collector.snapshot()
        labels = ["stream", "variant", "device"]
        frames = CounterMetricFamily("streamenhance_frames", "Frames measured per series", labels=labels)
        latency = GaugeMetricFamily("streamenhance_frame_latency_ms", "Frame latency over the recent window",
                                    labels=[*labels, "quantile"])
        cpu = GaugeMetricFamily("streamenhance_frame_cpu_ms", "Mean calling-thread CPU time per frame", labels=labels)
        for s in snap["series"]:
            values = [s["stream"], s["variant"], s["device"]]
            frames.add_metric(values, s["count"])
            for q, name in (("0.5", "p50"), ("0.95", "p95")):
                if "latency_ms" in s:
                    latency.add_metric([*values, q], s["latency_ms"][name])
            if "cpu_ms" in s:
                cpu.add_metric(values, s["cpu_ms"]["mean"])
        yield from (frames, latency, cpu)
        yield GaugeMetricFamily("streamenhance_process_rss_bytes", "Resident set size",
                                value=snap["process"]["rss_mb"] * 2**20)
        yield CounterMetricFamily("streamenhance_process_cpu_seconds", "Process CPU time",
                                  value=snap["process"]["cpu_s"])
        util = GaugeMetricFamily("streamenhance_gpu_utilization_ratio", "NVML GPU utilisation", labels=["device"])
        memory = GaugeMetricFamily("streamenhance_gpu_memory_used_bytes", "NVML GPU memory in use", labels=["device"])
        for device, figures in snap["gpus"].items():
            util.add_metric([device], figures["utilization"])
            memory.add_metric([device], figures["memory_used_mb"] * 2**20)
        yield from (util, memory)
