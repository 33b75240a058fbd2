"""One attempt of one step, wherever it runs: a thread, a child process or a Ray task.

The worker loads its inputs from the artifact store (verified), calls the user's function
inside the user-code boundary, stores the output's bytes, and returns an :class:`Outcome`.
It never writes run or step state: the runner records and commits, fenced by the attempt
number. The one exception is the step's own code logging metrics and params through its
step context (``get_step_context()``), which is fenced by the attempt number the same way.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import shutil
import sys
import tempfile
import threading
import traceback
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..artifacts import ArtifactStore, open_artifact_store
from ..store import NewArtifact
from ._context import StepContext, step_context
from ._materializers import get_materializer, materializer_for_value

if TYPE_CHECKING:
    from ..core import Config
    from ..store import ArtifactRecord
    from ..workspace import Workspace


@dataclass(frozen=True)
class InputRef:
    """An artifact to load as a step input."""

    artifact_id: int
    digest: str
    kind: str
    materializer: str


@dataclass
class Task:
    """Everything a worker needs for one attempt.

    ``fn`` and ``workspace`` are for an attempt in the runner's process; pickling the task
    (for a child process or Ray) leaves them out: the worker imports the step by module and
    name, and its step context opens a workspace from ``config`` if the step asks for one.
    """

    step_name: str
    step_run_id: int
    attempt: int
    module: str
    qualname: str
    artifacts_url: str
    storage_options: dict[str, Any]
    project_root: str | None
    constants: dict[str, Any]
    inputs: dict[str, InputRef | list[InputRef]]
    fn: Any = None  # the function itself, in-process only
    values: dict[str, Any] = field(default_factory=dict)  # inputs already in memory
    run_id: int = 0
    config: Config | None = None  # the run's settings: what another process opens
    workspace: Workspace | None = None  # the runner's open workspace, in-process only

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["fn"] = None
        state["workspace"] = None  # an open store does not travel; ``config`` does
        return state

    def context(self) -> StepContext:
        """The step context the user's function sees during this attempt."""
        return StepContext(
            run_id=self.run_id,
            step_run_id=self.step_run_id,
            step_name=self.step_name,
            attempt=self.attempt,
            project_root=self.project_root,
            workspace=self.workspace,
            config=self.config,
        )


@dataclass
class Outcome:
    ok: bool
    output: NewArtifact | None = None
    value: Any = None
    error: str | None = None
    traceback: str | None = None
    logs: bytes = b""
    timed_out: bool = False
    has_value: bool = False


class _Router(io.TextIOBase):
    """Sends each thread's writes to that thread's capture buffer, if it has one."""

    def __init__(self, fallback: Any) -> None:
        self.fallback = fallback
        self.local = threading.local()

    def write(self, text: str) -> int:
        target = getattr(self.local, "buffer", None)
        written = (target or self.fallback).write(text)
        return len(text) if written is None else int(written)  # some streams return None

    def flush(self) -> None:
        target = getattr(self.local, "buffer", None)
        (target or self.fallback).flush()

    def isatty(self) -> bool:
        return False


_install_lock = threading.Lock()


@contextlib.contextmanager
def capture_output() -> Iterator[io.StringIO]:
    """Capture this thread's ``print``s and ``sys.stderr`` writes into one buffer."""
    with _install_lock:
        for name in ("stdout", "stderr"):
            if not isinstance(getattr(sys, name), _Router):
                setattr(sys, name, _Router(getattr(sys, name)))
    buffer = io.StringIO()
    routers: list[Any] = [sys.stdout, sys.stderr]
    for r in routers:
        r.local.buffer = buffer
    try:
        yield buffer
    finally:
        for r in routers:
            r.local.buffer = None


def resolve_function(module: str, qualname: str, project_root: str | None) -> Any:
    if project_root and project_root not in sys.path:
        sys.path.insert(0, project_root)
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return getattr(obj, "fn", obj)  # a Step wraps the plain function


class Workdir:
    """A private temporary folder (mode 0700), made only if a materializer needs files.

    Removed by :meth:`cleanup`, or when the object is garbage-collected (values loaded into
    it, such as a ``Path`` output, live as long as the ``Workdir``).
    """

    def __init__(self) -> None:
        self._path: Path | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

    @property
    def path(self) -> Path:
        if self._path is None:
            self._path = Path(tempfile.mkdtemp(prefix="conveyor-step-"))
            self._finalizer = weakref.finalize(self, shutil.rmtree, self._path, True)
        return self._path

    def cleanup(self) -> None:
        if self._finalizer is not None:
            self._finalizer()


