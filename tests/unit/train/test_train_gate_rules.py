"""The less travelled paths of each gate rule: lower-is-better change rules, decisions that
cannot be made, slices whose metric is undefined, duplicate names, the canonical form."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from conveyor.core import InvalidValueError
from conveyor.train import Decision, GateSpec, PairedComparison, evaluate_gates, parse_gate_spec
from conveyor.train._gate_report import canonical
from support.binormal import binormal_pair


@pytest.fixture(scope="module")
def regression() -> tuple[Any, Any, Any]:
    rng = np.random.default_rng(17)
    y = rng.normal(size=1000) * 5
    return y, y + rng.normal(size=1000) * 1.0, y + rng.normal(size=1000) * 1.5


def test_lower_is_better_change_rules(regression: Any) -> None:
    y, better, worse = regression
    spec = {"change": {"rmse": {"min_absolute_change": 0.1, "min_relative_change": 0.2}}}
    passed = evaluate_gates(
        spec, y_true=y, challenger_scores=better, champion_scores=worse, task="regression"
    )
    absolute, relative = passed.gates
    assert passed.passed
    assert absolute.operator == "<=" and absolute.threshold == pytest.approx(
        absolute.baseline - 0.1
    )
    assert absolute.reason.startswith(f"rmse {absolute.figure:.3f} is at most the champion's")
    assert relative.threshold == pytest.approx(relative.baseline * 0.8)
    assert "improves on the champion's" in relative.reason
    failed = evaluate_gates(
        spec, y_true=y, challenger_scores=worse, champion_scores=better, task="regression"
    )
    assert [g.passed for g in failed.gates] == [False, False]
    assert " is above the champion's " in failed.gates[0].reason
    assert "falls behind the champion's" in failed.gates[1].reason


def test_greater_is_better_can_be_overridden(regression: Any) -> None:
    y, better, worse = regression
    spec = {"change": {"rmse": {"min_absolute_change": 0.1, "greater_is_better": True}}}
    report = evaluate_gates(
        spec, y_true=y, challenger_scores=worse, champion_scores=better, task="regression"
    )
    assert report.passed and report.gates[0].operator == ">="


def test_a_change_rule_on_an_undefined_metric_fails() -> None:
    y = np.array([0, 1, 0, 1])
    report = evaluate_gates(
        {"change": {"log_loss": {"min_absolute_change": 0.01}}},
        y_true=y,
        challenger_scores=[0.1, 0.9, 0.2, 0.8],
        champion_scores=[-1.0, 1.0, -2.0, 2.0],  # margins: no log loss
        threshold=0.5,
    )
    assert not report.passed
    assert report.gates[0].reason == (
        "log_loss is undefined for the champion on this holdout (it needs probabilities): "
        "the change cannot be judged."
    )


def test_a_decision_that_cannot_be_made_fails_with_the_reason() -> None:
    y = np.array([1, 0, 0, 0, 0, 0])
    scores = np.linspace(0.1, 0.9, 6)
    report = evaluate_gates(
        {"decision": {"metric": "roc_auc"}},
        y_true=y,
        challenger_scores=scores,
        champion_scores=scores[::-1],
    )
    assert not report.passed
    assert report.gates[0].reason.startswith(
        "cannot decide: DeLong's test needs at least 2 positive and 2 negative rows"
    )


def test_superiority_by_a_margin_and_lower_is_better_non_inferiority() -> None:
    y, challenger, champion = binormal_pair(2000, delta=0.02, rng=np.random.default_rng(30))
    report = evaluate_gates(
        {
            "decision": [
                {"metric": "roc_auc", "margin": 0.05},
                {
                    "metric": "log_loss",
                    "mode": "non_inferiority",
                    "margin": 0.05,
                    "n_resamples": 300,
                },
            ]
        },
        y_true=y,
        challenger_scores=challenger,
        champion_scores=champion,
    )
    by_margin, loss = report.gates
    assert by_margin.threshold == 0.05 and not by_margin.passed
    assert "not shown better by more than the margin 0.050" in by_margin.reason
    assert loss.threshold == 0.05 and loss.operator == "<"
    assert loss.passed and "95% upper bound" in loss.reason and "is below +0.050" in loss.reason


def test_duplicate_rules_get_distinct_names() -> None:
    y, challenger, champion = binormal_pair(300, delta=0.0, rng=np.random.default_rng(31))
    spec = GateSpec(decision=[Decision(metric="roc_auc"), Decision(metric="roc_auc")])
    report = evaluate_gates(spec, y_true=y, challenger_scores=challenger, champion_scores=champion)
    assert [g.name for g in report.gates] == ["roc_auc superiority", "roc_auc superiority #2"]


def test_a_slice_with_one_class_cannot_be_judged_and_says_why() -> None:
    y = np.array([0, 1] * 100 + [0] * 50)
    rng = np.random.default_rng(32)
    challenger = np.clip(y * 0.4 + rng.random(250) * 0.6, 0, 1)
    frame = pd.DataFrame({"airport": ["JFK"] * 200 + ["EWR"] * 50})
    spec = {"slices": {"columns": ["airport"], "thresholds": {"roc_auc": ">= 0.6"}}}
    report = evaluate_gates(spec, y_true=y, challenger_scores=challenger, slices=frame)
    ewr = next(g for g in report.gates if g.slice and g.slice["value"] == "EWR")
    assert ewr.skipped and ewr.passed
    assert ewr.reason == (
        "roc_auc is undefined on airport=EWR (it needs rows of both classes): cannot judge; "
        "it does not block."
    )
    jfk = next(g for g in report.gates if g.slice and g.slice["value"] == "JFK")
    assert jfk.passed and jfk.kind == "slice" and jfk.figure is not None


def test_a_failing_slice_threshold_names_the_slice() -> None:
    y, challenger, _ = binormal_pair(600, delta=0.0, rng=np.random.default_rng(33))
    frame = {"half": np.repeat(["first", "second"], 300)}
    report = evaluate_gates(
        {"slices": {"columns": ["half"], "thresholds": {"roc_auc": ">= 0.95"}}},
        y_true=y,
        challenger_scores=challenger,
        slices=frame,  # a mapping works as well as a DataFrame
    )
    first = report.gates[0]
    assert not first.passed
    assert first.reason == (
        f"roc_auc {first.figure:.3f} on half=first (300 rows) is below the threshold 0.950."
    )


def test_uncorrected_statistical_slices_report_raw_p_values() -> None:
    y, challenger, champion = binormal_pair(1200, delta=0.0, rng=np.random.default_rng(34))
    frame = pd.DataFrame({"part": np.repeat(["a", "b", "c"], 400)})
    spec = {
        "slices": {
            "columns": ["part"],
            "max_regression": {"accuracy": 0.05},
            "statistical": True,
            "correction": "none",
        }
    }
    report = evaluate_gates(
        spec, y_true=y, challenger_scores=challenger, champion_scores=champion, slices=frame
    )
    assert report.passed
    for result in report.gates:
        assert result.test == "mcnemar" and result.p_value_adjusted is None
        assert "is not significant (p=" in result.reason


def test_canonical_rounds_and_drops_nan() -> None:
    value = {"a": 1 / 3, "b": float("nan"), "c": (np.float64(2.0), np.int64(3)), "d": True}
    assert canonical(value) == {"a": 0.333333, "b": None, "c": [2.0, 3], "d": True}
    comparison = PairedComparison(
        method="bootstrap",
        metric="f1",
        challenger=0.5,
        champion=0.4,
        estimate=0.1,
        se=math.inf,
        lower=0.0,
        upper=0.2,
        confidence=0.95,
        p_value=0.01,
        null=0.0,
        alternative="greater",
        n=10,
        details={"x": math.nan},
    )
    data = comparison.to_dict()
    assert data["se"] is None and data["details"] == {"x": None}


def test_specs_round_trip_through_plain_data() -> None:
    raw = {
        "thresholds": {"roc_auc": ">= 0.7", "ece": 0.1},
        "change": {"f1": {"min_relative_change": 0.02}},
        "decision": {"metric": "accuracy", "mode": "non_inferiority", "margin": 0.01},
        "slices": {"columns": ["a", "b"], "max_regression": {"recall": 0.05}},
    }
    spec = parse_gate_spec(raw, name="nightly")
    assert parse_gate_spec(spec.model_dump(mode="json")) == spec
    assert spec.metrics() == {"roc_auc", "ece", "f1", "accuracy", "recall"}
    assert str(spec.thresholds["ece"]) == "<= 0.100"
    with pytest.raises(InvalidValueError, match=r"Invalid gate spec \[train.gates.nightly\]"):
        parse_gate_spec({"decision": {"metric": "nope"}}, name="nightly")
