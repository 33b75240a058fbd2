"""Evaluation gates: run a :class:`~conveyor.train.GateSpec` for a challenger (and the
champion) on one holdout and explain every outcome.

Four kinds of rule, all of which must pass:

- ``thresholds``: absolute bounds on the challenger's metrics (``roc_auc = ">= 0.70"``);
- ``change``: MLflow ``MetricThreshold`` change rules against the champion on the same
  rows (``min_absolute_change``, ``min_relative_change``, ``greater_is_better``);
- ``decision``: a paired statistical test against the champion with a margin and a
  confidence (superiority or non-inferiority; DeLong, McNemar or a paired bootstrap);
- ``slices``: per-slice thresholds and no-regression rules; a slice with too few rows is
  reported as too small to judge, never passed silently.

Without a champion, the rules that need one are reported "no champion: skipped".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..core import InvalidValueError
from ._gate_report import GateReport, GateResult
from ._gate_rules import change_gates, decision_gate, slice_gates, threshold_gate
from ._gate_spec import GateSpec, parse_gate_spec
from ._holdout import Holdout
from ._metrics import Task, check_task, metric_names

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["evaluate_gates"]


def evaluate_gates(
    spec: GateSpec | Mapping[str, Any],
    *,
    y_true: npt.ArrayLike,
    challenger_scores: npt.ArrayLike,
    champion_scores: npt.ArrayLike | None = None,
    slices: Any = None,
    task: Task = "classification",
    threshold: float = 0.5,
    labels: Sequence[Any] | None = None,
) -> GateReport:
    """Run every gate of ``spec`` for a challenger (and the champion) on one holdout.

    Without a champion, the rules that compare with one (``change``, ``decision``, slice
    ``max_regression``) are reported ``"no champion: skipped"``: they pass, explicitly.

    Args:
        spec: A :class:`GateSpec`, or the mapping a ``[train.gates.NAME]`` table holds.
        y_true: The holdout's true labels or values.
        challenger_scores: The challenger's scores or probabilities (classification, as
            :func:`~conveyor.train.classification_metrics` takes them) or predictions
            (regression), aligned with ``y_true``.
        champion_scores: The champion's, on the same rows; ``None`` when there is no
            champion yet.
        slices: A DataFrame (or mapping of column to values) holding the slice columns,
            aligned row by row with ``y_true``; needed when the spec has slice rules.
        task: ``"classification"`` or ``"regression"``.
        threshold: Binary decision threshold on the scores (accuracy, precision ...).
        labels: Class order of the score columns (see ``classification_metrics``).

    Returns:
        A :class:`GateReport`; ``report.passed`` is whether every gate passed.

    Raises:
        InvalidValueError: a bad spec, a metric that does not fit ``task``, bad or
            misaligned inputs, or slice rules without a slices frame.

    Example:
        >>> report = evaluate_gates(
        ...     {"thresholds": {"roc_auc": ">= 0.70"},
        ...      "decision": {"metric": "roc_auc", "mode": "non_inferiority", "margin": 0.005}},
        ...     y_true=y, challenger_scores=p_new, champion_scores=p_old)
        >>> report.passed, [g.reason for g in report.failures]  # doctest: +SKIP
    """
    spec = parse_gate_spec(spec) if not isinstance(spec, GateSpec) else spec
    task = check_task(task)
    wrong = sorted(spec.metrics() - set(metric_names(task)))
    if wrong:
        other = "regression" if task == "classification" else "classification"
        raise InvalidValueError(
            f"The gate spec reads {', '.join(wrong)}, which "
            f"{'is a' if len(wrong) == 1 else 'are'} {other} metric{'s' if len(wrong) > 1 else ''}"
            f", but task is {task!r}. "
            f"{task.capitalize()} metrics: {', '.join(metric_names(task))}.",
            hint="Fix the gate spec or the task.",
        )
    if spec.slices is not None and slices is None:
        raise InvalidValueError(
            f"The gate spec has slice rules on {spec.slices.columns} but no slices were given.",
            hint="Pass slices= a DataFrame of those columns, aligned with y_true.",
        )
    holdout = Holdout.build(task, y_true, challenger_scores, champion_scores, threshold, labels)
    results: list[GateResult] = []
    for metric, bound in spec.thresholds.items():
        results.append(
            threshold_gate(metric, bound, holdout.metrics, holdout.baseline_metrics, holdout.n)
        )
    for metric, rule in spec.change.items():
        results.extend(change_gates(metric, rule, holdout))
    for decision in spec.decision:
        results.append(decision_gate(decision, holdout))
    slice_table: list[dict[str, Any]] = []
    if spec.slices is not None:
        slice_results, slice_table = slice_gates(spec.slices, holdout, slices)
        results.extend(slice_results)
    results = _unique_names(results)
    return GateReport(
        passed=all(gate.passed for gate in results),
        task=task,
        n=holdout.n,
        gates=tuple(results),
        metrics=holdout.metrics,
        baseline_metrics=holdout.baseline_metrics,
        slices=tuple(slice_table),
        spec=spec.model_dump(mode="json"),
    )


def _unique_names(results: list[GateResult]) -> list[GateResult]:
    seen: dict[str, int] = {}
    out = []
    for result in results:
        count = seen.get(result.name, 0) + 1
        seen[result.name] = count
        out.append(result if count == 1 else replace(result, name=f"{result.name} #{count}"))
    return out
