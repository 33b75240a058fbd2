"""Step runs: attempts, leases, take-over, fenced commits (zombies lose), failures, cache hits."""

from __future__ import annotations

import hashlib

import pytest

from conveyor import store as st
from conveyor.core import ConflictError, InvalidValueError, NotFoundError, StaleAttemptError
from support.waits import wait_for

pytestmark = pytest.mark.integration


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def step(store: st.Store) -> st.StepRunRecord:
    run = st.create_run(store, "train")
    (train,) = st.add_step_runs(store, run.id, ["train"])
    return train


def artifact(store: st.Store, text: str) -> int:
    return st.record_artifact(store, digest(text), len(text), name="model").id


def test_add_step_runs_is_idempotent_and_ordered(store: st.Store) -> None:
    run = st.create_run(store, "train")
    first = st.add_step_runs(store, run.id, ["load", "train"])
    again = st.add_step_runs(store, run.id, ["train", "score[0]", "score[1]"])
    assert [s.name for s in first] == ["load", "train"]
    assert [s.name for s in again] == ["load", "train", "score[0]", "score[1]"]
    assert again[:2] == first
    assert all(s.status == "pending" and s.attempt == 0 for s in again)
    assert st.add_step_runs(store, run.id, []) == again
    assert st.get_step_runs(store, run.id) == again
    assert st.get_step_run(store, again[2].id).name == "score[0]"


def test_get_step_run_missing(store: st.Store) -> None:
    with pytest.raises(NotFoundError, match="No step run 77"):
        st.get_step_run(store, 77)


def test_start_attempt_hands_out_a_fencing_token(store: st.Store, step: st.StepRunRecord) -> None:
    started = st.start_attempt(store, step.id, "worker-1", lease=30)
    assert (started.status, started.attempt, started.lease_owner) == ("running", 1, "worker-1")
    assert started.lease_expires_at is not None and started.started_at is not None
    (attempt,) = st.step_attempts(store, step.id)
    assert (attempt.attempt, attempt.status, attempt.worker) == (1, "running", "worker-1")


def test_running_step_under_a_live_lease_cannot_be_taken(
    store: st.Store, step: st.StepRunRecord
) -> None:
    st.start_attempt(store, step.id, "worker-1", lease=60)
    with pytest.raises(ConflictError, match="'train' is 'running'"):
        st.start_attempt(store, step.id, "worker-2", lease=60)
    assert st.get_step_run(store, step.id).attempt == 1
    assert len(st.step_attempts(store, step.id)) == 1


def test_take_over_after_lease_expiry(store: st.Store, step: st.StepRunRecord) -> None:
    st.start_attempt(store, step.id, "worker-1", lease=0.05)

    def take() -> st.StepRunRecord | None:
        try:
            return st.start_attempt(store, step.id, "worker-2", lease=30)
        except ConflictError:
            return None

    second = wait_for(take, what="lease expiry")
    assert (second.attempt, second.lease_owner) == (2, "worker-2")
    assert [(a.attempt, a.status) for a in st.step_attempts(store, step.id)] == [
        (1, "superseded"),
        (2, "running"),
    ]


def test_take_over_true_does_not_wait_for_the_lease(
    store: st.Store, step: st.StepRunRecord
) -> None:
    st.start_attempt(store, step.id, "worker-1", lease=3600)
    second = st.start_attempt(store, step.id, "worker-2", take_over=True)
    assert second.attempt == 2


def test_zombie_commit_is_rejected_and_history_shows_both_attempts(
    store: st.Store, step: st.StepRunRecord
) -> None:
    """R03 in the small: attempt 1 is taken over; its late commit must not overwrite."""
    zombie = st.start_attempt(store, step.id, "worker-1", lease=3600)
    live = st.start_attempt(store, step.id, "worker-2", take_over=True)
    good = artifact(store, "attempt 2")
    done, ids = st.commit_step(store, step.id, live.attempt, outputs={"model": good})
    assert ids == {"model": good}
    assert done.status == "succeeded" and done.lease_owner is None

    stale = artifact(store, "attempt 1")
    with pytest.raises(StaleAttemptError, match="Attempt 1 of step 'train'") as info:
        st.commit_step(store, step.id, zombie.attempt, outputs={"model": stale})
    assert info.value.attempt == 1
    with pytest.raises(StaleAttemptError):
        st.fail_attempt(store, step.id, zombie.attempt, error="late", will_retry=False)
    with pytest.raises(StaleAttemptError):
        st.heartbeat(store, step.id, zombie.attempt)

    history = [(a.attempt, a.status) for a in st.step_attempts(store, step.id)]
    assert history == [(1, "superseded"), (2, "succeeded")]
    assert [(e.direction, e.name, e.artifact_id) for e in st.step_lineage(store, step.id)] == [
        ("out", "model", good)
    ]
    assert st.get_step_run(store, step.id).status == "succeeded"


