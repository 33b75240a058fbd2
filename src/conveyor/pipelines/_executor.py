"""Executors: where step attempts run. ``local`` (threads, or a child process per attempt)
and ``ray`` (a Ray task per attempt). Chosen by name; Ray is imported only when chosen.
"""

from __future__ import annotations

import abc
import multiprocessing
import os
import queue
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from ..core import ConfigError, did_you_mean
from ._worker import Outcome, Task, run_attempt

if TYPE_CHECKING:
    from ..artifacts import ArtifactStore
    from ..core import ExecutorSettings


class Executor(abc.ABC):
    """Runs attempts concurrently. The runner submits; it never blocks on one attempt."""

    name: str
    max_workers: int

    @abc.abstractmethod
    def submit(
        self,
        task: Task,
        *,
        mode: str | None,
        timeout: float | None,
        resources: dict[str, float] | None = None,
    ) -> Future[Outcome]:
        """Start an attempt; the future resolves to its :class:`Outcome` (never raises)."""

    def cancel(self, future: Future[Outcome]) -> None:  # noqa: B027 - optional hook
        """Stop an attempt that timed out, if this executor can (threads cannot)."""

    @abc.abstractmethod
    def shutdown(self) -> None:
        """Stop accepting work; abandon attempts still running in threads."""


class _DaemonPool:
    """A fixed set of daemon threads running submitted calls.

    Not ``ThreadPoolExecutor``: its threads are joined at interpreter exit, so one step
    abandoned after a time-out (threads cannot be killed) would keep the process alive.
    """

    def __init__(self, n_threads: int, name: str) -> None:
        self._name = name
        self._queue: queue.SimpleQueue[
            tuple[Future[Any], Any, tuple[Any, ...], dict[str, Any]] | None
        ] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(n_threads)
        ]
        for thread in self._threads:
            thread.start()

    def add_thread(self) -> None:
        thread = threading.Thread(
            target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._queue.put((future, fn, args, kwargs))
        return future

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            future, fn, args, kwargs = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # delivered to whoever waits on the future
                future.set_exception(exc)

    def shutdown(self) -> None:
        for _ in self._threads:
            self._queue.put(None)


class LocalExecutor(Executor):
    """A thread pool. ``mode='process'`` attempts run in a fresh child process (killable on
    time-out) started from a thread of the pool, so one limit bounds both kinds.

    Args:
        max_workers: Concurrent attempts (0 = number of CPUs).
        default_mode: ``'thread'`` or ``'process'`` for steps that don't choose.
        store: The artifact store thread-mode attempts share.
    """

    name = "local"

    def __init__(
        self, max_workers: int = 0, default_mode: str = "thread", store: ArtifactStore | None = None
    ) -> None:
        self.max_workers = max_workers or os.cpu_count() or 2
        self.default_mode = default_mode
        self.store = store
        self._pool = _DaemonPool(self.max_workers, "conveyor-step")

    def submit(
        self,
        task: Task,
        *,
        mode: str | None,
        timeout: float | None,
        resources: dict[str, float] | None = None,
    ) -> Future[Outcome]:
        if (mode or self.default_mode) == "process":
            task.fn = None  # the child imports the step by module and name
            return self._pool.submit(_run_in_child, task, timeout)
        return self._pool.submit(run_attempt, task, self.store, keep_value=True)

    def cancel(self, future: Future[Outcome]) -> None:
        # A thread cannot be stopped; the abandoned attempt keeps its thread until it returns,
        # so add one to keep max_workers attempts running. (A process-mode attempt was
        # already killed by its own time-out.)
        if not future.done():
            self._pool.add_thread()

    def shutdown(self) -> None:
        self._pool.shutdown()


def _child_main(task: Task, conn: Any) -> None:
    outcome = run_attempt(task)
    try:
        conn.send(outcome)
    except Exception as exc:  # an unpicklable field: report it rather than vanish
        conn.send(Outcome(ok=False, error=f"could not return the result: {exc}"))
    conn.close()


_FORKSERVER = multiprocessing.get_context("forkserver")
# Children fork from a server that has already imported the worker (and with it conveyor,
# SQLAlchemy and fsspec), so a process-mode step does not pay ~0.4 s of imports.
_FORKSERVER.set_forkserver_preload(["conveyor.pipelines._worker"])


def _run_in_child(task: Task, timeout: float | None) -> Outcome:
    ctx = _FORKSERVER
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child_main, args=(task, sender), daemon=True)
    child.start()
    sender.close()
    try:
        if receiver.poll(timeout):
            try:
                return receiver.recv()  # type: ignore[no-any-return]
            except EOFError:
                pass
            child.join(5)
            return Outcome(ok=False, error=f"the step's process died (exit code {child.exitcode})")
        child.kill()
        child.join(5)
        return Outcome(
            ok=False, timed_out=True, error=f"timed out after {timeout:g}s; the process was killed"
        )
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
            child.join(5)


def make_executor(
    settings: ExecutorSettings,
    *,
    store: ArtifactStore | None = None,
    project_root: str | None = None,
    mode: str = "thread",
) -> Executor:
    """The executor a project's settings name (``local`` or ``ray``).

    ``mode`` is the local executor's default for steps that don't choose one.
    """
    if settings.kind == "local":
        return LocalExecutor(settings.max_workers, default_mode=mode, store=store)
    if settings.kind == "ray":
        from ._ray import RayExecutor

        return RayExecutor(
            settings.address, max_workers=settings.max_workers, project_root=project_root
        )
    raise ConfigError(
        f"Unknown executor {settings.kind!r}.{did_you_mean(settings.kind, ['local', 'ray'])}",
        hint="Set executor.kind to 'local' or 'ray'.",
    )
