"""What a resume and a step's own logging may touch: a reset makes only unfinished steps
pending again, and metrics and params name only ids that belong together."""

from __future__ import annotations

import math

import pytest

from conveyor import store as st
from conveyor.core import InvalidNameError, InvalidValueError, NotFoundError

pytestmark = pytest.mark.integration


@pytest.fixture
def finished(store: st.Store) -> tuple[st.RunRecord, dict[str, st.StepRunRecord]]:
    """A failed run, attempt 1, whose steps ended in every way a step can end."""
    run = st.start_run(store, "train", "runner-1", lease=3600)
    names = ["ok", "broke", "after", "skip", "stopped"]
    steps = {s.name: s for s in st.add_step_runs(store, run.id, names)}
    ok = st.start_attempt(store, steps["ok"].id, "runner-1", run_attempt=1)
    st.commit_step(store, ok.id, ok.attempt, outputs={}, run_attempt=1)
    broke = st.start_attempt(store, steps["broke"].id, "runner-1", run_attempt=1)
    st.fail_attempt(store, broke.id, broke.attempt, error="ValueError: x", will_retry=False)
    st.mark_steps(store, run.id, ["after"], "upstream_failed", reason="upstream step 'broke'")
    st.mark_steps(store, run.id, ["skip"], "skipped", reason="condition was false")
    st.mark_steps(store, run.id, ["stopped"], "cancelled", reason="interrupted")
    failed = st.transition_run(store, run.id, "failed", expected=["running"], attempt=1)
    return failed, steps


def test_a_reset_makes_only_unfinished_steps_pending_and_clears_their_errors(
    store: st.Store, finished: tuple[st.RunRecord, dict[str, st.StepRunRecord]]
) -> None:
    run, steps = finished
    again = st.acquire_run(store, run.id, "runner-2")
    assert sorted(st.reset_steps(store, run.id, run_attempt=again.attempt)) == [
        "after",
        "broke",
        "stopped",
    ]
    now = {s.name: (s.status, s.error, s.attempt) for s in st.get_step_runs(store, run.id)}
    assert now == {
        "ok": ("succeeded", None, 1),
        "broke": ("pending", None, 1),  # attempts keep counting from here
        "after": ("pending", None, 0),
        "skip": ("skipped", "condition was false", 0),
        "stopped": ("pending", None, 0),
    }
    assert [(a.status, a.error) for a in st.step_attempts(store, steps["broke"].id)] == [
        ("failed", "ValueError: x")  # the history of the failure stays
    ]
    assert st.reset_steps(store, run.id, run_attempt=again.attempt) == []  # nothing left


def test_a_reset_of_another_projects_run_finds_nothing(
    store: st.Store, finished: tuple[st.RunRecord, dict[str, st.StepRunRecord]]
) -> None:
    run, _ = finished
    with (
        st.open_store(store.url, project="other") as other,
        pytest.raises(NotFoundError, match=f"No run {run.id} in project 'other'"),
    ):
        st.reset_steps(other, run.id, run_attempt=run.attempt)
    assert st.get_step_runs(store, run.id)[1].status == "failed"


def test_a_metric_names_a_step_of_its_own_run(store: st.Store) -> None:
    first = st.create_run(store, "train")
    second = st.create_run(store, "train")
    (step,) = st.add_step_runs(store, first.id, ["fit"])
    message = f"Step run {step.id} is not a step of run {second.id}"
    with pytest.raises(NotFoundError, match=message) as info:
        st.log_metric(store, second.id, "loss", 0.5, step_run_id=step.id)
    assert (info.value.run_id, info.value.step_run_id) == (second.id, step.id)  # type: ignore[attr-defined]
    with pytest.raises(NotFoundError, match=message):
        st.log_metrics(store, second.id, [("loss", 0.5), ("acc", 0.9)], step_run_id=step.id)
    assert st.count_metrics(store, [first.id, second.id]) == 0
    assert st.log_metrics(store, first.id, [("loss", 0.5), ("acc", 0.9)], step_run_id=step.id) == 2


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"": 1}, InvalidNameError, "param key must be 1-250 characters"),
        ({"k" * 251: 1}, InvalidNameError, "param key must be 1-250 characters"),
        ({"lr": math.nan}, InvalidValueError, "'lr' must be a JSON value.*not NaN"),
        ({"limit": math.inf}, InvalidValueError, "Got float"),
    ],
)
def test_step_params_are_checked_before_anything_is_written(
    store: st.Store, params: dict[str, object], error: type[Exception], match: str
) -> None:
    run = st.create_run(store, "train")
    (step,) = st.add_step_runs(store, run.id, ["fit"])
    started = st.start_attempt(store, step.id, "w")
    with pytest.raises(error, match=match):
        st.log_step_params(store, step.id, started.attempt, {"fine": 1, **params})
    assert st.step_params(store, step.id) == {}
