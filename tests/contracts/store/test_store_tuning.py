"""Trials of a tuning study: started and finished by the step's running attempt only, dense
numbers used once, a finish that records the trial's model in the same transaction, and
the trials an interrupted attempt left running closed by the attempt that resumes."""

from __future__ import annotations

import hashlib
import math

import pytest

from conveyor import store as st
from conveyor.core import ConflictError, InvalidValueError, NotFoundError, StaleAttemptError

pytestmark = pytest.mark.integration

FLOAT = {"name": "FloatDistribution", "attributes": {"low": 0.0, "high": 1.0}}


@pytest.fixture
def step_run(store: st.Store) -> st.StepRunRecord:
    run = st.create_run(store, "tune")
    (record,) = st.add_step_runs(store, run.id, ["search"])
    return st.start_attempt(store, record.id, "w1")


def retry(store: st.Store, record: st.StepRunRecord) -> st.StepRunRecord:
    st.fail_attempt(store, record.id, record.attempt, error="killed", will_retry=True)
    return st.start_attempt(store, record.id, "w1")


def blob(text: str) -> st.NewArtifact:
    digest = hashlib.sha256(text.encode()).hexdigest()
    return st.NewArtifact(digest=digest, size=len(text), name="trial-model")


def test_a_trial_starts_running_and_finishes_with_everything_at_once(
    store: st.Store, step_run: st.StepRunRecord
) -> None:
    started = st.start_trial(
        store, step_run.id, 1, 0, params={"x": 0.5}, distributions={"x": FLOAT}
    )
    assert (started.number, started.state, started.attempt) == (0, "running", 1)
    assert started.params == {"x": 0.5} and started.finished_at is None
    assert started.duration is None and not started.is_finished

    done = st.finish_trial(
        store,
        step_run.id,
        1,
        0,
        state="complete",
        value=0.75,
        params={"x": 0.5, "depth": 3},
        distributions={"x": FLOAT, "depth": {"name": "IntDistribution", "attributes": {}}},
        intermediate={2: 0.7, 0: 0.1, 1: math.nan},
        user_attrs={"note": "ok"},
        artifact=blob("model-0"),
    )
    assert done.state == "complete" and done.value == 0.75 and done.is_finished
    assert done.params == {"x": 0.5, "depth": 3}
    assert list(done.intermediate) == [0, 1, 2] and math.isnan(done.intermediate[1])
    assert done.to_dict()["intermediate"] == {"0": 0.1, "1": None, "2": 0.7}
    assert done.user_attrs == {"note": "ok"} and done.error is None
    assert done.artifact_id is not None
    model = st.get_artifact(store, done.artifact_id)
    assert model.producer_step_run_id == step_run.id and model.name == "trial-model"
    assert st.list_trials(store, step_run.id) == [done]
    # A repeat of the same finish (a retry after a lost acknowledgement) returns it and
    # records no second artifact.
    again = st.finish_trial(store, step_run.id, 1, 0, state="complete", value=0.75)
    assert again == done
    assert len(st.list_artifacts(store, name="trial-model")) == 1


def test_numbers_are_used_once(store: st.Store, step_run: st.StepRunRecord) -> None:
    first = st.start_trial(store, step_run.id, 1, 0)
    assert st.start_trial(store, step_run.id, 1, 0) == first  # a retried start
    st.finish_trial(store, step_run.id, 1, 0, state="failed", error="boom")
    with pytest.raises(ConflictError, match="Trial 0 of step run .* exists already"):
        st.start_trial(store, step_run.id, 1, 0)
    with pytest.raises(ConflictError, match="is failed under attempt 1"):
        st.finish_trial(store, step_run.id, 1, 0, state="complete", value=1.0)
    with pytest.raises(NotFoundError, match="has no trial 5"):
        st.finish_trial(store, step_run.id, 1, 5, state="failed")
    st.start_trial(store, step_run.id, 1, 1)
    assert [t.number for t in st.list_trials(store, step_run.id)] == [0, 1]


