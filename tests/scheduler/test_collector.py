"""MetricCollector: snapshot, ring-buffer bound, series eviction, thread safety, Prometheus text."""

from __future__ import annotations

import threading

import pytest

from streamenhance.errors import ConfigError
from streamenhance.scheduler.clock import FakeClock
from streamenhance.scheduler.collector import MetricCollector, NvmlSampler


def test_snapshot_is_plain_data() -> None:
    clock = FakeClock(5.0)
    collector = MetricCollector(clock=clock)
    for ms in (10.0, 20.0, 30.0):
        collector.record("s1", "sr_tiny_x2", "cpu", ms, cpu_ms=ms / 2)
    snap = collector.snapshot()
    (series,) = snap["series"]
    assert (series["stream"], series["variant"], series["device"], series["count"]) == ("s1", "sr_tiny_x2", "cpu", 3)
    assert series["latency_ms"]["p50"] == pytest.approx(20.0)
    assert series["latency_ms"]["last"] == 30.0 and series["cpu_ms"]["mean"] == pytest.approx(10.0)
    assert snap["process"]["rss_mb"] > 0 and snap["time"] == 5.0


def test_measure_times_the_block() -> None:
    collector = MetricCollector()
    with collector.measure("s", "v", "cpu"):
        sum(range(1000))
    assert collector.latencies("s", "v", "cpu")[0] >= 0.0


def test_ring_buffer_is_bounded() -> None:
    collector = MetricCollector(capacity=4)
    for i in range(10):
        collector.record("s", "v", "cpu", float(i))
    assert collector.latencies("s", "v", "cpu") == [6.0, 7.0, 8.0, 9.0]
    assert collector.snapshot()["series"][0]["count"] == 10


def test_series_count_is_bounded() -> None:
    collector = MetricCollector(max_series=3)
    for i in range(5):
        collector.record(f"s{i}", "v", "cpu", 1.0)
    streams = [s["stream"] for s in collector.snapshot()["series"]]
    assert streams == ["s2", "s3", "s4"] and collector.dropped_series == 2
    collector.forget("s3")
    assert [s["stream"] for s in collector.snapshot()["series"]] == ["s2", "s4"]


def test_thread_safe_counts() -> None:
    collector = MetricCollector(capacity=64)

    def work(i: int) -> None:
        for _ in range(500):
            collector.record(f"s{i % 2}", "v", "cpu", 1.0)
            collector.snapshot() if i == 0 else None

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = sorted(s["count"] for s in collector.snapshot()["series"])
    assert counts == [2000, 2000]


def test_bad_latency_rejected() -> None:
    with pytest.raises(ConfigError):
        MetricCollector().record("s", "v", "cpu", float("nan"))
    with pytest.raises(ConfigError):
        MetricCollector(capacity=0)


def test_nvml_absent_is_reported_not_silent() -> None:
    sampler = NvmlSampler()
    if sampler.available:
        pytest.skip("NVML present")
    assert sampler.sample(0) is None and sampler.reason
    collector = MetricCollector(nvml=sampler)
    assert collector.gpu(0) is None
    assert collector.snapshot()["nvml"]["available"] is False


def test_prometheus_text_format() -> None:
    pytest.importorskip("prometheus_client")
    collector = MetricCollector()
    collector.record("s1", "sr_tiny_x2", "cpu", 12.5)
    text = collector.prometheus_text()
    assert "# TYPE streamenhance_frames_total counter" in text
    assert 'streamenhance_frames_total{device="cpu",stream="s1",variant="sr_tiny_x2"} 1.0' in text
    assert 'streamenhance_frame_latency_ms{device="cpu",quantile="0.5",stream="s1",variant="sr_tiny_x2"} 12.5' in text
    assert "streamenhance_process_rss_bytes" in text


def test_serve_binds_localhost_only() -> None:
    pytest.importorskip("prometheus_client")
    collector = MetricCollector()
    server = collector.serve(0)
    try:
        httpd = server[0] if isinstance(server, tuple) else server
        assert httpd.server_address[0] == "127.0.0.1"
    finally:
        httpd.shutdown()
        httpd.server_close()
    with pytest.raises(ConfigError):
        collector.serve(70000)
