"""Executors: where step attempts run. ``local`` (threads, or a child process per attempt)
and ``ray`` (a Ray task per attempt). Chosen by name; Ray is imported only when chosen.
"""

from __future__ import annotations

import abc
import contextlib
import gc
import multiprocessing
import os
import queue
import signal
import sys
import threading
from collections.abc import Generator, Iterable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, NoReturn

from ..core import ConfigError, did_you_mean
from ._worker import Outcome, Task, run_attempt

if TYPE_CHECKING:
    from ..artifacts import ArtifactStore
    from ..core import ExecutorSettings
    from ._calls import Call, CallResult


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

    @abc.abstractmethod
    def map_calls(
        self, calls: Iterable[Call], *, parallelism: int | None = None
    ) -> Generator[CallResult, None, None]:
        """Run picklable calls (see :class:`~conveyor.pipelines.Call`), at most
        ``parallelism`` at once (default: ``max_workers``), and yield each one's result as
        it finishes.

        ``calls`` is read lazily: the next call is taken when one finishes, after the
        caller has handled the results yielded before it, so a caller can decide what to
        run next from what came back (a tuning study asks its sampler). Each call's
        ``timeout`` kills it when it runs longer. Closing the iterator (or leaving a
        ``for`` loop over it with an exception) kills the calls still running. Locally the
        calls run in worker processes (not threads: they are meant for CPU-bound work);
        on Ray, as Ray tasks. Attempts submitted with :meth:`submit` are not affected.

        Example:
            >>> with contextlib.closing(executor.map_calls(calls, parallelism=2)) as results:
            ...     for result in results:
            ...         print(result.key, result.ok, result.value)
        """


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

    def map_calls(
        self, calls: Iterable[Call], *, parallelism: int | None = None
    ) -> Generator[CallResult, None, None]:
        from ._calls import pool_size
        from ._pool import ProcessPool

        return ProcessPool(pool_size(parallelism, self.max_workers)).run(calls)


# A process-mode attempt must not outlive its runner: if it did, `conveyor runs resume`
# (which sees the runner's pid gone) would start the same step again while the orphan still
# runs. How the child learns that its runner died:
#
# - Not from PR_SET_PDEATHSIG alone: that fires when the *parent* dies, and the parent is the
#   forkserver, not the runner. The forkserver outlives the runner while a child runs (every
#   child it forks holds the write end of its "alive" pipe), so pdeathsig is only a backstop
#   for a forkserver that dies on its own.
# - From a watch pipe whose write end only the runner holds (pipes are non-inheritable and
#   children fork from the forkserver, not from the runner, so no sibling gets a copy) and
#   to which nothing is ever written. When the runner dies, however it dies, the kernel
#   closes that end and a read of the other end returns EOF.
# - The reader is a small watchdog *process* forked by the child before the step's code
#   runs, not a thread: a thread needs the GIL, which a C extension may hold for minutes.
#   On EOF it SIGKILLs the child's process group: the child, the subprocesses the step
#   started (unless they made their own session), and itself. When the attempt ends
#   normally, the child stops the watchdog before it reports its outcome.
#
# The child leads its own process group, so a time-out also kills the whole group.

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _child_main(task: Task, conn: Any, watch: Any) -> None:
    watchdog = _contain(watch.fileno())
    outcome = run_attempt(task)
    _stop(watchdog)
    try:
        conn.send(outcome)
    except Exception as exc:  # an unpicklable field: report it rather than vanish
        conn.send(Outcome(ok=False, error=f"could not return the result: {exc}"))
    conn.close()


def _contain(watch_fd: int) -> int | None:
    """Make this child die with the runner (see above); return the watchdog's pid."""
    me = os.getpid()
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    # Kill a group only if it is ours: never the forkserver's, which is the runner's.
    group = me if os.getpgid(0) == me else None
    watchdog: int | None = None
    if hasattr(os, "fork"):
        watchdog = os.fork()
        if watchdog == 0:
            _watchdog(watch_fd, me, group)  # never returns
    _die_with_parent(me, group)
    return watchdog


