"""Many small calls run in parallel on the project's executor: what a call is and what
comes back. ``Executor.map_calls`` runs them (a pool of worker processes locally, Ray tasks
on a cluster); a step uses it to fan work out beyond its own process, as a tuning study
runs its trials.

A call is ``fn(*args)`` with a key its caller recognises it by. ``fn`` and ``args`` must be
picklable: ``fn`` a function defined at the top level of a module the worker can import
(the project's pipeline modules are, the worker gets the caller's ``sys.path``; Ray workers
get the project folder). A call never raises at its caller: whatever happened comes back as
a :class:`CallResult`.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Call:
    """One picklable call, ``fn(*args)``.

    Attributes:
        fn: A function importable by the worker (defined at the top level of a module).
        args: Its positional arguments (picklable).
        key: What the caller recognises the result by; it never leaves the caller.
        timeout: Seconds the call may run; after that it is killed and reported
            ``timed_out`` (None: no limit).
    """

    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    key: Hashable = None
    timeout: float | None = None


@dataclass(frozen=True)
class CallResult:
    """How a call ended. ``ok``: it returned ``value``; otherwise ``error`` says why
    (``ValueError: ...`` for an exception, with its ``traceback``), and ``timed_out`` if it
    was killed at its time-out."""

    key: Any
    ok: bool
    value: Any = None
    error: str | None = None
    traceback: str | None = None
    timed_out: bool = False

    @classmethod
    def failed(cls, key: Any, error: str, *, timed_out: bool = False) -> CallResult:
        return cls(key=key, ok=False, error=error, timed_out=timed_out)


# What a worker sends back: (ok, value, error, traceback). A plain tuple, so that the
# worker's side needs nothing but this module's function to produce it.
Returned = tuple[bool, Any, str | None, str | None]


def invoke(fn: Callable[..., Any], args: tuple[Any, ...]) -> Returned:
    """Call ``fn(*args)`` in a worker; an exception becomes an error, never escapes."""
    try:
        return True, fn(*args), None, None
    except Exception as exc:
        text = f"{type(exc).__name__}: {exc}".strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        return False, None, first, "".join(traceback.format_exception(exc))


def result_of(key: Any, returned: Returned) -> CallResult:
    ok, value, error, trace = returned
    return CallResult(key=key, ok=ok, value=value, error=error, traceback=trace)


def pool_size(parallelism: int | None, max_workers: int) -> int:
    """How many calls run at once: ``parallelism``, or the executor's ``max_workers``
    (0: the number of CPUs)."""
    return parallelism if parallelism else max_workers or os.cpu_count() or 2
