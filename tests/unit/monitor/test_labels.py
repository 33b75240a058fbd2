"""Labels beside a window's rows: found by prediction id, cast to the prediction's type,
and refused, naming the prediction id, when they cannot be compared."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from conveyor.core import InvalidValueError
from conveyor.monitor._labels import Labels, _as_array, window_labels


def rows(predictions: list[Any], kind: pa.DataType) -> pa.Table:
    return pa.table(
        {
            "prediction_id": [f"p{i}" for i in range(len(predictions))],
            "outputs.prediction": pa.array(predictions, kind),
        }
    )


def labels(pairs: dict[str, Any]) -> Labels:
    return Labels(
        ids=pa.array(list(pairs), pa.string()),
        values=_as_array(list(pairs.values())),
        received_ms=pa.array([1000 + i for i in range(len(pairs))], pa.int64()),
        prediction_ms=pa.array([10 * i for i in range(len(pairs))], pa.int64()),
    )


def test_rows_find_their_labels_by_id_cast_to_the_predictions_type() -> None:
    # Labels of other predictions (another deployment's) are simply not found.
    found = window_labels(
        rows([1, 0, 1, 0], pa.int64()), labels({"p2": "0", "x9": "1", "p0": "1"}), classes=[0, 1]
    )
    assert found.labelled.to_pylist() == [True, False, True, False]
    # An unlabelled row holds its prediction: the mask says which rows count.
    assert found.labels.to_pylist() == [1, 0, 0, 0]
    assert found.labels.type == pa.int64()
    assert found.received_ms.to_pylist() == [1002, None, 1000, None]


@pytest.mark.parametrize(
    ("predictions", "kind", "sent", "expected"),
    [
        ([0, 1], pa.int64(), [1, True], [1, 1]),  # JSON mixing numbers and booleans
        ([0.5, 1.5], pa.float64(), [2, 2.5], [2.0, 2.5]),
        (["no", "yes"], pa.string(), ["yes", "no"], ["yes", "no"]),
        (["0", "1"], pa.string(), [1, 0], ["1", "0"]),
        ([False, True], pa.bool_(), [1, 0], [True, False]),
        ([False, True], pa.bool_(), ["true", False], [True, False]),
    ],
)
def test_casts(
    predictions: list[Any], kind: pa.DataType, sent: list[Any], expected: list[Any]
) -> None:
    found = window_labels(rows(predictions, kind), labels({"p0": sent[0], "p1": sent[1]}))
    assert found.labels.to_pylist() == expected


@pytest.mark.parametrize(
    ("predictions", "kind", "sent", "fragment"),
    [
        (
            [0, 1, 0],
            pa.int64(),
            "cat",
            "is 'cat', which cannot be compared with the predictions of m/1: they are of type "
            "int64",
        ),
        ([0, 1, 0], pa.int64(), 1.5, "is 1.5"),
        ([False, True, False], pa.bool_(), 2, "is 2, .*: they are a boolean"),
    ],
)
def test_a_label_that_cannot_be_cast_is_named_by_its_prediction_id(
    predictions: list[Any], kind: pa.DataType, sent: Any, fragment: str
) -> None:
    with pytest.raises(InvalidValueError, match="The label of prediction p2 " + fragment) as info:
        window_labels(rows(predictions, kind), labels({"p0": 0, "p2": sent}), version="m/1")
    assert "a new label replaces the old one" in str(info.value.hint)


def test_a_label_outside_the_classes_is_refused() -> None:
    with pytest.raises(InvalidValueError, match=r"prediction p1 is 'maybe'.*\['no', 'yes'\]"):
        window_labels(
            rows(["no", "yes"], pa.string()),
            labels({"p0": "yes", "p1": "maybe"}),
            classes=["no", "yes"],
        )


def test_a_window_takes_the_labels_of_its_span_by_bisection() -> None:
    found = labels({"a": 1, "b": 2, "c": 3, "d": 4})  # predictions at 0, 10, 20, 30 ms
    assert found.between(10, 30).ids.to_pylist() == ["b", "c"]
    assert found.between(10, 31).values.to_pylist() == [2, 3, 4]
    assert found.between(31, 99).n == 0 and found.between(-5, 0).n == 0
