"""R11 and R07 (small): PostgreSQL sessions killed mid-transaction, and alias moves raced
by readers.

To kill at a known point, a second session holds a lock the store's transaction needs
(a ``step_runs`` / ``step_attempts`` / ``models`` row ``FOR UPDATE``, or the event-log
advisory lock): the store blocks at that statement, the test finds its session by
``application_name`` and ``pg_terminate_backend``s it, then lets go. Most rounds kill once
(the store's bounded retry must complete the operation); two rounds of each kind kill
every retry (the store must give up with a one-line ``StoreUnavailableError``).

Figures: step commits, 10 rounds: each completes or raises StoreUnavailableError, 0 other
errors, 0 step runs stuck ``running`` without a lease, the stuck ones recovered after lease
expiry; alias moves, 10 rounds: same, and alias history == ``io.conveyor.alias.moved``
events == completed moves, final alias = last event's target. R07 small: 2 processes x 50
alternating moves + 2,000 reads: 0 "no target", 0 "two targets", events = moves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from conveyor import store as st
from conveyor.core import ConflictError, StoreUnavailableError
from support import pg_faults as pg
from support import store_workers as w
from support.pg import drop_pg_schema, new_pg_schema, postgres_url
from support.procs import SPAWN, run_processes
from support.waits import wait_for

pytestmark = pytest.mark.integration
T = TypeVar("T")

RETRIES = 5
EXHAUST = {3, 8}  # rounds in which every retry is killed too
# The advisory lock conveyor.store._sql.lock_events takes (per schema and project).
EVENT_LOCK = "SELECT pg_advisory_xact_lock(hashtext(current_schema()), %s)"


@pytest.fixture
def pg_url() -> Iterator[str]:
    if postgres_url() is None:
        pytest.skip("PostgreSQL tests need CONVEYOR_TEST_POSTGRES_URL; run with .ci/run")
    url, schema = new_pg_schema()
    try:
        yield url
    finally:
        drop_pg_schema(schema)


class Killer:
    """Pauses a store call on a held lock and kills its session, ``kills`` times."""

    def __init__(self, url: str, application_name: str) -> None:
        self.admin = pg.admin(url)
        self.holder = pg.LockHolder(url)
        self.application_name = application_name
        self.pool = ThreadPoolExecutor(1)
        self.killed: set[int] = set()

    def run(self, lock_sql: str, params: tuple[Any, ...], kills: int, call: Callable[[], T]) -> T:
        """Hold the lock, start ``call`` in a thread, kill its session ``kills`` times as it
        waits, release; return what ``call`` returned or raise what it raised."""
        self.holder.hold(lock_sql, params)
        try:
            future = self.pool.submit(call)
            for _ in range(kills):
                pid = pg.wait_until_blocked(self.admin, self.application_name, exclude=self.killed)
                assert pg.terminate_pid(self.admin, pid)
                self.killed.add(pid)
        finally:
            self.holder.release()
        return future.result(timeout=60)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.holder.close()
        self.admin.close()


@pytest.fixture
def killer_store(pg_url: str) -> Iterator[tuple[st.Store, Killer]]:
    url, name = pg.with_application_name(pg_url, "conveyor-r11")
    store = st.open_store(url, project="test", busy_timeout=20.0, retries=RETRIES)
    killer = Killer(pg_url, name)
    try:
        yield store, killer
    finally:
        killer.close()
        store.close()


def _one_line(exc: BaseException) -> None:
    assert "\n" not in str(exc), str(exc)
    assert "after bounded retries" in str(exc)


def test_r11_session_killed_during_step_commit(killer_store: tuple[st.Store, Killer]) -> None:
    """R11, step commit: 10 rounds, kill points alternating between the fenced
    ``step_runs`` update (first statement) and the ``step_attempts`` update (after the
    step row was already changed in the doomed transaction). Each commit completes via
    retry (8 rounds) or raises a one-line StoreUnavailableError (2 rounds, every retry
    killed); afterwards 0 step runs are running without a lease, and after lease expiry
    the stuck ones are taken over and committed: every step has exactly 1 committed
    attempt."""
    store, killer = killer_store
    outcomes: dict[int, str] = {}
    steps: dict[int, tuple[st.StepRunRecord, int]] = {}
    for k in range(10):
        run = st.create_run(store, "train")
        (step,) = st.add_step_runs(store, run.id, ["train"])
        started = st.start_attempt(store, step.id, "runner", lease=2.0)
        art = st.record_artifact(store, f"{k:064x}", 1, name="model")
        steps[k] = (step, art.id)
        lock = (
            ("SELECT 1 FROM step_runs WHERE id = %s FOR UPDATE", (step.id,))
            if k % 2 == 0
            else ("SELECT 1 FROM step_attempts WHERE step_run_id = %s FOR UPDATE", (step.id,))
        )
        kills = RETRIES + 1 if k in EXHAUST else 1
        try:
            killer.run(
                *lock,
                kills,
                lambda s=step.id, a=started.attempt, o=art.id: st.commit_step(
                    store, s, a, outputs={"model": o}
                ),
            )
        except StoreUnavailableError as exc:
            _one_line(exc)
            outcomes[k] = "unavailable"
        else:
            outcomes[k] = "committed"
        after = st.get_step_run(store, step.id)
        attempts = [(a.attempt, a.status) for a in st.step_attempts(store, step.id)]
        if outcomes[k] == "committed":
            assert after.status == "succeeded" and attempts == [(1, "succeeded")]
            assert [e.artifact_id for e in st.step_lineage(store, step.id)] == [art.id]
        else:  # the killed transaction left nothing behind
            assert after.status == "running" and attempts == [(1, "running")]
            assert st.step_lineage(store, step.id) == []

    assert sorted(k for k, o in outcomes.items() if o == "unavailable") == sorted(EXHAUST)
    running = [s for s, _ in steps.values() if st.get_step_run(store, s.id).status == "running"]
    assert all(st.get_step_run(store, s.id).lease_expires_at is not None for s in running)

    for step in running:  # recovery: after lease expiry another worker takes over

        def take(step_id: int = step.id) -> st.StepRunRecord | None:
            try:
                return st.start_attempt(store, step_id, "rescuer", lease=30)
            except ConflictError:
                return None

        again = wait_for(take, timeout=15, what="lease expiry")
        art_id = next(a for s, a in steps.values() if s.id == step.id)
        st.commit_step(store, step.id, again.attempt, outputs={"model": art_id})

    for step, _ in steps.values():
        assert st.get_step_run(store, step.id).status == "succeeded"
        statuses = [a.status for a in st.step_attempts(store, step.id)]
        assert statuses.count("succeeded") == 1
    assert len(killer.killed) == 8 * 1 + 2 * (RETRIES + 1)


def test_r11_session_killed_during_alias_move(killer_store: tuple[st.Store, Killer]) -> None:
    """R11, alias move: 10 rounds alternating the kill point between the ``models`` row
    lock (early) and the event-log lock (after the alias row and history were written in
    the doomed transaction). Each move completes via retry or raises a one-line
    StoreUnavailableError; after each round the alias points at the new target if the
    move completed, else at the old one; alias history == ``io.conveyor.alias.moved``
    events == 1 + completed moves; final alias = last event's target."""
    store, killer = killer_store
    for _ in range(2):
        st.register_model_version(store, "churn")
    st.move_alias(store, "churn", "champion", 1)
    current, completed = 1, 0
    for k in range(10):
        target = 2 if current == 1 else 1
        lock = (
            ("SELECT 1 FROM models WHERE name = %s FOR UPDATE", ("churn",))
            if k % 2 == 0
            else (EVENT_LOCK, (store.project_id,))
        )
        kills = RETRIES + 1 if k in EXHAUST else 1
        try:
            killer.run(
                *lock,
                kills,
                lambda t=target: st.move_alias(store, "churn", "champion", t, reason="r11"),
            )
        except StoreUnavailableError as exc:
            _one_line(exc)
            assert k in EXHAUST
        else:
            assert k not in EXHAUST
            current, completed = target, completed + 1
        assert st.resolve_alias(store, "churn", "champion").version == current

    _assert_alias_log_consistent(store, "churn", "champion", n_moves=1 + completed)
    assert completed == 8


