"""The runner's batch calls on step runs: commits and starts in one transaction (all of it
or none of it), starts of many steps at once, the batched cache lookup, and the run fence
on a lone heartbeat."""

from __future__ import annotations

import hashlib

import pytest

from conveyor import store as st
from conveyor.core import ConflictError, StaleAttemptError

pytestmark = pytest.mark.integration


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def output(text: str) -> st.NewArtifact:
    return st.NewArtifact(digest=digest(text), size=len(text), name="output", meta={"m": "json"})


@pytest.fixture
def held(store: st.Store) -> tuple[st.RunRecord, list[st.StepRunRecord]]:
    """A run held by runner-1 (attempt 1) with steps load, clean, train, score pending."""
    run = st.start_run(store, "train", "runner-1", lease=3600)
    return run, st.add_step_runs(store, run.id, ["load", "clean", "train", "score"])


def test_commits_and_the_starts_they_unblock_land_together(
    store: st.Store, held: tuple[st.RunRecord, list[st.StepRunRecord]]
) -> None:
    run, (load, clean, train, score) = held
    a, b = st.start_attempts(store, [load.id, clean.id], "runner-1", run_attempt=1)
    commits = [
        st.StepCommit(a.id, a.attempt, {"output": output("rows")}, cache_key="k-load"),
        st.StepCommit(b.id, b.attempt, {"output": output("clean rows")}, logs_digest=digest("l")),
    ]
    done, started = st.commit_and_start(
        store, commits, [train.id, score.id], "runner-1", lease=60, run_attempt=1
    )
    assert [(r.name, r.status, r.cache_key) for r, _ in done] == [
        ("load", "succeeded", "k-load"),
        ("clean", "succeeded", None),
    ]
    assert done[1][0].logs_digest == digest("l")
    assert [(s.name, s.status, s.attempt, s.lease_owner) for s in started] == [
        ("train", "running", 1, "runner-1"),
        ("score", "running", 1, "runner-1"),
    ]
    ids = [artifact_ids["output"] for _, artifact_ids in done]
    recorded = [st.get_artifact(store, i) for i in ids]
    assert [(r.digest, r.producer_step_run_id, r.meta) for r in recorded] == [
        (digest("rows"), load.id, {"m": "json"}),
        (digest("clean rows"), clean.id, {"m": "json"}),
    ]
    assert [(x.attempt, x.status) for x in st.step_attempts(store, train.id)] == [(1, "running")]


def test_one_stale_commit_leaves_the_whole_batch_unwritten(
    store: st.Store, held: tuple[st.RunRecord, list[st.StepRunRecord]]
) -> None:
    run, (load, clean, train, _score) = held
    a, b = st.start_attempts(store, [load.id, clean.id], "runner-1")
    st.start_attempt(store, clean.id, "someone-else", take_over=True)  # b is a zombie now
    commits = [
        st.StepCommit(a.id, a.attempt, {"output": output("rows")}),
        st.StepCommit(b.id, b.attempt, {"output": output("stale")}),
    ]
    with pytest.raises(StaleAttemptError, match="Attempt 1 of step 'clean' may not commit"):
        st.commit_and_start(store, commits, [train.id], "runner-1")
    statuses = {s.name: (s.status, s.attempt) for s in st.get_step_runs(store, run.id)}
    assert statuses == {
        "load": ("running", 1),  # its good commit was rolled back with the rest
        "clean": ("running", 2),
        "train": ("pending", 0),
        "score": ("pending", 0),
    }
    assert st.list_artifacts(store) == [] and st.step_lineage(store, load.id) == []
    assert [x.status for x in st.step_attempts(store, load.id)] == ["running"]


def test_a_start_that_is_refused_takes_the_commits_back_too(
    store: st.Store, held: tuple[st.RunRecord, list[st.StepRunRecord]]
) -> None:
    _run, (load, clean, train, _score) = held
    (a,) = st.start_attempts(store, [load.id], "runner-1")
    st.start_attempt(store, train.id, "runner-2", lease=3600)  # running under a live lease
    commit = st.StepCommit(a.id, a.attempt, {"output": output("rows")})
    with pytest.raises(ConflictError, match="Step 'train' is 'running' and cannot start"):
        st.commit_and_start(store, [commit], [clean.id, train.id], "runner-1")
    assert st.get_step_run(store, load.id).status == "running"
    assert st.get_step_run(store, clean.id).status == "pending"
    assert st.step_attempts(store, clean.id) == []


