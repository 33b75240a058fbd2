"""DeLong against a brute-force O(n²) version, McNemar on known counts, the paired
bootstrap against per-resample reference metrics, Holm."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy.stats import binom, norm
from sklearn import metrics as skm

from conveyor.core import InvalidValueError
from conveyor.train import delong, holm, mcnemar, paired_bootstrap
from support.binormal import binormal_pair
from support.delong_reference import brute_force_delong


def test_delong_matches_the_brute_force_definition_and_scikit_learn() -> None:
    y, a, b = binormal_pair(300, delta=0.03, rng=np.random.default_rng(11))
    a = np.round(a, 2)  # ties between and within classes
    b = np.round(b, 2)
    aucs, cov = brute_force_delong(y, a, b)
    result = delong(y, a, b)
    assert result.challenger == pytest.approx(skm.roc_auc_score(y, a), abs=1e-12)
    assert result.champion == pytest.approx(skm.roc_auc_score(y, b), abs=1e-12)
    assert (result.challenger, result.champion) == pytest.approx(tuple(aucs), abs=1e-12)
    assert result.details["var_challenger"] == pytest.approx(cov[0, 0], rel=1e-9)
    assert result.details["var_champion"] == pytest.approx(cov[1, 1], rel=1e-9)
    assert result.details["covariance"] == pytest.approx(cov[0, 1], rel=1e-9)
    se = math.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    assert result.se == pytest.approx(se, rel=1e-9)
    z = norm.ppf(0.95)
    assert result.lower == pytest.approx(result.estimate - z * se)
    assert result.upper == pytest.approx(result.estimate + z * se)
    assert result.p_value == pytest.approx(norm.sf(result.estimate / se))


def test_delong_is_antisymmetric_and_pairing_shrinks_the_error() -> None:
    y, a, b = binormal_pair(500, delta=0.0, correlation=0.9, rng=np.random.default_rng(2))
    forward, backward = delong(y, a, b), delong(y, b, a)
    assert forward.estimate == pytest.approx(-backward.estimate)
    assert forward.se == pytest.approx(backward.se)
    assert forward.p_value + backward.p_value == pytest.approx(1.0)
    # Correlated models: the paired SE is far below the unpaired sqrt(Var_a + Var_b).
    unpaired = math.sqrt(forward.details["var_challenger"] + forward.details["var_champion"])
    assert forward.se < unpaired / 2
    assert forward.details["correlation"] > 0.8


def test_delong_with_identical_scores_has_no_uncertainty_left() -> None:
    y, a, _ = binormal_pair(200, delta=0.0, rng=np.random.default_rng(4))
    same = delong(y, a, a)
    assert (same.estimate, same.se, same.p_value) == (0.0, 0.0, 1.0)
    # "not worse by 0.01": an identical model is exactly as good, so it holds.
    assert delong(y, a, a, null=-0.01).p_value == 0.0


def test_delong_input_errors() -> None:
    with pytest.raises(InvalidValueError, match="at least 2 positive and 2 negative"):
        delong([1, 0, 0, 0], [0.9, 0.1, 0.2, 0.3], [0.8, 0.1, 0.2, 0.3])
    with pytest.raises(InvalidValueError, match="y must be binary with positive label 1"):
        delong([0, 1, 2, 1], [0.1] * 4, [0.2] * 4)
    labels = ["no", "yes", "yes", "no", "no", "yes"]
    scores = [0.1, 0.9, 0.8, 0.2, 0.3, 0.7]
    assert delong(labels, scores, scores[::-1], pos_label="yes").challenger == 1.0


def _predictions(only_challenger: int, only_champion: int, n: int) -> tuple[Any, Any, Any]:
    """Labels and predictions with the given discordant counts; the rest both get right."""
    y = np.ones(n, dtype=int)
    challenger, champion = y.copy(), y.copy()
    champion[:only_challenger] = 0
    challenger[only_challenger : only_challenger + only_champion] = 0
    return y, challenger, champion


def test_mcnemar_exact_p_value_on_known_counts() -> None:
    y, a, b = _predictions(10, 2, 100)
    result = mcnemar(y, a, b)
    assert result.estimate == pytest.approx(0.08)
    assert result.details["n_challenger_only"] == 10
    assert result.details["n_champion_only"] == 2
    # P(X >= 10) for X ~ Binomial(12, 1/2) = (66 + 12 + 1) / 4096.
    assert result.p_value == pytest.approx(79 / 4096)
    assert result.p_value == pytest.approx(binom.sf(9, 12, 0.5))
    assert result.details["p_value_two_sided"] == pytest.approx(2 * 79 / 4096)
    assert result.lower < result.estimate < result.upper


def test_tango_interval_without_discordant_pairs_has_its_closed_form() -> None:
    # With b = c = 0 the score equation solves to lower = -z² / (n + z²).
    y, a, b = _predictions(0, 0, 500)
    result = mcnemar(y, a, b)
    z = norm.ppf(0.95)
    assert result.lower == pytest.approx(-(z**2) / (500 + z**2), rel=1e-6)
    assert result.upper == pytest.approx(z**2 / (500 + z**2), rel=1e-6)
    assert result.p_value == 1.0


@pytest.mark.parametrize(("b", "c", "null"), [(30, 12, 0.02), (12, 30, -0.05), (5, 1, -0.01)])
def test_mcnemar_with_a_margin_agrees_with_its_interval(b: int, c: int, null: float) -> None:
    y, a, base = _predictions(b, c, 400)
    result = mcnemar(y, a, base, null=null)
    # Tango's score test and interval are one inversion: the bound clears the null
    # exactly when the one-sided p-value is below alpha.
    assert (result.lower > null) == (result.p_value < 0.05)
    at_bound = mcnemar(y, a, base, null=result.lower)
    assert at_bound.p_value == pytest.approx(0.05, abs=1e-6)


def test_mcnemar_compares_any_labels() -> None:
    result = mcnemar(["a", "b", "c", "a"], ["a", "b", "c", "b"], ["a", "c", "c", "b"])
    assert result.estimate == pytest.approx(0.25)


def test_bootstrap_is_deterministic_under_a_seed() -> None:
    y, a, b = binormal_pair(300, delta=0.02, rng=np.random.default_rng(8))
    first = paired_bootstrap(y, a, b, "roc_auc", n_resamples=500, seed=7)
    again = paired_bootstrap(y, a, b, "roc_auc", n_resamples=500, seed=7)
    other = paired_bootstrap(y, a, b, "roc_auc", n_resamples=500, seed=8)
    assert first == again
    assert first.lower != other.lower
    assert first.estimate == pytest.approx(skm.roc_auc_score(y, a) - skm.roc_auc_score(y, b))


def test_bootstrap_and_delong_agree_on_the_auc_difference() -> None:
    y, a, b = binormal_pair(1000, delta=0.02, rng=np.random.default_rng(9))
    boot = paired_bootstrap(y, a, b, "roc_auc", n_resamples=2000)
    exact = delong(y, a, b)
    assert boot.estimate == pytest.approx(exact.estimate)
    assert boot.se == pytest.approx(exact.se, rel=0.1)
    assert boot.lower == pytest.approx(exact.lower, abs=0.3 * exact.se)


def _ece(y: np.ndarray, p: np.ndarray) -> float:
    bins = np.minimum((p * 10).astype(int), 9)
    return float(sum(abs((y[bins == k] - p[bins == k]).sum()) for k in range(10)) / len(y))


BINARY_REFERENCES = {
    "accuracy": lambda y, p: np.mean((p >= 0.5) == y),
    "precision": lambda y, p: skm.precision_score(y, p >= 0.5, zero_division=0),
    "recall": lambda y, p: skm.recall_score(y, p >= 0.5, zero_division=0),
    "f1": lambda y, p: skm.f1_score(y, p >= 0.5, zero_division=0),
    "roc_auc": skm.roc_auc_score,
    "log_loss": lambda y, p: skm.log_loss(y, p, labels=[0, 1]),
    "ece": _ece,
}


@pytest.mark.parametrize("metric", sorted(BINARY_REFERENCES))
def test_vectorised_metrics_equal_the_reference_on_every_resample(metric: str) -> None:
    # Named metrics are computed for all resamples at once; a callable, once per resample,
    # on the same resamples (same seed): the two must agree to rounding.
    y, a, b = binormal_pair(120, delta=0.02, rng=np.random.default_rng(12))
    fast = paired_bootstrap(y, a, b, metric, n_resamples=100, seed=3)
    slow = paired_bootstrap(y, a, b, BINARY_REFERENCES[metric], n_resamples=100, seed=3)
    assert (fast.estimate, fast.lower, fast.upper, fast.se) == pytest.approx(
        (slow.estimate, slow.lower, slow.upper, slow.se), abs=1e-9
    )


MULTICLASS_REFERENCES = {
    "roc_auc": lambda y, p: skm.roc_auc_score(y, p, multi_class="ovr", labels=[0, 1, 2]),
    "f1": lambda y, p: skm.f1_score(
        y, p.argmax(1), average="macro", labels=[0, 1, 2], zero_division=0
    ),
    "log_loss": lambda y, p: skm.log_loss(y, p, labels=[0, 1, 2]),
}


@pytest.mark.parametrize("metric", sorted(MULTICLASS_REFERENCES))
def test_vectorised_multiclass_metrics_equal_the_reference(metric: str) -> None:
    rng = np.random.default_rng(13)
    y = rng.integers(0, 3, 150)
    proba = []
    for shift in (1.0, 0.7):
        logits = rng.normal(size=(150, 3))
        logits[np.arange(150), y] += shift
        proba.append(np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True))
    fast = paired_bootstrap(y, proba[0], proba[1], metric, n_resamples=100, seed=1)
    slow = paired_bootstrap(
        y, proba[0], proba[1], MULTICLASS_REFERENCES[metric], n_resamples=100, seed=1
    )
    assert (fast.lower, fast.upper, fast.se) == pytest.approx(
        (slow.lower, slow.upper, slow.se), abs=1e-9
    )


@pytest.mark.parametrize(
    ("metric", "reference"),
    [
        ("rmse", lambda y, p: math.sqrt(np.mean((y - p) ** 2))),
        ("mae", lambda y, p: np.mean(np.abs(y - p))),
        ("r2", skm.r2_score),
    ],
)
def test_vectorised_regression_metrics_equal_the_reference(metric: str, reference: Any) -> None:
    rng = np.random.default_rng(14)
    y = rng.normal(size=200)
    a, b = y + rng.normal(size=200) * 0.5, y + rng.normal(size=200) * 0.6
    fast = paired_bootstrap(y, a, b, metric, n_resamples=100, stratify=False)
    slow = paired_bootstrap(y, a, b, reference, n_resamples=100, stratify=False)
    assert (fast.lower, fast.upper, fast.se) == pytest.approx(
        (slow.lower, slow.upper, slow.se), abs=1e-9
    )


def test_stratified_resamples_keep_the_class_counts() -> None:
    y = np.array([1] * 30 + [0] * 70)
    rate = paired_bootstrap(y, y, y, lambda t, _: t.mean(), n_resamples=200)
    assert rate.se == 0.0
    free = paired_bootstrap(y, y, 1 - y, lambda t, p: t.mean(), n_resamples=200, stratify=False)
    assert free.se == 0.0  # both models see the same rows: the difference is always 0


def test_bootstrap_of_a_model_against_itself_is_zero_and_not_better() -> None:
    y, a, _ = binormal_pair(200, delta=0.0, rng=np.random.default_rng(5))
    same = paired_bootstrap(y, a, a, "log_loss", n_resamples=200)
    assert (same.estimate, same.lower, same.upper) == (0.0, 0.0, 0.0)
    assert same.p_value == 1.0


def test_bootstrap_errors() -> None:
    y = np.linspace(0, 1, 500)
    with pytest.raises(InvalidValueError, match="y has 500 distinct values"):
        paired_bootstrap(y, y, y, "rmse", n_resamples=100)
    with pytest.raises(InvalidValueError, match="Did you mean 'roc_auc'"):
        paired_bootstrap([0, 1], [0.1, 0.9], [0.2, 0.8], "roc_aux")
    with pytest.raises(InvalidValueError, match="n_resamples must be an integer from 100"):
        paired_bootstrap([0, 1], [0.1, 0.9], [0.2, 0.8], "roc_auc", n_resamples=10)
    with pytest.raises(InvalidValueError, match="log_loss needs probabilities"):
        paired_bootstrap([0, 1, 1], [-1.0, 2.0, 3.0], [0.2, 0.8, 0.7], "log_loss")
    with pytest.raises(InvalidValueError, match="confidence must be a number between 0.5 and 1"):
        paired_bootstrap([0, 1], [0.1, 0.9], [0.2, 0.8], "roc_auc", confidence=95)


def test_holm_adjusts_step_down() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.001]) == pytest.approx([0.5, 0.002])
    assert holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])  # 2 x 0.8 caps at 1
    assert holm([]) == []
    with pytest.raises(InvalidValueError, match="between 0 and 1"):
        holm([1.5])


def test_comparison_argument_errors() -> None:
    y, a, b = [0, 1, 0, 1, 1], [0.1, 0.9, 0.2, 0.8, 0.7], [0.2, 0.8, 0.3, 0.6, 0.9]
    with pytest.raises(InvalidValueError, match="score_champion has 4 rows but y_true has 5"):
        delong(y, a, b[:4])
    with pytest.raises(InvalidValueError, match="null must be a finite number"):
        delong(y, a, b, null=float("inf"))
    with pytest.raises(InvalidValueError, match="Did you mean 'greater'"):
        mcnemar(y, y, y, alternative="greatr")  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="seed must be a non-negative integer"):
        paired_bootstrap(y, a, b, "roc_auc", seed=-1)
    with pytest.raises(InvalidValueError, match="metric_fn must be a metric name or a callable"):
        paired_bootstrap(y, a, b, 3)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="metric_fn must return a number"):
        paired_bootstrap(y, a, b, lambda t, v: "high")
    with pytest.raises(InvalidValueError, match="metric_fn '<lambda>' raised ZeroDivisionError"):
        paired_bootstrap(y, a, b, lambda t, v: 1 / 0)


def test_a_callable_undefined_on_most_resamples_is_refused() -> None:
    y = np.array([1] * 3 + [0] * 97)
    scores = np.linspace(0, 1, 100)

    # Without strata, a resample of 100 rows holds exactly 3 positives about one time in
    # four: a metric defined only then is undefined on most resamples.
    def needs_all_positives(t: np.ndarray, v: np.ndarray) -> float:
        if t.sum() != 3:
            raise ValueError("too few positives")
        return float(v[t == 1].mean())

    with pytest.raises(InvalidValueError, match="was undefined on .* of 200 resamples"):
        paired_bootstrap(
            y, scores, scores[::-1], needs_all_positives, n_resamples=200, stratify=False
        )
