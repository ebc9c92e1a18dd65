"""Built-in policies, registered by name on import: ``learned`` and its baselines."""

from __future__ import annotations

from streamenhance.scheduler.policies.baselines import (
    GreedyFlopsPolicy,
    LeastLoadedPolicy,
    RoundRobinPolicy,
    StaticLargestPolicy,
    StaticSmallestPolicy,
)
from streamenhance.scheduler.policies.learned import LearnedPolicy
from streamenhance.scheduler.policies.planned import OfflineTablePolicy, OraclePolicy

__all__ = [
    "GreedyFlopsPolicy",
    "LearnedPolicy",
    "LeastLoadedPolicy",
    "OfflineTablePolicy",
    "OraclePolicy",
    "RoundRobinPolicy",
    "StaticLargestPolicy",
    "StaticSmallestPolicy",
]
