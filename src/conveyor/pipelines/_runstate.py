"""What a runner knows while it drives a run: its identity, its view of each step, the result."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from .. import store as st
from ..core import NotFoundError, StepFailedError, did_you_mean
from ._graph import Node
from ._worker import Outcome

TERMINAL = {"succeeded", "failed", "skipped", "upstream_failed", "cancelled"}


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
        """The value a step returned (loaded from the artifact store if not in memory).

        Raises:
            NotFoundError: the run has no such step, or the step produced no output.
        """
        if step in self._values:
            return self._values[step]
        if step not in self.statuses:
            raise NotFoundError(
                f"Run {self.run.id} has no step {step!r}.{did_you_mean(step, self.statuses)}",
                run_id=self.run.id,
            )
        if self._loader is None or self.statuses[step] != "succeeded":
            raise NotFoundError(
                f"Step {step!r} of run {self.run.id} has no output: it is {self.statuses[step]}.",
                hint=f"See why with: conveyor runs logs {self.run.id} {step}",
                run_id=self.run.id,
            )
        return self._loader(step)

    def raise_for_status(self) -> RunResult:
        """Return this result if the run succeeded; raise :class:`StepFailedError` if not.

        The error names the first step that failed and the command that shows its logs.
        """
        if self.succeeded:
            return self
        failed = [n for n, s in self.statuses.items() if s == "failed"]
        step = failed[0] if failed else next(iter(self.errors), None)
        where = f"step {step!r}: {self.errors.get(step, '')}".rstrip(": ") if step else ""
        raise StepFailedError(
            f"Run {self.run.id} of pipeline {self.run.pipeline!r} {self.run.status}"
            + (f" at {where}." if where else "."),
            hint=f"See the logs with: conveyor runs logs {self.run.id}"
            + (f" {step}" if step else "")
            + f"; retry what failed with: conveyor runs resume {self.run.id}",
            run_id=self.run.id,
            step=step,
        )


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

    @property
    def status(self) -> str:
        return self.record.status
