"""Gate specifications: what a ``[train.gates.NAME]`` table of conveyor.toml holds.

Pydantic models, frozen, refusing unknown keys. Built from plain data with
:func:`parse_gate_spec` or directly in Python; either way a bad value raises
:class:`~conveyor.core.InvalidValueError` naming every bad key path, with a ``Did you
mean`` for a misspelt key or metric. docs/gates.md describes every rule.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..core import InvalidValueError, did_you_mean
from ._gate_report import fmt
from ._metrics import GREATER_IS_BETTER, METRICS

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

__all__ = [
    "ChangeThreshold",
    "Decision",
    "GateSpec",
    "SliceRule",
    "ValueThreshold",
    "parse_gate_spec",
]

Operator = Literal[">=", ">", "<=", "<"]
Mode = Literal["superiority", "non_inferiority"]
TestName = Literal["delong", "bootstrap", "mcnemar"]

_OPERATORS: dict[str, Operator] = {">=": ">=", ">": ">", "<=": "<=", "<": "<", "≥": ">=", "≤": "<="}
_THRESHOLD_TEXT = re.compile(r"\s*(>=|<=|>|<|≥|≤)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*")


class _Spec(BaseModel):
    """Frozen, no unknown keys; a bad value raises InvalidValueError naming the key path."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _spec_error(exc, type(self), type(self).__name__) from None

    # Only for construction in Python: pydantic calls a custom __init__ for nested models
    # too, which would turn one error into nested messages. The marker (the one
    # BaseModel.__init__ carries) tells it to validate nested data directly.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]


def _check_metric(name: object) -> str:
    if not isinstance(name, str) or name not in METRICS:
        raise ValueError(
            f"unknown metric {name!r}.{did_you_mean(str(name), METRICS)} Known metrics: "
            + ", ".join(METRICS)
        )
    return name


def _check_confidence(value: float) -> float:
    if not 0.5 < value < 1:
        raise ValueError(
            f"confidence must be between 0.5 and 1 (exclusive), such as 0.95. Got {value!r}"
        )
    return value


class ValueThreshold(_Spec):
    """An absolute bound on a metric: ``value_threshold`` in TFX terms.

    Written as text in a spec: ``">= 0.70"``, ``"< 0.6"`` (operators ``>=``, ``>``, ``<=``,
    ``<``); a bare number means ``>=`` for a metric where greater is better and ``<=``
    otherwise (MLflow's ``threshold``).
    """

    operator: Operator
    value: float = Field(allow_inf_nan=False)

    def holds(self, figure: float) -> bool:
        if self.operator == ">=":
            return figure >= self.value
        if self.operator == ">":
            return figure > self.value
        if self.operator == "<=":
            return figure <= self.value
        return figure < self.value

    def __str__(self) -> str:
        return f"{self.operator} {fmt(self.value)}"


def parse_threshold(metric: str, raw: Any) -> Any:
    """``">= 0.7"`` or a bare number as the mapping :class:`ValueThreshold` validates."""
    if isinstance(raw, str):
        match = _THRESHOLD_TEXT.fullmatch(raw)
        if match is None:
            raise ValueError(
                f"the threshold for {metric!r} must be a comparison such as '>= 0.70' "
                f"(operators >=, >, <=, <). Got {raw!r}"
            )
        return {"operator": _OPERATORS[match.group(1)], "value": float(match.group(2))}
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        operator = ">=" if GREATER_IS_BETTER.get(metric, True) else "<="
        return {"operator": operator, "value": raw}
    if isinstance(raw, Mapping | ValueThreshold):
        return raw
    raise ValueError(
        f"the threshold for {metric!r} must be a comparison such as '>= 0.70' or a number. "
        f"Got {raw!r}"
    )


def _thresholds(raw: Any) -> Any:
    if not isinstance(raw, Mapping):
        return raw
    return {metric: parse_threshold(str(metric), value) for metric, value in raw.items()}