def _assert_alias_log_consistent(store: st.Store, model: str, alias: str, n_moves: int) -> None:
    """Alias history == alias.moved events, one per move; the alias = the last target."""
    history = st.alias_history(store, model, alias)
    events = [
        e
        for e in all_events(store, ["io.conveyor.alias.moved"])
        if e.data["model"] == model and e.data["alias"] == alias
    ]
    by_id = {v.id: v.version for v in st.list_model_versions(store, model)}
    assert len(history) == len(events) == n_moves
    assert [by_id[h.to_version_id] for h in history] == [e.data["to_version"] for e in events]
    assert [by_id.get(h.from_version_id) for h in history] == [
        e.data["from_version"] for e in events
    ]
    assert st.resolve_alias(store, model, alias).version == events[-1].data["to_version"]


def all_events(store: st.Store, types: list[str]) -> list[st.EventRecord]:
    events: list[st.EventRecord] = []
    while batch := st.read_events(store, after=events[-1].id if events else 0, types=types):
        events.extend(batch)
    return events


def test_r07_small_alias_moves_with_a_reader(store_url: str) -> None:
    """R07 (small): 2 processes x 50 alternating promotions on one alias while a third
    resolves it 2,000 times: 0 "no target", 0 "two targets" (alias rows always 1), every
    answer one of the two versions, 0 errors; events = 100 successful moves + the first;
    history matches the events; final alias = last event's target."""
    with st.open_store(store_url, project="test") as store:
        for _ in range(2):
            st.register_model_version(store, "churn")
        st.move_alias(store, "churn", "champion", 1)
        barrier = SPAWN.Barrier(3)
        a, b, reader = run_processes(
            w.alias_race_role,
            [
                ("move", store_url, barrier, "churn", "champion", [1, 2], 50),
                ("move", store_url, barrier, "churn", "champion", [2, 1], 50),
                ("read", store_url, barrier, "churn", "champion", [], 2_000),
            ],
            barrier=barrier,
        )
        assert a["errors"] == b["errors"] == reader["errors"] == []
        assert (a["moved"], b["moved"]) == (50, 50)
        assert (reader["no_target"], reader["two_targets"]) == (0, 0)
        assert set(reader["seen"]) <= {1, 2} and sum(reader["seen"].values()) == 2_000
        _assert_alias_log_consistent(store, "churn", "champion", n_moves=101)
    print(
        f"R07 small ({store_url.split(':')[0]}): reader saw {reader['seen']}, "
        f"{reader['changes']} changes"
    )


