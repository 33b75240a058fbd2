"""DataSchema: rule shapes, the type grammar, severity resolution, and rules that must fit."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from conveyor.data import ColumnSchema, DataSchema, RowsSchema, Rule
from conveyor.data._schema import parse_type


def schema(columns: dict[str, Any], **top: Any) -> DataSchema:
    return DataSchema.model_validate({"columns": columns, **top})


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("int8", "int8"),
        ("uint64", "uint64"),
        ("float32", "float32"),
        ("bool", "bool"),
        ("string", "string"),
        ("date", "date"),
        ("timestamp[ns]", "timestamp[ns]"),
        ("timestamp[ us ,UTC ]", "timestamp[us, UTC]"),
        ("timestamp[ms, Europe/Paris]", "timestamp[ms, Europe/Paris]"),
        ("timestamp[s, +02:00]", "timestamp[s, +02:00]"),
    ],
)
def test_types_are_spelt_one_way(written: str, canonical: str) -> None:
    assert parse_type(written) == canonical


@pytest.mark.parametrize(
    ("written", "problem"),
    [
        ("int46", "Did you mean 'int64'?"),
        ("float", "Did you mean 'float64'?"),
        ("timestamp[h]", "time unit 'h'"),
        ("timestamp[us, Mars/Olympus]", "time zone 'Mars/Olympus'"),
        (64, "must be a type name"),
    ],
)
def test_unknown_types_say_what_is_allowed(written: Any, problem: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_type(written)
    assert problem in str(info.value)


def test_a_rule_is_a_plain_value_or_a_value_with_its_severity() -> None:
    spec = ColumnSchema.model_validate(
        {"type": "float64", "min": -60, "max": {"value": 1500.5, "severity": "warning"}}
    )
    assert spec.min == Rule(value=-60)
    assert spec.max == Rule(value=1500.5, severity="warning")
    assert isinstance(spec.min.value, int)  # an integer bound stays exact


def test_severity_comes_from_the_rule_then_the_column_then_the_defaults() -> None:
    s = schema(
        {
            "a": {"type": "int64", "min": {"value": 0, "severity": "error"}, "max": 9},
            "b": {"type": "int64", "min": 0, "nullable": False, "severity": "warning"},
            "c": {"type": "int64", "nullable": {"value": False, "severity": "warning"}},
        },
        default_severity={"min": "warning", "max": "warning"},
    )
    assert s.severity("a", "min") == "error"  # its own beats the default
    assert s.severity("a", "max") == "warning"  # the default for max
    assert s.severity("a", "type") == "error"  # nothing set: error
    assert s.severity("b", "min") == "warning"  # the column's
    assert s.severity("b", "nullable") == "warning"  # the column's beats error
    assert s.severity("c", "nullable") == "warning"
    assert s.severity("c", "type") == "error"


def test_a_column_severity_of_error_beats_a_warning_default() -> None:
    s = schema(
        {"x": {"type": "float64", "min": 0.0, "severity": "error"}},
        default_severity={"min": "warning"},
    )
    assert s.severity("x", "min") == "error"


def test_row_bounds_take_their_own_severity_then_the_sections() -> None:
    rows = RowsSchema.model_validate(
        {"min": 1, "max": {"value": 10, "severity": "error"}, "severity": "warning"}
    )
    assert (rows.severity_of("min"), rows.severity_of("max")) == ("warning", "error")
    assert RowsSchema.model_validate({"min": 1}).severity_of("min") == "error"


def test_a_bare_column_is_required_and_constrains_nothing_else() -> None:
    s = schema({"notes": None})
    notes = s.columns["notes"]
    assert notes.is_required and notes.logical_type is None
    assert notes.min is None and notes.nullable is None and notes.unique is None


def test_required_false_is_kept() -> None:
    assert not schema({"x": {"required": False}}).columns["x"].is_required


def test_defaults_allow_extra_columns_and_any_number_of_rows() -> None:
    s = DataSchema()
    assert s.extra_columns == "allow" and s.rows.min is None and s.rows.max is None
    assert s.columns == {} and s.dataset is None


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"type": "string", "min": 1}, "'min' needs a numeric type"),
        ({"max": 1}, "'max' needs a numeric type"),
        ({"type": "int64", "min": 5, "max": 1}, "min (5) is above max (1)"),
        ({"type": "float64", "categories": ["a"]}, "the column's type must be string"),
        ({"type": "string", "categories": [1, 2]}, "an integer type"),
        ({"type": "string", "categories": ["a", 1]}, "only strings or only integers"),
        ({"type": "string", "categories": ["a", "a"]}, "lists 'a' twice"),
        ({"type": "string", "categories": []}, "non-empty list"),
        ({"type": "float64", "min": float("nan")}, "not NaN"),
        ({"type": "float64", "min": "5"}, "must be a number"),
        ({"type": "float64", "min": True}, "must be a number"),
        ({"max_null_fraction": 1.5}, "fraction from 0 to 1"),
        ({"nullable": "no"}, "must be true or false"),
        ({"unique": 1}, "must be true or false"),
        ({"type": "int64", "severity": "fatal"}, "'error' or 'warning'"),
    ],
)
def test_rules_that_cannot_hold_are_refused(spec: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError) as info:
        schema({"x": spec})
    assert problem in str(info.value)


def test_integer_categories_fit_integer_columns() -> None:
    spec = schema({"x": {"type": "uint8", "categories": [1, 2, 3]}}).columns["x"]
    assert spec.categories == Rule(value=(1, 2, 3))


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        ({"min": -1}, "0 or more"),
        ({"min": 1.5}, "whole number"),
        ({"min": 10, "max": 2}, "min (10) is above max (2)"),
    ],
)
def test_row_bounds_are_whole_and_ordered(rows: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError) as info:
        DataSchema.model_validate({"rows": rows})
    assert problem in str(info.value)


def test_the_dataset_is_a_conveyor_name() -> None:
    with pytest.raises(ValidationError, match="dataset name"):
        DataSchema.model_validate({"dataset": "my flights"})


def test_schemas_are_immutable() -> None:
    s = schema({"x": {"type": "int64"}})
    with pytest.raises(ValidationError):
        s.extra_columns = "forbid"  # type: ignore[misc]


def test_importing_conveyor_data_loads_no_data_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys, conveyor.data\n"
        "heavy = ('pandas', 'pyarrow', 'numpy', 'pandera', 'yaml')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_nullable_and_unique_read_as_questions() -> None:
    s = schema(
        {
            "open": {},
            "closed": {"nullable": False, "unique": True},
            "said": {"nullable": True, "unique": False},
        }
    )
    assert s.columns["open"].is_nullable and not s.columns["open"].is_unique
    assert not s.columns["closed"].is_nullable and s.columns["closed"].is_unique
    assert s.columns["said"].is_nullable and not s.columns["said"].is_unique


def test_the_severity_of_an_unknown_column_is_not_found() -> None:
    from conveyor.core import NotFoundError

    s = schema({"dep_delay": {"type": "float64"}, "carrier": {}})
    with pytest.raises(NotFoundError) as info:
        s.severity("dep_dely", "min")
    assert "no column 'dep_dely'. Did you mean 'dep_delay'?" in str(info.value)
    assert info.value.hint == "Its columns are: 'dep_delay', 'carrier'."
