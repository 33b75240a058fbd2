"""validate_data: every rule broken on purpose gives one clear violation with the right column,
rule, count, examples and severity; errors fail the report, warnings are only recorded."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from conveyor.core import DataValidationError, InvalidValueError
from conveyor.data import (
    DataSchema,
    Example,
    ValidationReport,
    Violation,
    infer_schema,
    validate_data,
)


def make(columns: dict[str, Any], **top: Any) -> DataSchema:
    return DataSchema.model_validate({"columns": columns, **top})


def only(report: ValidationReport, column: str | None, rule: str) -> Violation:
    """The one violation of ``rule`` on ``column``; the report must hold nothing else."""
    assert [(v.column, v.rule) for v in report.violations] == [(column, rule)], report
    return report.violations[0]


def rows_of(violation: Violation) -> list[int]:
    return [e.row for e in violation.examples]


# --- type ---------------------------------------------------------------------------------


def test_a_wrong_type_is_one_violation_and_its_value_rules_are_skipped() -> None:
    schema = make({"x": {"type": "int64", "min": 0, "nullable": False}})
    report = validate_data(pd.DataFrame({"x": [-1.5, 2.5, None]}), schema)
    v = only(report, "x", "type")
    assert v.severity == "error" and v.n_failed == 3 and not report.passed
    assert v.examples == (Example(0, -1.5), Example(1, 2.5))  # nulls are not examples
    assert "has type float64, expected int64" in v.message


def test_an_integer_column_with_nulls_keeps_its_type() -> None:
    schema = make({"x": {"type": "int64"}})
    assert validate_data(pd.DataFrame({"x": pd.array([1, None], "Int64")}), schema).passed
    assert validate_data(pa.table({"x": pa.array([1, None])}), schema).passed
    # numpy cannot hold an integer null: pandas made the column float, and that is reported.
    report = validate_data(pd.DataFrame({"x": [1, None]}), schema)
    assert only(report, "x", "type").message.startswith("column 'x' has type float64")


@pytest.mark.parametrize(
    ("data", "expected", "got"),
    [
        (pa.table({"t": pa.array([0], pa.timestamp("ns"))}), "timestamp[us]", "timestamp[ns]"),
        (
            pa.table({"t": pa.array([0], pa.timestamp("us"))}),
            "timestamp[us, UTC]",
            "timestamp[us]",
        ),
        (pa.table({"t": pa.array([1], pa.int32())}), "int64", "int32"),
        (pa.table({"t": pa.array([["a"]])}), "string", "list<item: string>"),
    ],
)
def test_types_compare_exactly(data: pa.Table, expected: str, got: str) -> None:
    report = validate_data(data, make({"t": {"type": expected}}))
    assert f"has type {got}, expected {expected}" in only(report, "t", "type").message


def test_canonical_forms_of_one_type_all_pass() -> None:
    schema = make({"s": {"type": "string"}, "d": {"type": "date"}, "f": {"type": "float64"}})
    day = datetime.date(2024, 5, 1)
    forms = [
        pa.table({"s": pa.array(["a"]), "d": pa.array([day]), "f": [1.0]}),
        pa.table(
            {
                "s": pa.array(["a"], pa.large_string()),
                "d": pa.array([day], pa.date64()),
                "f": [float("nan")],
            }
        ),
        pa.table({"s": pa.array(["a"]).dictionary_encode(), "d": [day], "f": [None]}),
        pd.DataFrame({"s": pd.Categorical(["a"]), "d": [day], "f": [np.nan]}),
        pd.DataFrame({"s": pd.Series(["a"], dtype=object), "d": [day], "f": [1.0]}),
    ]
    for data in forms:
        assert validate_data(data, schema).violations == ()


def test_a_pandas_column_of_mixed_objects_is_a_type_violation() -> None:
    frame = pd.DataFrame({"x": [1, "two", None, 4]})
    v = only(validate_data(frame, make({"x": {"type": "int64"}})), "x", "type")
    assert "object holding int, str" in v.message and v.n_failed == 4
    assert v.examples == (Example(0, 1), Example(1, "two"), Example(3, 4))


def test_an_all_null_column_takes_the_expected_type() -> None:
    frame = pd.DataFrame({"x": [None, None]}, dtype=object)
    assert validate_data(frame, make({"x": {"type": "string"}})).passed
    report = validate_data(frame, make({"x": {"type": "string", "nullable": False}}))
    assert only(report, "x", "nullable").n_failed == 2


# --- nulls ----------------------------------------------------------------------------------


def test_nulls_where_none_are_allowed() -> None:
    data = pa.table({"x": pa.array([1.0, None, 3.0, float("nan"), 5.0])})
    v = only(
        validate_data(data, make({"x": {"type": "float64", "nullable": False}})), "x", "nullable"
    )
    assert v.n_failed == 2 and rows_of(v) == [1, 3]  # NaN counts as null
    assert v.examples[0].value is None
    assert "2 null values" in v.message and v.severity == "error"


def test_nullable_true_or_unset_allows_nulls() -> None:
    data = pa.table({"x": [1, None]})
    assert validate_data(data, make({"x": {"type": "int64", "nullable": True}})).passed
    assert validate_data(data, make({"x": {"type": "int64"}})).passed


def test_a_null_fraction_over_its_maximum() -> None:
    data = pa.table({"x": [None, 1, None, 2, None, 3, 4, 5, 6, 7]})  # 30% null
    schema = make({"x": {"type": "int64", "max_null_fraction": 0.25}})
    v = only(validate_data(data, schema, batch_rows=3), "x", "max_null_fraction")
    assert v.n_failed == 3 and rows_of(v) == [0, 2, 4]
    assert "30.0% null (3 of 10 rows), more than the 25.0% allowed" in v.message
    for fraction in (0.3, 1.0):  # at or under the maximum: fine
        assert validate_data(
            data, make({"x": {"type": "int64", "max_null_fraction": fraction}})
        ).passed


# --- ranges and categories ------------------------------------------------------------------


def test_values_below_the_minimum_and_above_the_maximum() -> None:
    data = pd.DataFrame({"dep_delay": [-75.0, -60.0, 0.0, 1500.0, 1600.0, -90.0, None]})
    schema = make({"dep_delay": {"type": "float64", "min": -60, "max": 1500}})
    report = validate_data(data, schema)
    low, high = report.violations
    assert (low.column, low.rule, low.n_failed, rows_of(low)) == ("dep_delay", "min", 2, [0, 5])
    assert low.examples[0].value == -75.0
    assert (high.rule, high.n_failed, high.examples) == ("max", 1, (Example(4, 1600.0),))
    assert "2 values below the minimum -60 (first: -75.0 at row 0)" in low.message
    assert "1 value above the maximum 1500" in high.message


def test_bounds_are_inclusive_and_exact_for_large_integers() -> None:
    big = 2**62 + 1
    data = pa.table({"x": [big - 1, big]})
    assert validate_data(data, make({"x": {"type": "int64", "min": big - 1, "max": big}})).passed
    report = validate_data(data, make({"x": {"type": "int64", "max": big - 1}}))
    assert only(report, "x", "max").examples == (Example(1, big),)


def test_infinite_values_break_bounds_and_report_as_strict_json() -> None:
    data = pa.table({"x": [1.0, float("inf")]})
    v = only(validate_data(data, make({"x": {"type": "float64", "max": 10}})), "x", "max")
    assert v.examples == (Example(1, "inf"),)


def test_unknown_categories() -> None:
    data = pa.table({"carrier": pa.array(["AA", "XX", None, "DL", "ZZ", "XX"]).dictionary_encode()})
    schema = make({"carrier": {"type": "string", "categories": ["AA", "DL", "UA"]}})
    v = only(validate_data(data, schema), "carrier", "categories")
    assert v.n_failed == 3 and v.examples == (Example(1, "XX"), Example(4, "ZZ"), Example(5, "XX"))
    assert "3 values outside its 3 allowed values" in v.message


def test_integer_categories() -> None:
    data = pa.table({"code": pa.array([1, 2, 9], pa.int8())})
    v = only(
        validate_data(data, make({"code": {"type": "int8", "categories": [1, 2]}})),
        "code",
        "categories",
    )
    assert v.examples == (Example(2, 9),)


# --- uniqueness -----------------------------------------------------------------------------


def test_duplicates_within_one_batch_count_the_repeats_not_the_first() -> None:
    data = pa.table({"id": [5, 6, 5, None, None, 5, 7]})
    v = only(validate_data(data, make({"id": {"type": "int64", "unique": True}})), "id", "unique")
    assert v.n_failed == 2 and v.examples == (Example(2, 5), Example(5, 5))  # nulls never repeat
    assert "2 duplicate values" in v.message


@pytest.mark.parametrize("batch_rows", [1, 2, 3, 100])
def test_duplicates_across_batches_are_found(batch_rows: int) -> None:
    ids = ["a", "b", "c", "a", "d", "b", "a", None, "e", None]
    data = pa.table({"id": ids})
    schema = make({"id": {"type": "string", "unique": True}})
    v = only(validate_data(data, schema, batch_rows=batch_rows), "id", "unique")
    assert v.n_failed == 3 and rows_of(v) == [3, 5, 6]
    assert [e.value for e in v.examples] == ["a", "b", "a"]


def test_duplicates_across_many_batches_of_a_stream() -> None:
    def stream() -> Iterator[pa.RecordBatch]:
        for start in range(0, 5000, 100):
            ids = np.arange(start, start + 100)
            if start == 4000:
                ids[[10, 20]] = [17, 3999]  # repeats of batches 0 and 39
            yield pa.record_batch({"id": ids})

    schema = make({"id": {"type": "int64", "unique": True}})
    v = only(validate_data(stream(), schema, batch_rows=100), "id", "unique")
    assert v.n_failed == 2 and v.examples == (Example(4010, 17), Example(4020, 3999))


def test_unique_without_a_type_works_on_any_values() -> None:
    data = pa.table({"day": [datetime.date(2024, 1, d) for d in (1, 2, 1)]})
    v = only(validate_data(data, make({"day": {"unique": True}})), "day", "unique")
    assert v.examples == (Example(2, "2024-01-01"),)


# --- columns --------------------------------------------------------------------------------


def test_a_missing_required_column() -> None:
    data = pa.table({"a": [1, 2, 3]})
    v = only(validate_data(data, make({"a": {}, "b": {"type": "int64"}})), "b", "required")
    assert v.severity == "error" and v.n_failed == 3 and v.examples == ()
    assert v.message == "column 'b' is required but missing from 3 rows"


def test_an_optional_column_may_be_missing() -> None:
    schema = make({"b": {"type": "int64", "required": False, "min": 0}})
    assert validate_data(pa.table({"a": [1]}), schema).violations == ()


def test_a_column_missing_from_some_batches_counts_their_rows() -> None:
    batches = [pa.record_batch({"a": [1, 2], "b": [1, 1]}), pa.record_batch({"a": [3]})]
    v = only(validate_data(batches, make({"a": {}, "b": {}})), "b", "required")
    assert v.n_failed == 1


@pytest.mark.parametrize(
    ("policy", "severity"), [("allow", None), ("warn", "warning"), ("forbid", "error")]
)
def test_extra_columns_follow_the_policy(policy: str, severity: str | None) -> None:
    data = pa.table({"a": [1, 2], "new": ["x", "y"], "newer": [1, 2]})
    report = validate_data(data, make({"a": {"type": "int64"}}, extra_columns=policy))
    if severity is None:
        assert report.violations == ()
        return
    assert [(v.column, v.rule, v.severity, v.n_failed) for v in report.violations] == [
        ("new", "extra_columns", severity, 2),
        ("newer", "extra_columns", severity, 2),
    ]
    assert report.passed is (severity == "warning")
    assert f"(extra_columns: {policy})" in report.violations[0].message


# --- rows -----------------------------------------------------------------------------------


def test_too_few_rows() -> None:
    report = validate_data(
        pa.table({"a": pa.array([], pa.int64())}), make({"a": {}}, rows={"min": 1})
    )
    v = only(report, None, "min_rows")
    assert v.n_failed == 1 and v.severity == "error" and report.n_rows == 0
    assert v.message == "the data has 0 rows, fewer than the minimum 1"


def test_too_many_rows_as_a_warning() -> None:
    schema = make({}, rows={"max": 3, "severity": "warning"})
    report = validate_data(pa.table({"a": range(5)}), schema, batch_rows=2)
    v = only(report, None, "max_rows")
    assert v.n_failed == 2 and v.severity == "warning" and report.passed
    assert v.message == "the data has 5 rows, more than the maximum 3"


def test_rows_within_bounds_pass() -> None:
    schema = make({}, rows={"min": 5, "max": 5})
    assert validate_data(pa.table({"a": range(5)}), schema).passed


def test_an_empty_stream_has_no_rows_and_no_columns_to_check() -> None:
    report = validate_data(iter([]), make({"a": {}}, rows={"min": 1}))
    assert [(v.column, v.rule) for v in report.violations] == [(None, "min_rows")]


# --- severity, examples, the error ---------------------------------------------------------


def test_a_warning_is_recorded_and_the_report_passes() -> None:
    schema = make({"x": {"type": "int64", "max": {"value": 10, "severity": "warning"}}})
    report = validate_data(pa.table({"x": [5, 50]}), schema)
    assert report.passed and report.errors == ()
    assert [(v.rule, v.severity) for v in report.warnings] == [("max", "warning")]
    report.raise_for_errors()  # nothing to raise


def test_an_error_fails_the_report_and_raise_for_errors_halts() -> None:
    schema = make(
        {
            "a": {"type": "int64", "min": 0, "nullable": False},
            "b": {"type": "string", "categories": ["x"]},
            "c": {"type": "int64", "unique": True},
            "d": {"type": "int64"},
            "e": {"type": "int64", "max": 0, "severity": "warning"},
        },
        dataset="flights",
    )
    data = pa.table({"a": [-1, None, -2], "b": ["x", "y", "x"], "c": [1, 1, 2], "e": [1, 2, 3]})
    report = validate_data(data, schema)
    assert not report.passed and len(report.errors) == 5 and len(report.warnings) == 1
    with pytest.raises(DataValidationError) as info:
        report.raise_for_errors(source="flights", schema_path="schemas/flights.yaml")
    error = info.value
    assert error.report is report  # type: ignore[attr-defined]
    assert error.message == (
        "Data for 'flights' broke 5 error rules of its schema in 3 rows: a nullable (1 row), "
        "a min (2 rows), b categories (1 row), and 2 more; 1 warning rule broken too."
    )
    assert error.hint == (
        "See the full report with: conveyor data validate flights --schema schemas/flights.yaml"
    )


def test_the_hint_has_placeholders_when_the_source_is_unknown() -> None:
    report = validate_data(pa.table({"a": [1]}), make({"b": {}}))
    with pytest.raises(DataValidationError) as info:
        report.raise_for_errors()
    assert info.value.hint == (
        "See the full report with: conveyor data validate <source> --schema <schema file>"
    )
    assert info.value.message.startswith("The data broke 1 error rule of its schema in 1 row:")


def test_examples_are_the_first_five_rows_counted_across_batches() -> None:
    values = np.arange(100)
    values[[3, 40, 41, 42, 70, 71, 99]] = -1
    report = validate_data(
        pd.DataFrame({"x": values}), make({"x": {"type": "int64", "min": 0}}), batch_rows=16
    )
    v = only(report, "x", "min")
    assert v.n_failed == 7 and rows_of(v) == [3, 40, 41, 42, 70]


def test_a_dataframe_index_is_not_a_row_position() -> None:
    frame = pd.DataFrame({"x": [1, -1]}, index=["first", "second"])
    v = only(validate_data(frame, make({"x": {"type": "int64", "min": 0}})), "x", "min")
    assert v.examples == (Example(1, -1),)


def test_every_rule_broken_at_once_is_reported_in_schema_order() -> None:
    data = pd.DataFrame(
        {
            "x": [None, 500.0, -5.0],
            "c": ["a", "zz", "a"],
            "u": [1, 1, 1],
            "t": ["not", "a", "number"],
            "extra": [0, 0, 0],
        }
    )
    schema = make(
        {
            "x": {
                "type": "float64",
                "nullable": False,
                "max_null_fraction": 0.1,
                "min": 0,
                "max": 100,
            },
            "c": {"type": "string", "categories": ["a"]},
            "u": {"type": "int64", "unique": True},
            "t": {"type": "float64"},
            "gone": {},
        },
        rows={"min": 10},
        extra_columns="forbid",
    )
    report = validate_data(data, schema)
    assert [(v.column, v.rule, v.n_failed) for v in report.violations] == [
        (None, "min_rows", 7),
        ("x", "nullable", 1),
        ("x", "max_null_fraction", 1),
        ("x", "min", 1),
        ("x", "max", 1),
        ("c", "categories", 1),
        ("u", "unique", 2),
        ("t", "type", 3),
        ("gone", "required", 3),
        ("extra", "extra_columns", 3),
    ]


# --- the report as data ---------------------------------------------------------------------


def test_the_report_round_trips_through_strict_json() -> None:
    data = pa.table(
        {
            "t": pa.array([datetime.datetime(2024, 1, 1, 12, tzinfo=datetime.UTC)] * 2),
            "x": [float("inf"), 1.0],
            "s": ["ok", "no"],
        }
    )
    schema = make(
        {
            "t": {"type": "timestamp[us, UTC]", "unique": True},
            "x": {"type": "float64", "max": 2},
            "s": {"type": "string", "categories": ["ok"]},
        },
        dataset="events",
    )
    report = validate_data(data, schema)
    text = json.dumps(report.to_dict(), allow_nan=False)
    again = ValidationReport.from_dict(json.loads(text))
    assert again == report
    assert report.to_dict()["passed"] is False
    assert report.violations[0].examples == (Example(1, "2024-01-01T12:00:00+00:00"),)


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {"dataset": None, "n_rows": 1, "violations": [{"rule": "min"}]},
        {"dataset": None, "n_rows": "many", "violations": []},
        {
            "dataset": None,
            "n_rows": 1,
            "violations": [
                {
                    "column": "a",
                    "rule": "nope",
                    "severity": "error",
                    "n_failed": 1,
                    "examples": [],
                    "message": "",
                }
            ],
        },
    ],
)
def test_a_report_from_bad_data_is_refused(broken: dict[str, Any]) -> None:
    with pytest.raises(InvalidValueError, match="Not a validation report"):
        ValidationReport.from_dict(broken)


# --- inputs and settings --------------------------------------------------------------------


def test_every_input_kind_gives_the_same_report() -> None:
    frame = pd.DataFrame({"x": [1, -1, 2, -3, 4], "s": list("abcab")})
    schema = make(
        {"x": {"type": "int64", "min": 0}, "s": {"type": "string", "categories": ["a", "b"]}}
    )
    table = pa.Table.from_pandas(frame, preserve_index=False)
    expected = validate_data(frame, schema)
    assert [v.n_failed for v in expected.violations] == [2, 1]
    assert validate_data(table, schema) == expected
    assert validate_data(table.to_batches(max_chunksize=2), schema) == expected
    assert validate_data(table.to_batches(max_chunksize=2)[0], schema).n_rows == 2
    assert validate_data((frame.iloc[i : i + 2] for i in range(0, 5, 2)), schema) == expected
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=1))
    assert validate_data(reader, schema, batch_rows=3) == expected


def test_pandera_switched_off_in_the_environment_still_validates() -> None:
    from pandera.config import config_context

    with config_context(validation_enabled=False):
        report = validate_data(pa.table({"x": [-1]}), make({"x": {"type": "int64", "min": 0}}))
    assert only(report, "x", "min").n_failed == 1


@pytest.mark.parametrize("batch_rows", [0, -5, 2.5, True])
def test_batch_rows_must_be_a_positive_whole_number(batch_rows: Any) -> None:
    with pytest.raises(InvalidValueError, match="batch_rows"):
        validate_data(pa.table({"a": [1]}), DataSchema(), batch_rows=batch_rows)


def test_the_reference_data_passes_its_inferred_schema_in_any_batch_size() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "id": rng.permutation(1000),
            "score": rng.normal(size=1000),
            "kind": rng.choice(["a", "b", "c"], 1000),
        }
    )
    schema = infer_schema(frame)
    for batch_rows in (16, 1000):
        assert validate_data(frame, schema, batch_rows=batch_rows).violations == ()


# --- columns whose rules cannot run -----------------------------------------------------------


def test_mixed_objects_under_a_rule_without_a_type_are_reported_not_passed() -> None:
    frame = pd.DataFrame({"m": [1, "a", None]})
    v = only(validate_data(frame, make({"m": {"nullable": False}})), "m", "type")
    assert v.message.startswith("column 'm' has type object holding int, str, on which its rules")
    assert validate_data(frame, make({"m": None})).violations == ()  # presence only: fine


def test_unique_on_lists_cannot_compare_and_says_so() -> None:
    data = pa.table({"tags": [["a"], ["a"]]})
    v = only(validate_data(data, make({"tags": {"unique": True}})), "tags", "type")
    assert "list<item: string>, on which its rules cannot be checked" in v.message
    assert validate_data(data, make({"tags": {"nullable": False}})).passed


def test_a_type_wrong_in_one_batch_only_counts_that_batch() -> None:
    batches = [
        pa.record_batch({"x": [1, 2]}),
        pa.record_batch({"x": ["3"]}),
        pa.record_batch({"x": [-4]}),
    ]
    report = validate_data(batches, make({"x": {"type": "int64", "min": 0}}), batch_rows=2)
    assert [(v.rule, v.n_failed, rows_of(v)) for v in report.violations] == [
        ("type", 1, [2]),
        ("min", 1, [3]),
    ]


def test_examples_of_repeats_within_and_across_batches_are_the_first_rows() -> None:
    # Batch 2 (rows 12-23) repeats batch 1 at its first row, then itself five times: pandera
    # reports its five first, yet the earliest row comes from the check across batches.
    second = [3, 50, 50, 51, 51, 52, 52, 53, 53, 54, 54, 55]
    data = pa.table({"id": [*range(12), *second]})
    schema = make({"id": {"type": "int64", "unique": True}})
    v = only(validate_data(data, schema, batch_rows=12), "id", "unique")
    assert v.n_failed == 6 and rows_of(v) == [12, 14, 16, 18, 20]


# --- realistic sources ----------------------------------------------------------------------


def test_a_parquet_file_read_a_batch_at_a_time(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    rng = np.random.default_rng(11)
    n = 5000
    table = pa.table(
        {
            "flight_id": np.arange(n),
            "carrier": pa.array(rng.choice(["AA", "DL", "UA"], n)).dictionary_encode(),
            "dep_delay": rng.normal(10, 5, n),
        }
    )
    path = tmp_path / "flights.parquet"
    pq.write_table(table, path, row_group_size=700)
    schema = infer_schema(pq.ParquetFile(path).iter_batches(batch_size=300), dataset="flights")
    assert schema.columns["carrier"].categories is not None
    assert schema.columns["flight_id"].is_unique

    broken = table.set_column(0, "flight_id", pa.array(np.r_[np.arange(n - 1), 0]))
    pq.write_table(broken, path, row_group_size=700)
    report = validate_data(
        pq.ParquetFile(path).iter_batches(batch_size=300), schema, batch_rows=1000
    )
    v = only(report, "flight_id", "unique")
    assert v.examples == (Example(n - 1, 0),) and report.n_rows == n


def test_float32_bounds_inferred_from_data_hold_exactly() -> None:
    values = pa.array([0.1, 0.2, 0.7], pa.float32())
    schema = infer_schema(pa.table({"x": values}))
    assert validate_data(pa.table({"x": values}), schema).violations == ()
    bumped = pa.array([0.1, 0.2, np.nextafter(np.float32(0.7), np.float32(1))], pa.float32())
    assert only(validate_data(pa.table({"x": bumped}), schema), "x", "max").n_failed == 1


def test_booleans_dates_and_times_take_presence_nulls_and_uniqueness() -> None:
    stamp = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    data = pa.table(
        {
            "flag": pa.array([True, None, False]),
            "day": pa.array([datetime.date(2024, 1, 1)] * 3),
            "at": pa.array([stamp, stamp, None], pa.timestamp("ms", "UTC")),
        }
    )
    schema = make(
        {
            "flag": {"type": "bool", "nullable": False},
            "day": {"type": "date", "unique": True},
            "at": {"type": "timestamp[ms, UTC]", "unique": True, "max_null_fraction": 0.5},
        }
    )
    report = validate_data(data, schema)
    assert [(v.column, v.rule, v.n_failed) for v in report.violations] == [
        ("flag", "nullable", 1),
        ("day", "unique", 2),
        ("at", "unique", 1),
    ]
    assert report.violations[2].examples == (Example(1, "2024-01-01T00:00:00+00:00"),)


def test_column_names_are_names_not_patterns() -> None:
    names = ["dep delay (min)", "a.*", "é", "0"]
    frame = pd.DataFrame({0: [1, -1], "dep delay (min)": [1, -1], "a.*": [1, -1], "é": [1, -1]})
    schema = make({name: {"type": "int64", "min": 0} for name in names})
    report = validate_data(frame, schema)
    assert sorted((v.column, v.rule, v.n_failed) for v in report.violations) == sorted(
        (name, "min", 1) for name in names
    )
    # 'a.*' as a pattern would match 'ab'; as a name it is missing.
    renamed = validate_data(frame.rename(columns={"a.*": "ab"}), schema)
    assert [(v.column, v.rule) for v in renamed.violations if v.column in ("a.*", "ab")] == [
        ("a.*", "required")
    ]


def test_uniqueness_is_exact_for_64_bit_values_beside_nulls() -> None:
    # pandas finds duplicates of Arrow-backed 64-bit values with nulls through float64, where
    # these neighbours are equal; the check must not.
    near = 2**63 - 512
    data = pa.table(
        {
            "i": pa.array([None, None, near, near + 1]),
            "u": pa.array([None, None, 2**64 - 2, 2**64 - 1], pa.uint64()),
            "t": pa.array([None, None, near, near + 1], pa.timestamp("ns")),
        }
    )
    schema = make(
        {
            "i": {"type": "int64", "unique": True, "min": near, "max": near + 1},
            "u": {"type": "uint64", "unique": True},
            "t": {"type": "timestamp[ns]", "unique": True},
        }
    )
    assert validate_data(data, schema).violations == ()
    repeated = data.set_column(0, "i", pa.array([None, None, near + 1, near + 1]))
    v = only(validate_data(repeated, schema), "i", "unique")
    assert v.examples == (Example(3, near + 1),)


def test_uniqueness_is_exact_for_untyped_durations_beside_nulls() -> None:
    near = 2**63 - 512
    data = pa.table({"d": pa.array([None, None, near, near + 1], pa.duration("ns"))})
    assert validate_data(data, make({"d": {"unique": True}})).violations == ()
