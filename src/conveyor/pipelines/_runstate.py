"""What a runner knows while it drives a run: its identity, its view of each step, the result."""

from __future__ import annotations

import os
import socket
import time
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


# A runner's identity: ``host:pid:start:boot:pidns:nonce``. The pid alone is not enough:
# pids are reused, and containers on one machine share a host name (sometimes) and the
# kernel's boot id (always) but not their pid namespace. ``start`` is the process start
# time (field 22 of /proc/PID/stat, clock ticks since boot), so a reused pid is told apart;
# ``boot`` and ``pidns`` say which kernel and which pid namespace the pid belongs to. The
# host name is kept for people reading it and shortened to fit the store's 64 characters.
OWNER_MAX = 64
_UNKNOWN = "-"
_ZOMBIE = ("Z", "X")  # exited, not yet reaped: runs nothing
# How long owner_is_dead waits for a dead runner's process group (its forkserver, which
# lives until the runner's process-mode steps are gone) to empty before saying "alive".
GROUP_GRACE = 3.0


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as f:
            return f.read()
    except (OSError, ValueError):
        return None


def _stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name: ``[0]`` is field 3 (state),
    ``[2]`` field 5 (process group), ``[19]`` field 22 (start time); None if unreadable."""
    text = _read(f"/proc/{pid}/stat")
    if text is None or ")" not in text:
        return None
    fields = text.rsplit(")", 1)[1].split()  # the name in parentheses may hold anything
    return fields if len(fields) >= 20 else None


def _boot_id() -> str:
    text = _read("/proc/sys/kernel/random/boot_id")
    boot = (text or "").strip().replace("-", "")[:12]
    return boot if boot.isalnum() else _UNKNOWN


def _pid_namespace() -> str:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return _UNKNOWN


def _host() -> str:
    return socket.gethostname().replace(":", "_") or "localhost"


def runner_id() -> str:
    """``host:pid:start:boot:pidns:nonce``: who holds a claim, and whether it still lives."""
    pid = os.getpid()
    stat = _stat("self")
    start = stat[19] if stat else _UNKNOWN
    rest = f"{pid}:{start}:{_boot_id()}:{_pid_namespace()}:{uuid.uuid4().hex[:8]}"
    host = _host()[: max(1, OWNER_MAX - len(rest) - 1)]
    return f"{host}:{rest}"[:OWNER_MAX]


def owner_is_dead(owner: str | None) -> bool:
    """True only if ``owner`` is provably dead: on this kernel (same boot id) and in this
    pid namespace, its pid is gone, a zombie, or now another process (a different start
    time); and a process group it led, if any, is empty (its forkserver, hence its
    process-mode steps, are gone too). Anything else, an owner in another container or of
    another format included, is not provably dead: its lease decides.
    """
    if not owner:
        return True
    parts = owner.rsplit(":", 5)
    if len(parts) != 6:
        return False  # an older or foreign format
    host, pid_text, start, boot, namespace, _nonce = parts
    if not pid_text.isdigit() or int(pid_text) <= 0:
        return False
    pid = int(pid_text)
    if boot == _UNKNOWN or namespace == _UNKNOWN:
        # No /proc where it ran (not Linux): the host name and the pid are all there is.
        return (
            boot == _boot_id()
            and namespace == _pid_namespace()
            and bool(host)
            and _host().startswith(host)
            and _pid_gone(pid)
        )
    if boot != _boot_id() or namespace != _pid_namespace():
        return False
    stat = _stat(pid)
    if stat is None:
        if not _pid_gone(pid):
            return False  # exists, but /proc does not show it: cannot tell more
    elif start != _UNKNOWN and stat[19] != start:
        # The pid was reused. Linux reuses no pid still naming a process group, so a group
        # the owner led is gone as well.
        return True
    elif stat[0] not in _ZOMBIE:
        return False  # the owner itself
    return not _group_alive(pid)


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _group_alive(pgid: int) -> bool:
    """True if a live (not zombie) process is still in group ``pgid`` after the grace."""
    deadline = time.monotonic() + GROUP_GRACE
    while _group_has_live_member(pgid):
        if time.monotonic() >= deadline:
            return True
        time.sleep(0.05)
    return False


def _group_has_live_member(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Someone is in it; only zombies (the dead owner, not yet reaped) do not count.
    try:
        entries = [e.name for e in os.scandir("/proc") if e.name.isdigit()]
    except OSError:
        return True
    for name in entries:
        stat = _stat(name)
        if stat is not None and stat[2] == str(pgid) and stat[0] not in _ZOMBIE:
            return True
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
