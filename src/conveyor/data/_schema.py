"""Data schemas: the rules a dataset's data must follow, kept as an editable YAML file.

A schema file (``load_schema`` / ``save_schema``) reads::

    # conveyor data schema for 'flights'; edit freely.
    dataset: flights
    default_severity: {min: warning, max: warning, categories: warning}
    rows: {min: 1}
    extra_columns: warn
    columns:
      dep_delay: {type: float64, nullable: true, min: -60.0, max: 1500.0}
      carrier: {type: string, nullable: false, categories: [AA, DL, UA], severity: warning}
      flight_id: {type: int64, nullable: false, unique: true}
      tail: {type: string, required: false, max_null_fraction: {value: 0.05, severity: error}}
      notes:

Column rules. A rule left out is not checked, except ``required``, which defaults to true (so
``notes:`` above only asks that the column be there):

    type               int8 int16 int32 int64 uint8 uint16 uint32 uint64 float32 float64 bool
                       string date timestamp[unit] timestamp[unit, tz] (unit: s, ms, us, ns;
                       tz: an IANA name such as Europe/Paris, UTC or an offset such as +02:00)
    required           the column must be present
    nullable           ``false``: no value may be null (NaN counts as null, as in pandas)
    max_null_fraction  at most this fraction (0 to 1) of the values may be null
    min, max           inclusive bounds; numeric columns only
    categories         the values allowed; string and integer columns only
    unique             no value appears twice (nulls are not compared)

Dataset rules: ``rows: {min: 1, max: 1000000}`` bounds the number of rows; ``extra_columns``
says what a column the schema does not list is: ``allow`` (the default), ``warn`` or
``forbid`` (an error).

Severity. Breaking an ``error`` rule halts a pipeline (``DataValidationError``); breaking a
``warning`` rule is recorded and the pipeline goes on. A column rule's severity is the first
that is set of:

1. its own: ``min: {value: -60, severity: warning}`` instead of ``min: -60``
   (every rule takes this form, e.g. ``nullable: {value: false, severity: warning}``);
2. its column's ``severity:``;
3. ``default_severity`` for that kind of rule;
4. ``error``.

A row-count rule's severity is its own, else ``rows.severity``, else ``error``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Generic, Literal, TypeVar, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, field_validator, model_validator

from ..core import NotFoundError, did_you_mean, validate_name

__all__ = [
    "COLUMN_RULES",
    "ColumnRule",
    "ColumnSchema",
    "DataSchema",
    "ExtraColumns",
    "RowsSchema",
    "Rule",
    "RuleName",
    "Severity",
    "SeverityDefaults",
    "parse_type",
]

Severity = Literal["error", "warning"]
ExtraColumns = Literal["allow", "warn", "forbid"]
# In the order a file writes them and a report lists them.
ColumnRule = Literal[
    "type", "required", "nullable", "max_null_fraction", "min", "max", "categories", "unique"
]
# What a violation names: a column rule, a row-count bound, or a column the schema lacks.
RuleName = Literal[
    "type",
    "required",
    "nullable",
    "max_null_fraction",
    "min",
    "max",
    "categories",
    "unique",
    "min_rows",
    "max_rows",
    "extra_columns",
]
COLUMN_RULES: tuple[ColumnRule, ...] = get_args(ColumnRule)

INTEGER_TYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
NUMERIC_TYPES = (*INTEGER_TYPES, "float32", "float64")
PLAIN_TYPES = (*NUMERIC_TYPES, "bool", "string", "date")
TIME_UNITS = ("s", "ms", "us", "ns")
_TIMESTAMP = re.compile(r"timestamp\[\s*([a-z]+)\s*(?:,\s*([^\]\s][^\]]*?)\s*)?\]")
_OFFSET = re.compile(r"[+-](?:[01]\d|2[0-3]):[0-5]\d")


def parse_type(text: object) -> str:
    """Return the canonical spelling of a logical type, e.g. ``'timestamp[us, UTC]'``.

    Raises:
        ValueError: naming the type and the ones allowed (pydantic turns it into a key error).
    """
    if not isinstance(text, str):
        raise ValueError(f"must be a type name such as 'int64' or 'string'. Got {text!r}")
    name = text.strip()
    if name in PLAIN_TYPES:
        return name
    match = _TIMESTAMP.fullmatch(name)
    if match is None:
        known = (*PLAIN_TYPES, "timestamp[us]", "timestamp[us, UTC]")
        raise ValueError(
            f"must be one of {', '.join(known)} (timestamps take any unit and time zone). "
            f"Got {text!r}.{did_you_mean(name, known)}"
        )
    unit, tz = match.groups()
    if unit not in TIME_UNITS:
        raise ValueError(f"has time unit {unit!r}; use one of {', '.join(TIME_UNITS)}")
    if tz is None:
        return f"timestamp[{unit}]"
    if not _is_time_zone(tz):
        raise ValueError(
            f"has time zone {tz!r}, which is neither an IANA name (such as 'Europe/Paris' "
            "or 'UTC') nor an offset such as '+02:00'"
        )
    return f"timestamp[{unit}, {tz}]"


def _is_time_zone(tz: str) -> bool:
    if _OFFSET.fullmatch(tz):
        return True
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false. Got {value!r}")
    return value


def _number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number such as 0 or -60.5. Got {value!r}")
    if value != value:
        raise ValueError("must be a number, not NaN")
    return value


def _fraction(value: Any) -> float:
    number = _number(value)
    if not 0 <= number <= 1:
        raise ValueError(f"must be a fraction from 0 to 1, such as 0.05. Got {value!r}")
    return float(number)


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"must be a whole number, 0 or more. Got {value!r}")
    return value


def _categories(value: Any) -> tuple[str | int, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(f"must be a non-empty list such as [AA, DL, UA]. Got {value!r}")
    kinds = {str if isinstance(v, str) else int for v in value if not isinstance(v, bool)}
    if any(isinstance(v, bool) or not isinstance(v, str | int) for v in value) or len(kinds) > 1:
        raise ValueError(
            f"must list only strings or only integers. Got {list(value)!r}; quote numbers "
            "meant as strings ('1')"
        )
    seen: set[str | int] = set()
    for item in value:
        if item in seen:
            raise ValueError(f"lists {item!r} twice")
        seen.add(item)
    return tuple(value)


Flag = Annotated[bool, BeforeValidator(_flag)]
Number = Annotated[int | float, BeforeValidator(_number)]
Fraction = Annotated[float, BeforeValidator(_fraction)]
Count = Annotated[int, BeforeValidator(_count)]
Categories = Annotated[tuple[str | int, ...], BeforeValidator(_categories)]
LogicalType = Annotated[str, BeforeValidator(parse_type)]

T = TypeVar("T")


class _Model(BaseModel):
    # Strict: a quoted "5" in the file is a string, never silently a number.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Rule(_Model, Generic[T]):
    """One rule's value, with the severity it was given, if any.

    In the file a rule is either its plain value (``min: -60``) or a mapping that also sets its
    severity (``min: {value: -60, severity: warning}``).
    """

    value: T
    severity: Severity | None = None

    @model_validator(mode="before")
    @classmethod
    def _plain_value(cls, data: Any) -> Any:
        return data if isinstance(data, Mapping) else {"value": data}


class SeverityDefaults(_Model):
    """The severity of each kind of column rule where neither the rule nor its column sets one."""

    type: Severity = "error"
    required: Severity = "error"
    nullable: Severity = "error"
    max_null_fraction: Severity = "error"
    min: Severity = "error"
    max: Severity = "error"
    categories: Severity = "error"
    unique: Severity = "error"


class ColumnSchema(_Model):
    """The rules of one column (see the module docstring for each)."""

    type: Rule[LogicalType] | None = None
    required: Rule[Flag] | None = None
    nullable: Rule[Flag] | None = None
    max_null_fraction: Rule[Fraction] | None = None
    min: Rule[Number] | None = None
    max: Rule[Number] | None = None
    categories: Rule[Categories] | None = None
    unique: Rule[Flag] | None = None
    severity: Severity | None = None

    @model_validator(mode="after")
    def _rules_fit_the_type(self) -> ColumnSchema:
        logical = self.type.value if self.type else None
        for bound in ("min", "max"):
            if getattr(self, bound) is not None and logical not in NUMERIC_TYPES:
                raise ValueError(
                    f"'{bound}' needs a numeric type (int8 ... uint64, float32, float64); this "
                    f"column's type is {logical or 'not set'}"
                )
        if self.min is not None and self.max is not None and self.min.value > self.max.value:
            raise ValueError(f"min ({self.min.value}) is above max ({self.max.value})")
        if self.categories is not None:
            kind = "string" if isinstance(self.categories.value[0], str) else "integer"
            fits = logical == "string" if kind == "string" else logical in INTEGER_TYPES
            if not fits:
                raise ValueError(
                    f"'categories' lists {kind}s, so the column's type must be "
                    f"{'string' if kind == 'string' else 'an integer type such as int64'}; "
                    f"it is {logical or 'not set'}"
                )
        return self

    @property
    def is_required(self) -> bool:
        """Whether the column must be present (``required`` defaults to true)."""
        return self.required is None or self.required.value

    @property
    def is_nullable(self) -> bool:
        """Whether nulls are allowed (they are unless ``nullable: false``)."""
        return self.nullable is None or self.nullable.value

    @property
    def is_unique(self) -> bool:
        """Whether values must be unique (``unique: true``)."""
        return self.unique is not None and self.unique.value

    @property
    def logical_type(self) -> str | None:
        """The column's type, or None when the schema does not constrain it."""
        return self.type.value if self.type else None


