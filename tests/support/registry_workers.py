"""Child-process bodies for the registry's concurrency tests (importable under ``spawn``).

Each opens the project through ``Workspace.open``, waits on the shared barrier, does its
share through the registry's services (``promote``, ``get_model``) and returns counts plus
every error it caught, so a child never hides a failure by dying.
"""

from __future__ import annotations

import os
import time
from typing import Any

from sqlalchemy import func, select

from conveyor.core import NotFoundError
from conveyor.registry import get_model, promote
from conveyor.workspace import Workspace

from .procs import BARRIER_TIMEOUT, describe
from .store_workers import TABLES

MODEL, ALIAS = "churn", "champion"


def _open(root: str, url: str) -> Workspace:
    return Workspace.open(root, env={"CONVEYOR_STORE": url, "CONVEYOR_STORE_BUSY_TIMEOUT": "6s"})


def promoter(
    root: str,
    url: str,
    barrier: Any,
    versions: list[int],
    n: int,
    *,
    force: bool,
    reads: Any = None,
    reads_per_move: int = 0,
    lockstep: bool = False,
) -> dict[str, Any]:
    """Promote ``MODEL`` to ``versions[i % len(versions)]`` ``n`` times through
    ``registry.promote``: forced with a reason, or allowed by each version's evaluation.

    With ``reads`` (a shared counter the reader bumps), move ``i`` waits until the reader
    has done ``i * reads_per_move`` reads, so the moves spread over the reader's whole run.
    With ``lockstep``, every move waits on ``barrier`` first, so both promoters move at
    the same instant each round.
    """
    moves: list[tuple[int, int | None, int | None]] = []
    errors: list[str] = []
    with _open(root, url) as ws:
        barrier.wait(timeout=BARRIER_TIMEOUT)
        for i in range(n):
            if reads is not None:
                deadline = time.monotonic() + 60
                while reads.value < i * reads_per_move and time.monotonic() < deadline:
                    time.sleep(0.001)
            if lockstep:
                barrier.wait(timeout=BARRIER_TIMEOUT)
            try:
                move = promote(
                    ws,
                    MODEL,
                    versions[i % len(versions)],
                    ALIAS,
                    force_reason=f"load test {i}" if force else None,
                    actor=f"pid-{os.getpid()}",
                )
                moves.append((move.id, move.from_version, move.to_version))
            except Exception as exc:
                errors.append(describe(exc))
    return {"moves": moves, "errors": errors}


def reader(root: str, url: str, barrier: Any, n: int, reads: Any) -> dict[str, Any]:
    """Resolve ``models:/MODEL@ALIAS`` ``n`` times through ``registry.get_model``; count
    answers with no target, and (every tenth read) alias rows other than exactly one."""
    seen: dict[int, int] = {}
    no_target = two_targets = changes = 0
    last = None
    errors: list[str] = []
    a, m = TABLES["aliases"].c, TABLES["models"].c
    n_rows = (
        select(func.count())
        .select_from(TABLES["aliases"].join(TABLES["models"], a.model_id == m.id))
        .where(m.name == MODEL, a.name == ALIAS)
    )
    with _open(root, url) as ws:
        barrier.wait(timeout=BARRIER_TIMEOUT)
        for i in range(n):
            try:
                version = get_model(ws, f"models:/{MODEL}@{ALIAS}").version
                seen[version] = seen.get(version, 0) + 1
                changes += last is not None and version != last
                last = version
            except NotFoundError:
                no_target += 1
            except Exception as exc:
                errors.append(describe(exc))
            if i % 10 == 0:
                try:
                    if ws.store.query(lambda c: c.execute(n_rows).scalar_one()) != 1:
                        two_targets += 1
                except Exception as exc:
                    errors.append(describe(exc))
            with reads.get_lock():
                reads.value += 1
    return {
        "seen": seen,
        "changes": changes,
        "no_target": no_target,
        "two_targets": two_targets,
        "errors": errors,
    }


def alias_race(
    role: str,
    root: str,
    url: str,
    barrier: Any,
    reads: Any,
    n: int,
    versions: list[int],
    options: dict[str, Any],
) -> dict[str, Any]:
    """One process of an alias race: ``promote`` (``promoter`` with ``options``) or
    ``read`` (``reader``)."""
    if role == "read":
        return reader(root, url, barrier, n, reads)
    return promoter(root, url, barrier, versions, n, reads=reads, **options)
