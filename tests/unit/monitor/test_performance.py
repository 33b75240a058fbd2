"""Live performance of a window: metrics against scikit-learn, intervals against their
definitions, coverage and latency on hand-made windows, insufficient labels, bad input."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from scipy.stats import norm
from sklearn import metrics as skm

from conveyor.core import InvalidValueError
from conveyor.monitor._performance import MIN_LABELS, window_performance
from conveyor.monitor._uncertainty import wilson
from support.delong_reference import brute_force_delong


def binary_window(n: int = 800, seed: int = 3) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    proba = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.4 * y - 1)))
    proba[:40] = np.round(proba[:40], 1)  # ties: AUC counts them one half
    predicted = (proba >= 0.4).astype(int)
    labelled = rng.random(n) < 0.7
    labels = np.where(labelled, y, -1)  # -1 where unlabelled: the mask says which
    return y, proba, predicted, labelled, labels


def test_binary_figures_match_scikit_learn_on_the_labelled_rows() -> None:
    y, proba, predicted, labelled, labels = binary_window()
    window = window_performance(predicted, labels, labelled=labelled, scores=proba)
    yl, pl, sl = y[labelled], predicted[labelled], proba[labelled]
    m = window.metrics
    assert window.status == "ok" and window.n_labelled == labelled.sum()
    assert m["accuracy"].value == pytest.approx(skm.accuracy_score(yl, pl))
    assert m["precision"].value == pytest.approx(skm.precision_score(yl, pl))
    assert m["recall"].value == pytest.approx(skm.recall_score(yl, pl))
    assert m["f1"].value == pytest.approx(skm.f1_score(yl, pl))
    assert m["roc_auc"].value == pytest.approx(skm.roc_auc_score(yl, sl), abs=1e-12)
    assert m["log_loss"].value == pytest.approx(skm.log_loss(yl, sl), abs=1e-12)
    assert m["positive_rate"].value == pytest.approx(yl.mean())
    assert m["precision"].n == pl.sum() and m["recall"].n == yl.sum()
    assert window.undefined == {}


def test_multiclass_figures_are_macro_averages_as_scikit_learn_computes_them() -> None:
    rng = np.random.default_rng(5)
    n = 900
    y = rng.integers(0, 3, n)
    logits = rng.normal(size=(n, 3))
    logits[np.arange(n), y] += 1.2
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    names = np.array(["cat", "dog", "eel"])
    predicted = names[proba.argmax(axis=1)]
    labels = np.where(rng.random(n) < 0.5, names[y], None)  # None = not labelled yet
    window = window_performance(predicted, labels, scores=proba, classes=list(names))
    keep = labels != None  # noqa: E711 (an element-wise comparison)
    yl, pl, sl = names[y][keep], predicted[keep], proba[keep]
    m = window.metrics
    assert window.n_labelled == keep.sum()
    assert m["accuracy"].value == pytest.approx(skm.accuracy_score(yl, pl))
    for name, fn in (
        ("precision", skm.precision_score),
        ("recall", skm.recall_score),
        ("f1", skm.f1_score),
    ):
        assert m[name].value == pytest.approx(fn(yl, pl, average="macro", zero_division=0))
    assert m["roc_auc"].value == pytest.approx(
        skm.roc_auc_score(yl, sl, multi_class="ovr", average="macro", labels=list(names))
    )
    assert m["log_loss"].value == pytest.approx(skm.log_loss(yl, sl, labels=list(names)))
    assert "positive_rate" not in m


def test_regression_figures_match_scikit_learn() -> None:
    rng = np.random.default_rng(8)
    y = rng.normal(10, 3, 500)
    predicted = y + rng.normal(0, 1.5, 500)
    labels = np.where(rng.random(500) < 0.6, y, np.nan)
    window = window_performance(predicted, labels, task="regression")
    keep = ~np.isnan(labels)
    m = window.metrics
    assert m["rmse"].value == pytest.approx(
        math.sqrt(skm.mean_squared_error(y[keep], predicted[keep]))
    )
    assert m["mae"].value == pytest.approx(skm.mean_absolute_error(y[keep], predicted[keep]))
    assert m["r2"].value == pytest.approx(skm.r2_score(y[keep], predicted[keep]))
    assert {f.method for f in m.values()} == {"normal"}


def test_intervals_follow_their_definitions() -> None:
    y, proba, predicted, labelled, labels = binary_window()
    window = window_performance(predicted, labels, labelled=labelled, scores=proba)
    yl, sl = y[labelled], proba[labelled]
    z = norm.ppf(0.975)
    accuracy = window.metrics["accuracy"]
    p, n = accuracy.value, accuracy.n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert accuracy.method == "wilson"
    assert (accuracy.lower, accuracy.upper) == pytest.approx((centre - half, centre + half))
    auc = window.metrics["roc_auc"]
    _, cov = brute_force_delong(yl, sl, sl)
    assert auc.method == "delong"
    assert auc.standard_error == pytest.approx(math.sqrt(cov[0, 0]), rel=1e-9)
    clipped = np.clip(sl, np.finfo(float).eps, 1 - np.finfo(float).eps)  # rounded to 0.0
    losses = -(yl * np.log(clipped) + (1 - yl) * np.log1p(-clipped))
    log_loss = window.metrics["log_loss"]
    assert log_loss.standard_error == pytest.approx(losses.std(ddof=1) / math.sqrt(len(yl)))
    assert log_loss.upper - log_loss.value == pytest.approx(z * log_loss.standard_error)
    assert all(f.lower <= f.value <= f.upper for f in window.metrics.values())
    assert window.confidence == 0.95


def test_delta_method_intervals_cover_the_truth_at_their_confidence() -> None:
    """F1 and R2 use a delta-method standard error; over 400 simulated windows their 95%
    intervals must hold the population value about 95% of the time (sd of the share
    ~1.1%: the band 91-98.5% is 3 sd around 95%)."""
    rng = np.random.default_rng(11)
    big = 2_000_000
    y_all = rng.random(big) < 0.3
    pred_all = np.where(rng.random(big) < 0.8, y_all, ~y_all)
    x = rng.normal(size=big)
    target = 2 * x + rng.normal(size=big)
    f1_true = skm.f1_score(y_all, pred_all)
    r2_true = 1 - 1 / 5  # var(2x) = 4, noise 1: R2 of the true line is 4/5
    hits_f1 = hits_r2 = 0
    for _ in range(400):
        rows = rng.integers(0, big, 400)
        f1 = window_performance(pred_all[rows], y_all[rows]).metrics["f1"]
        r2 = window_performance(2 * x[rows], target[rows], task="regression").metrics["r2"]
        hits_f1 += f1.lower <= f1_true <= f1.upper
        hits_r2 += r2.lower <= r2_true <= r2.upper
    assert 0.91 <= hits_f1 / 400 <= 0.985
    assert 0.91 <= hits_r2 / 400 <= 0.985


def test_coverage_and_latency_on_a_hand_made_window() -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    made = [start + dt.timedelta(seconds=10 * i) for i in range(10)]
    delays = [5, 15, 25, 35, 45, 55, 65, 75]  # seconds, for the first 8 rows
    received = [m + dt.timedelta(seconds=d) for m, d in zip(made, delays, strict=False)]
    received += [None, None]
    labels = [1, 0, 1, 1, 0, 1, 0, 1, None, None]
    predicted = [1, 0, 0, 1, 0, 1, 1, 1, 1, 0]
    window = window_performance(
        predicted, labels, prediction_times=made, label_times=received, min_labels=8
    )
    assert (window.n_predictions, window.n_labelled, window.coverage) == (10, 8, 0.8)
    assert window.latency is not None
    assert window.latency.median == pytest.approx(40.0)
    assert window.latency.p90 == pytest.approx(np.percentile(delays, 90))
    assert window.latency.max == pytest.approx(75.0)
    assert window.metrics["accuracy"].value == pytest.approx(6 / 8)
    # Labels arrive at 5, 25, 45, 65, 85, 105, 125 and 145 s: by 100 s, the first five.
    as_of = start + dt.timedelta(seconds=100)
    then = window_performance(
        predicted,
        labels,
        prediction_times=made,
        label_times=received,
        as_of=as_of,
        min_labels=8,
    )
    assert (then.n_labelled, then.coverage, then.status) == (5, 0.5, "insufficient_labels")
    assert then.latency is not None and then.latency.max == pytest.approx(45.0)


def test_times_may_be_epoch_seconds_or_numpy_datetimes_with_the_same_result() -> None:
    made = np.array([0.0, 60.0, 120.0, 180.0])
    received = np.array([30.0, 150.0, np.nan, 200.0])
    stamps = np.datetime64("2026-03-01T00:00:00", "ns") + (made * 1e9).astype("timedelta64[ns]")
    arrived = np.where(
        np.isnan(received),
        np.datetime64("NaT", "ns"),
        np.datetime64("2026-03-01T00:00:00", "ns")
        + (np.nan_to_num(received) * 1e9).astype("timedelta64[ns]"),
    )
    labels = [1, 0, None, 1]
    a = window_performance(
        [1, 1, 0, 1], labels, prediction_times=made, label_times=received, min_labels=1
    )
    b = window_performance(
        [1, 1, 0, 1], labels, prediction_times=stamps, label_times=arrived, min_labels=1
    )
    assert a.latency == b.latency
    assert a.latency is not None and (a.latency.median, a.latency.max) == (30.0, 90.0)


def test_epoch_seconds_with_none_for_missing_labels_stay_seconds() -> None:
    window = window_performance(
        [1, 0, 1],
        [1, None, 0],
        prediction_times=[0, 10, 20],
        label_times=[30.0, None, 200],
        min_labels=1,
    )
    assert window.latency is not None
    assert (window.latency.median, window.latency.max) == (105.0, 180.0)


def test_a_window_with_too_few_labels_says_so_with_the_count_and_no_figures() -> None:
    y, proba, predicted, _, _ = binary_window(n=300)
    labelled = np.zeros(300, dtype=bool)
    labelled[:99] = True
    window = window_performance(predicted, y, labelled=labelled, scores=proba)
    assert window.status == "insufficient_labels"
    assert window.metrics == {}
    assert window.n_labelled == 99 and window.coverage == pytest.approx(0.33)
    assert window.message == (
        "insufficient labels: 99 of 300 predictions labelled (33.0%); figures need at least 100"
    )
    assert window.to_dict()["status"] == "insufficient_labels"
    labelled[99] = True
    assert window_performance(predicted, y, labelled=labelled).status == "ok"


def test_an_empty_window_reports_no_coverage() -> None:
    window = window_performance([], [])
    assert (window.n_predictions, window.coverage, window.status) == (
        0,
        None,
        "insufficient_labels",
    )
    assert window.message == "insufficient labels: no predictions in this window"


def test_the_default_minimum_keeps_the_accuracy_interval_within_ten_points() -> None:
    """MIN_LABELS is justified by this width: the worst case (accuracy 0.5) is within ±0.1 at
    100 labels and not at 80."""
    z = norm.ppf(0.975)
    worst = wilson(MIN_LABELS // 2, MIN_LABELS, z)
    assert max(worst.upper - 0.5, 0.5 - worst.lower) < 0.1
    too_few = wilson(40, 80, z)
    assert max(too_few.upper - 0.5, 0.5 - too_few.lower) > 0.1


def test_metrics_a_window_cannot_define_are_named_with_the_reason() -> None:
    predicted = np.ones(200, dtype=int)
    labels = np.ones(200, dtype=int)
    window = window_performance(predicted, labels, scores=np.full(200, 0.9))
    assert window.undefined == {"roc_auc": "only one class among the labels"}
    assert window.metrics["accuracy"].value == 1.0
    none_predicted = window_performance(np.zeros(200, dtype=int), labels)
    assert "precision" in none_predicted.undefined and none_predicted.metrics["recall"].value == 0
    margins = window_performance(predicted, labels, scores=np.full(200, 3.0))
    assert margins.undefined["log_loss"] == "the scores are not probabilities"
    flat = window_performance(np.arange(200.0), np.ones(200), task="regression")
    assert flat.undefined == {"r2": "the labels are constant"}


def test_unlabelled_rows_may_hold_anything_when_the_mask_is_given() -> None:
    predicted = np.array(["a", "b"] * 100)
    labels = np.array(["a", "b"] * 50 + ["??"] * 100, dtype=object)
    scores = np.r_[np.full(100, 0.3), np.full(100, np.nan)]
    mask = np.r_[np.ones(100, dtype=bool), np.zeros(100, dtype=bool)]
    window = window_performance(predicted, labels, labelled=mask, scores=scores, classes=["a", "b"])
    assert window.n_labelled == 100 and window.metrics["accuracy"].value == 1.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"labels": [1, 0]}, "labels has 2 rows but predictions has 3"),
        ({"labelled": [1, 0, 2]}, "labelled must hold booleans"),
        ({"labels": [1, 0, 7], "classes": [0, 1]}, "labels holds [7], not among the classes"),
        ({"task": "clasification"}, "Did you mean 'classification'?"),
        ({"min_labels": 0}, "min_labels must be a positive integer"),
        ({"confidence": 95}, "confidence must be a float between 0 and 1"),
        ({"as_of": 10.0}, "as_of needs label_times"),
        ({"labels": ["x", "y", "z"]}, "cannot be matched to 2 score columns"),
        ({"scores": [[0.5, 0.5]] * 3, "classes": [0, 1, 2]}, "classes lists 3 classes"),
        (
            {"label_times": [1.0, None, 2.0], "prediction_times": [0, 0, 0]},
            "label_times is missing for 1 labelled row",
        ),
        ({"scores": [0.5, np.inf, 0.1]}, "scores (labelled rows) has 1 missing or infinite"),
    ],
)
def test_bad_input_is_refused_with_a_message_naming_it(kwargs: dict, message: str) -> None:
    arguments = {"labels": [1, 0, 1], "scores": [0.9, 0.2, 0.6], "min_labels": 1, **kwargs}
    labels = arguments.pop("labels")
    with pytest.raises(InvalidValueError) as caught:
        window_performance([1, 0, 1], labels, **arguments)
    assert message in str(caught.value)


def test_regression_labels_must_be_numbers() -> None:
    with pytest.raises(InvalidValueError, match="labels \\(labelled rows\\) must hold numbers"):
        window_performance([1.0, 2.0], ["a", "b"], task="regression", min_labels=1)


def test_what_a_dataframe_join_returns_is_taken_as_it_is() -> None:
    """A left join of feedback to predictions gives float labels with NaN, timestamps with a
    timezone for one side and without for the other: all read as they come."""
    import pandas as pd

    frame = pd.DataFrame(
        {
            "prediction": [1, 0, 1, 1, 0, 0],
            "label": [1.0, 0.0, np.nan, 0.0, np.nan, 0.0],
            "ts": pd.date_range("2026-05-01", periods=6, freq="min"),  # naive: UTC
            "received_at": pd.to_datetime(
                [
                    "2026-05-01 00:02",
                    "2026-05-01 00:04",
                    None,
                    "2026-05-01 00:05",
                    None,
                    "2026-05-01 00:10",
                ]
            ).tz_localize("UTC"),
        }
    )
    window = window_performance(
        frame["prediction"],
        frame["label"],
        prediction_times=frame["ts"],
        label_times=frame["received_at"],
        min_labels=4,
    )
    assert (window.n_labelled, window.coverage) == (4, 4 / 6)
    assert window.metrics["accuracy"].value == 0.75
    assert window.latency is not None
    assert (window.latency.median, window.latency.max) == (150.0, 300.0)


def test_boolean_labels_with_one_class_missing_are_still_binary() -> None:
    labels = np.ones(150, dtype=bool)
    predicted = np.r_[np.ones(140, dtype=bool), np.zeros(10, dtype=bool)]
    window = window_performance(predicted, labels)
    assert window.metrics["recall"].value == pytest.approx(140 / 150)
    assert window.metrics["positive_rate"].value == 1.0


def test_a_window_without_any_label_has_no_latency() -> None:
    window = window_performance(
        [1, 0, 1], [None, None, None], prediction_times=[0, 1, 2], label_times=[None] * 3
    )
    assert (window.n_labelled, window.coverage, window.latency) == (0, 0.0, None)
    assert window.status == "insufficient_labels"


def test_a_lower_confidence_gives_narrower_intervals_and_the_dict_is_json() -> None:
    import json

    y, proba, predicted, labelled, labels = binary_window()
    wide = window_performance(predicted, labels, labelled=labelled, scores=proba)
    narrow = window_performance(predicted, labels, labelled=labelled, scores=proba, confidence=0.80)
    for name, figure in wide.metrics.items():
        other = narrow.metrics[name]
        assert other.value == figure.value
        assert other.upper - other.lower < figure.upper - figure.lower
    assert json.loads(json.dumps(wide.to_dict()))["metrics"]["roc_auc"]["method"] == "delong"


def bootstrap_standard_error(statistic, n: int, rng: np.random.Generator) -> float:
    draws = [statistic(rng.integers(0, n, n)) for _ in range(600)]
    return float(np.std(draws, ddof=1))


def test_multiclass_standard_errors_agree_with_a_bootstrap() -> None:
    """Macro F1 (delta method) and macro one-vs-rest AUC (DeLong placements averaged over
    classes) against 600 bootstrap resamples: within 20% (a bootstrap SE from 600 resamples
    is itself good to about 6%)."""
    rng = np.random.default_rng(12)
    n = 1500
    y = rng.integers(0, 4, n)
    logits = rng.normal(size=(n, 4))
    logits[np.arange(n), y] += 1.0
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    predicted = proba.argmax(axis=1)
    window = window_performance(predicted, y, scores=proba, classes=[0, 1, 2, 3])
    f1_se = bootstrap_standard_error(
        lambda r: skm.f1_score(y[r], predicted[r], average="macro"), n, rng
    )
    auc_se = bootstrap_standard_error(
        lambda r: skm.roc_auc_score(y[r], proba[r], multi_class="ovr"), n, rng
    )
    assert window.metrics["f1"].standard_error == pytest.approx(f1_se, rel=0.2)
    assert window.metrics["roc_auc"].standard_error == pytest.approx(auc_se, rel=0.2)


def test_regression_intervals_follow_their_definitions() -> None:
    rng = np.random.default_rng(13)
    y = rng.normal(size=300)
    predicted = y + rng.normal(0, 0.5, 300)
    window = window_performance(predicted, y, task="regression")
    errors = y - predicted
    z = norm.ppf(0.975)
    mse_se = (errors**2).std(ddof=1) / math.sqrt(300)
    mse = float((errors**2).mean())
    rmse = window.metrics["rmse"]
    assert (rmse.lower, rmse.upper) == pytest.approx(
        (math.sqrt(mse - z * mse_se), math.sqrt(mse + z * mse_se))
    )
    mae = window.metrics["mae"]
    assert mae.standard_error == pytest.approx(np.abs(errors).std(ddof=1) / math.sqrt(300))