def test_a_runner_that_lost_its_run_can_batch_nothing(
    store: st.Store, held: tuple[st.RunRecord, list[st.StepRunRecord]]
) -> None:
    run, (load, clean, _train, _score) = held
    (a,) = st.start_attempts(store, [load.id], "runner-1", run_attempt=1)
    st.acquire_run(store, run.id, "runner-2", take_over_from=("runner-1", 1))
    commit = st.StepCommit(a.id, a.attempt, {"output": output("rows")})
    with pytest.raises(StaleAttemptError, match="or its run was taken over"):
        st.commit_and_start(store, [commit], [clean.id], "runner-1", run_attempt=1)
    with pytest.raises(StaleAttemptError, match="taken over by another runner"):
        st.start_attempts(store, [clean.id], "runner-1", run_attempt=1)
    with pytest.raises(StaleAttemptError, match="or its run was taken over"):
        st.heartbeat(store, load.id, a.attempt, run_attempt=1)
    assert st.get_step_run(store, clean.id).status == "pending"
    st.heartbeat(store, load.id, a.attempt, run_attempt=2)  # the new holder's fence passes


def test_starting_several_steps_is_all_or_none(
    store: st.Store, held: tuple[st.RunRecord, list[st.StepRunRecord]]
) -> None:
    _run, (load, clean, train, score) = held
    (a,) = st.start_attempts(store, [load.id], "runner-1")
    st.commit_step(store, load.id, a.attempt, outputs={})
    with pytest.raises(ConflictError, match="Step 'load' is 'succeeded'"):
        st.start_attempts(store, [clean.id, load.id, train.id], "runner-1")
    assert [st.get_step_run(store, s.id).status for s in (clean, train)] == ["pending"] * 2
    assert st.start_attempts(store, [], "runner-1") == []
    assert st.commit_and_start(store, [], [], "runner-1") == ([], [])
    started = st.start_attempts(store, [score.id, clean.id], "runner-1")
    assert [s.name for s in started] == ["score", "clean"]  # in the order asked


def test_a_failed_step_starts_again_with_the_next_attempt(
    store: st.Store, held: tuple[st.RunRecord, list[st.StepRunRecord]]
) -> None:
    _run, (load, *_rest) = held
    first = st.start_attempt(store, load.id, "runner-1")
    failed = st.fail_attempt(store, load.id, first.attempt, error="OSError: disk", will_retry=False)
    assert (failed.status, failed.error) == ("failed", "OSError: disk")
    again = st.start_attempt(store, load.id, "runner-1")
    assert (again.status, again.attempt, again.error) == ("running", 2, None)
    assert [(x.attempt, x.status, x.error) for x in st.step_attempts(store, load.id)] == [
        (1, "failed", "OSError: disk"),
        (2, "running", None),
    ]


def finished_with_key(store: st.Store, key: str, *, commit: bool = True) -> st.StepRunRecord:
    run = st.create_run(store, "train")
    (step,) = st.add_step_runs(store, run.id, ["load"])
    started = st.start_attempt(store, step.id, "w")
    if commit:
        return st.commit_step(store, step.id, started.attempt, outputs={}, cache_key=key)[0]
    return started


def test_the_batched_cache_lookup_finds_the_newest_success_of_each_key(store: st.Store) -> None:
    older = finished_with_key(store, "k1")
    newer = finished_with_key(store, "k1")
    other = finished_with_key(store, "k2")
    finished_with_key(store, "k3", commit=False)  # still running: not a hit
    hits = st.find_cached_steps(store, {"k1", "k2", "k3", "k4"})
    assert {k: r.id for k, r in hits.items()} == {"k1": newer.id, "k2": other.id}
    assert older.id < newer.id
    assert st.find_cached_step(store, "k1") == hits["k1"]
    assert st.find_cached_steps(store, set()) == {}
    with st.open_store(store.url, project="other") as elsewhere:
        assert st.find_cached_steps(elsewhere, {"k1", "k2"}) == {}