def test_a_rejected_commit_records_no_new_artifact(store: st.Store, step: st.StepRunRecord) -> None:
    zombie = st.start_attempt(store, step.id, "worker-1", lease=3600)
    live = st.start_attempt(store, step.id, "worker-2", take_over=True)
    with pytest.raises(StaleAttemptError):
        st.commit_step(
            store,
            step.id,
            zombie.attempt,
            outputs={"model": st.NewArtifact(digest=digest("zombie"), size=1, name="model")},
        )
    assert st.list_artifacts(store) == []
    _, ids = st.commit_step(
        store,
        step.id,
        live.attempt,
        outputs={"model": st.NewArtifact(digest=digest("live"), size=1, name="model")},
    )
    (recorded,) = st.list_artifacts(store)
    assert (recorded.id, recorded.digest, recorded.producer_step_run_id) == (
        ids["model"],
        digest("live"),
        step.id,
    )


def test_zombie_commit_rejected_while_the_new_attempt_still_runs(
    store: st.Store, step: st.StepRunRecord
) -> None:
    zombie = st.start_attempt(store, step.id, "worker-1", lease=3600)
    st.start_attempt(store, step.id, "worker-2", take_over=True)
    with pytest.raises(StaleAttemptError, match="now at attempt 2, running"):
        st.commit_step(store, step.id, zombie.attempt, outputs={})


def test_a_result_is_committed_once(store: st.Store, step: st.StepRunRecord) -> None:
    """The same attempt committing again (a retry whose first COMMIT landed) gets its own
    first result back: no error, no second artifact or edge."""
    started = st.start_attempt(store, step.id, "worker-1")
    model = st.NewArtifact(digest=digest("first"), size=1, name="model")
    first, ids = st.commit_step(store, step.id, started.attempt, outputs={"model": model})
    again = st.NewArtifact(digest=digest("second"), size=1, name="model")
    repeat = st.commit_step(store, step.id, started.attempt, outputs={"model": again})
    assert repeat == (first, ids)
    assert [a.digest for a in st.list_artifacts(store)] == [digest("first")]
    assert len(st.step_lineage(store, step.id)) == 1
    assert [(a.attempt, a.status) for a in st.step_attempts(store, step.id)] == [(1, "succeeded")]
    with pytest.raises(ConflictError, match="'succeeded'"):
        st.start_attempt(store, step.id, "worker-2", take_over=True)


def test_commit_records_inputs_outputs_and_cache_key(
    store: st.Store, step: st.StepRunRecord
) -> None:
    data, model = artifact(store, "data"), artifact(store, "model")
    started = st.start_attempt(store, step.id, "w")
    done, _ = st.commit_step(
        store,
        step.id,
        started.attempt,
        inputs={"data": data},
        outputs={"model": model},
        cache_key="k" * 64,
        logs_digest=digest("logs"),
    )
    assert done.cache_key == "k" * 64 and done.logs_digest == digest("logs")
    assert done.finished_at is not None
    edges = {(e.direction, e.name, e.artifact_id) for e in st.step_lineage(store, step.id)}
    assert edges == {("in", "data", data), ("out", "model", model)}
    assert [(e.step_run_id, e.direction) for e in st.artifact_lineage(store, model)] == [
        (step.id, "out")
    ]


def test_fail_attempt_with_retry_goes_back_to_pending(
    store: st.Store, step: st.StepRunRecord
) -> None:
    first = st.start_attempt(store, step.id, "w")
    failed = st.fail_attempt(store, step.id, first.attempt, error="OOM", will_retry=True)
    assert (failed.status, failed.error, failed.lease_owner) == ("pending", "OOM", None)
    second = st.start_attempt(store, step.id, "w")
    assert second.attempt == 2 and second.error is None
    final = st.fail_attempt(store, step.id, 2, error="OOM again", will_retry=False)
    assert final.status == "failed"
    assert [(a.attempt, a.status, a.error) for a in st.step_attempts(store, step.id)] == [
        (1, "failed", "OOM"),
        (2, "failed", "OOM again"),
    ]
    # A failed step may be resumed: it starts a third attempt at once.
    assert st.start_attempt(store, step.id, "w").attempt == 3


def test_heartbeat_extends_the_lease(store: st.Store, step: st.StepRunRecord) -> None:
    started = st.start_attempt(store, step.id, "w", lease=1)
    st.heartbeat(store, step.id, started.attempt, lease=3600)
    after = st.get_step_run(store, step.id)
    assert after.lease_expires_at is not None and started.lease_expires_at is not None
    assert after.lease_expires_at - started.lease_expires_at > 3_000_000


