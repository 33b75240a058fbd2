"""Evaluation gates: thresholds, MLflow change rules, statistical decisions, slices, the
report's reasons and its canonical form."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from conveyor.core import InvalidValueError, canonical_json
from conveyor.train import (
    ChangeThreshold,
    Decision,
    GateReport,
    GateResult,
    GateSpec,
    SliceRule,
    evaluate_gates,
    parse_gate_spec,
)
from support.binormal import binormal_pair


def gate(report: GateReport, name: str) -> GateResult:
    matches = [g for g in report.gates if g.name == name]
    assert matches, f"no gate {name!r} in {[g.name for g in report.gates]}"
    return matches[0]


@pytest.fixture(scope="module")
def holdout() -> tuple[Any, Any, Any]:
    """2,000 rows; the challenger is truly better (AUC 0.84 against 0.80)."""
    return binormal_pair(2000, delta=0.04, rng=np.random.default_rng(21))


def test_a_threshold_gate_passes_and_another_fails_with_reasons(holdout: Any) -> None:
    y, challenger, _ = holdout
    report = evaluate_gates(
        {"thresholds": {"roc_auc": ">= 0.70", "log_loss": "<= 0.05"}},
        y_true=y,
        challenger_scores=challenger,
    )
    auc, loss = gate(report, "roc_auc >= 0.700"), gate(report, "log_loss <= 0.050")
    assert auc.passed and auc.reason == f"roc_auc {auc.figure:.3f} meets the threshold >= 0.700."
    assert not loss.passed
    assert loss.reason == f"log_loss {loss.figure:.3f} is above the threshold 0.050."
    assert not report.passed and report.failures == [loss]
    assert "FAIL  log_loss <= 0.050" in report.summary()


@pytest.mark.parametrize(
    ("text", "holds_at_0_7"),
    [(">= 0.7", True), ("> 0.7", False), ("<= .7", True), ("< 7e-1", False), ("≥0.7", True)],
)
def test_threshold_operators(text: str, holds_at_0_7: bool) -> None:
    bound = parse_gate_spec({"thresholds": {"accuracy": text}}).thresholds["accuracy"]
    assert bound.holds(0.7) is holds_at_0_7


def test_a_bare_number_follows_the_metric_direction_as_in_mlflow() -> None:
    spec = parse_gate_spec({"thresholds": {"roc_auc": 0.7, "rmse": 3}})
    assert str(spec.thresholds["roc_auc"]) == ">= 0.700"
    assert str(spec.thresholds["rmse"]) == "<= 3.000"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"thresholds": {"roc_auc": "=> 0.7"}}, "must be a comparison such as '>= 0.70'"),
        ({"thresholds": {"roc_auc": "0.7 or more"}}, "Got '0.7 or more'"),
        (
            {"thresholds": {"roc_aux": ">= 0.7"}},
            "unknown metric 'roc_aux'. Did you mean 'roc_auc'?",
        ),
        ({"thresold": {"roc_auc": ">= 0.7"}}, "unknown key 'thresold'. Did you mean 'thresholds'?"),
        ({"change": {"f1": {"min_relative_change": 1.5}}}, "less than or equal to 1"),
        ({"change": {"f1": {"min_absolute_change": 0}}}, "greater than 0"),
        ({"change": {"f1": {}}}, "needs min_absolute_change, min_relative_change or both"),
        ({"decision": {"metric": "accuracy", "test": "delong"}}, "use 'bootstrap' for accuracy"),
        ({"decision": {"metric": "f1", "mode": "non_inferiority"}}, "needs a margin > 0"),
        ({"decision": {"metric": "f1", "mode": "superior"}}, "Did you mean 'superiority'?"),
        ({"decision": {"metric": "f1", "confidence": 95}}, "between 0.5 and 1"),
        ({"decision": {"metric": "f1", "margn": 0.01}}, "key 'decision.0.margn'. Did you mean"),
        ({"slices": {"columns": ["a"]}}, "needs thresholds, max_regression or both"),
        ({"slices": {"columns": ["a"], "max_regression": {"f1": -1}}}, "must be a number >= 0"),
        ({}, "needs at least one of thresholds, change, decision, slices"),
    ],
)
def test_bad_specs_say_what_is_wrong(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(
        InvalidValueError, match="Invalid gate spec \\[train.gates.default\\]"
    ) as info:
        parse_gate_spec(raw)
    assert message in str(info.value)


def test_specs_built_in_python_are_checked_the_same_way() -> None:
    with pytest.raises(InvalidValueError, match="Invalid gate spec Decision: .*needs a margin"):
        Decision(metric="roc_auc", mode="non_inferiority")
    spec = GateSpec(
        thresholds={"roc_auc": ">= 0.7"},
        change={"roc_auc": ChangeThreshold(min_absolute_change=0.01)},
        decision=[Decision(metric="roc_auc", mode="non_inferiority", margin=0.005)],
        slices=SliceRule(columns=["carrier"], max_regression={"roc_auc": 0.02}),
    )
    assert parse_gate_spec(spec.model_dump()) == spec
    assert spec.metrics() == {"roc_auc"}


def test_champion_comparison_both_ways(holdout: Any) -> None:
    y, better, worse = holdout
    spec = {
        "change": {"roc_auc": {"min_absolute_change": 0.005, "min_relative_change": 0.01}},
        "decision": {"metric": "roc_auc", "mode": "superiority"},
    }
    promoted = evaluate_gates(spec, y_true=y, challenger_scores=better, champion_scores=worse)
    assert promoted.passed, promoted.summary()
    decision = gate(promoted, "roc_auc superiority")
    assert decision.test == "delong" and decision.interval is not None
    assert decision.interval[0] > 0
    assert decision.reason.startswith(f"ΔAUC +{decision.estimate:.3f}, 95% lower bound +")
    assert "exceeds the margin +0.000: significantly better (DeLong, SE " in decision.reason

    refused = evaluate_gates(spec, y_true=y, challenger_scores=worse, champion_scores=better)
    assert not refused.passed
    assert {g.name for g in refused.failures} == {
        "roc_auc min_absolute_change",
        "roc_auc min_relative_change",
        "roc_auc superiority",
    }
    absolute = gate(refused, "roc_auc min_absolute_change")
    assert absolute.threshold == pytest.approx(absolute.baseline + 0.005)
    assert absolute.reason == (
        f"roc_auc {absolute.figure:.3f} is below the champion's {absolute.baseline:.3f} + "
        f"min_absolute_change 0.005 = {absolute.threshold:.3f}."
    )
    assert "falls behind the champion's" in gate(refused, "roc_auc min_relative_change").reason
    assert "not significantly better" in gate(refused, "roc_auc superiority").reason


def test_better_on_the_point_estimate_but_not_significantly() -> None:
    # True AUCs 0.805 against 0.800 on 500 rows; this seed draws a holdout where the
    # challenger's AUC is higher, as a point-estimate gate would see it.
    y, challenger, champion = binormal_pair(500, delta=0.005, rng=np.random.default_rng(1))
    spec = {
        # MLflow-style: promote when the challenger's AUC is at least the champion's.
        "change": {"roc_auc": {"min_relative_change": 0.0}},
        "decision": {"metric": "roc_auc", "mode": "superiority", "confidence": 0.95},
    }
    report = evaluate_gates(spec, y_true=y, challenger_scores=challenger, champion_scores=champion)
    point, decision = (
        gate(report, "roc_auc min_relative_change"),
        gate(report, "roc_auc superiority"),
    )
    assert decision.estimate is not None and decision.estimate > 0  # better on the point estimate
    assert point.passed  # so the MLflow-style gate promotes it
    assert not decision.passed and not report.passed  # the statistical gate does not
    assert decision.interval is not None and decision.interval[0] < 0
    assert decision.reason.endswith(
        "does not exceed the margin +0.000: not significantly better "
        f"(DeLong, SE {decision.se:.3f}, p={decision.p_value:.3f}; on 500 rows differences "
        f"under about {decision.resolution:.3f} cannot be resolved)."
    )
    assert decision.resolution == pytest.approx(1.6449 * decision.se, rel=1e-4)


def test_non_inferiority_promotes_an_equal_model_that_superiority_refuses(holdout: Any) -> None:
    y, challenger, _ = holdout
    spec = {
        "decision": [
            {"metric": "roc_auc", "mode": "non_inferiority", "margin": 0.01},
            {"metric": "roc_auc", "mode": "superiority"},
        ]
    }
    report = evaluate_gates(
        spec, y_true=y, challenger_scores=challenger, champion_scores=challenger
    )
    non_inferior, superior = report.gates
    assert non_inferior.passed and not superior.passed
    assert "not worse than the champion by the margin 0.010 or more" in non_inferior.reason


def test_lower_is_better_metrics_use_the_upper_bound(holdout: Any) -> None:
    y, better, worse = holdout
    spec = {"decision": {"metric": "log_loss", "n_resamples": 500}}
    report = evaluate_gates(spec, y_true=y, challenger_scores=better, champion_scores=worse)
    decision = report.gates[0]
    assert decision.test == "bootstrap" and decision.operator == "<"
    assert decision.estimate is not None and decision.estimate < 0
    assert decision.passed, decision.reason
    assert (
        ", 95% upper bound -" in decision.reason and "is below the margin +0.000" in decision.reason
    )
    backwards = evaluate_gates(spec, y_true=y, challenger_scores=worse, champion_scores=better)
    assert not backwards.passed


def test_mcnemar_decision_needs_the_exact_test_to_agree() -> None:
    # Four rows only the challenger gets right: Tango's score bound is above 0 but the
    # exact one-sided p is 1/16 = 0.0625, so the gate holds the challenger back.
    y = np.ones(200, dtype=int)
    champion = np.full(200, 0.9)
    champion[:4] = 0.1
    challenger = np.full(200, 0.9)
    report = evaluate_gates(
        {"decision": {"metric": "accuracy"}},
        y_true=y,
        challenger_scores=challenger,
        champion_scores=champion,
        labels=[0, 1],
    )
    decision = report.gates[0]
    assert decision.test == "mcnemar" and decision.interval is not None
    assert decision.interval[0] > 0
    assert decision.p_value == pytest.approx(1 / 16)
    assert not decision.passed
    assert "but the exact p=0.062 is not below 0.050" in decision.reason


def test_without_a_champion_comparisons_are_skipped_explicitly(holdout: Any) -> None:
    y, challenger, _ = holdout
    spec = {
        "thresholds": {"roc_auc": ">= 0.7"},
        "change": {"roc_auc": {"min_absolute_change": 0.01}},
        "decision": {"metric": "roc_auc", "mode": "non_inferiority", "margin": 0.01},
    }
    report = evaluate_gates(spec, y_true=y, challenger_scores=challenger)
    assert report.passed and not report.has_champion
    skipped = [g for g in report.gates if g.skipped]
    assert [g.name for g in skipped] == ["roc_auc min_absolute_change", "roc_auc non_inferiority"]
    assert all(g.passed and g.reason.startswith("no champion: skipped") for g in skipped)
    assert "SKIP  roc_auc non_inferiority: no champion: skipped" in report.summary()


def sliced_holdout() -> tuple[Any, Any, Any, pd.DataFrame]:
    """The challenger is better overall but much worse on carrier UA; ZZ has 12 rows."""
    rng = np.random.default_rng(5)
    y, challenger, champion = binormal_pair(3000, delta=0.03, rng=rng)
    carrier = rng.choice(["AA", "UA", "DL"], size=3000)
    carrier[:12] = "ZZ"
    ua = carrier == "UA"
    challenger = challenger.copy()
    challenger[ua] = rng.permutation(challenger[ua]) * 0.5 + challenger[ua] * 0.5  # blurred
    return y, challenger, champion, pd.DataFrame({"carrier": carrier})


def test_a_slice_regression_blocks_promotion() -> None:
    y, challenger, champion, frame = sliced_holdout()
    spec = {
        "slices": {"columns": ["carrier"], "max_regression": {"roc_auc": 0.02}, "min_rows": 100}
    }
    report = evaluate_gates(
        spec, y_true=y, challenger_scores=challenger, champion_scores=champion, slices=frame
    )
    assert not report.passed
    (blocked,) = report.failures
    assert blocked.name == "carrier=UA roc_auc max_regression"
    assert blocked.slice is not None and blocked.slice["value"] == "UA"
    assert blocked.reason.startswith(
        f"roc_auc on carrier=UA ({blocked.slice['n_rows']:,} rows) worsened from "
        f"{blocked.baseline:.3f} to {blocked.figure:.3f}: a regression of "
    )
    assert blocked.reason.endswith("more than max_regression 0.020.")
    small = gate(report, "carrier=ZZ roc_auc")
    assert small.skipped and small.passed
    assert small.reason == (
        "carrier=ZZ: too few rows to judge (12 < min_rows 100); it does not block."
    )
    table = {row["value"]: row for row in report.slices}
    assert table["ZZ"]["n_rows"] == 12 and not table["ZZ"]["enough_rows"]


def test_statistical_slice_rules_block_only_proven_regressions_after_holm() -> None:
    y, challenger, champion, frame = sliced_holdout()
    spec = {
        "slices": {
            "columns": ["carrier"],
            "max_regression": {"roc_auc": 0.02},
            "min_rows": 100,
            "statistical": True,
        }
    }
    report = evaluate_gates(
        spec, y_true=y, challenger_scores=challenger, champion_scores=champion, slices=frame
    )
    (blocked,) = report.failures
    assert blocked.name == "carrier=UA roc_auc max_regression"
    assert blocked.p_value_adjusted is not None and blocked.p_value_adjusted < 0.05
    tested = [g for g in report.gates if g.p_value is not None]
    assert len(tested) == 3  # AA, DL, UA; ZZ is too small to test
    assert blocked.p_value_adjusted == pytest.approx(min(1.0, 3 * blocked.p_value))
    assert "is significant (Holm-adjusted p=" in blocked.reason
    assert "3 slice tests" in blocked.reason
    fine = gate(report, "carrier=AA roc_auc max_regression")
    assert fine.passed and "is not significant" in fine.reason


def test_require_all_slices_makes_a_small_slice_block() -> None:
    y, challenger, champion, frame = sliced_holdout()
    spec = {
        "slices": {
            "columns": ["carrier"],
            "thresholds": {"roc_auc": ">= 0.5"},
            "min_rows": 100,
            "require_all_slices": True,
        }
    }
    report = evaluate_gates(
        spec, y_true=y, challenger_scores=challenger, champion_scores=champion, slices=frame
    )
    (blocked,) = report.failures
    assert blocked.name == "carrier=ZZ roc_auc" and not blocked.skipped
    assert blocked.reason.endswith("and require_all_slices is set, so it blocks.")


def test_mlflow_zero_baseline_falls_back_to_better_than_the_champion() -> None:
    y = np.array([0, 1] * 50)
    always_wrong = 1.0 - y  # accuracy 0
    spec = {"change": {"accuracy": {"min_relative_change": 0.5}}}
    half = np.full(100, 0.9)  # accuracy 0.5
    report = evaluate_gates(spec, y_true=y, challenger_scores=half, champion_scores=always_wrong)
    result = report.gates[0]
    assert result.passed and result.baseline == 0.0
    assert "falls back to 'better than the champion' (as MLflow does)" in result.reason
    same = evaluate_gates(
        spec, y_true=y, challenger_scores=always_wrong, champion_scores=always_wrong
    )
    assert not same.passed


def test_relative_change_divides_by_the_size_of_a_negative_baseline() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=400)
    champion = -y  # R² = -3
    challenger = -0.5 * y  # R² = -1.25: better
    report = evaluate_gates(
        {"change": {"r2": {"min_relative_change": 0.1}}},
        y_true=y,
        challenger_scores=challenger,
        champion_scores=champion,
        task="regression",
    )
    result = report.gates[0]
    assert result.baseline is not None and result.baseline < result.figure < 0
    assert result.passed, result.reason


def test_regression_gates(holdout: Any) -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(size=800) * 10
    better, worse = y + rng.normal(size=800) * 2, y + rng.normal(size=800) * 3
    spec = {"thresholds": {"rmse": "< 2.5", "r2": ">= 0.9"}, "decision": {"metric": "mae"}}
    report = evaluate_gates(
        spec, y_true=y, challenger_scores=better, champion_scores=worse, task="regression"
    )
    assert report.passed, report.summary()
    assert gate(report, "mae superiority").test == "bootstrap"
    with pytest.raises(
        InvalidValueError,
        match="reads rmse, which is a regression metric, but task is .classification.",
    ):
        evaluate_gates({"thresholds": {"rmse": "< 1"}}, y_true=[0, 1], challenger_scores=[0.2, 0.7])


def test_evaluation_input_errors(holdout: Any) -> None:
    y, challenger, champion = holdout
    with pytest.raises(InvalidValueError, match="slice rules on \\['carrier'\\] but no slices"):
        evaluate_gates(
            {"slices": {"columns": ["carrier"], "thresholds": {"f1": ">= 0.1"}}},
            y_true=y,
            challenger_scores=challenger,
        )
    with pytest.raises(InvalidValueError, match="champion_scores has 10 rows but y_true has 2,000"):
        evaluate_gates(
            {"thresholds": {"f1": ">= 0.1"}},
            y_true=y,
            challenger_scores=challenger,
            champion_scores=champion[:10],
        )


def test_multiclass_auc_decisions_bootstrap_and_delong_is_refused() -> None:
    rng = np.random.default_rng(8)
    y = rng.integers(0, 3, 600)
    proba = []
    for shift in (1.5, 0.5):
        logits = rng.normal(size=(600, 3))
        logits[np.arange(600), y] += shift
        proba.append(np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True))
    report = evaluate_gates(
        {"decision": {"metric": "roc_auc", "n_resamples": 300}},
        y_true=y,
        challenger_scores=proba[0],
        champion_scores=proba[1],
    )
    assert report.passed and report.gates[0].test == "bootstrap"
    with pytest.raises(InvalidValueError, match="test 'delong' compares binary AUCs"):
        evaluate_gates(
            {"decision": {"metric": "roc_auc", "test": "delong"}},
            y_true=y,
            challenger_scores=proba[0],
            champion_scores=proba[1],
        )


def test_an_undefined_metric_fails_its_threshold_instead_of_passing() -> None:
    report = evaluate_gates(
        {"thresholds": {"log_loss": "<= 0.5"}},
        y_true=[0, 1, 1, 0],
        challenger_scores=[-2.0, 1.5, 0.3, -0.1],  # margins, not probabilities
        threshold=0.0,
    )
    assert not report.passed
    assert report.gates[0].reason == (
        "log_loss is undefined on this holdout (it needs probabilities): the threshold cannot hold."
    )


def test_the_report_is_canonical_json_without_nan(holdout: Any) -> None:
    y, challenger, champion = holdout
    spec = {
        "thresholds": {"roc_auc": ">= 0.7"},
        "decision": {"metric": "roc_auc", "mode": "non_inferiority", "margin": 0.005},
    }
    first = evaluate_gates(spec, y_true=y, challenger_scores=challenger, champion_scores=champion)
    again = evaluate_gates(spec, y_true=y, challenger_scores=challenger, champion_scores=champion)
    data = first.to_dict()
    assert canonical_json(data) == canonical_json(again.to_dict())
    json.dumps(data, allow_nan=False)  # raises on NaN or infinity
    assert data["format"] == 1 and data["passed"] is True and data["has_champion"] is True
    decision = data["gates"][1]
    assert decision["se"] == float(f"{first.gates[1].se:.6g}")
    assert len(decision["interval"]) == 2
    assert data["spec"]["decision"][0]["margin"] == 0.005
    margins = evaluate_gates(
        {"thresholds": {"roc_auc": ">= 0.7"}},
        y_true=[0, 1, 1, 0],
        challenger_scores=[-2.0, 1.5, 0.3, -0.1],
        threshold=0.0,
    ).to_dict()
    assert margins["metrics"]["log_loss"] is None
    assert margins["baseline_metrics"] is None
