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

    @property
    def status(self) -> str:
        return self.record.status
