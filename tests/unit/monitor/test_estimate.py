"""CBPE: close to the realised figures when only P(x) moves, visibly off (and flagged by the
positive-rate gap) when P(y|x) moves, scikit-learn's contract, clear refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from conveyor.core import InvalidValueError, NotFittedError
from conveyor.monitor._estimate import (
    ASSUMPTION,
    CBPE,
    _confusion_metrics,
    _expected_auc,
)
from conveyor.monitor._estimate_history import compare_estimate, estimate_error
from conveyor.monitor._performance import window_performance


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def binary_sample(
    rng: np.random.Generator, n: int, x_mean: float, *, slope: float = 2.0, shift: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels with P(y=1|x) = sigmoid(slope * x + shift); the model scores
    sigmoid(2x), which is calibrated exactly when slope = 2 and shift = 0."""
    x = rng.normal(x_mean, 1.0, n)
    y = (rng.random(n) < sigmoid(slope * x + shift)).astype(int)
    return sigmoid(2 * x), y


@pytest.fixture(scope="module")
def fitted() -> CBPE:
    scores, labels = binary_sample(np.random.default_rng(0), 5000, 0.0)
    return CBPE(random_state=0).fit(scores, labels)


@pytest.mark.parametrize("x_mean", [-1.0, -0.5, 0.0, 0.5, 1.0])
def test_under_covariate_shift_the_estimate_is_close_to_the_realised_figures(
    fitted: CBPE, x_mean: float
) -> None:
    """P(x) moves, P(y|x) does not. Tolerance: 4 standard errors of the realised accuracy
    around its expectation (sampling error of 5,000 labels), plus the calibration's own
    error on the reference set (its cross-fitted ECE, about 0.01)."""
    scores, labels = binary_sample(np.random.default_rng(int(10 * x_mean) + 50), 5000, x_mean)
    estimate = fitted.estimate(scores)
    predicted = (scores >= 0.5).astype(int)
    realised = window_performance(predicted, labels, scores=scores)
    slack = fitted.ece_calibrated_[0] if fitted.calibrated_[0] else fitted.ece_raw_[0]
    tolerance = 4 * estimate.accuracy_standard_error + slack
    assert abs(estimate.metrics["accuracy"] - realised.metrics["accuracy"].value) <= tolerance
    auc = realised.metrics["roc_auc"]
    assert abs(estimate.metrics["roc_auc"] - auc.value) <= 4 * auc.standard_error + slack
    rate = realised.metrics["positive_rate"]
    assert abs(estimate.positive_rate - rate.value) <= 4 * rate.standard_error + slack
    assert not compare_estimate(estimate, realised).is_gap_significant
    for name in ("precision", "recall", "f1"):
        figure = realised.metrics[name]
        assert abs(estimate.metrics[name] - figure.value) <= 4 * figure.standard_error + slack
    assert estimate.kind == "estimate" and estimate.assumption == ASSUMPTION


@pytest.mark.parametrize(
    ("slope", "shift"), [(0.7, 0.0), (2.0, 1.5), (2.0, -1.5)], ids=["concept", "more", "fewer"]
)
def test_when_p_y_given_x_moves_the_estimate_is_off_and_the_positive_rate_gap_shows_it(
    fitted: CBPE, slope: float, shift: float
) -> None:
    scores, labels = binary_sample(np.random.default_rng(7), 5000, 0.0, slope=slope, shift=shift)
    estimate = fitted.estimate(scores)
    realised = window_performance((scores >= 0.5).astype(int), labels, scores=scores)
    error = estimate.metrics["accuracy"] - realised.metrics["accuracy"].value
    assert abs(error) > 10 * estimate.accuracy_standard_error  # far beyond sampling error
    comparison = compare_estimate(estimate, realised)
    if shift:  # label shift: the share of positives moved, and the gap says so
        assert comparison.is_gap_significant
        assert abs(comparison.positive_rate_gap) > 0.1
    assert comparison.rows["accuracy"]["error"] == pytest.approx(error)


