"""The controller: one process that keeps the loop turning (``conveyor up``).

Each tick it:

1. runs every deployment's monitors when ``every_monitor`` has passed since the last time
   (the windows closed since then; alarms become events), and judges the latest promotion
   of each deployment's champion: a new version worse than the one it replaced beyond the
   margin is rolled back (:mod:`conveyor.automate._rollback`);
2. fires the triggers on the events logged since the last tick
   (:func:`~conveyor.automate.fire_triggers`);
3. runs the queued runs, oldest first, and resumes the triggered runs whose runner died (a
   controller killed mid-run: finished steps are kept); a run is acquired by
   compare-and-set on its attempt, so of several controllers one runs it, the others pass;
4. sends the alerts of the events logged meanwhile (when ``[notify.channels]`` has any).

Every step is idempotent against the store, so a controller killed at any point and
started again (or two controllers on one PostgreSQL store) do the work once. A run in
progress holds the tick: the next tick starts when it ends.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core import ConflictError, ConveyorError
from ._firing import TRIGGER_TAG, Firing, fire_triggers
from ._rollback import Verdict, judge_promotions

if TYPE_CHECKING:
    from ..workspace import Workspace

log = logging.getLogger(__name__)


@dataclass
class Tick:
    """What one tick did: per deployment the new drift windows and the alarms raised (or
    the error), the firings, the runs executed (id, pipeline, status), the alerts sent."""

    monitors: dict[str, dict[str, Any]] = field(default_factory=dict)
    verdicts: list[Verdict] = field(default_factory=list)
    firings: list[Firing] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    alerts: int = 0

    @property
    def quiet(self) -> bool:
        return not (
            any(
                m.get("windows") or m.get("alarms") or m.get("error")
                for m in self.monitors.values()
            )
            or any(v.outcome == "rolled_back" for v in self.verdicts)
            or self.firings
            or self.runs
            or self.alerts
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "monitors": self.monitors,
            "verdicts": [v.to_dict() for v in self.verdicts],
            "firings": [f.to_dict() for f in self.firings],
            "runs": self.runs,
            "alerts": self.alerts,
        }


def controller_name() -> str:
    """``host:pid``: who holds the claims this controller wins."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


class Controller:
    """The loop of one project (see the module docstring).

    Args:
        every_monitor: Seconds between monitor runs (None: this controller runs none).
        on_change: Called with ``(step name, status)`` while a run executes (a live view).
    """

    def __init__(
        self,
        ws: Workspace,
        *,
        every_monitor: float | None = 60.0,
        on_change: Callable[[str, str], None] | None = None,
    ) -> None:
        self.ws = ws
        self.owner = controller_name()
        self.every_monitor = every_monitor
        self.on_change = on_change
        self._cursor: dict[str, int] = {}
        self._monitored_at = -float("inf")

    def tick(self, *, now: int | None = None) -> Tick:
        """One turn of the loop."""
        tick = Tick()
        due = self.every_monitor is not None and (
            time.monotonic() - self._monitored_at >= self.every_monitor
        )
        if due:
            self._monitored_at = time.monotonic()
            tick.monitors = self._monitor(now)
            tick.verdicts = judge_promotions(self.ws, now=now)
        tick.firings, self._cursor = fire_triggers(
            self.ws, owner=self.owner, after=self._cursor, now=now
        )
        tick.runs = self._run_queued()
        if self.ws.config.notify.channels:
            from ..notify import dispatch_alerts

            tick.alerts = len(dispatch_alerts(self.ws).deliveries)
        return tick

    def run(self, *, every: float, stop: threading.Event, on_tick: Callable[[Tick], None]) -> None:
        """Tick every ``every`` seconds until ``stop`` is set; a failing tick is logged and
        the loop goes on (the store's retries already absorbed what is transient)."""
        while not stop.is_set():
            try:
                on_tick(self.tick())
            except ConveyorError as exc:
                log.error("tick failed: %s", exc.message)
            stop.wait(every)

    def _monitor(self, now: int | None) -> dict[str, dict[str, Any]]:
        from ..monitor import run_monitors
        from ..serve.runtime import list_deployments

        out: dict[str, dict[str, Any]] = {}
        for deployment in list_deployments(self.ws):
            try:
                runs = run_monitors(self.ws, deployment.name, now=now)
            except ConveyorError as exc:
                out[deployment.name] = {"error": exc.message}
                continue
            # New drift windows (the performance monitor recomputes its open windows at
            # every run: counting those would say nothing).
            windows = len(runs.drift.windows) if runs.drift is not None else 0
            alarms = [a for r in runs.runs.values() for a in r.alarms]
            errors = {name: exc.message for name, exc in runs.errors.items()}
            out[deployment.name] = {"windows": windows, "alarms": alarms, "errors": errors}
        return out

    def _run_queued(self) -> list[dict[str, Any]]:
        """Run the queued runs, and resume the triggered runs whose runner died (a
        controller killed mid-run): provably dead on this machine, or its lease lapsed."""
        from ..core import now_ms
        from ..pipelines import list_runs, owner_is_dead, resume_run

        orphans = [
            r
            for r in list_runs(self.ws, statuses=["running"], limit=100)
            if TRIGGER_TAG in r.tags
            and (
                owner_is_dead(r.lease_owner)
                or (r.lease_expires_at is not None and r.lease_expires_at < now_ms())
            )
        ]
        queued = list_runs(self.ws, statuses=["queued"], limit=100)
        done = []
        for run in sorted([*orphans, *queued], key=lambda r: r.id):
            try:
                result = resume_run(self.ws, run.id, on_change=self.on_change)
            except ConflictError:
                continue  # another controller acquired it first
            done.append(
                {
                    "run_id": run.id,
                    "pipeline": run.pipeline,
                    "status": result.run.status,
                    "resumed": run.status == "running",
                }
            )
        return done
