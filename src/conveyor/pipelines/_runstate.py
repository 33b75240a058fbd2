"""What a runner knows while it drives a run: its identity, its claim (kept alive by a
heartbeat), its view of each step, the result."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from .. import store as st
from ..core import StaleAttemptError, StoreError
from ._decisions import TERMINAL as TERMINAL
from ._graph import Node
from ._worker import Outcome

log = logging.getLogger(__name__)


def runner_id() -> str:
    """``host:pid:nonce``: who holds a claim, and whether that process still lives."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead(owner: str | None) -> bool:
    """True if ``owner`` is a process on this host that no longer exists."""
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid_text = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass
class RunResult:
    """The outcome of a run: its record, each step's status, and its outputs."""

    run: st.RunRecord
    statuses: dict[str, str]
    errors: dict[str, str]
    _values: dict[str, Any] = field(default_factory=dict, repr=False)
    _loader: Callable[[str], Any] | None = field(default=None, repr=False)

    @property
    def succeeded(self) -> bool:
        return self.run.status == "succeeded"

    def output(self, step: str) -> Any:
        """The value a step returned (loaded from the artifact store if not in memory)."""
        if step in self._values:
            return self._values[step]
        if self._loader is None:
            raise KeyError(step)
        return self._loader(step)


@dataclass
class Slot:
    """The runner's view of one step run (a node, or one item of a fan-out)."""

    name: str
    node: Node
    record: st.StepRunRecord
    item: Any = None
    item_index: int | None = None
    children: list[str] = field(default_factory=list)
    parent: str | None = None
    not_before: float = 0.0
    attempt: int = 0
    future: Future[Outcome] | None = None
    deadline: float | None = None
    inputs: dict[str, int] = field(default_factory=dict)
    key: str | None = None
    base_attempt: int = 0  # attempts made before this runner took over (a resume)
    expanded: bool = False  # a fan-out whose items exist (it may have none)

    @property
    def status(self) -> str:
        return self.record.status


class Heartbeat:
    """Keeps a runner's claim on its run alive from a daemon thread of its own.

    Every third of the lease it renews the run's lease and those of the steps the runner
    runs, in one transaction. Not on the scheduling thread: that one waits on the store
    (with retries) and loads artifacts, and a claim must not lapse while it does. When a
    renewal finds the run taken over, :attr:`lost` completes and the thread ends; the
    scheduler waits on it with its attempts, and stops.
    """

    def __init__(self, store: st.Store, run_id: int, owner: str, attempt: int, lease: float):
        self.store = store
        self.run_id = run_id
        self.owner = owner
        self.attempt = attempt
        self.lease = lease
        self.lost: Future[StaleAttemptError] = Future()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"conveyor-heartbeat-{run_id}", daemon=True
        )

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Renew no more; wait for a renewal under way to end (bounded by the lease)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(self.lease)

    def _beat(self) -> None:
        while not self._stop.wait(self.lease / 3):
            try:
                st.renew_run_lease(
                    self.store, self.run_id, self.owner, self.attempt, lease=self.lease
                )
            except StaleAttemptError as exc:
                self.lost.set_result(exc)
                return
            except StoreError as exc:
                # The store is away: keep trying. If it stays away past the lease, another
                # runner may take over, and this one's next write or renewal finds out.
                log.warning("Renewing the lease of run %s failed: %s", self.run_id, exc)
