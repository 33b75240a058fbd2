"""Monitoring: the computed windows of each deployment's monitors, and what a monitor
carries from one run to the next."""

from __future__ import annotations

from ._monitoring import WindowValues as WindowValues
from ._monitoring import get_monitor_state as get_monitor_state
from ._monitoring import list_monitor_windows as list_monitor_windows
from ._monitoring import record_monitor_window as record_monitor_window
from ._monitoring import save_monitor_state as save_monitor_state
from ._records import MonitorStateRecord as MonitorStateRecord
from ._records import MonitorWindowRecord as MonitorWindowRecord

__all__ = [
    "MonitorStateRecord",
    "MonitorWindowRecord",
    "WindowValues",
    "get_monitor_state",
    "list_monitor_windows",
    "record_monitor_window",
    "save_monitor_state",
]
