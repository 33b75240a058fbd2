"""Prepared references: kinds, counts, what is left out, and their bytes."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from conveyor.core import InvalidValueError, NotFoundError
from conveyor.monitor._drift_reference import (
    CategoricalReference,
    DriftReference,
    NumericReference,
    prepare_column,
    prepare_reference,
)


def mixed_table() -> pa.Table:
    rng = np.random.default_rng(0)
    n = 2000
    return pa.table(
        {
            "price": pa.array(np.where(rng.random(n) < 0.05, np.nan, rng.normal(10, 2, n))),
            "age": pa.array(rng.integers(18, 90, n)),
            "rooms": pa.array(rng.integers(1, 6, n)),
            "city": pa.array(rng.choice(["paris", "lyon", None], n, p=[0.6, 0.3, 0.1])),
            "vip": pa.array(rng.random(n) < 0.1),
            "kind": pa.array(rng.choice(["x", "y"], n)).dictionary_encode(),
            "seen": pa.array(np.arange(n).astype("datetime64[s]")),
        }
    )


def test_kinds_follow_evidentlys_inference() -> None:
    ref = prepare_reference(mixed_table())
    kinds = {name: col.kind for name, col in ref.columns.items()}
    assert kinds == {
        "price": "numeric",
        "age": "numeric",  # integers past 10 distinct values
        "rooms": "categorical",  # integers up to 10 distinct values
        "city": "categorical",
        "vip": "categorical",
        "kind": "categorical",  # dictionary-encoded strings
    }
    assert ref.ignored == {"seen": "type timestamp[s] has no drift test"}


def test_numeric_reference_keeps_sorted_finite_values_and_counts_the_rest() -> None:
    values = pa.array([3.0, None, float("nan"), 1.0, float("inf"), -float("inf"), 2.0, 1.0])
    col = prepare_column("x", values, "numeric")
    assert isinstance(col, NumericReference)
    assert col.values.tolist() == [1.0, 1.0, 2.0, 3.0]
    assert (col.n_rows, col.n_null, col.n_infinite) == (8, 2, 2)
    assert (col.n_values, col.n_unique, col.min, col.max) == (4, 3, 1.0, 3.0)
    assert col.std == pytest.approx(np.std([1.0, 1.0, 2.0, 3.0]))
    assert not col.is_integer


def test_integer_flag_needs_an_integer_column_without_nulls() -> None:
    assert prepare_column("x", pa.array(range(30)), "numeric").is_integer  # type: ignore[union-attr]
    with_null = pa.array([*range(30), None])
    assert not prepare_column("x", with_null, "numeric").is_integer  # type: ignore[union-attr]


def test_categorical_reference_sorts_categories_and_counts_nulls() -> None:
    col = prepare_column("c", ["b", "a", None, "b", "c", "b"], "categorical")
    assert isinstance(col, CategoricalReference)
    assert col.categories.to_pylist() == ["a", "b", "c"]
    assert col.counts.tolist() == [1, 3, 1]
    assert (col.n_rows, col.n_null, col.n_values, col.n_unique) == (6, 1, 5, 3)


def test_numbers_can_be_read_as_categories() -> None:
    col = prepare_column("zip", np.array([75001.0, np.nan, 69001.0, 75001.0]), "categorical")
    assert isinstance(col, CategoricalReference)
    assert col.categories.to_pylist() == [69001.0, 75001.0]
    assert (col.n_null, col.n_values) == (1, 3)


def test_kind_overrides_and_numpy_input() -> None:
    data = {"code": np.array([1, 2, 3] * 10), "score": np.linspace(0, 1, 30)}
    ref = prepare_reference(data, kinds={"code": "categorical"})
    assert ref["code"].kind == "categorical"
    assert ref["score"].kind == "numeric"
    assert prepare_reference(data, columns=["score"]).names == ["score"]


def test_pandas_input() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1.5, 2.5, None], "b": ["x", "y", "x"]})
    ref = prepare_reference(frame)
    assert ref["a"].n_values == 2
    assert ref["b"].n_values == 3


def test_a_column_of_nulls_prepares_with_no_values() -> None:
    col = prepare_column("x", pa.array([None, None], pa.float64()), "numeric")
    assert (col.n_values, col.n_null, col.min, col.std, col.n_unique) == (0, 2, None, 0.0, 0)


def test_bytes_round_trip_is_exact_and_deterministic() -> None:
    ref = prepare_reference(mixed_table())
    data = ref.to_bytes()
    back = DriftReference.from_bytes(data)
    assert back.to_bytes() == data
    assert back.names == ref.names
    assert back.ignored == ref.ignored
    for name, col in ref.columns.items():
        other = back[name]
        assert type(other) is type(col)
        assert (other.n_rows, other.n_null, other.n_values) == (
            col.n_rows,
            col.n_null,
            col.n_values,
        )
        if isinstance(col, NumericReference):
            assert isinstance(other, NumericReference)
            assert np.array_equal(other.values, col.values)
            assert (other.n_infinite, other.is_integer) == (col.n_infinite, col.is_integer)
        else:
            assert isinstance(other, CategoricalReference)
            assert other.categories.equals(col.categories)
            assert np.array_equal(other.counts, col.counts)
    assert len(data) < 2000 * 8 * 3  # a few arrays, not the table


@pytest.mark.parametrize(
    "mangle",
    [
        lambda b: b[:5],
        lambda b: b"NOTDRIFT" + b[8:],
        lambda b: b[:-3],
        lambda b: b + b"xx",
        lambda b: b.replace(b'"format":1', b'"format":9'),
        lambda b: b[:12] + b"[" + b[13:],
        lambda b: b[:40] + b"\xff" * 8 + b[48:],
    ],
)
def test_damaged_bytes_are_refused_with_a_clear_error(mangle: object) -> None:
    data = prepare_reference({"x": [1.0, 2.0], "c": ["a", "b"]}).to_bytes()
    with pytest.raises(InvalidValueError, match="not a drift reference"):
        DriftReference.from_bytes(mangle(data))  # type: ignore[operator]


def test_from_bytes_needs_bytes() -> None:
    with pytest.raises(InvalidValueError, match="needs bytes. Got str"):
        DriftReference.from_bytes("abc")  # type: ignore[arg-type]


def test_unknown_columns_and_kinds_are_named() -> None:
    data = {"price": [1.0, 2.0], "city": ["a", "b"]}
    with pytest.raises(NotFoundError, match="no column 'prise'. Did you mean 'price'"):
        prepare_reference(data, columns=["prise"])
    with pytest.raises(NotFoundError, match="Did you mean 'city'"):
        prepare_reference(data, kinds={"cty": "categorical"})
    with pytest.raises(InvalidValueError, match="Did you mean 'numeric'"):
        prepare_reference(data, kinds={"price": "numerc"})  # type: ignore[dict-item]
    with pytest.raises(NotFoundError, match="Did you mean 'price'"):
        prepare_reference(data)["pric"]


def test_types_that_cannot_be_read_as_the_kind_are_refused() -> None:
    with pytest.raises(InvalidValueError, match="cannot be read as numeric"):
        prepare_reference({"city": ["a", "b"]}, kinds={"city": "numeric"})
    table = pa.table({"t": pa.array([1, 2], pa.timestamp("s"))})
    with pytest.raises(InvalidValueError, match="no drift test reads that type"):
        prepare_reference(table, columns=["t"])
    with pytest.raises(InvalidValueError, match="cannot be read as categories"):
        prepare_reference(table, kinds={"t": "categorical"})


def test_non_tabular_input_is_refused() -> None:
    with pytest.raises(InvalidValueError, match="Got int"):
        prepare_reference(42)
    with pytest.raises(InvalidValueError, match="could not be read as arrays"):
        prepare_reference({"a": [1, 2], "b": [1]})


def test_the_std_is_the_population_std() -> None:
    col = prepare_column("x", [1.0, 3.0], "numeric")
    assert isinstance(col, NumericReference)
    assert col.std == 1.0
    assert not math.isnan(col.std)
