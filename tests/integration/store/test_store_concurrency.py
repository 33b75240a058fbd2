"""The store under real concurrency: spawned processes started in lockstep on a barrier,
each opening its own store from the URL, on SQLite and PostgreSQL.

Figures (asserted, per backend):

- must-show load: 8 processes x (9,500 batched + 500 single metrics, 500 events):
  80,000/80,000 metrics, 4,000/4,000 events, each child's counts exact, 0 errors surfaced.
- must-show race: 2 processes claim the same trigger for 1,000 windows, a barrier before
  every window, and start the run of each window they win: 1,000 winners (exactly one per
  window), losers get ``won=False``, 0 errors, 1,000 claim rows, 1,000 runs (one each).
- R08: 2 processes x 100 registrations of one model name: 200 distinct versions, dense
  1..200, 0 errors (no IntegrityError).
- Signing keys: 2 processes ask for a new project's signing key at the same instant, 10
  projects: one key per project, both processes got it, 0 errors.
- R09: 2 processes open an empty store at the same instant, 5 times: schema at head,
  1 alembic_version row, 1 project row, 0 errors.
- R10 (SQLite): 4 threads + 2 processes x 500 single-row transactions: 3,000/3,000 rows,
  0 errors ("database is locked" never surfaces).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from conveyor import store as st
from conveyor.store import _schema
from support import store_workers as w
from support.pg import drop_pg_schema, new_pg_schema, postgres_url
from support.procs import SPAWN, RetryCounter, run_processes

TABLES = _schema.metadata.tables  # every table, by name, whichever domain defines it

pytestmark = pytest.mark.integration


def _no_errors(results: list[dict[str, object]]) -> None:
    errors = [e for r in results for e in r["errors"]]  # type: ignore[attr-defined]
    assert errors == [], f"{len(errors)} errors surfaced, first: {errors[:3]}"


def _all_events(store: st.Store, types: list[str]) -> list[st.EventRecord]:
    events: list[st.EventRecord] = []
    while True:
        batch = st.read_events(store, after=events[-1].id if events else 0, types=types)
        if not batch:
            return events
        events.extend(batch)


@pytest.mark.slow
def test_must_show_concurrent_metrics_and_events(store_url: str) -> None:
    """8 processes x (19 batches of 500 + 500 single metrics + 500 events) at once:
    80,000 metrics and 4,000 events arrive, each child's counts exact, 0 errors."""
    n_children, n_batches, batch, n_single, n_events = 8, 19, 500, 500, 500
    per_child = n_batches * batch + n_single
    with st.open_store(store_url, project="test") as store:
        runs = [st.create_run(store, f"load-{i}").id for i in range(n_children)]
        before = st.last_event_id(store)
        barrier = SPAWN.Barrier(n_children)
        results = run_processes(
            w.metrics_and_events,
            [
                (store_url, barrier, i, runs[i], n_batches, batch, n_single, n_events)
                for i in range(n_children)
            ],
            barrier=barrier,
            timeout=240,
        )
        _no_errors(results)
        assert [(r["logged"], r["emitted"]) for r in results] == [(per_child, n_events)] * 8
        assert st.count_metrics(store, runs) == n_children * per_child == 80_000
        for i, run_id in enumerate(runs):
            assert st.count_metrics(store, [run_id]) == per_child
            single = st.metric_history(store, run_id, f"c{i}.single")
            assert [m.step for m in single] == list(range(n_single))
            batched = st.metric_history(store, run_id, f"c{i}.batched")
            assert [m.step for m in batched] == list(range(n_batches * batch))
        events = _all_events(store, ["io.conveyor.load.emitted"])
        assert len(events) == n_children * n_events == 4_000
        assert all(e.id > before for e in events)
        assert [e.id for e in events] == sorted({e.id for e in events})
        seen = sorted((e.data["child"], e.data["i"]) for e in events)
        assert seen == [(c, i) for c in range(n_children) for i in range(n_events)]
    print(
        f"must-show load ({store_url.split(':')[0]}): retries absorbed = "
        f"{sum(r['retries'] for r in results)}"
    )