def test_mark_steps_only_touches_unstarted_steps(store: st.Store) -> None:
    run = st.create_run(store, "train")
    a, b, c = st.add_step_runs(store, run.id, ["a", "b", "c"])
    st.start_attempt(store, a.id, "w")
    assert st.mark_steps(store, run.id, ["a", "b", "missing"], "skipped", reason="x") == 1
    assert st.mark_steps(store, run.id, ["c"], "cancelled") == 1
    statuses = {s.name: (s.status, s.error) for s in st.get_step_runs(store, run.id)}
    assert statuses == {"a": ("running", None), "b": ("skipped", "x"), "c": ("cancelled", None)}
    with pytest.raises(InvalidValueError, match="mark_steps sets"):
        st.mark_steps(store, run.id, ["a"], "succeeded")


def test_cache_hit_copies_output_lineage(store: st.Store, step: st.StepRunRecord) -> None:
    key = digest("train(data=v1, lr=0.1)")
    model, data = artifact(store, "model"), artifact(store, "data")
    started = st.start_attempt(store, step.id, "w")
    source, _ = st.commit_step(
        store, step.id, started.attempt, outputs={"model": model}, cache_key=key
    )
    assert st.find_cached_step(store, digest("other")) is None
    assert st.find_cached_step(store, key) == source

    run2 = st.create_run(store, "train")
    (later,) = st.add_step_runs(store, run2.id, ["train"])
    hit = st.record_cache_hit(store, later.id, source, inputs={"data": data})
    assert (hit.status, hit.cached_from_id, hit.cache_key, hit.attempt) == (
        "succeeded",
        source.id,
        key,
        0,
    )
    edges = {(e.direction, e.name, e.artifact_id) for e in st.step_lineage(store, later.id)}
    assert edges == {("in", "data", data), ("out", "model", model)}
    assert st.step_attempts(store, later.id) == []  # nothing ran
    # Recording the same hit again (a retry) returns it; another source is a conflict.
    assert st.record_cache_hit(store, later.id, source) == hit
    with pytest.raises(ConflictError, match="not pending"):
        st.record_cache_hit(store, later.id, hit)
    # The newest succeeded step with the key is the one found.
    assert st.find_cached_step(store, key).id == later.id  # type: ignore[union-attr]


def test_cache_lookup_ignores_unfinished_steps_and_other_projects(
    store: st.Store, step: st.StepRunRecord
) -> None:
    key = digest("k")
    started = st.start_attempt(store, step.id, "w")
    st.fail_attempt(store, step.id, started.attempt, error="x", will_retry=True)
    assert st.find_cached_step(store, key) is None
    again = st.start_attempt(store, step.id, "w")
    st.commit_step(store, step.id, again.attempt, outputs={}, cache_key=key)
    with st.open_store(store.url, project="other") as other:
        assert st.find_cached_step(other, key) is None


def test_a_runner_that_lost_its_run_can_start_and_commit_nothing(store: st.Store) -> None:
    run = st.create_run(store, "train", status="queued")
    mine = st.acquire_run(store, run.id, "runner-1", lease=3600)
    a, b = st.add_step_runs(store, run.id, ["a", "b"])
    started = st.start_attempt(store, a.id, "runner-1", run_attempt=mine.attempt)
    st.acquire_run(store, run.id, "runner-2", take_over_from=("runner-1", 1))  # zombie
    with pytest.raises(StaleAttemptError, match="taken over"):
        st.start_attempt(store, b.id, "runner-1", run_attempt=mine.attempt)
    with pytest.raises(StaleAttemptError, match="its run was taken over"):
        st.commit_step(store, a.id, started.attempt, outputs={}, run_attempt=mine.attempt)
    with pytest.raises(StaleAttemptError):
        st.fail_attempt(store, a.id, started.attempt, error="x", will_retry=True, run_attempt=1)
    assert [s.status for s in st.get_step_runs(store, run.id)] == ["running", "pending"]


@pytest.fixture
def taken_over(store: st.Store) -> tuple[st.RunRecord, dict[str, st.StepRunRecord]]:
    """A run that runner-1 held at attempt 1 and runner-2 took over (attempt 2)."""
    run = st.start_run(store, "train", "runner-1", lease=3600)
    steps = {s.name: s for s in st.add_step_runs(store, run.id, ["a", "b", "c", "d"])}
    steps["a"] = st.start_attempt(store, steps["a"].id, "runner-1", run_attempt=1)
    source = st.start_attempt(store, steps["d"].id, "runner-1", run_attempt=1)
    steps["d"], _ = st.commit_step(store, source.id, 1, outputs={}, cache_key=digest("d"))
    st.acquire_run(store, run.id, "runner-2", take_over_from=("runner-1", 1))
    return run, steps