def test_multiclass_estimate_under_covariate_shift() -> None:
    rng = np.random.default_rng(3)
    weights = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])

    def sample(n: int, centre: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
        x = rng.normal(centre, 1.0, size=(n, 2))
        logits = x @ weights.T
        proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        y = (rng.random(n)[:, None] > np.cumsum(proba, axis=1)).sum(axis=1)
        return proba, np.array(["a", "b", "c"])[y]

    estimator = CBPE(random_state=1).fit(*sample(6000, (0.0, 0.0)))
    assert estimator.classes_ == ("a", "b", "c")
    for centre in ((0.8, 0.0), (-0.5, 0.7)):
        proba, labels = sample(5000, centre)
        estimate = estimator.estimate(proba)
        predicted = np.array(["a", "b", "c"])[proba.argmax(axis=1)]
        realised = window_performance(predicted, labels, scores=proba, classes=["a", "b", "c"])
        slack = max(estimator.ece_calibrated_)
        accuracy = realised.metrics["accuracy"].value
        tolerance = 4 * estimate.accuracy_standard_error + slack
        assert abs(estimate.metrics["accuracy"] - accuracy) <= tolerance
        assert estimate.positive_rate is None
        assert sum(estimate.class_shares.values()) == pytest.approx(1.0)
        for name in ("f1", "roc_auc"):
            figure = realised.metrics[name]
            assert abs(estimate.metrics[name] - figure.value) <= 4 * figure.standard_error + slack


def test_overconfident_scores_are_calibrated_and_the_estimate_follows_the_truth() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=8000)
    y = (rng.random(8000) < sigmoid(x)).astype(int)
    overconfident = sigmoid(4 * x)  # the truth is sigmoid(x)
    estimator = CBPE(random_state=0).fit(overconfident[:4000], y[:4000])
    assert estimator.calibrated_ == (True,)
    assert estimator.ece_calibrated_[0] < estimator.ece_raw_[0]
    estimate = estimator.estimate(overconfident[4000:])
    realised = float(((overconfident[4000:] >= 0.5) == y[4000:]).mean())
    raw_guess = float(np.mean(np.maximum(overconfident[4000:], 1 - overconfident[4000:])))
    tolerance = 4 * estimate.accuracy_standard_error + estimator.ece_calibrated_[0]
    assert abs(estimate.metrics["accuracy"] - realised) <= tolerance
    assert raw_guess - realised > 0.1  # uncalibrated, the estimate would have been far off


def test_expected_auc_is_the_expected_share_of_concordant_pairs() -> None:
    rng = np.random.default_rng(5)
    scores = np.round(rng.random(60), 1)  # ties count one half
    p = rng.random(60)
    pairs = p[:, None] * (1 - p[None, :])
    np.fill_diagonal(pairs, 0.0)  # a row is never paired with itself
    kernel = (scores[:, None] > scores[None, :]) + 0.5 * (scores[:, None] == scores[None, :])
    brute = (pairs * kernel).sum() / pairs.sum()
    matrix = np.column_stack([1 - p, p])
    raw = np.column_stack([1 - scores, scores])
    assert _expected_auc(matrix, raw, 2) == pytest.approx(brute, rel=1e-12)
    # With certain labels (p in {0, 1}) it is the realised AUC.
    y = (rng.random(60) < 0.4).astype(float)
    certain = np.column_stack([1 - y, y])
    assert _expected_auc(certain, raw, 2) == pytest.approx(skm.roc_auc_score(y, scores))


def test_an_expected_confusion_matrix_of_certain_labels_gives_scikit_learns_figures() -> None:
    rng = np.random.default_rng(6)
    y, predicted = rng.integers(0, 3, 300), rng.integers(0, 3, 300)
    confusion = np.eye(3)[y].T @ np.eye(3)[predicted]
    got = _confusion_metrics(confusion, 3)
    assert got["precision"] == pytest.approx(skm.precision_score(y, predicted, average="macro"))
    assert got["recall"] == pytest.approx(skm.recall_score(y, predicted, average="macro"))
    assert got["f1"] == pytest.approx(skm.f1_score(y, predicted, average="macro"))