class RowsSchema(_Model):
    """Bounds on the number of rows."""

    min: Rule[Count] | None = None
    max: Rule[Count] | None = None
    severity: Severity | None = None

    @model_validator(mode="after")
    def _ordered(self) -> RowsSchema:
        if self.min is not None and self.max is not None and self.min.value > self.max.value:
            raise ValueError(f"min ({self.min.value}) is above max ({self.max.value})")
        return self

    def severity_of(self, bound: Literal["min", "max"]) -> Severity:
        """The severity of the ``min`` or ``max`` bound (its own, the section's, or error)."""
        rule = self.min if bound == "min" else self.max
        return (rule.severity if rule else None) or self.severity or "error"


class DataSchema(_Model):
    """What a dataset's data must look like: column rules, row bounds and severities.

    Build one with :func:`~conveyor.data.infer_schema`, keep it as YAML with
    :func:`~conveyor.data.save_schema`, edit it, read it back with
    :func:`~conveyor.data.load_schema` and check data with :func:`~conveyor.data.validate_data`.
    The module docstring of ``conveyor.data._schema`` describes every key.
    """

    dataset: str | None = None
    default_severity: SeverityDefaults = SeverityDefaults()
    rows: RowsSchema = RowsSchema()
    extra_columns: ExtraColumns = "allow"
    columns: dict[str, ColumnSchema] = {}

    @field_validator("dataset")
    @classmethod
    def _dataset_name(cls, value: str | None) -> str | None:
        return None if value is None else validate_name(value, what="dataset name")

    @field_validator("columns", mode="before")
    @classmethod
    def _bare_columns(cls, value: Any) -> Any:
        # `notes:` with nothing after it means a column with no rule but being present.
        if isinstance(value, Mapping):
            return {name: {} if spec is None else spec for name, spec in value.items()}
        return value

    @field_validator("columns")
    @classmethod
    def _column_names(cls, value: dict[str, ColumnSchema]) -> dict[str, ColumnSchema]:
        for name in value:
            if not name:
                raise ValueError("a column name is empty")
        return value

    def severity(self, column: str, rule: ColumnRule) -> Severity:
        """The severity of ``rule`` on ``column``: the rule's own, the column's, the default.

        Raises:
            NotFoundError: the schema has no such column.
        """
        if column not in self.columns:
            raise NotFoundError(
                f"The data schema has no column {column!r}.{did_you_mean(column, self.columns)}",
                hint="Its columns are: " + ", ".join(map(repr, self.columns)) + ".",
                column=column,
            )
        spec = self.columns[column]
        own = getattr(spec, rule)
        return (
            (own.severity if own is not None else None)
            or spec.severity
            or getattr(self.default_severity, rule)
        )