def test_every_write_of_a_stale_run_attempt_is_refused(
    store: st.Store, taken_over: tuple[st.RunRecord, dict[str, st.StepRunRecord]]
) -> None:
    run, steps = taken_over
    with pytest.raises(StaleAttemptError, match="taken over"):
        st.mark_steps(store, run.id, ["b"], "skipped", run_attempt=1)
    with pytest.raises(StaleAttemptError, match="taken over"):
        st.record_cache_hit(store, steps["c"].id, steps["d"], run_attempt=1)
    with pytest.raises(StaleAttemptError, match="taken over"):
        st.reset_steps(store, run.id, run_attempt=1)
    with pytest.raises(StaleAttemptError, match="run was taken over"):
        st.heartbeat(store, steps["a"].id, 1, lease=60, run_attempt=1)
    with pytest.raises(StaleAttemptError, match="taken over"):
        st.renew_run_lease(store, run.id, "runner-1", 1, lease=60)
    # Nothing changed: the new holder finds every step as the old one left it.
    after = {s.name: (s.status, s.attempt) for s in st.get_step_runs(store, run.id)}
    assert after == {
        "a": ("running", 1),
        "b": ("pending", 0),
        "c": ("pending", 0),
        "d": ("succeeded", 1),
    }
    # The current holder's writes go through.
    assert st.mark_steps(store, run.id, ["b"], "skipped", run_attempt=2) == 1
    hit = st.record_cache_hit(store, steps["c"].id, steps["d"], run_attempt=2)
    assert hit.cached_from_id == steps["d"].id


def test_reset_steps_takes_over_the_earlier_holders_running_steps(
    store: st.Store, taken_over: tuple[st.RunRecord, dict[str, st.StepRunRecord]]
) -> None:
    run, steps = taken_over
    assert st.reset_steps(store, run.id, run_attempt=2) == ["a"]
    a = st.get_step_run(store, steps["a"].id)
    assert (a.status, a.attempt, a.lease_owner) == ("pending", 1, None)
    assert [x.status for x in st.step_attempts(store, a.id)] == ["superseded"]
    with pytest.raises(StaleAttemptError):  # the old holder's attempt can no longer commit
        st.commit_step(store, a.id, 1, outputs={})
    again = st.start_attempt(store, a.id, "runner-2", run_attempt=2)
    assert again.attempt == 2


def test_mark_steps_never_overwrites_a_failure(store: st.Store) -> None:
    run = st.start_run(store, "train", "r", lease=3600)
    (a,) = st.add_step_runs(store, run.id, ["a"])
    started = st.start_attempt(store, a.id, "r", run_attempt=1)
    st.fail_attempt(store, a.id, started.attempt, error="boom", will_retry=False)
    for status in ("cancelled", "upstream_failed", "skipped"):
        assert st.mark_steps(store, run.id, ["a"], status, run_attempt=1) == 0
    after = st.get_step_run(store, a.id)
    assert (after.status, after.error) == ("failed", "boom")


def test_the_run_fence_waits_for_an_uncommitted_takeover_then_refuses(store: st.Store) -> None:
    """PostgreSQL: the fence locks the run's row. A write racing a takeover that has not
    committed yet waits for it, then sees the new attempt and is refused (a snapshot read
    in a subquery would have let it through)."""
    import threading
    import time

    from sqlalchemy import update

    from conveyor.store.runs import _tables as t

    if store.dialect != "postgresql":
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE; nothing to race")
    run = st.start_run(store, "train", "runner-1", lease=3600)
    (a,) = st.add_step_runs(store, run.id, ["a"])
    outcome: list[object] = []

    def stale_start() -> None:
        try:
            outcome.append(st.start_attempt(store, a.id, "runner-1", run_attempt=1))
        except StaleAttemptError as exc:
            outcome.append(exc)

    with store.write() as conn:  # a takeover, not committed yet
        conn.execute(
            update(t.runs).where(t.runs.c.id == run.id).values(attempt=2, lease_owner="runner-2")
        )
        racer = threading.Thread(target=stale_start)
        racer.start()
        time.sleep(0.3)  # let the racer reach the run's row before the takeover commits
    racer.join(30)
    assert len(outcome) == 1 and isinstance(outcome[0], StaleAttemptError), outcome
    assert st.get_step_run(store, a.id).status == "pending"
