"""What a runner knows while it drives a run: its identity, its claim (kept alive by a
heartbeat), its view of each step, the result."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import store as st
from ..core import ConflictError, StaleAttemptError, StoreError
from ._decisions import TERMINAL as TERMINAL
from ._graph import Graph, Node, StepOutput
from ._worker import InputRef, Outcome, Workdir, load_input

if TYPE_CHECKING:
    from ..artifacts import ArtifactStore

OUTPUT = "output"  # the name of a step's one output

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
            raise KeyError(f"Step {name!r} has no output (status {self.slots[name].status}).")
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
