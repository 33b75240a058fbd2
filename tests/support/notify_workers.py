"""Child-process bodies for the alert dispatchers' concurrency tests (importable under
``spawn``): each opens the project, waits on the barrier, dispatches, and returns the
outcome of every delivery it made."""

from __future__ import annotations

from typing import Any

from conveyor.notify import dispatch_alerts
from conveyor.workspace import Workspace

from .procs import BARRIER_TIMEOUT


def dispatcher(root: str, url: str, barrier: Any, limit: int) -> dict[str, Any]:
    """Dispatch until caught up, ``limit`` events at a time; count outcomes."""
    counts: dict[str, int] = {}
    n_events = 0
    with Workspace.open(root, env={"CONVEYOR_STORE": url}) as ws:
        barrier.wait(timeout=BARRIER_TIMEOUT)
        while True:
            result = dispatch_alerts(ws, limit=limit)
            n_events += result.n_events
            for delivery in result.deliveries:
                counts[delivery.outcome] = counts.get(delivery.outcome, 0) + 1
            if result.n_events < limit:
                return {"counts": counts, "n_events": n_events, "cursor": result.cursor}
