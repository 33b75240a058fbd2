"""Validation: data checked against a :class:`DataSchema`, batch by batch, with pandera.

Each canonical Arrow batch (see ``_canonical``) is checked in three parts:

1. Its shape, on the Arrow schema: missing and extra columns, and each column's type, compared
   on Arrow types (an int64 column with nulls stays int64, as it cannot in numpy-backed
   pandas). A column of the wrong type has its other rules skipped: they would compare
   values of the wrong kind. Fix the type first.
2. Its values, by pandera: the batch becomes pandas with Arrow-backed dtypes (see
   ``_canonical.pandas_type``) and one ``pandera.DataFrameSchema`` per batch shape, built from the
   DataSchema, validates it lazily, so every failure is collected: ``dtype`` (coercion off),
   ``nullable``, ``Check.ge``/``le``/``isin`` and ``unique``.
3. What pandera cannot see in one batch: values repeating a value of an earlier batch (see
   ``_seen``), null fractions and the row count, totalled over all batches.

Memory is bounded by the batch size (``batch_rows``), except for ``unique`` columns, which
keep their distinct values.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core import InvalidValueError
from ._canonical import (
    DEFAULT_ROWS,
    Batch,
    arrow_type,
    canonical_batches,
    describe_type,
    pandas_dtype,
    pandas_type,
)
from ._report import MAX_EXAMPLES, Example, ValidationReport, Violation, jsonable
from ._schema import COLUMN_RULES, ColumnSchema, DataSchema, RuleName, Severity
from ._seen import SeenValues

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["DEFAULT_BATCH_ROWS", "validate_data"]

DEFAULT_BATCH_ROWS = DEFAULT_ROWS

# pandera's names for the checks it runs itself; Check objects are found by position.
_PANDERA_RULES: dict[str, RuleName] = {"not_nullable": "nullable", "field_uniqueness": "unique"}


def validate_data(
    data: Any, schema: DataSchema, *, batch_rows: int = DEFAULT_BATCH_ROWS
) -> ValidationReport:
    """Check ``data`` against ``schema``; return every broken rule, never raise for them.

    Call :meth:`ValidationReport.raise_for_errors` to halt on broken ``error`` rules.

    Args:
        data: A pyarrow Table or RecordBatch, a pandas DataFrame, or an iterable of those
            (e.g. ``pyarrow.parquet.ParquetFile(path).iter_batches()``), read once.
        schema: The rules, e.g. from :func:`~conveyor.data.load_schema`.
        batch_rows: The most rows held as pandas at a time.

    Raises:
        InvalidValueError: ``data`` is not of a kind listed above, or ``batch_rows`` < 1.
    """
    from pandera.config import ValidationDepth, config_context

    if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
        raise InvalidValueError(
            f"batch_rows must be a whole number of rows, 1 or more. Got {batch_rows!r}.",
            hint=f"Leave it out for the default, {DEFAULT_BATCH_ROWS:,}.",
        )
    expected = {
        name: arrow_type(spec.logical_type)
        for name, spec in schema.columns.items()
        if spec.logical_type is not None
    }
    run = _Run(schema, expected)
    # PANDERA_VALIDATION_ENABLED=False in the environment must not turn a check into a pass.
    with config_context(validation_enabled=True, validation_depth=ValidationDepth.SCHEMA_AND_DATA):
        for batch in canonical_batches(data, rows=batch_rows, expected=expected):
            run.check(batch)
    return run.report()


@dataclass
class _Tally:
    n_failed: int = 0
    examples: list[tuple[int, Any]] = field(default_factory=list)
    detail: str = ""

    def add(self, n_failed: int, examples: Sequence[tuple[int, Any]] = ()) -> None:
        self.n_failed += n_failed
        # One batch may add twice (pandera's repeats, then repeats of earlier batches): keep
        # the first rows of both.
        if examples:
            self.examples = sorted([*self.examples, *examples], key=lambda e: e[0])
            del self.examples[MAX_EXAMPLES:]


@dataclass
class _Run:
    """The state of one validation across batches."""

    schema: DataSchema
    expected: dict[str, pa.DataType]
    n_rows: int = 0
    tallies: dict[tuple[str | None, RuleName], _Tally] = field(default_factory=dict)
    nulls: dict[str, list[int]] = field(default_factory=dict)  # column -> [nulls, rows seen]
    seen: dict[str, SeenValues] = field(default_factory=dict)
    extra: dict[str, None] = field(default_factory=dict)  # in order of first appearance
    pandera: dict[tuple[str, ...], tuple[Any, dict[str, list[RuleName]]]] = field(
        default_factory=dict
    )

    def tally(self, column: str | None, rule: RuleName) -> _Tally:
        return self.tallies.setdefault((column, rule), _Tally())

    def check(self, batch: Batch) -> None:
        self.n_rows += batch.n_rows
        checked = self._check_shape(batch)
        if checked:
            self._check_values(batch, checked)

    def _check_shape(self, batch: Batch) -> tuple[str, ...]:
        """Presence, extra columns and types; return the columns whose values get checked."""
        import pyarrow as pa
        import pyarrow.compute as pc

        present = set(batch.names)
        checked = []
        for name, spec in self.schema.columns.items():
            if name not in present:
                if spec.is_required:
                    self.tally(name, "required").add(batch.n_rows)
                continue
            if name in batch.mixed:
                # Rules on values cannot run on Python objects of several kinds.
                if spec.logical_type is not None or _has_value_rules(spec):
                    mixed = batch.mixed[name]
                    tally = self.tally(name, "type")
                    tally.add(batch.n_rows, mixed.examples)
                    tally.detail = tally.detail or mixed.description
                continue
            array = batch.arrow.column(name)
            want = self.expected.get(name)
            unhashable = spec.is_unique and pa.types.is_nested(array.type)
            if (want is not None and not array.type.equals(want)) or unhashable:
                tally = self.tally(name, "type")
                rows = pc.indices_nonzero(pc.is_valid(array))[:MAX_EXAMPLES].to_pylist()
                tally.add(batch.n_rows, [(batch.offset + r, array[r]) for r in rows])
                tally.detail = tally.detail or describe_type(array.type)
                continue
            checked.append(name)
            counts = self.nulls.setdefault(name, [0, 0])
            counts[0] += array.null_count
            counts[1] += batch.n_rows
            if spec.max_null_fraction is not None and array.null_count:
                tally = self.tally(name, "max_null_fraction")
                if len(tally.examples) < MAX_EXAMPLES:
                    rows = pc.indices_nonzero(pc.is_null(array))[:MAX_EXAMPLES].to_pylist()
                    tally.add(0, [(batch.offset + r, None) for r in rows])
        if self.schema.extra_columns != "allow":
            for name in batch.names:
                if name not in self.schema.columns:
                    self.extra[name] = None
                    self.tally(name, "extra_columns").add(batch.n_rows)
        return tuple(checked)

    def _check_values(self, batch: Batch, names: tuple[str, ...]) -> None:
        import pandas as pd
        import pandera.pandas as pdr

        if names not in self.pandera:
            self.pandera[names] = _pandera_schema(self.schema, names)
        pandera_schema, rules = self.pandera[names]
        frame = batch.arrow.select(list(names)).to_pandas(types_mapper=pandas_type)
        for name in names:
            if self.schema.columns[name].is_unique:
                exact = functools.partial(pandas_type, exact=True)
                frame[name] = batch.arrow.column(name).to_pandas(types_mapper=exact)
        frame.index = pd.RangeIndex(batch.offset, batch.offset + batch.n_rows)
        try:
            pandera_schema.validate(frame, lazy=True)
        except pdr.errors.SchemaErrors as exc:
            self._add_failures(exc.failure_cases, rules)
        for name in names:
            spec = self.schema.columns[name]
            if spec.is_unique:
                array = batch.arrow.column(name)
                repeats = self.seen.setdefault(name, SeenValues()).add(array)
                if len(repeats):
                    first = repeats[:MAX_EXAMPLES]
                    examples = [(batch.offset + int(p), array[int(p)]) for p in first]
                    self.tally(name, "unique").add(len(repeats), examples)

    def _add_failures(self, failures: Any, rules: dict[str, list[RuleName]]) -> None:
        for (column, check), group in failures.groupby(["column", "check"], sort=False):
            rule = _PANDERA_RULES.get(check)
            if rule is None:
                number = group["check_number"].iloc[0]
                known = number is not None and number == number
                rule = rules[column][int(number)] if known else "type"
            head = group.head(MAX_EXAMPLES)
            examples = [  # a failure of a whole column (its dtype) has no row
                (int(i), v)
                for i, v in zip(head["index"], head["failure_case"], strict=True)
                if i == i
            ]
            self.tally(column, rule).add(len(group), examples)

    def report(self) -> ValidationReport:
        violations = [*self._row_violations()]
        for name, spec in self.schema.columns.items():
            self._null_fraction(name, spec)
            for rule in COLUMN_RULES:
                if (name, rule) in self.tallies:
                    tally = self.tallies[name, rule]
                    if tally.n_failed or rule in {"required", "type"}:
                        severity = self.schema.severity(name, rule)
                        violations.append(self._violation(name, rule, severity, tally))
        extra: Severity = "error" if self.schema.extra_columns == "forbid" else "warning"
        for name in self.extra:
            tally = self.tallies[name, "extra_columns"]
            violations.append(self._violation(name, "extra_columns", extra, tally))
        return ValidationReport(self.schema.dataset, self.n_rows, tuple(violations))

    def _row_violations(self) -> list[Violation]:
        rows, found = self.schema.rows, []
        if rows.min is not None and self.n_rows < rows.min.value:
            tally = _Tally(rows.min.value - self.n_rows)
            found.append(self._violation(None, "min_rows", rows.severity_of("min"), tally))
        if rows.max is not None and self.n_rows > rows.max.value:
            tally = _Tally(self.n_rows - rows.max.value)
            found.append(self._violation(None, "max_rows", rows.severity_of("max"), tally))
        return found

    def _null_fraction(self, name: str, spec: ColumnSchema) -> None:
        n_null, n_seen = self.nulls.get(name, (0, 0))
        if spec.max_null_fraction is None or not n_seen:
            return
        if n_null / n_seen > spec.max_null_fraction.value:
            tally = self.tally(name, "max_null_fraction")
            tally.n_failed = n_null
            tally.detail = f"{n_null / n_seen:.1%} null ({n_null:,} of {n_seen:,} rows)"
        else:
            self.tallies.pop((name, "max_null_fraction"), None)

    def _violation(
        self, column: str | None, rule: RuleName, severity: Severity, tally: _Tally
    ) -> Violation:
        examples = tuple(Example(row, jsonable(value)) for row, value in tally.examples)
        message = _message(self, column, rule, tally)
        if examples and rule not in {"required", "extra_columns", "max_null_fraction"}:
            message += f" (first: {examples[0].value!r} at row {examples[0].row:,})"
        return Violation(column, rule, severity, tally.n_failed, examples, message)


def _pandera_schema(
    schema: DataSchema, names: Sequence[str]
) -> tuple[Any, dict[str, list[RuleName]]]:
    """The pandera schema checking the value rules of ``names``, and each column's check order."""
    import pandera.pandas as pdr

    columns, order = {}, {}
    for name in names:
        spec = schema.columns[name]
        checks: list[Any] = []
        rules: list[RuleName] = []
        if spec.min is not None:
            checks.append(pdr.Check.ge(spec.min.value))
            rules.append("min")
        if spec.max is not None:
            checks.append(pdr.Check.le(spec.max.value))
            rules.append("max")
        if spec.categories is not None:
            checks.append(pdr.Check.isin(list(spec.categories.value)))
            rules.append("categories")
        logical = spec.logical_type
        columns[name] = pdr.Column(
            pandas_dtype(arrow_type(logical), exact=spec.is_unique) if logical else None,
            checks,
            nullable=spec.is_nullable,
            unique=spec.is_unique,
            report_duplicates="exclude_first",  # the first row of a value is not a repeat
            coerce=False,
            name=name,
        )
        order[name] = rules
    return pdr.DataFrameSchema(columns, coerce=False, strict=False), order


