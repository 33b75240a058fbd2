"""What validation found: every broken rule with its severity, count and a few example rows."""

from __future__ import annotations

import datetime
import decimal
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast, get_args

from ..core import DataValidationError, InvalidValueError
from ._schema import RuleName, Severity

__all__ = ["Example", "ValidationReport", "Violation", "jsonable"]

JSONScalar = None | bool | int | float | str
MAX_EXAMPLES = 5
# How many broken error rules the DataValidationError message names before "and N more".
_NAMED_IN_MESSAGE = 3


def jsonable(value: Any) -> JSONScalar:
    """``value`` as a JSON scalar: numbers and text as such, times in ISO 8601, others as text.

    NaN and infinities become ``'nan'``, ``'inf'``, ``'-inf'`` so the report is strict JSON.
    """
    if type(value).__name__ in {"NAType", "NaTType"}:  # pandas' missing values
        return None
    if hasattr(value, "as_py"):  # a pyarrow scalar
        value = value.as_py()
    elif hasattr(value, "item") and not isinstance(value, str | bytes):  # a numpy scalar
        value = value.item()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime.date | datetime.time):  # datetime and pandas Timestamp too
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


@dataclass(frozen=True)
class Example:
    """One offending row: its position in the data (from 0) and its value there."""

    row: int
    value: JSONScalar


@dataclass(frozen=True)
class Violation:
    """A broken rule.

    Attributes:
        column: The column, or None for a row-count rule.
        rule: The rule's key in the schema (``min_rows``/``max_rows`` for ``rows.min/max``,
            ``extra_columns`` for a column the schema does not list).
        severity: ``error`` halts a pipeline; ``warning`` is recorded.
        n_failed: How many rows break it. For ``required``, ``type`` and ``extra_columns``
            that is every row of the column; for ``max_null_fraction`` the null values; for
            ``min_rows``/``max_rows`` how many rows short of or beyond the bound.
        examples: Up to 5 offending rows, first ones first.
        message: One line saying what is wrong.
    """

    column: str | None
    rule: RuleName
    severity: Severity
    n_failed: int
    examples: tuple[Example, ...]
    message: str

    def to_dict(self) -> dict[str, Any]:
        """The violation as JSON-able data."""
        return {
            "column": self.column,
            "rule": self.rule,
            "severity": self.severity,
            "n_failed": self.n_failed,
            "examples": [{"row": e.row, "value": e.value} for e in self.examples],
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Violation:
        """The violation :meth:`to_dict` gave."""
        rule, severity = data["rule"], data["severity"]
        if rule not in get_args(RuleName) or severity not in get_args(Severity):
            raise ValueError(f"unknown rule {rule!r} or severity {severity!r}")
        return cls(
            column=data["column"],
            rule=rule,
            severity=severity,
            n_failed=int(data["n_failed"]),
            examples=tuple(Example(int(e["row"]), e["value"]) for e in data["examples"]),
            message=str(data["message"]),
        )


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of validating data against a schema.

    Attributes:
        dataset: The schema's dataset, if it names one.
        n_rows: How many rows were validated.
        violations: Every broken rule, row-count rules first, then columns in schema order.
    """

    dataset: str | None
    n_rows: int
    violations: tuple[Violation, ...]

    @property
    def passed(self) -> bool:
        """True when no rule of severity ``error`` is broken (warnings may be)."""
        return not self.errors

    @property
    def errors(self) -> tuple[Violation, ...]:
        """The broken rules of severity ``error``."""
        return tuple(v for v in self.violations if v.severity == "error")

    @property
    def warnings(self) -> tuple[Violation, ...]:
        """The broken rules of severity ``warning``."""
        return tuple(v for v in self.violations if v.severity == "warning")

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-able data (``passed`` included for readers of the JSON)."""
        return {
            "dataset": self.dataset,
            "passed": self.passed,
            "n_rows": self.n_rows,
            "violations": [v.to_dict() for v in self.violations],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ValidationReport:
        """The report :meth:`to_dict` gave.

        Raises:
            InvalidValueError: ``data`` is not such a report.
        """
        try:
            return cls(
                dataset=cast("str | None", data["dataset"]),
                n_rows=int(data["n_rows"]),
                violations=tuple(Violation.from_dict(v) for v in data["violations"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidValueError(
                f"Not a validation report: {type(exc).__name__}: {exc}.",
                hint="Pass what ValidationReport.to_dict() returned.",
            ) from None

    def raise_for_errors(
        self, *, source: str | None = None, schema_path: str | None = None
    ) -> None:
        """Raise :class:`~conveyor.core.DataValidationError` if an ``error`` rule is broken.

        Args:
            source: The data source, for the hint's command (``<source>`` if not given).
            schema_path: The schema file, for the hint's command.

        Raises:
            DataValidationError: with this report as its ``report`` field.
        """
        errors = self.errors
        if not errors:
            return
        named = ", ".join(
            f"{v.column + ' ' if v.column else ''}{v.rule} ({v.n_failed:,} row{_s(v.n_failed)})"
            for v in errors[:_NAMED_IN_MESSAGE]
        )
        if len(errors) > _NAMED_IN_MESSAGE:
            named += f", and {len(errors) - _NAMED_IN_MESSAGE} more"
        n_warned = len(self.warnings)
        if n_warned:
            named += f"; {n_warned} warning rule{_s(n_warned)} broken too"
        data = f"Data for {self.dataset!r}" if self.dataset else "The data"
        raise DataValidationError(
            f"{data} broke {len(errors)} error rule{_s(len(errors))} of its schema in "
            f"{self.n_rows:,} row{_s(self.n_rows)}: {named}.",
            hint="See the full report with: conveyor data validate "
            f"{source or '<source>'} --schema {schema_path or '<schema file>'}",
            report=self,
            dataset=self.dataset,
        )


def _s(n: int) -> str:
    return "" if n == 1 else "s"
