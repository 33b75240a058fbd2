"""ValidationReport: the errors/warnings views, strict JSON both ways, and the halting error."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from conveyor.core import ConveyorError, DataValidationError
from conveyor.data import Example, ValidationReport, Violation
from conveyor.data._report import jsonable


def violation(column: str | None, rule: str, severity: str, n_failed: int = 1) -> Violation:
    return Violation.from_dict(
        {
            "column": column,
            "rule": rule,
            "severity": severity,
            "n_failed": n_failed,
            "examples": [{"row": 0, "value": 1}] if n_failed else [],
            "message": f"{column} broke {rule}",
        }
    )


def report(*violations: Violation, dataset: str | None = "flights") -> ValidationReport:
    return ValidationReport(dataset=dataset, n_rows=1000, violations=violations)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (True, True),
        (np.int64(7), 7),
        (np.float32(0.5), 0.5),
        (np.bool_(False), False),
        (float("nan"), "nan"),
        (float("-inf"), "-inf"),
        (np.float64("inf"), "inf"),
        (pd.NA, None),
        (pd.NaT, None),
        (pd.Timestamp("2024-01-02 03:04:05", tz="UTC"), "2024-01-02T03:04:05+00:00"),
        (datetime.date(2024, 1, 2), "2024-01-02"),
        (datetime.time(12, 30), "12:30:00"),
        (decimal.Decimal("1.10"), "1.10"),
        (b"\x00\xff", "00ff"),
        (pa.scalar(5), 5),
        (pa.scalar("x"), "x"),
        (np.str_("s"), "s"),
        ([1, 2], "[1, 2]"),
    ],
)
def test_values_become_json_scalars(value: object, expected: object) -> None:
    assert jsonable(value) == expected
    json.dumps(jsonable(value), allow_nan=False)


def test_errors_and_warnings_are_views_of_the_violations() -> None:
    a, b, c = (
        violation("a", "min", "warning"),
        violation("b", "type", "error"),
        violation(None, "max_rows", "warning"),
    )
    r = report(a, b, c)
    assert r.errors == (b,) and r.warnings == (a, c) and not r.passed
    assert report(a, c).passed and report().passed


def test_reports_and_violations_are_immutable() -> None:
    r = report(violation("a", "min", "error"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.n_rows = 5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.violations[0].n_failed = 0  # type: ignore[misc]


def test_to_dict_is_plain_json_and_from_dict_gives_the_report_back() -> None:
    r = report(violation("a", "min", "warning"), violation(None, "min_rows", "error", 0))
    data = r.to_dict()
    assert data == json.loads(json.dumps(data, allow_nan=False))
    assert data["passed"] is False and data["n_rows"] == 1000 and data["dataset"] == "flights"
    assert data["violations"][0] == {
        "column": "a",
        "rule": "min",
        "severity": "warning",
        "n_failed": 1,
        "examples": [{"row": 0, "value": 1}],
        "message": "a broke min",
    }
    assert ValidationReport.from_dict(data) == r
    empty = report(dataset=None)
    assert ValidationReport.from_dict(empty.to_dict()) == empty


def test_a_passing_report_raises_nothing() -> None:
    report(violation("a", "max", "warning")).raise_for_errors()


def test_one_error_is_named_with_its_count() -> None:
    r = report(violation("carrier", "categories", "error", 1))
    with pytest.raises(DataValidationError) as info:
        r.raise_for_errors(source="flights", schema_path="schemas/flights.yaml")
    error = info.value
    assert isinstance(error, ConveyorError) and error.exit_code == 1
    assert error.message == (
        "Data for 'flights' broke 1 error rule of its schema in 1,000 rows: "
        "carrier categories (1 row)."
    )
    assert error.report is r  # type: ignore[attr-defined]
    assert error.dataset == "flights"  # type: ignore[attr-defined]
    assert str(error).endswith(
        "See the full report with: conveyor data validate flights --schema schemas/flights.yaml"
    )


def test_many_errors_name_the_first_three_and_count_the_rest() -> None:
    errors = [violation(f"c{i}", "nullable", "error", 10 * i + 2) for i in range(5)]
    r = report(violation(None, "min_rows", "error", 3), *errors, violation("w", "max", "warning"))
    with pytest.raises(DataValidationError) as info:
        r.raise_for_errors()
    assert info.value.message == (
        "Data for 'flights' broke 6 error rules of its schema in 1,000 rows: min_rows (3 rows), "
        "c0 nullable (2 rows), c1 nullable (12 rows), and 3 more; "
        "1 warning rule broken too."
    )


def test_a_report_without_a_dataset_says_the_data() -> None:
    with pytest.raises(DataValidationError, match=r"^The data broke 1 error rule"):
        report(violation("a", "type", "error"), dataset=None).raise_for_errors()


def test_examples_are_rows_with_values() -> None:
    v = violation("a", "min", "error")
    assert v.examples == (Example(row=0, value=1),)
    assert v.to_dict()["examples"] == [{"row": 0, "value": 1}]