def test_served_predictions_replace_the_threshold(fitted: CBPE) -> None:
    scores, _ = binary_sample(np.random.default_rng(8), 2000, 0.0)
    all_positive = fitted.estimate(scores, predictions=np.ones(2000, dtype=int))
    assert all_positive.predicted_shares[1] == 1.0
    assert all_positive.metrics["accuracy"] == pytest.approx(all_positive.positive_rate)
    assert all_positive.metrics["precision"] == pytest.approx(all_positive.positive_rate)
    assert all_positive.metrics["recall"] == pytest.approx(1.0)


def test_the_scikit_learn_contract() -> None:
    estimator = CBPE(classes=["no", "yes"], threshold=7, random_state=3)  # stored, not checked
    assert estimator.get_params() == {
        "classes": ["no", "yes"],
        "threshold": 7,
        "n_bins": 10,
        "n_folds": 3,
        "random_state": 3,
    }
    with pytest.raises(NotFittedError, match="not fitted yet") as caught:
        estimator.estimate([0.5, 0.6])
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, AttributeError)
    scores, labels = binary_sample(np.random.default_rng(9), 1500, 0.0)
    names = np.where(labels == 1, "yes", "no")
    with pytest.raises(InvalidValueError, match="threshold must be a number in"):
        estimator.fit(scores, names)
    estimator.threshold = 0.5
    assert estimator.fit(scores, names) is estimator
    learned = {name for name in vars(estimator) if name.endswith("_") and not name.startswith("_")}
    assert {"classes_", "calibrated_", "ece_raw_", "ece_calibrated_", "n_reference_"} <= learned
    again = CBPE(classes=["no", "yes"], random_state=3).fit(scores, names)
    window, _ = binary_sample(np.random.default_rng(10), 500, 0.3)
    assert again.estimate(window) == estimator.estimate(window)  # same seed, same estimate
    assert estimator.estimate(window).to_dict()["kind"] == "estimate"


def test_a_small_reference_set_is_warned_about() -> None:
    scores, labels = binary_sample(np.random.default_rng(11), 300, 0.0)
    with pytest.warns(UserWarning, match="reference set is small: only 300 rows"):
        estimator = CBPE(random_state=0).fit(scores, labels)
    assert estimator.warnings_ and "recommended: 1,000" in estimator.warnings_[0]


@pytest.mark.parametrize(
    ("scores", "labels", "message"),
    [
        (np.full(99, 0.5), np.r_[np.zeros(50), np.ones(49)], "has 99 rows; CBPE needs at least"),
        (np.full(500, 0.5), np.ones(500), "holds a single class"),
        (np.linspace(0, 1, 500), np.r_[np.zeros(498), np.ones(2)], "fewer than 3 rows"),
        (np.linspace(-3, 3, 500), np.r_[np.zeros(250), np.ones(250)], "must be probabilities"),
        (np.full((500, 3), 0.5), np.arange(500) % 3, "must be probabilities"),
        (np.full(500, 0.5), np.r_[np.zeros(250), np.full(250, np.nan)], "missing values"),
        (np.full(400, 0.5), np.r_[np.zeros(250), np.ones(250)], "aligned row by row"),
    ],
)
def test_bad_reference_sets_are_refused(
    scores: np.ndarray, labels: np.ndarray, message: str
) -> None:
    with pytest.raises(InvalidValueError) as caught:
        CBPE().fit(scores, labels)
    assert message in str(caught.value)


def test_bad_windows_are_refused(fitted: CBPE) -> None:
    with pytest.raises(InvalidValueError, match="fitted on 2 classes"):
        fitted.estimate(np.full((10, 3), 1 / 3))
    with pytest.raises(InvalidValueError, match="not among the classes"):
        fitted.estimate([0.2, 0.9], predictions=[0, 2])
    with pytest.raises(InvalidValueError, match="non-empty"):
        fitted.estimate([])


def test_historical_error_over_past_windows() -> None:
    history = estimate_error([0.80, 0.75, None, 0.70], [0.78, 0.80, 0.70, None])
    assert history.n_windows == 2
    assert history.mean_absolute_error == pytest.approx(0.035)
    assert history.worst_error == pytest.approx(-0.05)
    assert history.mean_error == pytest.approx(-0.015)
    assert estimate_error([None], [0.7]).mean_absolute_error is None
    with pytest.raises(InvalidValueError, match="same windows"):
        estimate_error([0.8], [0.8, 0.7])
    with pytest.raises(InvalidValueError, match="missing or infinite"):
        estimate_error([math.inf], [0.7])