def _kill_child(pid: int, group: int | None) -> None:
    if group is not None:
        os.killpg(group, signal.SIGKILL)
    else:
        os.kill(pid, signal.SIGKILL)


def _watchdog(watch_fd: int, child: int, group: int | None) -> NoReturn:
    """In the watchdog process: wait for EOF on the watch pipe, then kill the group."""
    try:
        gc.disable()  # no finalizer may run in this fork of the child
        # Keep nothing of the child's open (its result pipe, above all: the runner must
        # see EOF there if the child dies).
        os.closerange(3, watch_fd)
        os.closerange(watch_fd + 1, _max_fd())
        while os.read(watch_fd, 1):
            pass  # nothing is ever written; b"" is EOF: the runner is gone
    except BaseException:  # a failed watch must not leave an unwatched step running
        pass
    finally:
        try:
            _kill_child(child, group)
        finally:
            os._exit(1)


def _max_fd() -> int:
    try:
        return max(int(os.sysconf("SC_OPEN_MAX")), 256)
    except (OSError, ValueError):
        return 4096


def _stop(watchdog: int | None) -> None:
    if watchdog is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(watchdog, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):  # reaped already by the step's own code
        os.waitpid(watchdog, 0)


def _die_with_parent(me: int, group: int | None) -> None:
    """Linux: SIGKILL this process when its parent (the forkserver) dies. A backstop only."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl: the signal will not come
        _kill_child(me, group)


_FORKSERVER = multiprocessing.get_context("forkserver")
# Children fork from a server that has already imported the executor (and with it the
# worker, conveyor, SQLAlchemy and fsspec), so a process-mode step does not pay ~0.4 s of
# imports.
_FORKSERVER.set_forkserver_preload(["conveyor.pipelines._executor"])


# The runner's write ends of the watch pipes. A thread-mode step that forks (multiprocessing's
# default on Linux) would copy them, and an orphan of that fork would keep a process-mode
# step's watchdog from ever seeing EOF; so a forked copy of the runner drops them (dup2 of
# /dev/null onto each: the fd numbers stay owned by their Connection objects). The lock
# keeps a fork from falling between a pipe's creation and its registration.
_watch_ends: set[int] = set()
_watch_lock = threading.Lock()


def _drop_watch_ends() -> None:
    try:
        devnull = os.open(os.devnull, os.O_RDONLY)
    except OSError:
        return
    for fd in _watch_ends:
        with contextlib.suppress(OSError):
            os.dup2(devnull, fd, inheritable=False)
    os.close(devnull)
    _watch_ends.clear()


def _after_fork_in_child() -> None:
    _drop_watch_ends()
    _watch_lock.release()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_watch_lock.acquire,
        after_in_parent=_watch_lock.release,
        after_in_child=_after_fork_in_child,
    )


def _run_in_child(task: Task, timeout: float | None) -> Outcome:
    ctx = _FORKSERVER
    receiver, sender = ctx.Pipe(duplex=False)
    with _watch_lock:
        watch, watch_end = ctx.Pipe(duplex=False)  # this process keeps the only ``watch_end``
        _watch_ends.add(watch_end.fileno())
    child = ctx.Process(target=_child_main, args=(task, sender, watch), daemon=True)
    try:
        child.start()
    finally:
        sender.close()
        watch.close()
    try:
        if receiver.poll(timeout):
            try:
                return receiver.recv()  # type: ignore[no-any-return]
            except EOFError:
                pass
            child.join(5)
            return Outcome(ok=False, error=f"the step's process died (exit code {child.exitcode})")
        _kill_group(child)
        return Outcome(
            ok=False, timed_out=True, error=f"timed out after {timeout:g}s; the process was killed"
        )
    finally:
        receiver.close()
        if child.is_alive():
            _kill_group(child)
        with _watch_lock:
            _watch_ends.discard(watch_end.fileno())
            watch_end.close()  # a watchdog still running kills what is left of the group


def _kill_group(child: Any) -> None:
    """SIGKILL the child's process group (the child and its subprocesses), then reap it."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):  # not (yet) the leader of its own group
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
