"""Holdout metrics against scikit-learn, undefined metrics as None, clear errors, slices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from conveyor.core import InvalidValueError
from conveyor.train import classification_metrics, regression_metrics, sliced_metrics


@pytest.fixture
def binary() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    y = (rng.random(400) < 0.3).astype(int)
    proba = 1 / (1 + np.exp(-(rng.normal(size=400) + 1.4 * y - 1)))
    proba[:40] = np.round(proba[:40], 1)  # ties, which ranks must count one half
    return y, proba


def test_binary_metrics_match_scikit_learn(binary: tuple[np.ndarray, np.ndarray]) -> None:
    y, proba = binary
    got = classification_metrics(y, proba, threshold=0.4)
    pred = proba >= 0.4
    assert got["n"] == 400
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert got["precision"] == pytest.approx(skm.precision_score(y, pred))
    assert got["recall"] == pytest.approx(skm.recall_score(y, pred))
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba), abs=1e-12)
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, proba), abs=1e-12)


def test_two_probability_columns_and_string_labels_give_the_same_figures(
    binary: tuple[np.ndarray, np.ndarray],
) -> None:
    y, proba = binary
    names = np.where(y == 1, "late", "on_time")
    both = np.column_stack([1 - proba, proba])
    from_columns = classification_metrics(names, both, labels=["on_time", "late"])
    assert from_columns == classification_metrics(y, proba)


def test_multiclass_metrics_are_macro_averages_and_one_vs_rest_auc() -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 600)
    logits = rng.normal(size=(600, 3))
    logits[np.arange(600), y] += 1.2
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    got = classification_metrics(y, proba)
    pred = proba.argmax(axis=1)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert got["precision"] == pytest.approx(skm.precision_score(y, pred, average="macro"))
    assert got["recall"] == pytest.approx(skm.recall_score(y, pred, average="macro"))
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr"))
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, proba))


def test_ece_bins_are_equal_width_and_weighted_by_rows() -> None:
    # Bin [0.8, 0.9): 10 rows at 0.8, 8 positive -> gap 0. Bin [0.2, 0.3): 10 rows at 0.2,
    # 6 positive -> gap 0.4 over half the rows -> ECE 0.2.
    y = [1] * 8 + [0] * 2 + [1] * 6 + [0] * 4
    proba = [0.8] * 10 + [0.2] * 10
    assert classification_metrics(y, proba)["ece"] == pytest.approx(0.2)
    assert classification_metrics([1, 1, 0, 0], [1.0, 1.0, 0.0, 0.0])["ece"] == 0.0


def test_multiclass_ece_is_top_label() -> None:
    proba = np.array([[0.7, 0.2, 0.1]] * 10)
    y = [0] * 7 + [1] * 3  # the top class is right 7 times in 10: perfectly calibrated
    assert classification_metrics(y, proba)["ece"] == pytest.approx(0.0, abs=1e-12)


def test_undefined_metrics_are_none_not_nan() -> None:
    one_class = classification_metrics([0, 0, 0], [0.1, 0.6, 0.2])
    assert one_class["roc_auc"] is None
    assert one_class["accuracy"] == pytest.approx(2 / 3)
    margins = classification_metrics([0, 1, 1, 0], [-2.0, 1.5, 0.3, -0.1], threshold=0.0)
    assert margins["log_loss"] is None and margins["ece"] is None
    assert margins["roc_auc"] == 1.0 and margins["accuracy"] == 1.0
    assert regression_metrics([2.0, 2.0, 2.0], [1.0, 2.0, 3.0])["r2"] is None


@pytest.mark.parametrize(
    ("y", "scores", "labels", "message"),
    [
        ([], [], None, "y_true is empty"),
        ([0, 1, np.nan], [0.1, 0.2, 0.3], None, "y_true has 1 missing"),
        ([0, 1, 1], [0.1, np.nan, 0.3], None, "y_score has 1 NaN or infinite"),
        ([0, 1, 1], [0.1, 0.2], None, "y_score has 2 rows but y_true has 3"),
        ([0, 1, 2], [0.1, 0.2, 0.3], None, "y_true has 3 classes but y_score is 1-D"),
        (["a", "b", "c"], [0.1, 0.2, 0.3], ["a", "b"], "y_true holds ['c']"),
        ([0, 1, 1], [[0.1, 0.2, 0.7]] * 3, ["x", "y"], "labels lists 2 classes"),
        ([0, 1, 1], [0.1, 0.2, 0.3], ["x", "x"], "at least two distinct classes"),
        ([0, 1, 1], ["a", "b", "c"], None, "y_score must hold numbers"),
    ],
)
def test_bad_classification_input_names_the_problem(
    y: list[object], scores: list[object], labels: list[str] | None, message: str
) -> None:
    with pytest.raises(InvalidValueError, match=message.replace("[", r"\[").replace("(", r"\(")):
        classification_metrics(y, scores, labels=labels)


def test_regression_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(size=300) * 10
    pred = y + rng.normal(size=300) * 3
    got = regression_metrics(y, pred)
    assert got["rmse"] == pytest.approx(skm.root_mean_squared_error(y, pred))
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, pred))
    assert got["r2"] == pytest.approx(skm.r2_score(y, pred))
    with pytest.raises(InvalidValueError, match="y_pred has 1 NaN"):
        regression_metrics([1.0, 2.0], [1.0, float("nan")])


def test_slices_report_row_counts_and_too_small_slices() -> None:
    frame = pd.DataFrame(
        {
            "carrier": ["AA"] * 50 + ["UA"] * 40 + ["ZZ"] * 5 + [None] * 5,
            "y": [0, 1] * 50,
            "p": np.linspace(0.05, 0.95, 100),
        }
    )
    rows = sliced_metrics(frame, ["carrier"], y_true="y", y_score="p", min_rows=30)
    assert [(r.value, r.n_rows, r.enough_rows) for r in rows] == [
        ("AA", 50, True),
        ("UA", 40, True),
        ("ZZ", 5, False),
        (None, 5, False),
    ]
    assert rows[2].note == "too few rows to judge (5 < min_rows 30)"
    aa = frame[frame.carrier == "AA"]
    assert rows[0].metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(aa.y, aa.p))


def test_an_unused_category_is_an_empty_slice_not_a_missing_one() -> None:
    carrier = pd.Categorical(["AA", "UA", "AA", "UA"], categories=["AA", "UA", "WN"])
    rows = sliced_metrics(
        pd.DataFrame({"carrier": carrier}),
        ["carrier"],
        y_true=[0, 1, 1, 0],
        y_score=[0.2, 0.7, 0.9, 0.1],
        min_rows=1,
    )
    empty = rows[-1]
    assert (empty.value, empty.n_rows, empty.enough_rows) == ("WN", 0, False)
    assert empty.note == "no rows in the holdout: nothing to judge"
    assert empty.metrics["accuracy"] is None


def test_slices_of_a_regression_and_slice_errors() -> None:
    frame = pd.DataFrame({"region": ["n", "s", "n", "s"]})
    rows = sliced_metrics(
        frame,
        ["region"],
        y_true=[1.0, 2.0, 3.0, 4.0],
        y_score=[1.0, 2.5, 3.0, 4.5],
        task="regression",
        min_rows=1,
    )
    assert [(r.value, r.metrics["mae"]) for r in rows] == [("n", 0.0), ("s", 0.5)]
    with pytest.raises(InvalidValueError, match="Did you mean 'region'"):
        sliced_metrics(frame, ["regoin"], y_true=[1.0] * 4, y_score=[1.0] * 4, task="regression")
    with pytest.raises(InvalidValueError, match="slice frame has 4 rows but y_true has 3"):
        sliced_metrics(frame, ["region"], y_true=[0, 1, 0], y_score=[0.1, 0.2, 0.3])
    with pytest.raises(InvalidValueError, match="task must be 'classification' or 'regression'"):
        sliced_metrics(frame, ["region"], y_true=[0] * 4, y_score=[0.1] * 4, task="regresion")


def test_column_vectors_booleans_and_objects_are_accepted() -> None:
    y = np.array([[True], [False], [True], [False]])
    got = classification_metrics(y, np.array([[0.9], [0.2], [0.4], [0.6]]))
    assert got["accuracy"] == 0.5 and got["roc_auc"] == 0.75
    with pytest.raises(InvalidValueError, match="y_true has 1 missing"):
        classification_metrics(np.array(["a", None, "b"], dtype=object), [0.1, 0.2, 0.3])
    with pytest.raises(InvalidValueError, match="cannot be ordered"):
        classification_metrics(np.array(["a", 1, "b"], dtype=object), [0.1, 0.2, 0.3])
    with pytest.raises(InvalidValueError, match=r"must be 1-D .* or 2-D"):
        classification_metrics([0, 1], np.zeros((2, 2, 2)))
    with pytest.raises(InvalidValueError, match="threshold must be a finite number"):
        classification_metrics([0, 1], [0.1, 0.9], threshold=float("nan"))
    with pytest.raises(InvalidValueError, match="n_bins must be a positive integer"):
        classification_metrics([0, 1], [0.1, 0.9], n_bins=0)


def test_slice_values_are_json_ready() -> None:
    frame = pd.DataFrame(
        {
            "day": pd.to_datetime(["2026-01-01", "2026-01-02"] * 2),
            "flag": [True, False, True, False],
            "mixed": ["a", 1, "a", 1],
        }
    )
    rows = sliced_metrics(
        frame,
        ["day", "flag", "mixed"],
        y_true=[0, 1, 1, 0],
        y_score=[0.1, 0.8, 0.7, 0.3],
        min_rows=1,
    )
    assert [r.value for r in rows] == [
        "2026-01-01T00:00:00",
        "2026-01-02T00:00:00",
        False,
        True,
        1,  # pandas orders mixed values numbers first
        "a",
    ]
    with pytest.raises(InvalidValueError, match="non-empty list of column names"):
        sliced_metrics(frame, "day", y_true=[0, 1, 1, 0], y_score=[0.1] * 4)
    with pytest.raises(InvalidValueError, match="y_true='label' names no column"):
        sliced_metrics(frame, ["day"], y_true="label", y_score=[0.1] * 4)
