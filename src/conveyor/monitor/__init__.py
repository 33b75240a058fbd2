"""Monitoring: drift and performance computed over windows of the prediction log and
feedback, with a stated false-alarm budget, and an estimate of performance before labels.

Services over a :class:`~conveyor.workspace.Workspace`; the CLI, the REST API and the UI
call these, never the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core._lazy import lazy_attributes
from ._adwin import ADWIN as ADWIN
from ._adwin import Change as Change
from ._budget import AlarmLevel as AlarmLevel
from ._budget import draws_needed as draws_needed
from ._budget import empirical_p_values as empirical_p_values
from ._budget import expected_run_time as expected_run_time
from ._budget import feature_level as feature_level
from ._budget import window_level as window_level
from ._drift import ColumnDrift as ColumnDrift
from ._drift import ColumnStatus as ColumnStatus
from ._drift import DriftReport as DriftReport
from ._drift import column_drift as column_drift
from ._drift import detect_drift as detect_drift
from ._drift_null import NullDistribution as NullDistribution
from ._drift_null import null_statistics as null_statistics
from ._drift_reference import CategoricalReference as CategoricalReference
from ._drift_reference import ColumnKind as ColumnKind
from ._drift_reference import ColumnReference as ColumnReference
from ._drift_reference import DriftReference as DriftReference
from ._drift_reference import NumericReference as NumericReference
from ._drift_reference import prepare_column as prepare_column
from ._drift_reference import prepare_reference as prepare_reference
from ._drift_stats import METHODS as METHODS
from ._drift_stats import DriftMethod as DriftMethod
from ._drift_stats import MethodSpec as MethodSpec
from ._drift_stats import default_method as default_method
from ._estimate import ASSUMPTION as ASSUMPTION
from ._estimate import CBPE as CBPE
from ._estimate import PerformanceEstimate as PerformanceEstimate
from ._estimate_history import EstimateComparison as EstimateComparison
from ._estimate_history import EstimateError as EstimateError
from ._estimate_history import compare_estimate as compare_estimate
from ._estimate_history import estimate_error as estimate_error
from ._performance import MIN_LABELS as MIN_LABELS
from ._performance import LabelLatency as LabelLatency
from ._performance import WindowPerformance as WindowPerformance
from ._performance import window_performance as window_performance
from ._uncertainty import Figure as Figure

if TYPE_CHECKING:
    from ._monitors import DRIFT as DRIFT
    from ._monitors import MonitorRun as MonitorRun
    from ._monitors import MonitorWindow as MonitorWindow
    from ._monitors import alarm_levels as alarm_levels
    from ._monitors import monitor_history as monitor_history
    from ._monitors import run_drift_monitor as run_drift_monitor
    from ._performance_monitor import ESTIMATE_LABEL as ESTIMATE_LABEL
    from ._performance_monitor import PERFORMANCE as PERFORMANCE
    from ._performance_monitor import run_performance_monitor as run_performance_monitor
    from ._run_monitors import MonitorRuns as MonitorRuns
    from ._run_monitors import run_monitors as run_monitors
    from ._versions import version_performance as version_performance

# The monitors read the store and the prediction log (pyarrow): imported on first use.
_LAZY = {
    **dict.fromkeys(
        [
            "DRIFT",
            "MonitorRun",
            "MonitorWindow",
            "alarm_levels",
            "monitor_history",
            "run_drift_monitor",
        ],
        "._monitors",
    ),
    "version_performance": "._versions",
    **dict.fromkeys(
        ["ESTIMATE_LABEL", "PERFORMANCE", "run_performance_monitor"], "._performance_monitor"
    ),
    **dict.fromkeys(["MonitorRuns", "run_monitors"], "._run_monitors"),
}

__all__ = [
    "ADWIN",
    "ASSUMPTION",
    "CBPE",
    "DRIFT",
    "ESTIMATE_LABEL",
    "METHODS",
    "MIN_LABELS",
    "PERFORMANCE",
    "AlarmLevel",
    "CategoricalReference",
    "Change",
    "ColumnDrift",
    "ColumnKind",
    "ColumnReference",
    "ColumnStatus",
    "DriftMethod",
    "DriftReference",
    "DriftReport",
    "EstimateComparison",
    "EstimateError",
    "Figure",
    "LabelLatency",
    "MethodSpec",
    "MonitorRun",
    "MonitorRuns",
    "MonitorWindow",
    "NullDistribution",
    "NumericReference",
    "PerformanceEstimate",
    "WindowPerformance",
    "alarm_levels",
    "column_drift",
    "compare_estimate",
    "default_method",
    "detect_drift",
    "draws_needed",
    "empirical_p_values",
    "estimate_error",
    "expected_run_time",
    "feature_level",
    "monitor_history",
    "null_statistics",
    "prepare_column",
    "prepare_reference",
    "run_drift_monitor",
    "run_monitors",
    "run_performance_monitor",
    "version_performance",
    "window_level",
    "window_performance",
]

__getattr__ = lazy_attributes(__name__, _LAZY, globals())