def _metric_keys(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    for name in raw:
        _check_metric(name)
    return raw


class ChangeThreshold(_Spec):
    """A change rule against the champion with MLflow ``MetricThreshold`` semantics.

    With ``greater_is_better`` (inferred from the metric unless given):

    - ``min_absolute_change`` (> 0): passes iff ``challenger >= champion + change``
      (lower is better: ``challenger <= champion - change``);
    - ``min_relative_change`` (in [0, 1]): passes iff
      ``(challenger - champion) / |champion| >= change`` (lower is better:
      ``(champion - challenger) / |champion|``). When the champion's value is 0, MLflow's
      fallback applies: the challenger must be better by ``1e-10``. conveyor divides by
      ``|champion|`` where MLflow divides by the signed value, so a negative champion (an
      R² below 0) does not flip the rule.

    Both are point comparisons: see :class:`Decision` for a rule with a confidence.
    """

    min_absolute_change: float | None = Field(None, gt=0, allow_inf_nan=False)
    min_relative_change: float | None = Field(None, ge=0, le=1)
    greater_is_better: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> ChangeThreshold:
        if self.min_absolute_change is None and self.min_relative_change is None:
            raise ValueError("a change rule needs min_absolute_change, min_relative_change or both")
        return self


class Decision(_Spec):
    """A statistical decision against the champion, paired on the same holdout rows.

    With Δ = challenger − champion (sign-flipped for a metric where lower is better, so Δ > 0
    always means "challenger better") and its one-sided lower bound L at ``confidence``:

    - ``mode="superiority"`` passes iff ``L > +margin``: better by more than the margin;
    - ``mode="non_inferiority"`` passes iff ``L > -margin``: not worse by the margin or more.

    ``test`` defaults by metric: ``delong`` for ``roc_auc`` (``bootstrap`` for a multiclass
    AUC), ``mcnemar`` for ``accuracy`` (its exact p-value must agree too when the margin
    is 0), ``bootstrap`` for everything else.
    """

    metric: str
    test: TestName | None = None
    mode: Mode = "superiority"
    margin: float = Field(0.0, ge=0, allow_inf_nan=False)
    confidence: float = 0.95
    n_resamples: int = Field(2000, ge=100, le=1_000_000)
    seed: int = Field(0, ge=0)

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        return _check_metric(value)

    @field_validator("confidence")
    @classmethod
    def _confidence(cls, value: float) -> float:
        return _check_confidence(value)

    @model_validator(mode="after")
    def _fits(self) -> Decision:
        if self.test == "delong" and self.metric != "roc_auc":
            raise ValueError(f"test 'delong' compares ROC AUCs; use 'bootstrap' for {self.metric}")
        if self.test == "mcnemar" and self.metric != "accuracy":
            raise ValueError(
                f"test 'mcnemar' compares accuracies; use 'bootstrap' for {self.metric}"
            )
        if self.mode == "non_inferiority" and self.margin == 0:
            raise ValueError(
                "a non-inferiority decision needs a margin > 0 (how much worse than the "
                "champion is still acceptable, e.g. margin = 0.005); with margin 0 it is "
                "mode = 'superiority'"
            )
        return self

    @property
    def bound(self) -> float:
        """The improvement the lower bound must exceed: ``+margin`` or ``-margin``."""
        return self.margin if self.mode == "superiority" else -self.margin


class SliceRule(_Spec):
    """Per-slice rules: every value of every column in ``columns`` is a slice.

    - ``thresholds``: absolute bounds every judged slice must meet (as in
      :class:`GateSpec`);
    - ``max_regression``: per metric, how far a slice may fall behind the champion on the
      same slice (in the metric's units, in the worse direction). By default a point
      comparison: a slice that fell further blocks. With ``statistical = true`` a slice
      blocks only if its regression beyond ``max_regression`` is significant at
      ``confidence``, the p-values of all slices and metrics Holm-adjusted together
      (``correction = "holm"``), so adding slices does not add false blocks.
    - ``min_rows``: a slice with fewer rows (or whose metric is undefined, e.g. an AUC
      on a slice with one class) is reported "too few rows to judge"; it does not block
      unless ``require_all_slices`` is set. It never passes silently: the report says so.
    """

    columns: list[str] = Field(min_length=1)
    thresholds: dict[str, ValueThreshold] = Field(default_factory=dict)
    max_regression: dict[str, float] = Field(default_factory=dict)
    min_rows: int = Field(30, ge=1)
    require_all_slices: bool = False
    statistical: bool = False
    confidence: float = 0.95
    correction: Literal["holm", "none"] = "holm"
    n_resamples: int = Field(2000, ge=100, le=1_000_000)
    seed: int = Field(0, ge=0)

    @field_validator("confidence")
    @classmethod
    def _confidence(cls, value: float) -> float:
        return _check_confidence(value)

    @field_validator("thresholds", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        return _thresholds(value)

    @field_validator("thresholds", "max_regression")
    @classmethod
    def _known(cls, value: dict[str, Any]) -> dict[str, Any]:
        _metric_keys(value)
        return value

    @field_validator("max_regression")
    @classmethod
    def _non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        for metric, allowed in value.items():
            if not math.isfinite(allowed) or allowed < 0:
                raise ValueError(
                    f"max_regression for {metric!r} must be a number >= 0 (0: no regression "
                    f"allowed). Got {allowed!r}"
                )
        return value

    @model_validator(mode="after")
    def _something(self) -> SliceRule:
        if not self.thresholds and not self.max_regression:
            raise ValueError("a slice rule needs thresholds, max_regression or both")
        return self


class GateSpec(_Spec):
    """The gates one challenger must pass: the contents of a ``[train.gates.NAME]`` table.

    Example (conveyor.toml)::

        [train.gates.default]
        thresholds = { roc_auc = ">= 0.70", log_loss = "<= 0.6" }
        change = { roc_auc = { min_absolute_change = 0.005 } }
        decision = { metric = "roc_auc", mode = "non_inferiority", margin = 0.005 }
        slices = { columns = ["carrier"], max_regression = { roc_auc = 0.02 }, min_rows = 200 }

    The same in Python::

        GateSpec(
            thresholds={"roc_auc": ">= 0.70"},
            decision=[Decision(metric="roc_auc", mode="non_inferiority", margin=0.005)],
        )

    ``decision`` holds one table or a list of them (``[[train.gates.NAME.decision]]``). Every
    rule must pass. Several decisions need no multiplicity correction: promotion needs all
    of them (an intersection-union test), so each at level α keeps the chance of promoting
    a model that fails any one of them at most α.
    """

    thresholds: dict[str, ValueThreshold] = Field(default_factory=dict)
    change: dict[str, ChangeThreshold] = Field(default_factory=dict)
    decision: list[Decision] = Field(default_factory=list)
    slices: SliceRule | None = None

    @field_validator("thresholds", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        return _thresholds(value)

    @field_validator("thresholds", "change")
    @classmethod
    def _known(cls, value: dict[str, Any]) -> dict[str, Any]:
        _metric_keys(value)
        return value

    @field_validator("decision", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, Mapping | Decision) else value

    @model_validator(mode="after")
    def _something(self) -> GateSpec:
        if not (self.thresholds or self.change or self.decision or self.slices):
            raise ValueError(
                "a gate spec needs at least one of thresholds, change, decision, slices "
                "(an empty gate would pass every model)"
            )
        return self

    def metrics(self) -> set[str]:
        """Every metric a rule of this spec reads."""
        names = set(self.thresholds) | set(self.change) | {d.metric for d in self.decision}
        if self.slices is not None:
            names |= set(self.slices.thresholds) | set(self.slices.max_regression)
        return names


def parse_gate_spec(raw: Any, *, name: str = "default") -> GateSpec:
    """Validate a gate spec given as plain data (a ``[train.gates.NAME]`` table's content).

    Args:
        raw: A mapping with keys ``thresholds``, ``change``, ``decision``, ``slices``.
        name: The gate's name, for messages (``[train.gates.<name>]``).

    Raises:
        InvalidValueError: naming every bad key path, what it should be, and a
            ``Did you mean`` for a misspelt key or metric.

    Example:
        >>> parse_gate_spec({"thresholds": {"roc_auc": ">= 0.7"}}).thresholds["roc_auc"].value
        0.7
    """
    source = f"[train.gates.{name}]"
    if isinstance(raw, GateSpec):
        return raw
    if not isinstance(raw, Mapping):
        raise InvalidValueError(
            f"{source} must be a table with keys such as 'thresholds' and 'decision'. Got "
            f"{type(raw).__name__}: {raw!r:.80}.",
            hint=_HINT,
        )
    try:
        return GateSpec.model_validate(raw)
    except ValidationError as exc:
        raise _spec_error(exc, GateSpec, source) from None


_HINT = "docs/gates.md describes every key of a gate spec."
_NESTED: dict[str, type[BaseModel]] = {
    "change": ChangeThreshold,
    "decision": Decision,
    "slices": SliceRule,
    "thresholds": ValueThreshold,
}


def _spec_error(exc: ValidationError, root: type[BaseModel], source: str) -> InvalidValueError:
    problems = "; ".join(_problem(err, root) for err in exc.errors())
    end = "" if problems.endswith(("?", ".")) else "."
    return InvalidValueError(f"Invalid gate spec {source}: {problems}{end}", hint=_HINT)


def _problem(err: ErrorDetails, root: type[BaseModel]) -> str:
    loc = list(err["loc"])
    key = ".".join(str(part) for part in loc)
    message = err["msg"].removeprefix("Value error, ").rstrip(".")
    kind = err["type"]
    if kind == "extra_forbidden":
        model: type[BaseModel] = root
        for part in loc[:-1]:
            if isinstance(part, str) and part in model.model_fields and part in _NESTED:
                model = _NESTED[part]
        known = list(model.model_fields)
        return (
            f"unknown key {key!r}.{did_you_mean(str(loc[-1]), known)} Known keys here: "
            + ", ".join(known)
        )
    if kind == "missing":
        return f"key {key!r} is missing"
    message = message.replace("Input should be", "must be")
    if not key:
        return message
    got = "" if "Got " in message or kind == "value_error" else f". Got {err['input']!r}"
    if kind == "literal_error" and isinstance(err["input"], str):
        options = re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
        suggestion = did_you_mean(err["input"], options)
        got += f".{suggestion}" if suggestion else ""
    return f"key {key!r}: {message}{got}"