def test_must_show_trigger_claim_race(store_url: str) -> None:
    """2 processes claim the same trigger for 1,000 windows, meeting at a barrier before
    each: exactly one winner per window, the loser sees ``won=False`` naming the winner,
    0 errors, 1,000 claim rows, and exactly one run per window (the winner's)."""
    n_windows = 1_000
    with st.open_store(store_url, project="test") as store:
        trigger = st.upsert_trigger(store, "drift", kind="drift", pipeline="retrain")
        barrier = SPAWN.Barrier(2)
        a, b = run_processes(
            w.claim_windows,
            [(store_url, barrier, owner, trigger.id, n_windows) for owner in ("ctl-a", "ctl-b")],
            barrier=barrier,
            timeout=240,
        )
        _no_errors([a, b])
        assert set(a["won"]).isdisjoint(b["won"])
        assert sorted(a["won"] + b["won"]) == list(range(n_windows))
        assert sorted(wd for wd, _ in a["lost"]) == b["won"]
        assert sorted(wd for wd, _ in b["lost"]) == a["won"]
        assert {owner for _, owner in a["lost"]} <= {"ctl-b"}
        assert {owner for _, owner in b["lost"]} <= {"ctl-a"}
        claims = st.list_claims(store, trigger.id)
        assert len(claims) == n_windows == len({c.window_key for c in claims})
        assert {c.status for c in claims} == {"started"}
        runs = st.list_runs(store, limit=2 * n_windows)
        assert sorted(r.trigger_claim_id or 0 for r in runs) == [c.id for c in claims]
    print(f"trigger race: ctl-a won {len(a['won'])}, ctl-b won {len(b['won'])}")


def test_r08_concurrent_registration_of_one_name(store_url: str) -> None:
    """R08: 2 processes x 100 ``register_model_version`` of one name, a barrier before each:
    200 distinct versions, dense 1..200, 0 errors (no IntegrityError surfaced)."""
    barrier = SPAWN.Barrier(2)
    a, b = run_processes(
        w.register_versions, [(store_url, barrier, "churn", 100)] * 2, barrier=barrier
    )
    _no_errors([a, b])
    assert sorted(a["versions"] + b["versions"]) == list(range(1, 201))
    with st.open_store(store_url, project="test") as store:
        assert [v.version for v in st.list_model_versions(store, "churn")] == list(range(1, 201))
        assert st.get_model(store, "churn").last_version == 200
        registered = _all_events(store, ["io.conveyor.model_version.registered"])
        assert sorted(e.data["version"] for e in registered) == list(range(1, 201))


def test_racing_processes_make_one_signing_key_per_project(store_url: str) -> None:
    """2 processes ask for the signing key of 10 new projects, in lockstep: each project
    gets one key (stored once), both processes got that key, 0 errors."""
    projects = [f"keys-{k}" for k in range(10)]
    barrier = SPAWN.Barrier(2)
    a, b = run_processes(
        w.first_signing_keys, [(store_url, barrier, projects)] * 2, barrier=barrier
    )
    _no_errors([a, b])
    assert a["keys"] == b["keys"] and len(set(a["keys"])) == len(projects)
    engine = create_engine(store_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            stored = conn.execute(select(_schema.signing_keys.c.secret)).scalars().all()
    finally:
        engine.dispose()
    assert sorted(stored) == sorted(a["keys"])


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[str]]:
    """Five empty stores on one backend: SQLite files not yet created; empty PG schemas."""
    if request.param == "sqlite":
        yield [f"sqlite:///{tmp_path}/r09-{k}/conveyor.db" for k in range(5)]
        return
    if postgres_url() is None:
        pytest.skip("PostgreSQL tests need CONVEYOR_TEST_POSTGRES_URL; run with .ci/run")
    made = [new_pg_schema() for _ in range(5)]
    try:
        yield [url for url, _ in made]
    finally:
        for _, schema in made:
            drop_pg_schema(schema)


def test_r09_concurrent_first_start(empty_stores: list[str]) -> None:
    """R09: 2 processes ``open_store`` (migrate + default project) on an empty store at the
    same instant, 5 times: schema at head, 1 alembic_version row, 1 project, 0 errors."""
    barrier = SPAWN.Barrier(2)
    a, b = run_processes(w.first_open, [(empty_stores, barrier)] * 2, barrier=barrier)
    _no_errors([a, b])
    assert a["project_ids"] == b["project_ids"] and len(a["project_ids"]) == 5
    for url in empty_stores:
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            with engine.connect() as conn:
                versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
                projects = conn.execute(select(_schema.projects.c.name)).scalars().all()
        finally:
            engine.dispose()
        assert [tuple(v) for v in versions] == [(st.HEAD,)]
        assert projects == ["default"]


