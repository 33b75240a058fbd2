"""What a runner knows while it drives a run: its identity, its claim (kept alive by a
heartbeat), its view of each step, the result."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import store as st
from ..core import (
    ConflictError,
    NotFoundError,
    StaleAttemptError,
    StepFailedError,
    StoreError,
    did_you_mean,
)
from ._decisions import TERMINAL as TERMINAL
from ._graph import Graph, Node, StepOutput
from ._worker import InputRef, Outcome, Workdir, load_input

if TYPE_CHECKING:
    from ..artifacts import ArtifactStore

OUTPUT = "output"  # the name of a step's one output

log = logging.getLogger(__name__)


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
    future: Future[Outcome] | None = None
    deadline: float | None = None
    key: str | None = None
    base_attempt: int = 0  # attempts made before this runner took over (a resume)
    expanded: bool = False  # a fan-out whose items exist (it may have none)

    @property
    def status(self) -> str:
        return self.record.status


def slots_for(graph: Graph, records: Sequence[st.StepRunRecord]) -> dict[str, Slot]:
    """The runner's slots for a run's step runs: one per node, one per known fan-out item."""
    by_name = {r.name: r for r in records}
    slots: dict[str, Slot] = {}
    for name in graph.order():
        record = by_name[name]
        slots[name] = Slot(
            name=name, node=graph.nodes[name], record=record, base_attempt=record.attempt
        )
    for record in records:
        # Fan-out items from an earlier attempt of this run: kept, and matched to their
        # items again when the parent re-expands (items are recomputed, not stored).
        parent, bracket, rest = record.name.partition("[")
        if bracket and parent in slots:
            slots[record.name] = Slot(
                name=record.name,
                node=slots[parent].node,
                record=record,
                item_index=int(rest.rstrip("]")),
                parent=parent,
                base_attempt=record.attempt,
            )
    return slots


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


class Outputs:
    """The outputs of a run's finished steps: artifact references, values loaded on demand.

    Args:
        store: Where the steps' lineage is.
        artifacts: Where the outputs' bytes are.
        slots: The runner's slots (to say why a step has no output).
    """

    def __init__(
        self, store: st.Store, artifacts: ArtifactStore, slots: Mapping[str, Slot]
    ) -> None:
        self.store = store
        self.artifacts = artifacts
        self.slots = slots
        self.refs: dict[str, InputRef | list[InputRef]] = {}
        self.values: dict[str, Any] = {}
        self.workdir = Workdir()  # where loaded outputs live (Path outputs)

    def load(self, slot: Slot) -> None:
        """Find a finished step's output artifacts (their values load on demand)."""
        edges = [e for e in st.step_lineage(self.store, slot.record.id) if e.direction == "out"]
        refs = {e.name: self._ref(e.artifact_id) for e in edges}
        if slot.node.map_over is not None and slot.parent is None:
            self.refs[slot.name] = [refs[k] for k in sorted(refs, key=int)]
        elif OUTPUT in refs:
            self.refs[slot.name] = refs[OUTPUT]

    def _ref(self, artifact_id: int) -> InputRef:
        record = st.get_artifact(self.store, artifact_id)
        return InputRef(
            artifact_id=record.id,
            digest=record.digest,
            kind=record.kind,
            materializer=str(record.meta.get("materializer", "bytes")),
        )

    def value(self, name: str) -> Any:
        """The value of step ``name``'s output, loaded once."""
        if name in self.values:
            return self.values[name]
        ref = self.refs.get(name)
        if ref is None:
            slot = self.slots.get(name)
            if slot is None:
                raise NotFoundError(
                    f"This run has no step {name!r}.{did_you_mean(name, self.slots)}",
                    step=name,
                )
            run_id = slot.record.run_id
            raise NotFoundError(
                f"Step {name!r} of run {run_id} has no output to load: it is {slot.status}, "
                "and only a succeeded step has outputs.",
                hint=f"See why with: conveyor runs logs {run_id} {name}",
                step=name,
                run_id=run_id,
                status=slot.status,
            )
        if isinstance(ref, list):
            value: Any = [self._load_ref(r) for r in ref]
        else:
            value = self._load_ref(ref)
        self.values[name] = value
        return value

    def _load_ref(self, ref: InputRef) -> Any:
        return load_input(self.artifacts, ref, self.workdir)

    def resolve(self, ref: StepOutput) -> Any:
        """The value a reference names: a step's output, or an attribute or key of it."""
        value = self.value(ref.node)
        for part in ref.path:
            if isinstance(value, dict | list | tuple):
                value = value[part]  # type: ignore[index]
            else:
                value = getattr(value, str(part))
        return value

    def lineage_inputs(self, slot: Slot) -> dict[str, int]:
        """The artifacts a step reads whole, by argument (``arg[i]`` for a list): its lineage
        "in" edges. Read when it commits, so every upstream output has its artifact id."""
        ids: dict[str, int] = {}
        for arg, ref in slot.node.refs.items():
            if ref.path:
                continue  # a value picked out of an output: its step's own edge covers it
            source = self.refs[ref.node]
            if isinstance(source, list):
                ids.update({f"{arg}[{i}]": r.artifact_id for i, r in enumerate(source)})
            else:
                ids[arg] = source.artifact_id
        return ids

    def task_inputs(
        self, slot: Slot
    ) -> tuple[
        dict[str, Any], dict[str, InputRef | list[InputRef]], dict[str, Any], dict[str, Any]
    ]:
        """(constants, artifact inputs, in-memory values, cache-key inputs)."""
        node = slot.node
        constants = dict(node.constants)
        inputs: dict[str, InputRef | list[InputRef]] = {}
        values: dict[str, Any] = {}
        key_inputs: dict[str, Any] = {}
        for arg, ref in node.refs.items():
            source = self.refs.get(ref.node)
            if source is None:
                raise ConflictError(
                    f"Step {slot.name!r} needs the output of {ref.node!r}, which has none."
                )
            digests = [r.digest for r in source] if isinstance(source, list) else source.digest
            key_inputs[arg] = {"digest": digests, "path": list(ref.path)}
            if ref.path:
                values[arg] = self.resolve(ref)
            else:
                inputs[arg] = source
                if ref.node in self.values:
                    values[arg] = self.values[ref.node]
        if slot.parent is not None and node.map_over is not None:
            arg, items = node.map_over
            values[arg] = slot.item
            if isinstance(items, StepOutput):
                source = self.refs[items.node]
                digests = [r.digest for r in source] if isinstance(source, list) else source.digest
                key_inputs[arg] = {
                    "digest": digests,
                    "path": list(items.path),
                    "index": slot.item_index,
                }
            else:
                constants_key = {"item": slot.item}
                key_inputs[arg] = constants_key
        return constants, inputs, values, key_inputs
