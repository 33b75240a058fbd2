"""The control loop's hot reads seek an index on every backend; none scans its table.

Each test records the statements a store call sends and asks the backend how it would run
them: ``EXPLAIN QUERY PLAN`` on SQLite, ``EXPLAIN`` with sequential scans priced out on
PostgreSQL (on a near-empty table a scan is the cheapest plan, so it would hide a missing
index; with ``enable_seqscan`` off, a plan that still scans has no usable one). A seek is
an index access whose condition starts with the given columns: stable across planner
versions, unlike costs or the choice between two fitting indexes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection, event, select, true

from conveyor import store as st
from conveyor.store.automation import _tables as automation

pytestmark = pytest.mark.integration


Statement = tuple[str, Any]


@contextmanager
def sent(store: st.Store) -> Iterator[list[Statement]]:
    """Collect the (statement, parameters) pairs the store sends to the driver in the block."""
    seen: list[Statement] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, ctx: Any, many: bool) -> None:
        if not many:
            seen.append((statement, params))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", record)


def reading(statements: list[Statement], table: str) -> list[Statement]:
    """The SELECTs among ``statements`` that read ``table``."""
    pattern = re.compile(rf"\b(FROM|JOIN)\s+{table}\b")
    found = [s for s in statements if s[0].lstrip().startswith("SELECT") and pattern.search(s[0])]
    assert found, f"no SELECT read {table}"
    return found


def plan(store: st.Store, statement: Statement) -> list[str]:
    sql, params = statement

    def explain(conn: Connection) -> list[str]:
        if store.dialect == "sqlite":
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()
            return [row[-1] for row in rows]
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        return [row[0].strip() for row in conn.exec_driver_sql(f"EXPLAIN {sql}", params).all()]

    return store.query(explain)


def seeks(store: st.Store, lines: list[str], table: str, columns: Sequence[str]) -> bool:
    """Whether the plan reads ``table`` through an index whose condition starts with
    ``columns``, and never scans it whole."""
    conditions: list[list[str]] = []
    if store.dialect == "sqlite":
        for line in lines:
            if re.match(rf"SCAN {table}\b", line):
                return False  # the whole table, or the whole of one index
            m = re.match(rf"SEARCH {table} USING (?:COVERING )?INDEX \S+ \((.*)\)", line)
            if m:
                conditions.append(re.findall(r"(\w+)\s*[=<>]", m.group(1)))
    else:
        current = None
        for line in lines:
            if re.match(rf"(Parallel )?Seq Scan on {table}\b", line.removeprefix("->  ")):
                return False
            m = re.search(r"(?:Index Scan|Index Only Scan|Bitmap Heap Scan).* on (\w+)", line)
            if m:
                current = m.group(1)
            elif line.startswith("Index Cond:") and current == table:
                conditions.append(re.findall(r"\(*(\w+)\)*(?:::\w+)?\s*[=<>]", line))
    return any(found[: len(columns)] == list(columns) for found in conditions)


def test_latest_metrics_seek_the_runs_rows(store: st.Store) -> None:
    runs = [st.create_run(store, "train").id for _ in range(2)]
    for run_id in runs:
        st.log_metrics(store, run_id, [("loss", 0.5, i, i) for i in range(20)] + [("acc", 0.9)])
    with sent(store) as statements:
        assert st.latest_metrics(store, runs[0]) == {"loss": 0.5, "acc": 0.9}
    (read,) = reading(statements, "metrics")
    lines = plan(store, read)
    assert seeks(store, lines, "metrics", ["run_id"]), lines
    if store.dialect == "sqlite":  # grouped in index order: no sort of the run's rows
        assert not any("TEMP B-TREE" in line for line in lines), lines


@pytest.mark.parametrize(
    ("types", "columns"),
    [
        (["io.conveyor.drift.detected"], ["project_id", "type", "id"]),
        (["io.conveyor.run.*"], ["project_id", "id"]),  # a prefix is filtered in id order
    ],
)
def test_events_by_type_seek_the_projects_events(
    store: st.Store, types: list[str], columns: list[str]
) -> None:
    for _ in range(5):
        st.emit_event(store, "io.conveyor.test.emitted")
    st.emit_event(store, "io.conveyor.drift.detected")
    st.create_run(store, "train")
    with sent(store) as statements:
        found = st.read_events(store, after=0, types=types)
    assert [e.type for e in found] == [types[0].replace("*", "started")]
    (read,) = reading(statements, "events")
    lines = plan(store, read)
    assert seeks(store, lines, "events", columns), lines


def test_a_lost_claim_seeks_the_trigger_and_window(store: st.Store) -> None:
    trigger = st.upsert_trigger(store, "t", kind="drift", pipeline="train")
    for i in range(5):
        st.claim_trigger(store, trigger.id, f"w{i}", "ctl-a")
    with sent(store) as statements:
        assert not st.claim_trigger(store, trigger.id, "w3", "ctl-b").won
    for read in reading(statements, "trigger_claims"):
        lines = plan(store, read)
        assert seeks(store, lines, "trigger_claims", ["trigger_id", "window_key"]), lines


def test_claiming_queued_runs_seeks_the_projects_queue(store: st.Store) -> None:
    for status in ("queued", "running", "queued"):
        st.create_run(store, "train", status=status)
    with sent(store) as statements:
        assert len(st.claim_runs(store, "ctl", limit=1)) == 1
    (read, *_) = reading(statements, "runs")
    lines = plan(store, read)
    assert seeks(store, lines, "runs", ["project_id", "status"]), lines


def test_due_triggers_seek_the_projects_schedule(store: st.Store) -> None:
    """The scheduler's read (no store function issues it yet): a project's enabled triggers
    due by now, soonest first. Other projects' triggers are never visited."""
    with st.open_store(store.url, project="other") as other:
        st.upsert_trigger(other, "theirs", kind="schedule", pipeline="p", next_fire_at=1)
    for i in range(5):
        st.upsert_trigger(store, f"t{i}", kind="schedule", pipeline="p", next_fire_at=i)
    c = automation.triggers.c
    due = (
        select(c.name)
        .where(c.project_id == store.project_id, c.enabled == true(), c.next_fire_at <= 2)
        .order_by(c.next_fire_at)
    )
    with sent(store) as statements:
        names = store.query(lambda conn: list(conn.execute(due).scalars()))
    assert names == ["t0", "t1", "t2"]
    (read,) = reading(statements, "triggers")
    lines = plan(store, read)
    assert seeks(store, lines, "triggers", ["project_id", "enabled", "next_fire_at"]), lines
