"""Properties: data made to satisfy a random schema always passes, in any batch size and input
form; one value pushed out of its range or categories is always the one violation reported."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor.data import DataSchema, Example, validate_data

KINDS = ("int64", "float64", "string")
BOUND = 1e6  # floats stay where max + 1 is a different number


@dataclass(frozen=True)
class Case:
    schema: DataSchema
    columns: dict[str, list[Any]]
    types: dict[str, pa.DataType]
    batch_rows: int
    form: str

    @property
    def n_rows(self) -> int:
        return len(next(iter(self.columns.values())))

    def data(self, columns: dict[str, list[Any]] | None = None) -> Any:
        table = pa.table(
            {
                name: pa.array(values, self.types[name])
                for name, values in (columns or self.columns).items()
            }
        )
        if self.form == "batches":
            return table.to_batches(max_chunksize=max(1, self.batch_rows // 2))
        if self.form == "pandas":
            return table.to_pandas(types_mapper=pd.ArrowDtype)
        return table


@st.composite
def column(draw: st.DrawFn, kind: str, n_rows: int) -> tuple[dict[str, Any], list[Any]]:
    nullable = draw(st.booleans())
    severity = draw(st.sampled_from(["error", "warning"]))
    spec: dict[str, Any] = {"type": kind, "nullable": nullable, "severity": severity}
    if kind == "int64":
        low = draw(st.integers(-(2**40), 2**40))
        unique = draw(st.booleans())
        high = low + draw(st.integers(n_rows if unique else 0, 3 * n_rows + 5))
        if unique:
            spec["unique"] = True
            pool = st.lists(st.integers(low, high), min_size=n_rows, max_size=n_rows, unique=True)
            values: list[Any] = draw(pool)
        else:
            values = draw(st.lists(st.integers(low, high), min_size=n_rows, max_size=n_rows))
    elif kind == "float64":
        low = draw(st.floats(-BOUND, BOUND))
        high = draw(st.floats(low, BOUND))
        number = st.floats(low, high, allow_nan=False)
        values = draw(st.lists(number, min_size=n_rows, max_size=n_rows))
    else:
        letters = st.text("abcxyz", min_size=1, max_size=4)
        categories = draw(st.lists(letters, min_size=1, max_size=5, unique=True))
        spec["categories"] = categories
        values = draw(st.lists(st.sampled_from(categories), min_size=n_rows, max_size=n_rows))
        return spec, _with_nulls(draw, values, nullable)
    spec["min"], spec["max"] = low, high
    return spec, _with_nulls(draw, values, nullable)


def _with_nulls(draw: st.DrawFn, values: list[Any], nullable: bool) -> list[Any]:
    if not nullable:
        return values
    holes = draw(st.sets(st.integers(0, len(values) - 1), max_size=len(values)))
    return [None if i in holes else v for i, v in enumerate(values)]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    n_rows = draw(st.integers(1, 30))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=4))
    specs, columns, types = {}, {}, {}
    for i, kind in enumerate(kinds):
        name = f"c{i}_{kind}"
        specs[name], columns[name] = draw(column(kind, n_rows))
        types[name] = pa.string() if kind == "string" else pa.type_for_alias(kind)
    schema = DataSchema.model_validate(
        {"columns": specs, "rows": {"min": 1}, "extra_columns": "forbid"}
    )
    batch_rows = draw(st.integers(1, n_rows + 1))
    form = draw(st.sampled_from(["table", "batches", "pandas"]))
    return Case(schema, columns, types, batch_rows, form)


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(cases())
def test_data_made_to_fit_a_schema_always_passes(case: Case) -> None:
    report = validate_data(case.data(), case.schema, batch_rows=case.batch_rows)
    assert report.violations == () and report.passed and report.n_rows == case.n_rows


@SETTINGS
@given(cases(), st.data())
def test_one_value_out_of_bounds_is_the_one_violation(case: Case, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(case.columns)))
    row = data.draw(st.integers(0, case.n_rows - 1))
    spec = case.schema.columns[name]
    if spec.categories is not None:
        rule, bad = "categories", "not-a-category"
    else:
        assert spec.min is not None and spec.max is not None
        rule = data.draw(st.sampled_from(["min", "max"]))
        bad = spec.min.value - 1 if rule == "min" else spec.max.value + 1
    columns = {**case.columns, name: [*case.columns[name]]}
    columns[name][row] = bad
    report = validate_data(case.data(columns), case.schema, batch_rows=case.batch_rows)
    assert [(v.column, v.rule, v.n_failed) for v in report.violations] == [(name, rule, 1)]
    violation = report.violations[0]
    assert violation.examples == (Example(row, bad),)
    assert violation.severity == case.schema.severity(name, rule)
    assert report.passed is (violation.severity == "warning")
