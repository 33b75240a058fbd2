"""The worker's side of a trial, run in this process: its private copy of the study, pruning
decided against that copy (and only that copy: trials that finish meanwhile are not in
it), the trial's own number and pre-sampled params, and what comes back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from conveyor.artifacts import LocalArtifactStore
from conveyor.pipelines import load_value
from conveyor.store import ArtifactRecord
from conveyor.train._tune_worker import (
    TrialSpec,
    private_study,
    run_trial,
    split_returned,
    trial_seed,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)
X = FloatDistribution(0.0, 1.0)


def complete(value: float) -> Any:
    """A finished trial that reported ``value`` at steps 0 to 2."""
    return create_trial(
        params={"x": value},
        distributions={"x": X},
        value=value,
        intermediate_values={0: value, 1: value, 2: value},
    )


def reports(trial: optuna.Trial) -> float:
    """Reports its ``x`` at steps 0 to 2, pruning as it goes."""
    x = trial.suggest_float("x", 0.0, 1.0)
    for step in range(3):
        trial.report(x, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return x


def with_model(trial: optuna.Trial) -> tuple[float, dict[str, Any]]:
    x = trial.suggest_float("x", 0.0, 1.0)
    trial.set_user_attr("note", "model")
    print("fitting", trial.number)
    return x, {"x": x, "kind": "model"}


def refuses(trial: optuna.Trial) -> float:
    trial.suggest_int("n", 1, 3)
    print("about to refuse")
    raise ValueError("not this one")


def spec(tmp_path: Path, objective: Any, trials: list[Any], **fields: Any) -> TrialSpec:
    values: dict[str, Any] = {
        "number": len(trials),
        "objective": objective,
        "direction": "maximize",
        "trials": tuple(trials),
        "fixed": {},
        "sampler": None,
        "seed": 0,
        "pruner": optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0),
        "artifacts_url": str(tmp_path / "artifacts"),
    }
    values.update(fields)
    return TrialSpec(**values)


def test_the_private_study_holds_the_copy_and_asks_the_trials_own_number(tmp_path: Path) -> None:
    running = create_trial(state=TrialState.RUNNING)  # a trial still in flight
    history = [complete(0.2), running, complete(0.8)]
    s = spec(tmp_path, reports, history, fixed={"x": 0.33})
    study = private_study(s)
    trial = study.ask()
    assert trial.number == 3
    assert trial.suggest_float("x", 0.0, 1.0) == 0.33  # sampled in the step's process
    assert [t.state for t in study.get_trials()][:3] == [
        TrialState.COMPLETE,
        TrialState.RUNNING,
        TrialState.COMPLETE,
    ]


def test_a_trial_worse_than_the_median_of_its_copy_is_pruned_at_its_first_report(
    tmp_path: Path,
) -> None:
    history = [complete(0.6), complete(0.8), complete(0.7)]
    worse = run_trial(spec(tmp_path, reports, history, fixed={"x": 0.1}))
    assert (worse.number, worse.state, worse.value) == (3, "pruned", 0.1)
    assert worse.intermediate == {0: 0.1} and worse.params == {"x": 0.1}
    better = run_trial(spec(tmp_path, reports, history, fixed={"x": 0.9}))
    assert (better.state, better.value) == ("complete", 0.9)
    assert better.intermediate == {0: 0.9, 1: 0.9, 2: 0.9}
    assert better.distributions == {
        "x": {
            "name": "FloatDistribution",
            "attributes": {"log": False, "step": None, "low": 0.0, "high": 1.0},
        }
    }


def test_pruning_sees_only_the_copy_a_stale_view_prunes_nothing_yet(tmp_path: Path) -> None:
    # One complete trial in the copy: below the pruner's two startup trials, so even a bad
    # trial completes (a trial that finished meanwhile elsewhere would not change that).
    stale = run_trial(spec(tmp_path, reports, [complete(0.9)], fixed={"x": 0.05}))
    assert stale.state == "complete"


def test_a_model_is_stored_and_only_its_description_comes_back(tmp_path: Path) -> None:
    outcome = run_trial(spec(tmp_path, with_model, [], model_name="search-trial-0"))
    assert outcome.state == "complete" and outcome.model is not None
    assert outcome.user_attrs == {"note": "model"} and outcome.logs == "fitting 0\n"
    model = outcome.model
    assert model.name == "search-trial-0" and model.meta == {"materializer": "json"}
    record = ArtifactRecord(
        id=1,
        digest=model.digest,
        size=model.size,
        kind=model.kind,
        name=model.name,
        type_name=model.type_name,
        media_type=model.media_type,
        meta=dict(model.meta),
        producer_step_run_id=None,
        created_at=0,
    )
    loaded = load_value(LocalArtifactStore(tmp_path / "artifacts"), record)
    assert loaded == {"x": outcome.value, "kind": "model"}


def test_a_failing_objective_is_a_failed_outcome_with_its_output(tmp_path: Path) -> None:
    outcome = run_trial(spec(tmp_path, refuses, []))
    assert (outcome.state, outcome.value, outcome.error) == (
        "failed",
        None,
        "ValueError: not this one",
    )
    assert outcome.params.keys() == {"n"} and "about to refuse" in outcome.logs
    assert "Traceback" in outcome.logs and outcome.model is None


def test_the_default_sampler_is_seeded_per_trial(tmp_path: Path) -> None:
    def params(number: int, seed: int) -> dict[str, Any]:
        history = [complete(0.5)] * number
        study = private_study(spec(tmp_path, reports, history, seed=seed))
        trial = study.ask()
        trial.suggest_float("x", 0.0, 1.0)
        return dict(trial.params)

    assert params(1, 0) == params(1, 0)  # reproducible
    assert params(1, 0) != params(2, 0)  # two parallel trials with one history differ
    assert trial_seed(0, 1) != trial_seed(0, 2) and trial_seed(1, 0) != trial_seed(0, 1)


@pytest.mark.parametrize(
    ("returned", "expected"),
    [
        (0.5, (0.5, None)),
        (3, (3.0, None)),
        ((0.5, {"m": 1}), (0.5, {"m": 1})),
    ],
)
def test_what_an_objective_may_return(returned: Any, expected: Any) -> None:
    assert split_returned(returned) == expected


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        ("0.5", "returned str '0.5'"),
        (True, "returned bool"),
        (float("nan"), "returned NaN"),
        ((0.5, 0.7), "optimizes one objective"),
        ((1, 2, 3), "tuple of 3"),
        (None, "returned NoneType"),
    ],
)
def test_what_an_objective_may_not_return(returned: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        split_returned(returned)


def test_an_outcome_reports_the_system_attributes_but_not_the_queued_params(
    tmp_path: Path,
) -> None:
    outcome = run_trial(spec(tmp_path, reports, [], fixed={"x": 0.4}))
    assert "fixed_params" not in outcome.system_attrs
    assert json.loads(json.dumps(outcome.distributions))  # JSON as stored
