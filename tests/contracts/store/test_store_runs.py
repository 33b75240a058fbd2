"""Runs: idempotent creation, guarded transitions, attempt fencing, the claim queue, params."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from conveyor import store as st
from conveyor.core import (
    ConflictError,
    InvalidValueError,
    NotFoundError,
    StaleAttemptError,
)
from support.lost_ack import LostAcks, lost_acks
from support.waits import wait_for

pytestmark = pytest.mark.integration


def test_create_run_starts_running_and_emits_started(store: st.Store) -> None:
    run = st.create_run(store, "train", params={"lr": 0.1}, tags={"team": "a"})
    assert (run.status, run.pipeline, run.attempt) == ("running", "train", 0)
    assert run.started_at is not None and run.finished_at is None
    assert run.params == {"lr": 0.1} and run.tags == {"team": "a"}
    events = st.read_events(store, types=["io.conveyor.run.*"])
    assert [(e.type, e.subject) for e in events] == [("io.conveyor.run.started", f"runs/{run.id}")]


def test_create_run_queued_has_no_start_time(store: st.Store) -> None:
    run = st.create_run(store, "train", status="queued")
    assert run.status == "queued" and run.started_at is None
    assert st.read_events(store)[-1].type == "io.conveyor.run.queued"


def test_create_run_rejects_other_initial_status(store: st.Store) -> None:
    with pytest.raises(InvalidValueError, match="'running' or 'queued'"):
        st.create_run(store, "train", status="succeeded")


def test_idempotency_key_returns_the_same_run_once(store: st.Store) -> None:
    first = st.create_run(store, "train", idempotency_key="trigger 7 window 10:00")
    again = st.create_run(store, "train", idempotency_key="trigger 7 window 10:00")
    other = st.create_run(store, "train", idempotency_key="trigger 7 window 11:00")
    assert again == first
    assert other.id != first.id
    assert len(st.list_runs(store)) == 2
    # The repeat emitted no second event.
    assert len(st.read_events(store, types=["io.conveyor.run.started"])) == 2


def test_idempotency_key_is_scoped_per_project(store: st.Store) -> None:
    other = st.open_store(store.url, project="other")
    try:
        a = st.create_run(store, "train", idempotency_key="k")
        b = st.create_run(other, "train", idempotency_key="k")
    finally:
        other.close()
    assert a.id != b.id


def test_get_run_missing_names_the_run_and_the_next_command(store: st.Store) -> None:
    with pytest.raises(NotFoundError, match="No run 404") as info:
        st.get_run(store, 404)
    assert info.value.run_id == 404
    assert "conveyor runs list" in str(info.value)


def test_get_run_does_not_see_other_projects(store: st.Store) -> None:
    run = st.create_run(store, "train")
    with st.open_store(store.url, project="other") as other, pytest.raises(NotFoundError):
        st.get_run(other, run.id)


def test_list_runs_newest_first_with_filters(store: st.Store) -> None:
    a = st.create_run(store, "train")
    b = st.create_run(store, "score", status="queued")
    c = st.create_run(store, "train")
    assert [r.id for r in st.list_runs(store)] == [c.id, b.id, a.id]
    assert [r.id for r in st.list_runs(store, pipeline="train")] == [c.id, a.id]
    assert [r.id for r in st.list_runs(store, statuses=["queued"])] == [b.id]
    assert [r.id for r in st.list_runs(store, before_id=c.id, limit=1)] == [b.id]


def test_transition_to_finished_clears_lease_and_emits(store: st.Store) -> None:
    run = st.create_run(store, "train")
    done = st.transition_run(store, run.id, "succeeded", expected=["running"])
    assert done.status == "succeeded" and done.finished_at is not None and done.is_finished
    assert done.lease_owner is None and done.lease_expires_at is None
    assert done.duration is not None and done.duration >= 0
    last = st.read_events(store)[-1]
    assert last.type == "io.conveyor.run.succeeded"
    assert last.data["run_id"] == run.id and last.data["status"] == "succeeded"


def test_transition_records_error(store: st.Store) -> None:
    run = st.create_run(store, "train")
    failed = st.transition_run(store, run.id, "failed", expected=["running"], error="boom")
    assert failed.error == "boom"
    assert st.read_events(store)[-1].data["error"] == "boom"


@pytest.mark.parametrize(
    ("start", "to", "expected"),
    [
        ("succeeded", "running", ["queued"]),
        ("succeeded", "failed", ["running"]),
        ("cancelled", "succeeded", ["running"]),
    ],
)
def test_a_lost_race_is_a_conflict(
    store: st.Store, start: str, to: str, expected: list[str]
) -> None:
    run = st.create_run(store, "train")
    st.transition_run(store, run.id, start, expected=["running"])
    n_events = len(st.read_events(store))
    with pytest.raises(ConflictError, match=f"is '{start}'") as info:
        st.transition_run(store, run.id, to, expected=expected)
    assert not isinstance(info.value, StaleAttemptError)
    assert info.value.status == start
    assert st.get_run(store, run.id).status == start
    assert len(st.read_events(store)) == n_events  # the loser wrote nothing


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        ("running", ["succeeded"]),
        ("succeeded", ["queued"]),
        ("queued", ["running"]),
        ("failed", []),
    ],
)
def test_an_illegal_move_is_refused_before_it_is_tried(
    store: st.Store, to: str, expected: list[str]
) -> None:
    run = st.create_run(store, "train")
    st.transition_run(store, run.id, "succeeded", expected=["running"])
    n_events = len(st.read_events(store))
    with pytest.raises(InvalidValueError, match=f"cannot move from .* to '{to}'.*legal moves"):
        st.transition_run(store, run.id, to, expected=expected)
    assert st.get_run(store, run.id).status == "succeeded"
    assert len(st.read_events(store)) == n_events


def test_transition_of_missing_run_is_not_found(store: st.Store) -> None:
    with pytest.raises(NotFoundError):
        st.transition_run(store, 999, "failed", expected=["running"])


def test_transition_of_another_projects_run_is_not_found(store: st.Store) -> None:
    run = st.create_run(store, "train")
    with st.open_store(store.url, project="other") as other, pytest.raises(NotFoundError):
        st.transition_run(other, run.id, "failed", expected=["running"])
    assert st.get_run(store, run.id).status == "running"


def test_claim_runs_claims_each_queued_run_once(store: st.Store) -> None:
    queued = [st.create_run(store, "train", status="queued") for _ in range(3)]
    running = st.create_run(store, "train")
    first = st.claim_runs(store, "ctl-a", limit=2, lease=30)
    second = st.claim_runs(store, "ctl-b", limit=10, lease=30)
    assert [r.id for r in first] == [queued[0].id, queued[1].id]
    assert [r.id for r in second] == [queued[2].id]
    assert st.claim_runs(store, "ctl-c") == []
    assert all(r.lease_owner == "ctl-a" and r.attempt == 1 for r in first)
    assert all(r.lease_expires_at is not None for r in first + second)
    assert running.id not in {r.id for r in first + second}


def test_reclaim_after_lease_expiry_bumps_attempt_and_fences_the_old_holder(
    store: st.Store,
) -> None:
    run = st.create_run(store, "train", status="queued")
    (claimed,) = st.claim_runs(store, "ctl-a", lease=0.05)
    assert claimed.attempt == 1
    (again,) = wait_for(lambda: st.claim_runs(store, "ctl-b", lease=30), what="re-claim")
    assert (again.id, again.attempt, again.lease_owner) == (run.id, 2, "ctl-b")
    with pytest.raises(StaleAttemptError, match="attempt 2"):
        st.transition_run(store, run.id, "running", expected=["queued"], attempt=1)
    with pytest.raises(StaleAttemptError):
        st.renew_run_lease(store, run.id, "ctl-a", 1, lease=30)
    started = st.transition_run(store, run.id, "running", expected=["queued"], attempt=2)
    assert started.status == "running" and started.started_at is not None
    st.renew_run_lease(store, run.id, "ctl-b", 2, lease=30)


def test_live_lease_is_not_reclaimed(store: st.Store) -> None:
    st.create_run(store, "train", status="queued")
    assert len(st.claim_runs(store, "ctl-a", lease=60)) == 1
    assert st.claim_runs(store, "ctl-b", lease=60) == []


def test_params_round_trip_and_are_immutable(store: st.Store) -> None:
    run = st.create_run(store, "train")
    st.log_params(store, run.id, {"lr": 0.1, "depth": 3, "name": "x", "opt": None})
    st.log_params(store, run.id, {"lr": 0.1})  # same value again: fine
    st.log_params(store, run.id, {})  # nothing to do
    with pytest.raises(ConflictError, match=r"\['lr'\]") as info:
        st.log_params(store, run.id, {"lr": 0.2, "new": 1})
    assert "metrics or tags" in str(info.value)
    # The conflicting call changed nothing, not even the new key.
    assert st.get_params(store, run.id) == {"lr": 0.1, "depth": 3, "name": "x", "opt": None}


def test_params_with_json_normalised_values_are_not_false_conflicts(
    store: st.Store,
) -> None:
    # Tuples come back as lists and int keys as strings; logging them (once, or twice) is not
    # a change of value.
    run = st.create_run(store, "train")
    values = {"shape": (3, 4), "classes": {1: "a"}, "nested": {"b": [1, 2], "a": 1}}
    st.log_params(store, run.id, values)
    st.log_params(store, run.id, values)
    assert st.get_params(store, run.id) == {
        "shape": [3, 4],
        "classes": {"1": "a"},
        "nested": {"b": [1, 2], "a": 1},
    }


def test_params_that_are_not_json_are_a_clear_error(store: st.Store) -> None:
    run = st.create_run(store, "train")
    with pytest.raises(InvalidValueError, match="JSON"):
        st.log_params(store, run.id, {"model": object()})
    with pytest.raises(InvalidValueError, match="JSON"):
        st.create_run(store, "train", params={"model": object()})


def test_acquire_run_hands_out_the_run_fencing_token(store: st.Store) -> None:
    run = st.create_run(store, "train", status="queued")
    first = st.acquire_run(store, run.id, "runner-1", lease=60)
    assert (first.status, first.attempt, first.lease_owner) == ("running", 1, "runner-1")
    last = st.read_events(store)[-1]
    assert (last.type, last.data["attempt"]) == ("io.conveyor.run.started", 1)
    with pytest.raises(ConflictError, match="running under runner-1") as info:
        st.acquire_run(store, run.id, "runner-2", lease=60)
    assert f"conveyor runs resume {run.id} --force" in str(info.value)
    second = st.acquire_run(store, run.id, "runner-2", take_over_from=("runner-1", 1))
    assert (second.attempt, second.lease_owner) == (2, "runner-2")
    assert second.started_at == first.started_at  # the run started once
    with pytest.raises(StaleAttemptError):
        st.renew_run_lease(store, run.id, "runner-1", 1, lease=60)


def test_acquire_run_after_lease_expiry_and_after_failure(store: st.Store) -> None:
    run = st.create_run(store, "train", status="queued")
    st.acquire_run(store, run.id, "runner-1", lease=0.05)

    def take() -> st.RunRecord | None:
        try:
            return st.acquire_run(store, run.id, "runner-2", lease=60)
        except ConflictError:
            return None

    assert wait_for(take, what="lease expiry").attempt == 2
    st.transition_run(store, run.id, "failed", expected=["running"], error="x")
    resumed = st.acquire_run(store, run.id, "runner-3")
    assert (resumed.attempt, resumed.error, resumed.finished_at) == (3, None, None)
    st.transition_run(store, run.id, "succeeded", expected=["running"], attempt=3)
    with pytest.raises(ConflictError, match="is succeeded"):
        st.acquire_run(store, run.id, "runner-4", take_over_from=(None, 3))
    with pytest.raises(NotFoundError, match="No run 999"):
        st.acquire_run(store, 999, "runner")
    with st.open_store(store.url, project="other") as other, pytest.raises(NotFoundError):
        st.acquire_run(other, run.id, "runner")


def test_takeover_is_a_compare_and_set_on_the_holder(store: st.Store) -> None:
    """Two takeovers of the same dead holder: exactly one wins; the other is told who."""
    run = st.create_run(store, "train", status="queued")
    dead = st.acquire_run(store, run.id, "dead-runner", lease=3600)
    won = st.acquire_run(store, run.id, "resumer-1", take_over_from=("dead-runner", dead.attempt))
    assert (won.attempt, won.lease_owner) == (2, "resumer-1")
    with pytest.raises(ConflictError, match="running under resumer-1") as info:
        st.acquire_run(store, run.id, "resumer-2", take_over_from=("dead-runner", dead.attempt))
    assert (info.value.lease_owner, info.value.attempt) == ("resumer-1", 2)
    # Same owner, other attempt: the holder judged dead is gone, this one is not it.
    with pytest.raises(ConflictError):
        st.acquire_run(store, run.id, "resumer-2", take_over_from=("resumer-1", 1))
    assert st.get_run(store, run.id).lease_owner == "resumer-1"
    started = st.read_events(store, types=["io.conveyor.run.started"])
    assert [e.data.get("attempt") for e in started] == [1, 2]


def test_takeovers_in_lockstep_one_winner(store: st.Store) -> None:
    """8 threads take over the same holder at once, 5 rounds: 1 winner per round."""
    import threading

    run = st.create_run(store, "train", status="queued")
    holder = st.acquire_run(store, run.id, "dead", lease=3600)

    def take(gate: threading.Barrier, me: str, seen: st.RunRecord, won: list[str]) -> None:
        gate.wait(10)
        try:
            st.acquire_run(store, run.id, me, take_over_from=(seen.lease_owner, seen.attempt))
            won.append(me)
        except ConflictError:
            pass

    for round_ in range(5):
        gate = threading.Barrier(8)
        won: list[str] = []
        threads = [
            threading.Thread(target=take, args=(gate, f"r{round_}-{i}", holder, won))
            for i in range(8)
        ]
        for th in threads:
            th.start()
        for th in threads:
            th.join(30)
        assert len(won) == 1, won
        holder = st.get_run(store, run.id)
        assert (holder.lease_owner, holder.attempt) == (won[0], round_ + 2)


@contextmanager
def first_commit_unacknowledged(store: st.Store) -> Iterator[LostAcks]:
    """The next transaction commits, then its caller hears "connection closed" and retries
    (as after a COMMIT whose reply was lost). Yields the cutter (``n_cut`` acks dropped)."""
    with lost_acks() as cutter:
        cutter.arm(1)
        yield cutter


def test_acquire_retry_after_a_lost_acknowledgement_returns_its_own_run(
    store: st.Store,
) -> None:
    """The commit lands but the caller never hears back: the retry finds the run is its own
    (same owner, attempt one past the one it replaced), not a conflict, and adds nothing."""
    run = st.create_run(store, "train", status="queued")
    dead = st.acquire_run(store, run.id, "dead", lease=3600)
    with first_commit_unacknowledged(store) as tries:
        mine = st.acquire_run(store, run.id, "me", take_over_from=("dead", dead.attempt))
    assert tries.n_cut == 1
    assert (mine.lease_owner, mine.attempt) == ("me", 2)
    with pytest.raises(ConflictError, match="running under me"):
        st.acquire_run(store, run.id, "other", lease=1)
    assert len(st.read_events(store, types=["io.conveyor.run.started"])) == 2


def test_claim_retry_after_a_lost_acknowledgement_returns_the_same_batch(
    store: st.Store,
) -> None:
    for _ in range(4):
        st.create_run(store, "train", status="queued")
    with first_commit_unacknowledged(store) as tries:
        batch = st.claim_runs(store, "ctl-a", limit=2, lease=60)
    assert tries.n_cut == 1
    assert [(r.id, r.attempt, r.lease_owner) for r in batch] == [(1, 1, "ctl-a"), (2, 1, "ctl-a")]
    assert [r.id for r in st.claim_runs(store, "ctl-b", limit=10, lease=60)] == [3, 4]


def test_start_run_creates_a_run_already_held(store: st.Store) -> None:
    run = st.start_run(store, "train", "runner-1", lease=60, params={"lr": 0.1})
    assert (run.status, run.attempt, run.lease_owner) == ("running", 1, "runner-1")
    assert run.lease_expires_at is not None and run.started_at is not None
    assert st.get_params(store, run.id) == {"lr": 0.1}
    events = st.read_events(store, types=["io.conveyor.run.*"])
    assert [(e.type, e.data["attempt"]) for e in events] == [("io.conveyor.run.started", 1)]
    with pytest.raises(ConflictError, match="running under runner-1"):
        st.acquire_run(store, run.id, "runner-2", lease=60)
    st.renew_run_lease(store, run.id, "runner-1", 1, lease=60)


def test_start_run_retry_after_a_lost_acknowledgement_creates_one_run(
    store: st.Store,
) -> None:
    with first_commit_unacknowledged(store) as tries:
        run = st.start_run(store, "train", "runner-1", params={"lr": 0.1})
    assert tries.n_cut == 1
    assert [r.id for r in st.list_runs(store)] == [run.id]
    assert len(st.read_events(store, types=["io.conveyor.run.started"])) == 1


def test_start_run_with_an_existing_key_returns_that_run(store: st.Store) -> None:
    first = st.start_run(store, "train", "runner-1", idempotency_key="k")
    again = st.start_run(store, "train", "runner-2", idempotency_key="k")
    assert again == first and again.lease_owner == "runner-1"


def test_renew_run_lease_renews_the_owners_running_steps(store: st.Store) -> None:
    run = st.start_run(store, "train", "runner-1", lease=60)
    a, b = st.add_step_runs(store, run.id, ["a", "b"])
    st.start_attempt(store, a.id, "runner-1", lease=1, run_attempt=1)
    st.start_attempt(store, b.id, "someone-else", lease=1)
    st.renew_run_lease(store, run.id, "runner-1", 1, lease=3600)
    leases = {s.name: s.lease_expires_at for s in st.get_step_runs(store, run.id)}
    assert leases["a"] is not None and leases["b"] is not None
    assert leases["a"] - leases["b"] > 3_000_000
