"""Signatures inferred from an input example, MLflow style, and inputs shaped by them."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from conveyor.core import InvalidValueError
from conveyor.registry import infer_signature
from conveyor.registry._signature import check_signature, prepare_input


def test_each_column_type_is_inferred() -> None:
    frame = pd.DataFrame(
        {
            "name": ["a", "b", None],
            "n64": np.array([1, 2, 3], dtype="int64"),
            "n32": np.array([1, 2, 3], dtype="int32"),
            "n8": np.array([1, 2, 3], dtype="int8"),
            "u16": np.array([1, 2, 3], dtype="uint16"),
            "u32": np.array([1, 2, 3], dtype="uint32"),
            "gappy": pd.array([1, None, 3], dtype="Int64"),
            "f64": [0.5, 1.5, np.nan],
            "f32": np.array([0.5, 1.5, 2.5], dtype="float32"),
            "flag": [True, False, True],
            "nullable_flag": pd.array([True, None, False], dtype="boolean"),
            "when": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-03"]),
            "when_utc": pd.to_datetime(["2026-01-01"] * 3, utc=True),
            "blob": [b"x", b"y", b"z"],
            "city": pd.Categorical(["x", "y", "x"]),
            "text": pd.array(["a", "b", "c"], dtype="string"),
        }
    )
    inputs = infer_signature(frame)["inputs"]
    assert [(c["name"], c["type"], c["required"]) for c in inputs] == [
        ("name", "string", False),
        ("n64", "long", True),
        ("n32", "integer", True),
        ("n8", "integer", True),
        ("u16", "integer", True),
        ("u32", "long", True),
        ("gappy", "double", False),
        ("f64", "double", False),
        ("f32", "float", True),
        ("flag", "boolean", True),
        ("nullable_flag", "boolean", False),
        ("when", "datetime", True),
        ("when_utc", "datetime", True),
        ("blob", "binary", True),
        ("city", "string", True),
        ("text", "string", True),
    ]


def test_outputs_come_from_the_predictions() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    assert infer_signature(frame, np.array([0, 1]))["outputs"] == [{"type": "long"}]
    assert infer_signature(frame, np.array([[0.1, 0.9], [0.8, 0.2]]))["outputs"] == [
        {"type": "double", "shape": [-1, 2]}
    ]
    assert infer_signature(frame, pd.Series(["a", "b"], name="label"))["outputs"] == [
        {"type": "string", "name": "label"}
    ]
    assert "outputs" not in infer_signature(frame)


@pytest.mark.parametrize(
    ("column", "fragment"),
    [
        ([1 + 2j, 3j], "complex128"),
        ([{"a": 1}, {"b": 2}], "object"),
        (["a", 1], "object"),
        ([dt.timedelta(1), dt.timedelta(2)], "timedelta"),
    ],
)
def test_a_column_no_type_describes_is_refused_by_name(column: list[object], fragment: str) -> None:
    with pytest.raises(InvalidValueError, match=f"Column 'bad' has type {fragment}"):
        infer_signature(pd.DataFrame({"ok": [1, 2], "bad": column}))


def test_the_example_must_be_a_frame_with_named_columns() -> None:
    with pytest.raises(InvalidValueError, match="must be a pandas DataFrame. Got a ndarray"):
        infer_signature(np.zeros((2, 2)))
    with pytest.raises(InvalidValueError, match="named by strings. Got 0"):
        infer_signature(pd.DataFrame(np.zeros((2, 2))))


def test_a_signature_by_hand_is_checked() -> None:
    good = {"inputs": [{"name": "age", "type": "long"}], "outputs": [{"type": "double"}]}
    assert check_signature(good) == {
        "inputs": [{"name": "age", "type": "long", "required": True}],
        "outputs": [{"type": "double", "required": True}],
    }
    for bad, fragment in [
        ({"inputs": [{"name": "age", "type": "int64"}]}, "must be one of"),
        ({"inputs": [{"type": "long"}]}, "needs a distinct name"),
        ({"inputs": [{"name": "a", "type": "long"}, {"name": "a", "type": "long"}]}, "distinct"),
        ({"inputs": [], "loader": "x"}, "A model signature is"),
        ({"inputs": "age"}, "A model signature is"),
    ]:
        with pytest.raises(InvalidValueError, match=fragment):
            check_signature(bad)


def test_inputs_keep_the_signature_columns_in_order() -> None:
    signature = {
        "inputs": [
            {"name": "b", "type": "long", "required": True},
            {"name": "a", "type": "double", "required": True},
            {"name": "c", "type": "string", "required": False},
        ]
    }
    frame = pd.DataFrame({"a": [1.0], "extra": [0], "b": [2]})
    assert list(prepare_input(signature, frame, model="m").columns) == ["b", "a"]
    with pytest.raises(InvalidValueError, match=r"lacks required column\(s\) \['b'\]"):
        prepare_input(signature, frame.drop(columns="b"), model="models:/m/1")
    array = np.zeros((1, 2))
    assert prepare_input(signature, array, model="m") is array  # not a frame: as it is
    assert prepare_input({}, frame, model="m") is frame  # no signature: as it is