def test_the_event_order_lock_is_per_project(pg_url: str) -> None:
    """A project's event writers never queue behind another project's (item 11)."""
    with st.open_store(pg_url, project="a") as a, st.open_store(pg_url, project="b") as b:
        holder = pg.LockHolder(pg_url)
        try:
            holder.hold(EVENT_LOCK, (b.project_id,))  # project b's writers would wait here
            pool = ThreadPoolExecutor(1)
            run = pool.submit(lambda: st.create_run(a, "train"))
            assert run.result(timeout=10).status == "running"  # a did not wait for b
            blocked = pool.submit(lambda: st.create_run(b, "train"))
            with pytest.raises(TimeoutError):
                blocked.result(timeout=0.5)  # b waits on its own lock ...
        finally:
            holder.release()
            holder.close()
        assert blocked.result(timeout=10).status == "running"  # ... until it is released
        pool.shutdown()


def test_a_session_idle_in_a_transaction_is_ended(pg_url: str) -> None:
    with (
        st.open_store(pg_url, project="test", busy_timeout=10) as store,
        store.engine.connect() as conn,
    ):
        shown = conn.exec_driver_sql("SHOW idle_in_transaction_session_timeout").scalar()
        assert shown == "1min"  # max(60 s, 4 x the 10 s lock timeout below)
