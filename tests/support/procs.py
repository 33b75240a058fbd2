"""Run test workers in spawned child processes, started in lockstep, with a deadline.

Every child runs ``fn(*args)`` and reports its return value, or its traceback, through a
queue. Children get their barrier as an argument (``SPAWN.Barrier(n)``); every wait takes a
timeout, so a crashed child breaks the barrier instead of hanging the others. The parent
gives up at the deadline, kills what is still running and fails the test.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

SPAWN = multiprocessing.get_context("spawn")
BARRIER_TIMEOUT = 60.0


class ChildFailedError(AssertionError):
    """A child process raised, crashed, or missed the deadline."""


def _child(fn: Callable[..., Any], index: int, args: tuple[Any, ...], results: Any) -> None:
    try:
        value = fn(*args)
    except BaseException:
        results.put((index, False, traceback.format_exc()))
    else:
        results.put((index, True, value))


def run_processes(
    fn: Callable[..., Any],
    args_per_child: Sequence[Sequence[Any]],
    *,
    timeout: float = 120.0,
    barrier: Any | None = None,
) -> list[Any]:
    """Run ``fn(*args)`` in one spawned process per item; return the values in order.

    Raises:
        ChildFailedError: a child raised (its traceback is in the message), died without a
            report, or did not finish within ``timeout`` seconds.
    """
    results = SPAWN.Queue()
    procs = [
        SPAWN.Process(target=_child, args=(fn, i, tuple(args), results), daemon=True)
        for i, args in enumerate(args_per_child)
    ]
    for proc in procs:
        proc.start()
    deadline = time.monotonic() + timeout
    values: dict[int, Any] = {}
    failures: list[str] = []
    try:
        while len(values) + len(failures) < len(procs):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                failures.append(f"deadline of {timeout:.0f} s passed")
                break
            try:
                index, ok, value = results.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                dead = [
                    i
                    for i, p in enumerate(procs)
                    if i not in values and p.exitcode not in (None, 0)
                ]
                if dead:
                    failures.extend(f"child {i} died (exit {procs[i].exitcode})" for i in dead)
                    break
                continue
            if ok:
                values[index] = value
            else:
                failures.append(f"child {index} raised:\n{value}")
                if barrier is not None:  # release the others now, not at their timeout
                    barrier.abort()
    finally:
        if failures and barrier is not None:
            barrier.abort()
        for proc in procs:
            proc.join(timeout=max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=10)
        results.close()
    if failures:
        raise ChildFailedError("\n".join(failures))
    return [values[i] for i in range(len(procs))]


def describe(exc: BaseException) -> str:
    """``module.Type: first line``: how children report an error they caught."""
    kind = type(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{kind.__module__}.{kind.__qualname__}: {text}"


class RetryCounter(logging.Handler):
    """Counts the store's "transient error, retry" log records (driver errors it absorbed)."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.count = 0
        self.samples: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "transient error" in record.getMessage():
            self.count += 1
            if len(self.samples) < 5:
                self.samples.append(record.getMessage())

    def __enter__(self) -> RetryCounter:
        logger = logging.getLogger("conveyor.store._engine")
        self._level = logger.level
        logger.setLevel(logging.INFO)
        logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logger = logging.getLogger("conveyor.store._engine")
        logger.removeHandler(self)
        logger.setLevel(self._level)
