"""Gate results and the report: what an evaluation found, ready to be signed.

:meth:`GateReport.to_dict` is canonical JSON-ready data (floats to 6 significant digits,
``None`` for NaN, keys in a fixed order), so equal evaluations give equal bytes under
``conveyor.core.canonical_json`` and the registry can sign their digest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ._metrics import Task

__all__ = ["GateKind", "GateReport", "GateResult"]

GateKind = Literal["threshold", "change", "decision", "slice"]
REPORT_FORMAT = 1


@dataclass(frozen=True)
class GateResult:
    """One rule's outcome.

    Attributes:
        name: Stable name (``"roc_auc >= 0.7"``, ``"roc_auc superiority"``,
            ``"carrier=AA roc_auc max_regression"``).
        kind: ``"threshold"``, ``"change"``, ``"decision"`` or ``"slice"``.
        metric: The metric the rule reads.
        passed: Whether the rule lets the challenger through (a skipped rule passes, and
            says why in ``reason``).
        reason: One sentence a person can act on.
        figure: The challenger's metric.
        baseline: The champion's metric on the same rows, if there is a champion.
        threshold: The number the rule compared against (a threshold, champion + change,
            or for a decision the bound on Δ = challenger − champion).
        operator: How ``figure`` (or the bound) was compared with ``threshold``.
        estimate: Δ = challenger − champion (decisions and statistical slice rules).
        interval: One-sided ``(lower, upper)`` bounds of Δ at ``confidence``.
        se: Standard error of Δ: margins much below ``resolution`` cannot be shown.
        resolution: ``z · se``, the smallest difference this holdout can resolve at
            ``confidence``.
        p_value: One-sided p-value of the rule's test.
        p_value_adjusted: Holm-adjusted p-value (statistical slice rules).
        test: ``"delong"``, ``"mcnemar"`` or ``"bootstrap"``.
        confidence: The confidence of the bounds.
        skipped: The rule could not judge (no champion, too few rows) and did not block.
        slice: ``{"column", "value", "n_rows"}`` for a slice rule.
        n: Rows the rule judged.
    """

    name: str
    kind: GateKind
    metric: str
    passed: bool
    reason: str
    figure: float | None = None
    baseline: float | None = None
    threshold: float | None = None
    operator: str | None = None
    estimate: float | None = None
    interval: tuple[float, float] | None = None
    se: float | None = None
    resolution: float | None = None
    p_value: float | None = None
    p_value_adjusted: float | None = None
    test: str | None = None
    confidence: float | None = None
    skipped: bool = False
    slice: Mapping[str, Any] | None = None
    n: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            name: canonical(getattr(self, name))
            for name in self.__dataclass_fields__  # declared order, the same every time
        }


@dataclass(frozen=True)
class GateReport:
    """Every gate's outcome for one challenger on one holdout.

    Attributes:
        passed: Whether every gate passed.
        task: ``"classification"`` or ``"regression"``.
        n: Holdout rows.
        gates: Every rule's :class:`GateResult`, in spec order.
        metrics: The challenger's metrics on the whole holdout.
        baseline_metrics: The champion's, or ``None`` without a champion.
        slices: Per-slice metrics of challenger and champion (when slices were given).
        spec: The spec evaluated, as plain data.
    """

    passed: bool
    task: Task
    n: int
    gates: tuple[GateResult, ...]
    metrics: Mapping[str, float | None]
    baseline_metrics: Mapping[str, float | None] | None
    slices: tuple[Mapping[str, Any], ...] = ()
    spec: Mapping[str, Any] = field(default_factory=dict)

    @property
    def has_champion(self) -> bool:
        return self.baseline_metrics is not None

    @property
    def failures(self) -> list[GateResult]:
        """The gates that did not pass."""
        return [gate for gate in self.gates if not gate.passed]

    def summary(self) -> str:
        """One line per gate: ``PASS``/``FAIL``/``SKIP``, its name and its reason."""
        verdict = "passed" if self.passed else f"failed ({len(self.failures)} of {len(self.gates)})"
        lines = [f"Evaluation on {self.n:,} rows {verdict}."]
        for gate in self.gates:
            mark = "SKIP" if gate.skipped else ("PASS" if gate.passed else "FAIL")
            lines.append(f"{mark}  {gate.name}: {gate.reason}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Canonical JSON-ready data: floats to 6 significant digits, ``None`` for NaN.

        Equal reports give equal data, so ``conveyor.core.canonical_json`` of it is a
        stable digest for the registry to sign.
        """
        return {
            "format": REPORT_FORMAT,
            "passed": self.passed,
            "task": self.task,
            "n": self.n,
            "has_champion": self.has_champion,
            "metrics": canonical(self.metrics),
            "baseline_metrics": canonical(self.baseline_metrics),
            "gates": [gate.to_dict() for gate in self.gates],
            "slices": canonical(self.slices),
            "spec": canonical(self.spec),
        }


def canonical(value: Any) -> Any:
    """``value`` as plain JSON data: floats rounded to 6 significant digits, NaN as None."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return float(f"{value:.6g}") if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if hasattr(value, "item"):  # a numpy scalar
        return canonical(value.item())
    return str(value)


def fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.1f}"
    if magnitude >= 0.001 or value == 0:
        return f"{value:.3f}"
    return f"{value:.2e}"


def signed(value: float) -> str:
    text = fmt(value + 0.0)  # -0.0 reads +0.000
    return text if text.startswith("-") else f"+{text}"


def fmt_p(p: float) -> str:
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"