def test_bad_values_are_refused_before_anything_is_written(
    store: st.Store, step_run: st.StepRunRecord
) -> None:
    with pytest.raises(InvalidValueError, match="trial number must be an int from 0"):
        st.start_trial(store, step_run.id, 1, -1)
    with pytest.raises(InvalidValueError, match="must be JSON values"):
        st.start_trial(store, step_run.id, 1, 0, params={"x": math.inf})
    with pytest.raises(InvalidValueError, match="keys of a trial's params must be strings"):
        st.start_trial(store, step_run.id, 1, 0, params={1: 2})  # type: ignore[dict-item]
    st.start_trial(store, step_run.id, 1, 0)
    with pytest.raises(InvalidValueError, match="Did you mean 'complete'"):
        st.finish_trial(store, step_run.id, 1, 0, state="completed")  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="cannot be complete without a value"):
        st.finish_trial(store, step_run.id, 1, 0, state="complete", value=math.nan)
    with pytest.raises(InvalidValueError, match="must be a number"):
        st.finish_trial(store, step_run.id, 1, 0, state="complete", value="0.5")  # type: ignore[arg-type]
    (trial,) = st.list_trials(store, step_run.id)
    assert trial.state == "running"
    long = st.finish_trial(store, step_run.id, 1, 0, state="failed", error="x" * 5000)
    assert long.error is not None and len(long.error) == 2000 and long.value is None


def test_a_pruned_trial_keeps_its_last_value_and_an_existing_artifact(
    store: st.Store, step_run: st.StepRunRecord
) -> None:
    artifact = st.record_artifact(store, blob("kept").digest, 4, name="kept")
    st.start_trial(store, step_run.id, 1, 0)
    pruned = st.finish_trial(
        store,
        step_run.id,
        1,
        0,
        state="pruned",
        value=0.2,
        intermediate={0: 0.2},
        artifact=artifact.id,
    )
    assert (pruned.state, pruned.value, pruned.artifact_id) == ("pruned", 0.2, artifact.id)


def test_a_zombie_attempt_cannot_write_and_the_next_closes_what_it_left_running(
    store: st.Store, step_run: st.StepRunRecord
) -> None:
    st.start_trial(store, step_run.id, 1, 0)
    st.finish_trial(store, step_run.id, 1, 0, state="complete", value=1.0)
    st.start_trial(store, step_run.id, 1, 1)
    st.start_trial(store, step_run.id, 1, 2)
    second = retry(store, step_run)
    with pytest.raises(StaleAttemptError, match="Attempt 1 of step 'search' may not finish"):
        st.finish_trial(store, step_run.id, 1, 1, state="complete", value=2.0)
    with pytest.raises(StaleAttemptError, match="now at attempt 2, running"):
        st.start_trial(store, step_run.id, 1, 3)
    with pytest.raises(StaleAttemptError):
        st.fail_interrupted_trials(store, step_run.id, 1)

    closed = st.fail_interrupted_trials(store, step_run.id, second.attempt)
    assert [(t.number, t.state) for t in closed] == [(1, "failed"), (2, "failed")]
    assert closed[0].interrupted
    assert closed[0].error == "interrupted: attempt 1 of the step ended before the trial finished"
    assert st.fail_interrupted_trials(store, step_run.id, second.attempt) == []
    # The numbers stay taken: the new attempt goes on from 3.
    with pytest.raises(ConflictError):
        st.start_trial(store, step_run.id, second.attempt, 1)
    st.start_trial(store, step_run.id, second.attempt, 3)
    trials = st.list_trials(store, step_run.id)
    assert [(t.number, t.state, t.attempt) for t in trials] == [
        (0, "complete", 1),
        (1, "failed", 1),
        (2, "failed", 1),
        (3, "running", 2),
    ]


def test_a_finished_step_writes_no_trial(store: st.Store, step_run: st.StepRunRecord) -> None:
    st.start_trial(store, step_run.id, 1, 0)
    st.fail_attempt(store, step_run.id, 1, error="boom", will_retry=False)
    with pytest.raises(StaleAttemptError, match="now at attempt 1, failed"):
        st.finish_trial(store, step_run.id, 1, 0, state="complete", value=1.0)


def test_a_run_lists_the_trials_of_all_its_steps(store: st.Store) -> None:
    run = st.create_run(store, "tune")
    a, b = st.add_step_runs(store, run.id, ["a", "b"])
    a, b = st.start_attempts(store, [a.id, b.id], "w")
    st.start_trial(store, b.id, b.attempt, 0)
    st.start_trial(store, a.id, a.attempt, 1)
    st.start_trial(store, a.id, a.attempt, 0)
    trials = st.list_run_trials(store, run.id)
    assert [(t.step_run_id, t.number) for t in trials] == [(a.id, 0), (a.id, 1), (b.id, 0)]
    other = st.create_run(store, "tune")
    assert st.list_run_trials(store, other.id) == []
    with pytest.raises(NotFoundError):
        st.start_trial(store, 10_000, 1, 0)
