"""Rebuilding a study from its recorded trials (what a resumed tuning step does), and the
checks ``tune`` makes of its arguments before anything runs."""

from __future__ import annotations

import math
from typing import Any

import optuna
import pytest
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.trial import TrialState

from conveyor.core import InvalidValueError, StepContextError
from conveyor.store import TrialRecord
from conveyor.train import tune
from conveyor.train._tune_worker import counts, distributions_json, rebuild

optuna.logging.set_verbosity(optuna.logging.WARNING)
X = distributions_json({"x": FloatDistribution(0.0, 1.0)})["x"]
N = distributions_json({"n": IntDistribution(1, 9)})["n"]


def record(number: int, state: Any, **fields: Any) -> TrialRecord:
    values: dict[str, Any] = {
        "id": number + 100,
        "step_run_id": 7,
        "number": number,
        "attempt": 1,
        "state": state,
        "params": {},
        "distributions": {},
        "value": None,
        "intermediate": {},
        "user_attrs": {},
        "artifact_id": None,
        "error": None,
        "started_at": 1_000,
        "finished_at": None if state == "running" else 2_000,
    }
    values.update(fields)
    return TrialRecord(**values)


def objective(trial: Any) -> float:
    return float(trial.suggest_float("x", 0.0, 1.0))


RECORDS = [
    record(
        0,
        "complete",
        params={"x": 0.25, "n": 3},
        distributions={"x": X, "n": N},
        value=0.9,
        intermediate={0: 0.5, 1: math.nan},
        user_attrs={"pid": 11},
    ),
    record(
        1, "pruned", params={"x": 0.75}, distributions={"x": X}, value=0.1, intermediate={0: 0.1}
    ),
    record(
        2,
        "failed",
        error="interrupted: attempt 1 of the step ended before the trial finished",
    ),
    # Number 3 is missing: the rebuilt study keeps the numbering with a failed placeholder.
    record(4, "failed", params={"x": 0.5}, distributions={"x": X}, error="ValueError: no"),
]


def test_the_rebuilt_study_numbers_trials_as_the_records_and_asks_the_next_number() -> None:
    study = optuna.create_study(direction="maximize")
    rebuild(optuna, study, RECORDS)
    trials = study.get_trials(deepcopy=False)
    assert [t.number for t in trials] == [0, 1, 2, 3, 4]
    assert [t.state for t in trials] == [
        TrialState.COMPLETE,
        TrialState.PRUNED,
        TrialState.FAIL,
        TrialState.FAIL,
        TrialState.FAIL,
    ]
    first = trials[0]
    assert first.params == {"x": 0.25, "n": 3} and first.value == 0.9
    assert first.distributions == {"x": FloatDistribution(0.0, 1.0), "n": IntDistribution(1, 9)}
    assert first.intermediate_values[0] == 0.5 and math.isnan(first.intermediate_values[1])
    assert first.user_attrs == {"pid": 11}
    assert trials[1].value == 0.1 and trials[1].intermediate_values == {0: 0.1}
    assert trials[3].params == {} and trials[4].params == {"x": 0.5}
    assert study.best_trial.number == 0
    assert study.ask().number == 5  # the next free number, after every recorded one


def test_interrupted_trials_do_not_count_towards_n_trials() -> None:
    assert [counts(r) for r in RECORDS] == [True, True, False, True]
    assert RECORDS[2].interrupted and not RECORDS[3].interrupted
    assert not counts(record(5, "running"))


def test_an_empty_history_rebuilds_an_empty_study() -> None:
    study = optuna.create_study()
    rebuild(optuna, study, [])
    assert study.get_trials() == [] and study.ask().number == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "needs n_trials or timeout"),
        ({"n_trials": 0}, "'n_trials' of tune\\(\\) must be at least 1"),
        ({"n_trials": "5"}, "'n_trials' of tune\\(\\) must be an int"),
        ({"n_trials": 5, "parallelism": 0}, "'parallelism' of tune\\(\\) must be at least 1"),
        ({"timeout": "5 minutes"}, "must be a duration such as '30m'"),
        ({"timeout": 0}, "'timeout' of tune\\(\\) must be more than 0"),
        ({"n_trials": 5, "direction": "maximise"}, "Did you mean 'maximize'"),
        ({"n_trials": 5, "sampler": "tpe"}, "must be an Optuna sampler"),
        ({"n_trials": 5, "pruner": object()}, "must be an Optuna pruner"),
        ({"n_trials": 5, "seed": 1.5}, "seed of tune\\(\\) must be an int"),
        ({"n_trials": 5, "space": {"x": (0, 1)}}, "maps param names to Optuna distributions"),
        ({"n_trials": 5, "trial_timeout": "soon"}, "'trial_timeout' of tune\\(\\)"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        tune(objective, **kwargs)


def test_an_objective_the_workers_cannot_import_is_refused() -> None:
    def local(trial: Any) -> float:
        return 1.0

    for bad in (local, lambda trial: 1.0):
        with pytest.raises(InvalidValueError, match="cannot be sent to the worker processes"):
            tune(bad, n_trials=3)
    with pytest.raises(InvalidValueError, match="must be a function of the trial"):
        tune(42, n_trials=3)  # type: ignore[arg-type]


def test_outside_a_step_tune_says_where_to_call_it() -> None:
    with pytest.raises(StepContextError, match="inside a running step") as info:
        tune(objective, n_trials=3)
    assert "@step" in (info.value.hint or "")
