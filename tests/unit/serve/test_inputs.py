"""conform and conform_matrix: MLflow's signature rules, case by case."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from conveyor.core import InvalidValueError
from conveyor.serve.runtime import MAX_ERRORS, Batch, InputError, conform, conform_matrix

SIG: dict[str, Any] = {
    "inputs": [
        {"name": "age", "type": "long", "required": True},
        {"name": "income", "type": "double", "required": True},
        {"name": "city", "type": "string", "required": True},
        {"name": "member", "type": "boolean", "required": True},
        {"name": "signup", "type": "datetime", "required": True},
        {"name": "rating", "type": "integer", "required": True},
        {"name": "ratio", "type": "float", "required": True},
        {"name": "score", "type": "double", "required": False},
        {"name": "photo", "type": "binary", "required": False},
        {"name": "note", "type": "string", "required": False},
    ]
}
COLUMNS: dict[str, Any] = {
    "age": [41, 7],
    "income": [52000.5, 10],
    "city": ["Lyon", "Oslo"],
    "member": [True, False],
    "signup": ["2024-05-01T12:00:00", "2024-05-02"],
    "rating": [4, 5],
    "ratio": [0.5, 1],
}


def run(columns: dict[str, Any], signature: Any = SIG, rows: int = 2, **kw: Any) -> Batch:
    return conform(signature, columns, rows=rows, max_rows=kw.pop("max_rows", 100), **kw)


def refused(columns: dict[str, Any], signature: Any = SIG, rows: int = 2, **kw: Any) -> InputError:
    with pytest.raises(InputError) as caught:
        run(columns, signature, rows, **kw)
    return caught.value


def test_a_valid_batch_comes_typed_in_signature_order_with_extras_dropped() -> None:
    columns = {"extra": [1, 2], **dict(reversed(COLUMNS.items()))}
    batch = run(columns)
    assert list(batch.columns) == ["age", "income", "city", "member", "signup", "rating", "ratio"]
    assert batch.rows == 2
    dtypes = {name: column.dtype for name, column in batch.columns.items()}
    assert dtypes == {
        "age": np.dtype(np.int64),
        "income": np.dtype(np.float64),
        "city": np.dtype(object),
        "member": np.dtype(bool),
        "signup": np.dtype("datetime64[ns]"),
        "rating": np.dtype(np.int64),
        "ratio": np.dtype(np.float64),
    }
    assert batch.columns["income"].tolist() == [52000.5, 10.0]
    assert batch.columns["signup"][1] == np.datetime64("2024-05-02T00:00:00")


def test_int_to_double_is_a_safe_cast() -> None:
    batch = run({**COLUMNS, "income": [1, 2]})
    assert batch.columns["income"].dtype == np.float64
    assert batch.columns["income"].tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    ("column", "value", "words"),
    [
        ("age", 1.5, "got a float"),
        ("age", 2.0, "got a float"),
        ("age", "41", "got a string"),
        ("age", True, "got a boolean"),
        ("rating", False, "got a boolean"),
        ("income", "1.5", "got a string"),
        ("income", True, "got a boolean"),
        ("member", 1, "got an integer"),
        ("member", "true", "got a string"),
        ("city", 5, "got an integer"),
        ("city", ["a"], "nested"),
        ("age", {"v": 1}, "nested"),
        ("signup", 1714564800, "got an integer"),
    ],
)
def test_unsafe_casts_are_refused_with_the_cell_named(column: str, value: Any, words: str) -> None:
    error = refused({**COLUMNS, column: [COLUMNS[column][0], value]})
    assert error.status == 422
    assert error.errors[0].field == f"{column}[1]"
    assert words in error.errors[0].message
    assert repr(value) not in error.errors[0].message


def test_nulls_in_required_columns_are_refused_and_allowed_in_optional_ones() -> None:
    error = refused({**COLUMNS, "income": [None, 1.0]})
    assert (error.errors[0].field, error.status) == ("income[0]", 422)
    assert "null where a value is required" in error.errors[0].message
    batch = run(
        {**COLUMNS, "score": [None, 2.5], "note": [None, "x"], "photo": [None, "YWJj"]},
    )
    assert np.isnan(batch.columns["score"][0]) and batch.columns["score"][1] == 2.5
    assert batch.columns["note"].tolist() == [None, "x"]
    assert batch.columns["photo"].tolist() == [None, b"abc"]


def test_an_optional_long_cannot_hold_a_null_and_says_to_use_double() -> None:
    signature = {"inputs": [{"name": "n", "type": "long", "required": False}]}
    error = refused({"n": [1, None]}, signature)
    assert "should be a double" in error.errors[0].message


def test_missing_required_columns_are_all_named_optional_ones_may_be_missing() -> None:
    error = refused({"age": [1, 2]})
    fields = [e.field for e in error.errors]
    assert fields == ["income", "city", "member", "signup", "rating", "ratio"]
    assert "score" not in run(COLUMNS).columns


def test_every_error_of_a_request_is_collected_up_to_the_cap() -> None:
    signature = {"inputs": [{"name": f"c{i}", "type": "long"} for i in range(30)]}
    error = refused({f"c{i}": ["x"] for i in range(30)}, signature, rows=1)
    assert len(error.errors) == MAX_ERRORS
    assert "(and 19 more)" in error.message
    assert isinstance(error, InvalidValueError)


def test_datetimes_parse_iso_with_offsets_and_refuse_the_rest() -> None:
    batch = run({**COLUMNS, "signup": ["2024-05-01T12:00:00+02:00", "2024-05-01T10:00:00Z"]})
    assert batch.columns["signup"][0] == batch.columns["signup"][1]
    for bad in ("yesterday", "2024-02-30", "3000-01-01", "1500-01-01"):
        error = refused({**COLUMNS, "signup": ["2024-01-01", bad]})
        assert error.errors[0].field == "signup[1]"


def test_integers_beyond_their_columns_are_refused() -> None:
    assert refused({**COLUMNS, "age": [2**63, 1]}).errors[0].field == "age[0]"
    assert refused({**COLUMNS, "rating": [1, 2**31]}).errors[0].field == "rating[1]"
    error = refused({**COLUMNS, "income": [1.0, 2**53 + 1]})
    assert error.errors[0].field == "income[1]" and "2^53" in error.errors[0].message
    assert run({**COLUMNS, "income": [1.0, 2**53]}).columns["income"][1] == 2.0**53
    assert run({**COLUMNS, "age": [2**63 - 1, -(2**63)]}).columns["age"][0] == 2**63 - 1


def test_typed_arrays_follow_the_same_rules() -> None:
    arrays = {
        **COLUMNS,
        "age": np.array([1, 2], dtype=np.int32),
        "income": np.array([1, 2], dtype=np.int64),
    }
    batch = run(arrays)
    assert batch.columns["age"].dtype == np.int64
    assert batch.columns["income"].dtype == np.float64
    error = refused({**COLUMNS, "age": np.array([1.0, 2.0])})
    assert "got floats" in error.errors[0].message
    error = refused({**COLUMNS, "income": np.array([1.0, np.nan])})
    assert error.errors[0].field == "income[1]"
    error = refused({**COLUMNS, "member": np.array([1, 0])})
    assert "got integers" in error.errors[0].message


def test_ragged_columns_are_refused() -> None:
    error = refused({**COLUMNS, "age": [1]})
    assert error.errors[0].field == "age" and "every column needs 2" in error.errors[0].message


def test_empty_and_oversized_batches() -> None:
    error = refused({k: [] for k in COLUMNS}, rows=0, where="inputs")
    assert (error.status, error.errors[0].field) == (422, "inputs")
    error = refused(COLUMNS, rows=2, max_rows=1, where="inputs")
    assert error.status == 413 and "limit of 1" in error.errors[0].message


def test_bad_base64_is_refused() -> None:
    assert refused({**COLUMNS, "photo": ["!!", None]}).errors[0].field == "photo[0]"


def test_without_a_signature_columns_are_inferred() -> None:
    batch = run(
        {"a": [1, 2], "b": [1, 2.5], "c": ["x", None], "d": [True, False], "e": [1, None]}, None
    )
    dtypes = [c.dtype.kind for c in batch.columns.values()]
    assert dtypes == ["i", "f", "O", "b", "f"]
    assert run({"a": [1, 2]}, {"inputs": []}).columns["a"].tolist() == [1, 2]
    assert "mixes" in refused({"a": [1, "x"]}, None).errors[0].message
    assert "nested" in refused({"a": [1, [2]]}, None).errors[0].message
    assert refused({"a": [1]}, None).errors[0].field == "a"


def test_a_custom_cell_locator_names_the_request_path() -> None:
    error = refused(
        {**COLUMNS, "age": ["x", 1]}, cell=lambda name, row: f"data[{row}].{name}", where="data"
    )
    assert error.errors[0].field == "data[0].age"


def test_conform_matrix_maps_positions_to_signature_columns() -> None:
    signature = {"inputs": [{"name": "a", "type": "long"}, {"name": "b", "type": "double"}]}
    batch = conform_matrix(signature, [[1, 2], [3, 4.5]], max_rows=10, where="instances")
    assert batch.columns["a"].tolist() == [1, 3] and batch.columns["b"].tolist() == [2.0, 4.5]
    array_batch = conform_matrix(signature, np.array([[1, 2], [3, 4]]), max_rows=10)
    assert array_batch.columns["b"].dtype == np.float64
    with pytest.raises(InputError) as caught:
        conform_matrix(signature, [[1, 2], [3]], max_rows=10, where="instances")
    assert caught.value.errors[0].field == "instances[1]"
    with pytest.raises(InputError) as caught:
        conform_matrix(signature, [[1.5, 2]], max_rows=10, where="instances")
    assert caught.value.errors[0].field == "instances[0][0]"
    with pytest.raises(InputError) as caught:
        conform_matrix(signature, np.ones((2, 3)), max_rows=10)
    assert caught.value.status == 422
    with pytest.raises(InputError) as caught:
        conform_matrix(None, [[1, 2]], max_rows=10, where="instances")
    assert "no signature" in caught.value.errors[0].message
    with pytest.raises(InputError) as caught:
        conform_matrix(signature, [[1, 2]] * 11, max_rows=10)
    assert caught.value.status == 413


def test_a_signature_read_once_is_not_confused_with_another() -> None:
    first = {"inputs": [{"name": "a", "type": "long"}]}
    second = {"inputs": [{"name": "a", "type": "string"}]}
    assert run({"a": [1]}, first, rows=1).columns["a"].dtype == np.int64
    assert run({"a": ["x"]}, second, rows=1).columns["a"].dtype == object
    assert refused({"a": ["x"]}, first, rows=1).status == 422