def load_input(store: ArtifactStore, ref: InputRef, workdir: Workdir) -> Any:
    materializer = get_materializer(ref.materializer)
    if materializer.from_bytes is not None and ref.kind == "file":
        return materializer.from_bytes(store.get_bytes(ref.digest))
    # A folder of its own per input: two inputs never collide, whatever their ids or digests.
    target = Path(tempfile.mkdtemp(prefix="in-", dir=workdir.path)) / "data"
    if ref.kind == "dir":
        store.get_dir(ref.digest, target)
    else:
        store.get_file(ref.digest, target)
    return materializer.load(target)


def store_output(store: ArtifactStore, value: Any, workdir: Workdir, name: str) -> NewArtifact:
    """Store a step's return value through its materializer; describe what was stored."""
    materializer = materializer_for_value(value)
    files: tuple[tuple[str, str, int], ...] = ()
    if materializer.to_bytes is not None:  # small, in-memory: no temporary file
        blob = store.put_bytes(materializer.to_bytes(value))
        digest, size, kind = blob.digest, blob.size, "file"
    else:
        target = workdir.path / "out"
        materializer.save(value, target)
        if target.is_dir():
            info = store.put_dir(target)
            digest, size, kind = info.digest, info.size, "dir"
            files = tuple((f.path, f.digest, f.size) for f in info.files)
        else:
            blob = store.put_file(target)
            digest, size, kind = blob.digest, blob.size, "file"
    return NewArtifact(
        digest=digest,
        size=size,
        kind=kind,
        name=name,
        type_name=_type_name(value),
        media_type=materializer.media_type,
        meta={"materializer": materializer.name},
        files=files,
    )


def store_value(store: ArtifactStore, value: Any, *, name: str) -> NewArtifact:
    """Store ``value``'s bytes through its materializer, as a step's output is stored.

    Only the bytes: record the returned :class:`~conveyor.store.NewArtifact` in the
    metadata store (with the write it belongs to) to make it an artifact.

    Raises:
        TypeError: no materializer handles the value's type.
    """
    workdir = Workdir()
    try:
        return store_output(store, value, workdir, name)
    finally:
        workdir.cleanup()


# Folders of loaded values that live in files (a ``Path``): kept until the process ends.
_KEPT: list[Workdir] = []


def load_value(store: ArtifactStore, artifact: ArtifactRecord) -> Any:
    """Load an artifact stored by a step or :func:`store_value` (checksum verified), through
    the materializer recorded with it. Models load as their materializer allows (skops:
    trusted types only).

    Raises:
        PipelineDefinitionError: the artifact names no registered materializer.
        ArtifactError: its bytes do not verify, or the materializer refuses them.
    """
    name = str(artifact.meta.get("materializer"))
    workdir = Workdir()
    value = load_input(store, InputRef(artifact.id, artifact.digest, artifact.kind, name), workdir)
    if isinstance(value, Path):
        _KEPT.append(workdir)  # its files must outlive this call
    else:
        workdir.cleanup()
    return value


def _type_name(value: Any) -> str:
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}"


def run_attempt(
    task: Task, store: ArtifactStore | None = None, *, keep_value: bool = False
) -> Outcome:
    """Run one attempt: load inputs, call the step, store the output. Never raises."""
    workdir = Workdir()
    with capture_output() as logs:
        try:
            return _attempt(task, store, workdir, logs, keep_value)
        finally:
            workdir.cleanup()


def _attempt(
    task: Task, store: ArtifactStore | None, workdir: Workdir, logs: io.StringIO, keep_value: bool
) -> Outcome:
    try:
        store = store or open_artifact_store(task.artifacts_url, task.storage_options)
        fn = task.fn or resolve_function(task.module, task.qualname, task.project_root)
        kwargs = dict(task.constants)
        kwargs.update(task.values)  # fan-out items, derived values, outputs in memory
        for name, ref in task.inputs.items():
            if name in task.values:
                continue
            if isinstance(ref, list):
                kwargs[name] = [load_input(store, r, workdir) for r in ref]
            else:
                kwargs[name] = load_input(store, ref, workdir)
    except Exception as exc:
        return _failure(exc, logs, "could not load its inputs: ")
    try:
        with step_context(task.context()):
            value = fn(**kwargs)
    except Exception as exc:  # the user-code boundary
        return _failure(exc, logs, "")
    try:
        output = store_output(store, value, workdir, task.step_name)
    except Exception as exc:
        return _failure(exc, logs, "could not store its output: ")
    return Outcome(
        ok=True,
        output=output,
        value=value if keep_value else None,
        has_value=keep_value,
        logs=_bytes(logs),
    )


def _bytes(logs: io.StringIO) -> bytes:
    return logs.getvalue().encode("utf-8", errors="replace")


def _failure(exc: BaseException, logs: io.StringIO, prefix: str) -> Outcome:
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    text = f"{prefix}{type(exc).__name__}: {exc}".strip()
    return Outcome(
        ok=False,
        error=text.splitlines()[0] if text else type(exc).__name__,
        traceback=trace,
        logs=_bytes(logs) + trace.encode(),
    )