def test_two_probability_columns_give_the_same_estimate_as_one(fitted: CBPE) -> None:
    scores, _ = binary_sample(np.random.default_rng(12), 1000, 0.4)
    both = np.column_stack([1 - scores, scores])
    assert fitted.estimate(both) == fitted.estimate(scores)
    calibrated = fitted.calibrate(scores)
    assert calibrated.shape == (1000, 2)
    assert np.allclose(calibrated.sum(axis=1), 1.0)


def test_multiclass_calibration_renormalises_each_row() -> None:
    rng = np.random.default_rng(13)
    logits = rng.normal(size=(3000, 3)) * 2
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = (
        rng.random(3000)[:, None]
        > np.cumsum(proba**0.7 / (proba**0.7).sum(axis=1, keepdims=True), axis=1)
    ).sum(axis=1)
    estimator = CBPE(random_state=0).fit(proba, y)
    assert len(estimator.calibrated_) == 3
    calibrated = estimator.calibrate(proba[:500])
    assert calibrated.shape == (500, 3)
    assert np.allclose(calibrated.sum(axis=1), 1.0)
    assert ((calibrated >= 0) & (calibrated <= 1)).all()


def test_classes_must_match_the_score_columns() -> None:
    scores, labels = binary_sample(np.random.default_rng(14), 500, 0.0)
    with pytest.raises(InvalidValueError, match="classes lists 3 classes"):
        CBPE(classes=[0, 1, 2]).fit(scores, labels)
    with pytest.raises(InvalidValueError, match="not among the classes"):
        CBPE(classes=["no", "yes"]).fit(scores, labels)


def test_served_predictions_must_align_with_the_scores(fitted: CBPE) -> None:
    with pytest.raises(InvalidValueError, match="predictions has 1 rows but scores has 2"):
        fitted.estimate([0.2, 0.9], predictions=[1])


def test_a_multiclass_comparison_has_no_positive_rate() -> None:
    rng = np.random.default_rng(15)
    proba = rng.dirichlet(np.ones(3), 1200)
    y = proba.argmax(axis=1)
    estimate = CBPE(random_state=0).fit(proba, y).estimate(proba)
    comparison = compare_estimate(estimate, window_performance(y, y, scores=proba))
    assert comparison.positive_rate_gap is None and not comparison.is_gap_significant
    assert comparison.rows["accuracy"]["realised"] == 1.0


def test_a_fitted_cbpe_survives_json_and_estimates_the_same(fitted: CBPE) -> None:
    import json

    restored = CBPE.from_dict(json.loads(json.dumps(fitted.to_dict())))
    scores, _ = binary_sample(np.random.default_rng(7), 2000, 0.7)
    served = (scores >= 0.4).astype(int)
    assert restored.estimate(scores, served) == fitted.estimate(scores, served)
    assert restored.calibrated_ == fitted.calibrated_
    assert restored.get_params() == {**fitted.get_params(), "classes": [0, 1]}
    # Multiclass, with string classes and a calibrator kept per class.
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(3000, 3)) * 2
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    truth = proba**1.5 / (proba**1.5).sum(axis=1, keepdims=True)  # overconfident scores
    labels = np.array(["a", "b", "c"])[(rng.random(3000)[:, None] > np.cumsum(truth, 1)).sum(1)]
    many = CBPE(random_state=0).fit(proba, labels)
    again = CBPE.from_dict(json.loads(json.dumps(many.to_dict())))
    assert again.estimate(proba[:500]) == many.estimate(proba[:500])


def test_a_cbpe_state_is_checked() -> None:
    with pytest.raises(NotFittedError):
        CBPE().to_dict()
    with pytest.raises(InvalidValueError, match="Not a CBPE state"):
        CBPE.from_dict({"version": 99})
    with pytest.raises(InvalidValueError, match="malformed"):
        CBPE.from_dict({"version": 1, "params": {}})
