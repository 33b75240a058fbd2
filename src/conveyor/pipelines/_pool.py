"""The local executor's pool of worker processes for :meth:`Executor.map_calls`.

Not ``concurrent.futures.ProcessPoolExecutor``: its workers outlive a runner killed with
SIGKILL, a call cannot be killed at a time-out without breaking the whole pool, and it
cannot be started from a process-mode step (a daemonic process). Here each worker is a
process started from the forkserver (safe from the runner's threads) that runs calls one
at a time, so what a call imports (scikit-learn, the user's module) is imported once per
worker. Workers are contained exactly like a process-mode step (see ``_executor``): each
leads its own process group and a watchdog kills the group when the watch pipe, whose only
write end the pool's owner holds, reaches EOF, so no worker outlives the process that
started it, however it dies. A call that times out is killed with its worker's group and
the worker replaced.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import pickle
import time
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

from ._calls import Call, CallResult, Returned, invoke, result_of
from ._executor import _FORKSERVER, _contain, _kill_group, _stop, _watch_ends, _watch_lock

# Sent instead of a call: the worker stops its watchdog and exits.
_STOP = b""
# How long a worker asked to stop gets before it is killed.
_STOP_GRACE = 2.0


def _worker_main(conn: Any, watch: Any) -> None:
    """In a worker: run each call received until told to stop (or the pipe closes)."""
    watchdog = _contain(watch.fileno())
    try:
        while True:
            try:
                data = conn.recv_bytes()
            except (EOFError, OSError):
                return
            if data == _STOP:
                return
            returned = _run(data)
            try:
                conn.send_bytes(pickle.dumps(returned))
            except Exception as exc:  # an unpicklable value: report it rather than vanish
                problem: Returned = (False, None, f"could not return the result: {exc}", None)
                conn.send_bytes(pickle.dumps(problem))
    finally:
        _stop(watchdog)


def _run(data: bytes) -> Returned:
    try:
        fn, args = pickle.loads(data)
    except Exception as exc:
        return False, None, f"could not load the call: {type(exc).__name__}: {exc}", None
    return invoke(fn, args)


@contextlib.contextmanager
def _may_start_children() -> Iterator[None]:
    """Let a daemonic process (a process-mode step) start the pool's workers.

    multiprocessing refuses children to daemonic processes because their children could
    outlive them; these workers cannot (their watchdogs kill them when their starter dies).
    """
    me: Any = multiprocessing.current_process()
    daemonic = bool(me._config.get("daemon"))
    if daemonic:
        me._config["daemon"] = False
    try:
        yield
    finally:
        if daemonic:
            me._config["daemon"] = True


@dataclass(eq=False)
class _Worker:
    process: Any
    conn: Any
    watch_end: Any
    call: Call | None = None
    deadline: float | None = None

    def close(self, *, kill: bool) -> None:
        """Stop the worker (politely unless ``kill``), reap it, close its pipes."""
        if not kill:
            with contextlib.suppress(OSError):
                self.conn.send_bytes(_STOP)
            self.process.join(_STOP_GRACE)
        if self.process.is_alive():
            _kill_group(self.process)
        # Closing the watch pipe ends the worker's watchdog too, which kills what is left
        # of its group (the subprocesses of a worker that died).
        with contextlib.suppress(OSError):
            self.conn.close()
        with _watch_lock:
            _watch_ends.discard(self.watch_end.fileno())
            self.watch_end.close()


class ProcessPool:
    """At most ``size`` worker processes running calls; see the module docstring.

    Args:
        size: The most calls in flight (and processes alive) at once.
    """

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self._idle: list[_Worker] = []
        self._busy: list[_Worker] = []

    def _start(self) -> _Worker:
        ctx = _FORKSERVER
        conn, child_conn = ctx.Pipe(duplex=True)
        with _watch_lock:
            watch, watch_end = ctx.Pipe(duplex=False)  # this process keeps the only write end
            _watch_ends.add(watch_end.fileno())
        process = ctx.Process(
            target=_worker_main, args=(child_conn, watch), daemon=True, name="conveyor-call"
        )
        try:
            with _may_start_children():
                process.start()
        except BaseException:
            with _watch_lock:
                _watch_ends.discard(watch_end.fileno())
                watch_end.close()
            conn.close()
            raise
        finally:
            child_conn.close()
            watch.close()
        return _Worker(process, conn, watch_end)

    def run(self, calls: Iterable[Call]) -> Generator[CallResult, None, None]:
        """Run ``calls``, at most ``size`` at once; yield each result as it finishes.

        ``calls`` is read lazily: the next call is taken when a worker is free, after the
        caller has handled every result yielded before. Closing the iterator early (or an
        exception in the caller) kills the calls in flight and every worker.
        """
        pending = iter(calls)
        exhausted = False
        try:
            while True:
                while not exhausted and len(self._busy) < self.size:
                    call = next(pending, None)
                    if call is None:
                        exhausted = True
                        break
                    refused = self._send(call)
                    if refused is not None:
                        yield refused
                if not self._busy:
                    return
                yield from self._collect()
        finally:
            self.close()

    def _send(self, call: Call) -> CallResult | None:
        try:
            payload = pickle.dumps((call.fn, call.args))
        except Exception as exc:
            return CallResult.failed(
                call.key,
                f"could not send the call to a worker process: {type(exc).__name__}: {exc} "
                "(define the function at the top level of a module, and pass picklable "
                "arguments)",
            )
        worker = self._idle.pop() if self._idle else self._start()
        try:
            worker.conn.send_bytes(payload)
        except OSError:  # the idle worker died meanwhile: one retry on a fresh one
            worker.close(kill=True)
            worker = self._start()
            worker.conn.send_bytes(payload)
        worker.call = call
        worker.deadline = time.monotonic() + call.timeout if call.timeout else None
        self._busy.append(worker)
        return None

    def _collect(self) -> Generator[CallResult, None, None]:
        """Wait for a call to end (or a time-out); yield what ended."""
        now = time.monotonic()
        deadlines = [w.deadline for w in self._busy if w.deadline is not None]
        timeout = max(0.0, min(deadlines) - now) if deadlines else None
        handles = [w.conn for w in self._busy] + [w.process.sentinel for w in self._busy]
        ready = set(wait(handles, timeout))
        for worker in list(self._busy):
            call = worker.call
            assert call is not None
            if worker.conn in ready or worker.process.sentinel in ready:
                self._busy.remove(worker)
                result = self._receive(worker, call)
                yield result
            elif worker.deadline is not None and time.monotonic() >= worker.deadline:
                self._busy.remove(worker)
                worker.close(kill=True)
                yield CallResult.failed(
                    call.key,
                    f"timed out after {call.timeout:g}s; its process was killed",
                    timed_out=True,
                )

    def _receive(self, worker: _Worker, call: Call) -> CallResult:
        try:
            returned: Returned = pickle.loads(worker.conn.recv_bytes())
        except (EOFError, OSError):
            worker.process.join(5)
            code = worker.process.exitcode
            worker.close(kill=True)
            return CallResult.failed(call.key, f"its worker process died (exit code {code})")
        except Exception as exc:  # a result whose class the caller cannot import
            worker.call = None
            self._idle.append(worker)
            return CallResult.failed(call.key, f"could not read the result: {exc}")
        worker.call = None
        worker.deadline = None
        self._idle.append(worker)
        return result_of(call.key, returned)

    def close(self) -> None:
        """Kill the calls in flight; stop the idle workers."""
        busy, self._busy = self._busy, []
        idle, self._idle = self._idle, []
        for worker in busy:
            worker.close(kill=True)
        for worker in idle:
            worker.close(kill=False)
