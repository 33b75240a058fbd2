"""Every monitor of a deployment in one call: drift, then live performance.

The monitors are independent: one that cannot run (a drift monitor without a reference, a
performance monitor stopped by a label it cannot compare) does not stop the other; its
error is returned beside the other's run, and raised only when no monitor ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core import ConveyorError
from ..serve.runtime import get_deployment
from ._monitors import DRIFT, MAX_WINDOWS, MonitorRun, run_drift_monitor
from ._performance_monitor import PERFORMANCE, run_performance_monitor

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["MONITORS", "MonitorRuns", "run_monitors"]

MONITORS = (DRIFT, PERFORMANCE)


@dataclass(frozen=True)
class MonitorRuns:
    """What one run of a deployment's monitors did: each monitor's run, by name, and the
    error of each monitor that could not run."""

    deployment: str
    runs: dict[str, MonitorRun] = field(default_factory=dict)
    errors: dict[str, ConveyorError] = field(default_factory=dict)

    @property
    def drift(self) -> MonitorRun | None:
        return self.runs.get(DRIFT)

    @property
    def performance(self) -> MonitorRun | None:
        return self.runs.get(PERFORMANCE)

    def to_dict(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment,
            **{name: run.to_dict() if (run := self.runs.get(name)) else None for name in MONITORS},
            "errors": {
                name: {"error": type(exc).__name__, "message": exc.message, "hint": exc.hint}
                for name, exc in self.errors.items()
            },
        }


def run_monitors(
    ws: Workspace, deployment: str, *, now: int | None = None, max_windows: int = MAX_WINDOWS
) -> MonitorRuns:
    """Run the drift and the performance monitor of ``deployment`` (see
    :func:`~conveyor.monitor.run_drift_monitor` and
    :func:`~conveyor.monitor.run_performance_monitor`).

    Args:
        now: The time (Unix ms) windows are closed against; the clock by default.
        max_windows: Each monitor computes at most this many windows.

    Raises:
        NotFoundError: No such deployment.
        ConveyorError: The error of the first monitor, when none could run.
    """
    get_deployment(ws, deployment)
    runs: dict[str, MonitorRun] = {}
    errors: dict[str, ConveyorError] = {}
    for name, monitor in ((DRIFT, run_drift_monitor), (PERFORMANCE, run_performance_monitor)):
        try:
            runs[name] = monitor(ws, deployment, now=now, max_windows=max_windows)
        except ConveyorError as exc:
            errors[name] = exc
    if not runs:
        raise next(iter(errors.values()))
    return MonitorRuns(deployment, runs, errors)
