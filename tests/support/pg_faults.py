"""PostgreSQL fault tools: hold a lock to pause a store transaction at a known statement,
find the paused session by ``application_name``, and kill it with ``pg_terminate_backend``.

The store sets ``application_name`` from the URL's query (or ``CONVEYOR_APPLICATION_NAME``),
so each test names its own sessions and never touches another test's.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import psycopg


def plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def with_application_name(url: str, prefix: str = "conveyor-test") -> tuple[str, str]:
    """Return ``(url with a unique application_name, that name)``."""
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}application_name={name}", name


def admin(url: str) -> psycopg.Connection[Any]:
    """An autocommit connection for inspecting and terminating sessions."""
    return psycopg.connect(plain(url), autocommit=True, connect_timeout=5)


class LockHolder:
    """A second session that runs one locking statement in an open transaction.

    While it holds the lock, a store transaction that needs the same row (or advisory
    lock) waits at that statement: a pause point reached by the database itself.
    """

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(plain(url), autocommit=False, connect_timeout=5)

    def hold(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        self.conn.execute(sql, params)

    def release(self) -> None:
        self.conn.rollback()

    def close(self) -> None:
        self.conn.close()


def waiting_pids(conn: psycopg.Connection[Any], application_name: str) -> list[int]:
    rows = conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
        (application_name,),
    ).fetchall()
    return [r[0] for r in rows]


def wait_until_blocked(
    conn: psycopg.Connection[Any],
    application_name: str,
    *,
    exclude: set[int] | frozenset[int] = frozenset(),
    timeout: float = 15.0,
) -> int:
    """Poll until a session named ``application_name`` (not in ``exclude``: sessions
    already killed may linger in pg_stat_activity for a moment) waits on a lock; return
    its pid."""
    deadline = time.monotonic() + timeout
    while True:
        pids = [p for p in waiting_pids(conn, application_name) if p not in exclude]
        if pids:
            return pids[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no session {application_name!r} blocked within {timeout} s")
        time.sleep(0.005)


def terminate_pid(conn: psycopg.Connection[Any], pid: int) -> bool:
    row = conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()
    return bool(row and row[0])


def terminate(conn: psycopg.Connection[Any], application_name: str) -> int:
    """``pg_terminate_backend`` every session named ``application_name``; return how many."""
    rows = conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = %s AND pid <> pg_backend_pid()",
        (application_name,),
    ).fetchall()
    return sum(1 for r in rows if r[0])


def count_sessions(conn: psycopg.Connection[Any], application_name: str) -> int:
    return int(
        conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            (application_name,),
        ).fetchone()[0]  # type: ignore[index]
    )
