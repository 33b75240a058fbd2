"""Lose COMMIT acknowledgements without a network: the store engine's ``after_commit`` hook.

``LostAcks`` makes chosen write transactions fail with a transient "connection closed"
error right after their COMMIT succeeded, which is what a client sees when the connection
dies between sending COMMIT and reading its reply. The store then retries a transaction
whose first execution is already committed: the path R19 exercises. The proxy in
``commit_cut_proxy`` does the same over a real PostgreSQL connection.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import OperationalError

from conveyor.store import _engine


class LostAcks:
    """Counts the acknowledgements it dropped; arm it for the next matching commits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed = 0
        self._what: str | None = None
        self.n_cut = 0

    def arm(self, n: int = 1, *, what: str | None = None) -> None:
        """Drop the acknowledgement of the next ``n`` commits (of ``what`` transactions)."""
        with self._lock:
            self._armed, self._what = n, what

    @property
    def armed(self) -> int:
        return self._armed

    def __call__(self, what: str) -> None:
        with self._lock:
            if self._armed <= 0 or (self._what is not None and self._what != what):
                return
            self._armed -= 1
            self.n_cut += 1
        raise OperationalError(
            "COMMIT",
            {},
            sqlite3.OperationalError("server closed the connection unexpectedly"),
            connection_invalidated=True,
        )


@contextmanager
def lost_acks() -> Iterator[LostAcks]:
    """Install a :class:`LostAcks` as the engine's after-commit hook for the block."""
    cutter = LostAcks()
    previous = _engine.after_commit
    _engine.after_commit = cutter
    try:
        yield cutter
    finally:
        _engine.after_commit = previous