def test_r10_sqlite_write_contention(tmp_path: Path) -> None:
    """R10: 4 threads in this process + 2 other processes, each committing 500 rows (step
    runs and metrics alternately, one transaction each) to one SQLite file: 3,000/3,000
    rows, 0 errors, so 0 "database is locked"."""
    url, n = f"sqlite:///{tmp_path}/conveyor.db", 500
    with st.open_store(url, project="test") as store:
        runs = [st.create_run(store, "load").id for _ in range(6)]
        barrier = SPAWN.Barrier(6)
        with RetryCounter() as thread_retries, ThreadPoolExecutor(4) as pool:
            threads = [
                pool.submit(w.write_rows_with, store, barrier, f"t{i}", runs[i], n)
                for i in range(4)
            ]
            procs = run_processes(
                w.write_rows,
                [(url, barrier, f"p{i}", runs[4 + i], n) for i in range(2)],
                barrier=barrier,
            )
            results = [f.result(timeout=120) for f in threads] + procs
        _no_errors(results)
        assert all((r["steps"], r["metrics"]) == (n // 2, n // 2) for r in results)

        def count(table: object) -> int:
            query = select(func.count()).select_from(table)  # type: ignore[arg-type]
            return int(store.query(lambda c: c.execute(query).scalar_one()))

        assert count(TABLES["step_runs"]) + count(TABLES["metrics"]) == 6 * n == 3_000
        for run_id in runs:
            assert len(st.get_step_runs(store, run_id)) == n // 2
            assert st.count_metrics(store, [run_id]) == n // 2
    retries = thread_retries.count + sum(r["retries"] for r in procs)
    print(f"R10: transient retries absorbed = {retries}")


def test_two_claimers_drain_one_queue_exactly_once(store_url: str) -> None:
    """2 processes drain 300 queued runs with ``claim_runs`` (``FOR UPDATE SKIP LOCKED``
    on PostgreSQL, the write lock on SQLite): 300/300 claimed, 0 twice, 0 errors."""
    with st.open_store(store_url, project="test") as store:
        ids = [st.create_run(store, "train", status="queued").id for _ in range(300)]
        barrier = SPAWN.Barrier(2)
        a, b = run_processes(
            w.drain_queue,
            [(store_url, barrier, owner, 7) for owner in ("ctl-a", "ctl-b")],
            barrier=barrier,
        )
        _no_errors([a, b])
        assert set(a["claimed"]).isdisjoint(b["claimed"])
        assert sorted(a["claimed"] + b["claimed"]) == ids
        assert all(r.attempt == 1 for r in st.list_runs(store, limit=300))


def test_a_polling_cursor_never_skips_an_event(store_url: str) -> None:
    """2 processes emit 500 events each while this process polls ``read_events`` by cursor:
    the poller sees 1,000/1,000 events, in id order, none skipped (ids commit in order)."""
    with st.open_store(store_url, project="test") as store:
        start = st.last_event_id(store)
        barrier = SPAWN.Barrier(3)
        seen: list[st.EventRecord] = []

        def poll() -> None:
            barrier.wait(timeout=60)
            deadline = time.monotonic() + 120
            while len(seen) < 1_000 and time.monotonic() < deadline:
                batch = st.read_events(
                    store, after=seen[-1].id if seen else start, types=["io.conveyor.load.*"]
                )
                seen.extend(batch)

        with ThreadPoolExecutor(1) as pool:
            poller = pool.submit(poll)
            results = run_processes(
                w.emit_events, [(store_url, barrier, i, 500) for i in range(2)], barrier=barrier
            )
            poller.result(timeout=150)
        _no_errors(results)
        assert len(seen) == 1_000
        assert [e.id for e in seen] == sorted({e.id for e in seen})
        assert sorted((e.data["child"], e.data["i"]) for e in seen) == [
            (c, i) for c in range(2) for i in range(500)
        ]
        assert [e.id for e in _all_events(store, ["io.conveyor.load.*"])] == [e.id for e in seen]
