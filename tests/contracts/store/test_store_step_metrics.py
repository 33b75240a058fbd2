"""Metrics and params a step logs on its step run: per attempt, fenced by the attempt, and
readers that never mix a superseded attempt with the current one."""

from __future__ import annotations

import math

import pytest

from conveyor import store as st
from conveyor.core import ConflictError, InvalidValueError, NotFoundError, StaleAttemptError

pytestmark = pytest.mark.integration


@pytest.fixture
def step_run(store: st.Store) -> st.StepRunRecord:
    run = st.create_run(store, "train")
    (record,) = st.add_step_runs(store, run.id, ["fit"])
    return st.start_attempt(store, record.id, "w1")


def retry(store: st.Store, record: st.StepRunRecord) -> st.StepRunRecord:
    st.fail_attempt(store, record.id, record.attempt, error="boom", will_retry=True)
    return st.start_attempt(store, record.id, "w1")


def test_metrics_are_recorded_against_the_run_and_the_step_run(
    store: st.Store, step_run: st.StepRunRecord
) -> None:
    rows = [("loss", 0.5, 1), ("loss", 0.3, 2), ("acc", math.nan, 2)]
    assert st.log_step_metrics(store, step_run.id, step_run.attempt, rows) == 3
    assert st.log_step_metrics(store, step_run.id, step_run.attempt, []) == 0
    got = st.step_metrics(store, step_run.id)
    assert [(m.key, m.step) for m in got] == [("acc", 2), ("loss", 1), ("loss", 2)]
    assert math.isnan(got[0].value) and got[2].value == 0.3
    assert [m.value for m in st.metric_history(store, step_run.run_id, "loss")] == [
        0.5,
        0.3,
    ]
    assert st.latest_metrics(store, step_run.run_id)["loss"] == 0.3


def test_params_are_per_attempt_and_cannot_change_within_one(
    store: st.Store, step_run: st.StepRunRecord
) -> None:
    st.log_step_params(store, step_run.id, 1, {"depth": 3, "layers": (1, 2)})
    st.log_step_params(store, step_run.id, 1, {"depth": 3, "layers": [1, 2]})  # same
    with pytest.raises(ConflictError, match=r"\['depth'\] of step run .* already logged"):
        st.log_step_params(store, step_run.id, 1, {"depth": 4})
    assert st.step_params(store, step_run.id) == {"depth": 3, "layers": [1, 2]}
    assert st.get_params(store, step_run.run_id) == {}  # the run's own params untouched


def test_a_whole_float_param_logs_and_logs_again(
    store: st.Store, step_run: st.StepRunRecord
) -> None:
    """SQLite stores a JSON column with NUMERIC affinity: a top-level 1.0 reads back as 1.
    Logging it (and logging it again) must not look like a change."""
    st.log_step_params(store, step_run.id, 1, {"C": 1.0, "l1_ratio": 0.0, "nested": {"a": 2.0}})
    st.log_step_params(store, step_run.id, 1, {"C": 1.0, "l1_ratio": 0.0, "nested": {"a": 2.0}})
    st.log_params(store, step_run.run_id, {"C": 1.0})
    st.log_params(store, step_run.run_id, {"C": 1.0})
    with pytest.raises(ConflictError):
        st.log_step_params(store, step_run.id, 1, {"C": 1.5})
    assert st.step_params(store, step_run.id)["C"] == 1


def test_a_superseded_attempt_cannot_log_and_is_not_mixed_into_readers(
    store: st.Store, step_run: st.StepRunRecord
) -> None:
    st.log_step_metrics(store, step_run.id, 1, [("loss", 9.0, 1), ("only_1", 1.0, 0)])
    st.log_step_params(store, step_run.id, 1, {"lr": 0.1})
    second = retry(store, step_run)
    assert second.attempt == 2
    with pytest.raises(StaleAttemptError, match="Attempt 1 of step 'fit' may not log"):
        st.log_step_metrics(store, step_run.id, 1, [("loss", 8.0, 2)])
    with pytest.raises(StaleAttemptError):
        st.log_step_params(store, step_run.id, 1, {"lr": 0.1})
    st.log_step_metrics(store, step_run.id, 2, [("loss", 0.2, 1)])
    st.log_step_params(store, step_run.id, 2, {"lr": 0.01})  # no conflict with 1

    assert [(m.key, m.value) for m in st.step_metrics(store, step_run.id)] == [("loss", 0.2)]
    assert [m.value for m in st.step_metrics(store, step_run.id, attempt=1)] == [9.0, 1.0]
    assert st.step_params(store, step_run.id) == {"lr": 0.01}
    assert st.step_params(store, step_run.id, attempt=1) == {"lr": 0.1}
    run_id = step_run.run_id
    assert [m.value for m in st.metric_history(store, run_id, "loss")] == [0.2]
    assert st.latest_metrics(store, run_id) == {"loss": 0.2}


def test_a_finished_step_cannot_log(store: st.Store, step_run: st.StepRunRecord) -> None:
    st.fail_attempt(store, step_run.id, 1, error="boom", will_retry=False)
    with pytest.raises(StaleAttemptError, match="now at attempt 1, failed"):
        st.log_step_metrics(store, step_run.id, 1, [("loss", 1.0, 0)])


def test_run_level_metrics_still_show_beside_step_metrics(
    store: st.Store, step_run: st.StepRunRecord
) -> None:
    st.log_metric(store, step_run.run_id, "loss", 1.0, step=0)
    st.log_step_metrics(store, step_run.id, 1, [("loss", 0.5, 1)])
    assert [m.value for m in st.metric_history(store, step_run.run_id, "loss")] == [
        1.0,
        0.5,
    ]


def test_bad_input_and_unknown_step_runs(store: st.Store, step_run: st.StepRunRecord) -> None:
    with pytest.raises(InvalidValueError, match="must be a number"):
        st.log_step_metrics(store, step_run.id, 1, [("loss", "high", 0)])  # type: ignore[list-item]
    with pytest.raises(InvalidValueError, match="step of metric 'loss' must be an int"):
        st.log_step_metrics(store, step_run.id, 1, [("loss", 1.0, 1.5)])  # type: ignore[list-item]
    with pytest.raises(InvalidValueError, match="must be a JSON value"):
        st.log_step_params(store, step_run.id, 1, {"model": object()})
    with pytest.raises(NotFoundError, match="No step run 999 in project"):
        st.log_step_metrics(store, 999, 1, [("loss", 1.0, 0)])
    with pytest.raises(NotFoundError):
        st.step_metrics(store, 999)
    assert st.step_metrics(store, step_run.id) == []
    assert st.step_params(store, step_run.id) == {}
