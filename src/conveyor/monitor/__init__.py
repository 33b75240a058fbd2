"""Monitoring: drift and performance computed over windows of the prediction log and
feedback, with a stated false-alarm budget, and an estimate of performance before labels.

Services over a :class:`~conveyor.workspace.Workspace`; the CLI, the REST API and the UI
call these, never the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core._lazy import lazy_attributes
from ._budget import AlarmLevel as AlarmLevel
from ._budget import draws_needed as draws_needed
from ._budget import empirical_p_values as empirical_p_values
from ._budget import expected_run_time as expected_run_time
from ._budget import feature_level as feature_level
from ._budget import window_level as window_level

if TYPE_CHECKING:
    from ._monitors import DRIFT as DRIFT
    from ._monitors import MonitorRun as MonitorRun
    from ._monitors import MonitorWindow as MonitorWindow
    from ._monitors import alarm_levels as alarm_levels
    from ._monitors import monitor_history as monitor_history
    from ._monitors import run_drift_monitor as run_drift_monitor

# The monitors read the store and the prediction log (pyarrow): imported on first use.
_LAZY = dict.fromkeys(
    [
        "DRIFT",
        "MonitorRun",
        "MonitorWindow",
        "alarm_levels",
        "monitor_history",
        "run_drift_monitor",
    ],
    "._monitors",
)

__all__ = [
    "DRIFT",
    "AlarmLevel",
    "MonitorRun",
    "MonitorWindow",
    "alarm_levels",
    "draws_needed",
    "empirical_p_values",
    "expected_run_time",
    "feature_level",
    "monitor_history",
    "run_drift_monitor",
    "window_level",
]

__getattr__ = lazy_attributes(__name__, _LAZY, globals())
