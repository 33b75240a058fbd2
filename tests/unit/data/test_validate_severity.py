"""Every column rule, broken once, with its severity set each of the three ways a file can set
it: an error fails the report and halts; a warning is recorded and the report passes."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from conveyor.core import DataValidationError
from conveyor.data import DataSchema, validate_data

# rule -> (the column's rules, a value of that rule to wrap, data breaking it once)
BROKEN: dict[str, tuple[dict[str, Any], pa.Table]] = {
    "type": ({"type": "int64"}, pa.table({"x": [1.5]})),
    "required": ({"required": True}, pa.table({"y": [1]})),
    "nullable": ({"nullable": False}, pa.table({"x": [1, None]})),
    "max_null_fraction": ({"max_null_fraction": 0.1}, pa.table({"x": [1, None]})),
    "min": ({"type": "int64", "min": 0}, pa.table({"x": [-1, 0]})),
    "max": ({"type": "int64", "max": 0}, pa.table({"x": [1, 0]})),
    "categories": ({"type": "string", "categories": ["a"]}, pa.table({"x": ["b", "a"]})),
    "unique": ({"type": "int64", "unique": True}, pa.table({"x": [1, 1]})),
}


def schema_for(rule: str, how: str, severity: str) -> DataSchema:
    spec, _ = BROKEN[rule]
    spec = dict(spec)
    top: dict[str, Any] = {}
    if how == "rule":
        spec[rule] = {"value": spec[rule], "severity": severity}
    elif how == "column":
        spec["severity"] = severity
    else:
        top["default_severity"] = {rule: severity}
    return DataSchema.model_validate({"columns": {"x": spec}, **top})


@pytest.mark.parametrize("severity", ["error", "warning"])
@pytest.mark.parametrize("how", ["rule", "column", "default"])
@pytest.mark.parametrize("rule", sorted(BROKEN))
def test_a_broken_rule_has_the_severity_it_was_given(rule: str, how: str, severity: str) -> None:
    report = validate_data(BROKEN[rule][1], schema_for(rule, how, severity))
    assert [(v.column, v.rule, v.severity) for v in report.violations] == [("x", rule, severity)]
    violation = report.violations[0]
    assert violation.n_failed >= 1 and violation.message.startswith("column 'x' ")
    assert report.passed is (severity == "warning")
    if severity == "warning":
        assert report.warnings == report.violations and report.errors == ()
        report.raise_for_errors()
        return
    assert report.errors == report.violations
    with pytest.raises(DataValidationError, match=f"x {rule} "):
        report.raise_for_errors()


@pytest.mark.parametrize("rule", sorted(BROKEN))
def test_with_no_severity_set_a_broken_rule_is_an_error(rule: str) -> None:
    spec, data = BROKEN[rule]
    report = validate_data(data, DataSchema.model_validate({"columns": {"x": spec}}))
    assert [v.severity for v in report.violations] == ["error"] and not report.passed


@pytest.mark.parametrize("rule", sorted(BROKEN))
def test_the_rules_own_severity_beats_its_columns(rule: str) -> None:
    spec, data = BROKEN[rule]
    spec = {**spec, rule: {"value": spec[rule], "severity": "error"}, "severity": "warning"}
    schema = DataSchema.model_validate(
        {"columns": {"x": spec}, "default_severity": {rule: "warning"}}
    )
    assert [v.severity for v in validate_data(data, schema).violations] == ["error"]


@pytest.mark.parametrize("rule", sorted(BROKEN))
def test_data_that_keeps_the_rule_reports_nothing(rule: str) -> None:
    spec, data = BROKEN[rule]
    fixed = {
        "type": pa.table({"x": [1]}),
        "required": pa.table({"x": [1]}),
        "nullable": pa.table({"x": [1, 2]}),
        "max_null_fraction": pa.table({"x": [1] * 9 + [None]}),
        "min": pa.table({"x": [0, 5]}),
        "max": pa.table({"x": [-5, 0]}),
        "categories": pa.table({"x": ["a", None]}),
        "unique": pa.table({"x": [1, 2, None, None]}),
    }[rule]
    schema = DataSchema.model_validate({"columns": {"x": spec}})
    assert validate_data(fixed, schema).violations == ()
