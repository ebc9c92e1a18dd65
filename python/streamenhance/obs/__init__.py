"""OBS Studio integration: the filter logic, its settings table, and the loader the OBS script calls.

Importing this package is cheap (no torch, no native bridge): the OBS script imports it on OBS's UI
thread. The engine is imported by each filter's worker thread when it builds its first Enhancer.
"""

from __future__ import annotations

from streamenhance.obs.bridge import FILTER_ID, load, unload
from streamenhance.obs.filter import FilterController, Layout
from streamenhance.obs.settings import SETTINGS, FilterSettings, Setting

__all__ = ["FILTER_ID", "SETTINGS", "FilterController", "FilterSettings", "Layout", "Setting", "load", "unload"]