def _has_value_rules(spec: ColumnSchema) -> bool:
    return not spec.is_nullable or spec.max_null_fraction is not None or spec.is_unique


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _message(run: _Run, column: str | None, rule: RuleName, tally: _Tally) -> str:
    n, spec = tally.n_failed, run.schema.columns.get(column or "")
    it = f"column {column!r}"
    if rule == "min_rows" or rule == "max_rows":
        bound = run.schema.rows.min if rule == "min_rows" else run.schema.rows.max
        assert bound is not None
        relation = "fewer than the minimum" if rule == "min_rows" else "more than the maximum"
        return f"the data has {_plural(run.n_rows, 'row')}, {relation} {bound.value:,}"
    if rule == "extra_columns":
        return f"{it} is not in the schema (extra_columns: {run.schema.extra_columns})"
    assert spec is not None
    if rule == "required":
        return f"{it} is required but missing" + (f" from {_plural(n, 'row')}" if n else "")
    if rule == "type":
        if spec.logical_type is None:
            return f"{it} has type {tally.detail}, on which its rules cannot be checked"
        return f"{it} has type {tally.detail}, expected {spec.logical_type}"
    if rule == "nullable":
        return f"{it} has {_plural(n, 'null value')}; it allows none (nullable: false)"
    if rule == "max_null_fraction":
        assert spec.max_null_fraction is not None
        return f"{it} is {tally.detail}, more than the {spec.max_null_fraction.value:.1%} allowed"
    if rule == "min" or rule == "max":
        bound_rule = spec.min if rule == "min" else spec.max
        assert bound_rule is not None
        side = "below the minimum" if rule == "min" else "above the maximum"
        return f"{it} has {_plural(n, 'value')} {side} {bound_rule.value}"
    if rule == "categories":
        assert spec.categories is not None
        k = len(spec.categories.value)
        return f"{it} has {_plural(n, 'value')} outside its {_plural(k, 'allowed value')}"
    return f"{it} has {_plural(n, 'duplicate value')}; its values must be unique"
