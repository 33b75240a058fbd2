"""Processes opening a new SQLite online store file at the same instant all open it: the
switch to WAL, which SQLite refuses at once (no busy wait) while another process is making
the same switch, is retried within the busy timeout."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration


def _open(path: str, barrier: Any, results: Any) -> None:
    from conveyor.features._online_sqlite import SQLiteOnlineStore

    barrier.wait()
    try:
        SQLiteOnlineStore(Path(path), url=f"sqlite:///{path}").close()
        results.put("ok")
    except Exception as exc:  # reported to the test, which fails on it
        results.put(repr(exc))


def test_concurrent_first_opens_all_succeed(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    failures = []
    for round_ in range(15):
        path = str(tmp_path / f"round{round_}" / "features.db")
        barrier, results = ctx.Barrier(4), ctx.Queue()
        workers = [ctx.Process(target=_open, args=(path, barrier, results)) for _ in range(4)]
        for w in workers:
            w.start()
        outcomes = [results.get(timeout=60) for _ in workers]
        for w in workers:
            w.join(timeout=60)
        failures += [o for o in outcomes if o != "ok"]
    assert failures == []
