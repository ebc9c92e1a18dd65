"""Scheduler: picks a tier and a device for every live stream so that each meets its frame deadline.

Layers: a metric collector (``collector``), a cost predictor (``predictor``, trained on measured
``profile`` data), policies behind one interface (``policy``, ``policies``), the process-wide facade
(``service``), and the trace-driven benchmark (``simulator``, ``bench``). See docs/SCHEDULER.md.
"""

from __future__ import annotations

from streamenhance.scheduler.clock import Clock, FakeClock, MonotonicClock
from streamenhance.scheduler.collector import MetricCollector
from streamenhance.scheduler.devices import DeviceInfo
from streamenhance.scheduler.policy import LocalPlacement, Placement, Policy, make_policy, policy_names
from streamenhance.scheduler.predictor import PerfPredictor
from streamenhance.scheduler.service import (
    Scheduler,
    StreamHandle,
    configure_scheduler,
    get_scheduler,
    reset_scheduler,
    stream_advisor,
)
from streamenhance.scheduler.streams import Assignment, StreamInfo, StreamRequest

__all__ = [
    "Assignment",
    "Clock",
    "DeviceInfo",
    "FakeClock",
    "LocalPlacement",
    "MetricCollector",
    "MonotonicClock",
    "PerfPredictor",
    "Placement",
    "Policy",
    "Scheduler",
    "StreamHandle",
    "StreamInfo",
    "StreamRequest",
    "configure_scheduler",
    "get_scheduler",
    "make_policy",
    "policy_names",
    "reset_scheduler",
    "stream_advisor",
]
