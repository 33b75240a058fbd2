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
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..core import InvalidValueError
from ._bootstrap import bootstrap_compare, classification_evaluator, regression_evaluator, strata_of
from ._gate_report import GateKind, GateReport, GateResult, fmt, fmt_p, signed
from ._gate_spec import (
    ChangeThreshold,
    Decision,
    GateSpec,
    SliceRule,
    ValueThreshold,
    parse_gate_spec,
)
from ._metrics import (
    GREATER_IS_BETTER,
    Classes,
    Task,
    check_task,
    compute_classification,
    compute_regression,
    metric_names,
    prepare_classes,
    prepare_regression,
)
from ._slices import slice_groups, too_few_rows
from ._stats import Alternative, PairedComparison, delong_compare, holm, mcnemar_compare, z_value

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["evaluate_gates"]

# MLflow's fallback when the baseline is 0: "better than the baseline by 1e-10".
_ZERO_BASELINE_STEP = 1e-10
_UNDEFINED_WHY = {
    "roc_auc": "it needs rows of both classes",
    "log_loss": "it needs probabilities",
    "ece": "it needs probabilities",
    "r2": "the target is constant",
}


@dataclass
class _Models:
    """The challenger and (maybe) the champion, checked and encoded once."""

    task: Task
    n: int
    challenger: Any  # Classes, or (y, predictions) for regression
    champion: Any | None
    metrics: dict[str, float | None]
    baseline_metrics: dict[str, float | None] | None

    @classmethod
    def build(
        cls,
        task: Task,
        y_true: Any,
        challenger: Any,
        champion: Any | None,
        threshold: float,
        labels: Sequence[Any] | None,
    ) -> _Models:
        if task == "classification":
            data = prepare_classes(
                y_true, challenger, labels=labels, threshold=threshold, what="challenger_scores"
            )
            base = (
                None
                if champion is None
                else prepare_classes(
                    y_true,
                    champion,
                    labels=data.labels,
                    threshold=threshold,
                    what="champion_scores",
                )
            )
            return cls(
                task,
                data.n,
                data,
                base,
                compute_classification(data),
                None if base is None else compute_classification(base),
            )
        y, predictions = prepare_regression(y_true, challenger, "challenger_scores")
        base_predictions = (
            None if champion is None else prepare_regression(y, champion, "champion_scores")[1]
        )
        return cls(
            task,
            len(y),
            (y, predictions),
            None if base_predictions is None else (y, base_predictions),
            compute_regression(y, predictions),
            None if base_predictions is None else compute_regression(y, base_predictions),
        )

    def subset(self, rows: Any) -> _Models:
        def take(model: Any) -> Any:
            if model is None:
                return None
            if isinstance(model, Classes):
                return model.take(rows)
            return model[0][rows], model[1][rows]

        challenger, champion = take(self.challenger), take(self.champion)
        return _Models(
            self.task,
            len(rows),
            challenger,
            champion,
            self._metrics(challenger),
            None if champion is None else self._metrics(champion),
        )

    def _metrics(self, model: Any) -> dict[str, float | None]:
        if isinstance(model, Classes):
            return compute_classification(model)
        return compute_regression(*model)

    def default_test(self, metric: str) -> str:
        if metric == "roc_auc" and self.challenger.is_binary:
            return "delong"
        if metric == "accuracy":
            return "mcnemar"
        return "bootstrap"

    def compare(
        self,
        metric: str,
        test: str,
        *,
        null: float,
        alternative: Alternative,
        confidence: float,
        n_resamples: int,
        seed: int,
    ) -> PairedComparison:
        """Δ = challenger − champion of ``metric`` by ``test`` (needs a champion)."""
        a: Any = self.challenger
        b: Any = self.champion
        if b is None:
            raise InvalidValueError("There is no champion to compare with.")
        if test == "delong":
            if not a.is_binary:
                raise InvalidValueError(
                    f"test 'delong' compares binary AUCs; this holdout has {len(a.labels)} "
                    "classes.",
                    hint="Use test = 'bootstrap' for a multiclass AUC.",
                )
            return delong_compare(
                a.codes == 1,
                a.scores,
                b.scores,
                confidence=confidence,
                null=null,
                alternative=alternative,
            )
        if test == "mcnemar":
            return mcnemar_compare(
                a.predictions == a.codes,
                b.predictions == b.codes,
                confidence=confidence,
                null=null,
                alternative=alternative,
            )
        point_a, point_b = self.metrics[metric], (self.baseline_metrics or {})[metric]
        if point_a is None or point_b is None:
            raise InvalidValueError(f"{metric} is undefined on these rows.")
        if self.task == "classification":
            eval_a = classification_evaluator(metric, a)
            eval_b = classification_evaluator(metric, b)
            strata = strata_of(a.codes)
            width = 1 if a.is_binary else len(a.labels)
            width = max(width, 10) if metric == "ece" else width
        else:
            eval_a = regression_evaluator(metric, *a)
            eval_b = regression_evaluator(metric, *b)
            strata, width = None, 1
        return bootstrap_compare(
            metric,
            eval_a,
            eval_b,
            point=(point_a, point_b),
            strata=strata,
            n=self.n,
            n_resamples=n_resamples,
            confidence=confidence,
            seed=seed,
            null=null,
            alternative=alternative,
            width=width,
        )


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
        spec: A :class:`GateSpec`, or the mapping a ``[gates.NAME]`` table holds.
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
    models = _Models.build(task, y_true, challenger_scores, champion_scores, threshold, labels)
    results: list[GateResult] = []
    for metric, bound in spec.thresholds.items():
        results.append(
            _threshold_gate(metric, bound, models.metrics, models.baseline_metrics, models.n)
        )
    for metric, rule in spec.change.items():
        results.extend(_change_gates(metric, rule, models))
    for decision in spec.decision:
        results.append(_decision_gate(decision, models))
    slice_table: list[dict[str, Any]] = []
    if spec.slices is not None:
        slice_results, slice_table = _slice_gates(spec.slices, models, slices)
        results.extend(slice_results)
    results = _unique_names(results)
    return GateReport(
        passed=all(gate.passed for gate in results),
        task=task,
        n=models.n,
        gates=tuple(results),
        metrics=models.metrics,
        baseline_metrics=models.baseline_metrics,
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


def _undefined(metric: str, where: str) -> str:
    why = _UNDEFINED_WHY.get(metric)
    return f"{metric} is undefined {where}" + (f" ({why})" if why else "")


def _threshold_gate(
    metric: str,
    bound: ValueThreshold,
    metrics: Mapping[str, float | None],
    baseline: Mapping[str, float | None] | None,
    n: int,
    *,
    where: str = "",
    slice_info: Mapping[str, Any] | None = None,
) -> GateResult:
    figure = metrics.get(metric)
    name = (
        f"{metric} {bound}"
        if slice_info is None
        else f"{_slice_label(slice_info)} {metric} {bound}"
    )
    common: dict[str, Any] = {
        "name": name,
        "kind": "threshold" if slice_info is None else "slice",
        "metric": metric,
        "figure": figure,
        "baseline": None if baseline is None else baseline.get(metric),
        "threshold": bound.value,
        "operator": bound.operator,
        "slice": slice_info,
        "n": n,
    }
    if figure is None:
        return GateResult(
            passed=False,
            reason=_undefined(metric, where or "on this holdout") + ": the threshold cannot hold.",
            **common,
        )
    passed = bound.holds(figure)
    if passed:
        reason = f"{metric} {fmt(figure)}{where} meets the threshold {bound}."
    else:
        words = {">=": "is below", ">": "is not above", "<=": "is above", "<": "is not below"}
        reason = (
            f"{metric} {fmt(figure)}{where} {words[bound.operator]} the threshold "
            f"{fmt(bound.value)}."
        )
    return GateResult(passed=passed, reason=reason, **common)


def _no_champion(
    name: str, kind: GateKind, metric: str, figure: float | None, n: int, **extra: Any
) -> GateResult:
    return GateResult(
        name=name,
        kind=kind,
        metric=metric,
        passed=True,
        skipped=True,
        reason=f"no champion: skipped (there is no champion to compare {metric} with).",
        figure=figure,
        n=n,
        **extra,
    )


def _change_gates(metric: str, rule: ChangeThreshold, models: _Models) -> list[GateResult]:
    greater = (
        GREATER_IS_BETTER[metric] if rule.greater_is_better is None else rule.greater_is_better
    )
    figure = models.metrics.get(metric)
    checks: list[tuple[str, float]] = []
    if rule.min_absolute_change is not None:
        checks.append(("min_absolute_change", rule.min_absolute_change))
    if rule.min_relative_change is not None:
        checks.append(("min_relative_change", rule.min_relative_change))
    out = []
    for check, amount in checks:
        name = f"{metric} {check}"
        if models.baseline_metrics is None:
            out.append(_no_champion(name, "change", metric, figure, models.n))
            continue
        base = models.baseline_metrics.get(metric)
        common: dict[str, Any] = {
            "name": name,
            "kind": "change",
            "metric": metric,
            "figure": figure,
            "baseline": base,
            "operator": ">=" if greater else "<=",
            "n": models.n,
        }
        if figure is None or base is None:
            who = "for the challenger" if figure is None else "for the champion"
            out.append(
                GateResult(
                    passed=False,
                    reason=_undefined(metric, f"{who} on this holdout")
                    + ": the change cannot be judged.",
                    **common,
                )
            )
            continue
        better_word = "above" if greater else "below"
        if check == "min_absolute_change":
            target = base + amount if greater else base - amount
            passed = figure >= target if greater else figure <= target
            sign = "+" if greater else "-"
            verdict = (
                ("is at least" if greater else "is at most")
                if passed
                else ("is below" if greater else "is above")
            )
            reason = (
                f"{metric} {fmt(figure)} {verdict} the champion's {fmt(base)} {sign} "
                f"min_absolute_change {fmt(amount)} = {fmt(target)}."
            )
        elif base == 0:
            # MLflow's fallback: with a zero baseline a relative change is undefined, so the
            # rule becomes "better than the baseline by 1e-10".
            target = _ZERO_BASELINE_STEP if greater else -_ZERO_BASELINE_STEP
            passed = figure >= target if greater else figure <= target
            reason = (
                f"the champion's {metric} is 0, so min_relative_change falls back to 'better "
                f"than the champion' (as MLflow does): {fmt(figure)} "
                f"{'is' if passed else 'is not'} {better_word} 0."
            )
        else:
            change = (figure - base) / abs(base) if greater else (base - figure) / abs(base)
            target = base + amount * abs(base) if greater else base - amount * abs(base)
            passed = change >= amount
            movement = "improves on" if change >= 0 else "falls behind"
            reason = (
                f"{metric} {fmt(figure)} {movement} the champion's {fmt(base)} by "
                f"{abs(change):.2%}; min_relative_change asks for an improvement of at least "
                f"{amount:.2%}."
            )
        out.append(GateResult(passed=passed, reason=reason, threshold=target, **common))
    return out


def _delta_name(metric: str) -> str:
    return "ΔAUC" if metric == "roc_auc" else f"Δ{metric}"


def _decision_gate(decision: Decision, models: _Models) -> GateResult:
    metric = decision.metric
    name = f"{metric} {decision.mode}"
    figure = models.metrics.get(metric)
    if models.champion is None:
        return _no_champion(
            name, "decision", metric, figure, models.n, confidence=decision.confidence
        )
    test = decision.test or models.default_test(metric)
    greater = GREATER_IS_BETTER[metric]
    # On Δ = challenger − champion: a greater-is-better metric needs Δ > +bound (its lower
    # bound above it); a lower-is-better one needs Δ < −bound (its upper bound below it).
    raw_bound = decision.bound if greater else -decision.bound
    alternative: Alternative = "greater" if greater else "less"
    common: dict[str, Any] = {
        "name": name,
        "kind": "decision",
        "metric": metric,
        "figure": figure,
        "baseline": (models.baseline_metrics or {}).get(metric),
        "threshold": raw_bound,
        "operator": ">" if greater else "<",
        "test": test,
        "confidence": decision.confidence,
        "n": models.n,
    }
    try:
        result = models.compare(
            metric,
            test,
            null=raw_bound,
            alternative=alternative,
            confidence=decision.confidence,
            n_resamples=decision.n_resamples,
            seed=decision.seed,
        )
    except InvalidValueError as exc:
        if "test 'delong' compares binary" in exc.message:
            raise
        return GateResult(passed=False, reason=f"cannot decide: {exc.message}", **common)
    alpha = 1 - decision.confidence
    bound = result.lower if greater else result.upper
    bound_ok = bound > raw_bound if greater else bound < raw_bound
    passed = bound_ok and result.p_value < alpha
    resolution = None if result.se is None else z_value(decision.confidence) * result.se
    level = f"{decision.confidence:.0%}"
    side = "lower" if greater else "upper"
    compare = (
        ("exceeds" if bound_ok else "does not exceed")
        if greater
        else ("is below" if bound_ok else "is not below")
    )
    what = (
        f"the margin {signed(raw_bound)}" if decision.mode == "superiority" else signed(raw_bound)
    )
    head = (
        f"{_delta_name(metric)} {signed(result.estimate)}, {level} {side} bound "
        f"{signed(bound)} {compare} {what}"
    )
    method = {"delong": "DeLong", "mcnemar": "McNemar", "bootstrap": "paired bootstrap"}[test]
    detail = f"{method}, SE {fmt(result.se)}, p={fmt_p(result.p_value)}"
    if passed:
        verdict = (
            "significantly better"
            if decision.mode == "superiority"
            else f"not worse than the champion by the margin {fmt(decision.margin)} or more"
        )
        reason = f"{head}: {verdict} ({detail})."
    else:
        if decision.mode == "superiority":
            verdict = (
                "not significantly better"
                if decision.margin == 0
                else (f"not shown better by more than the margin {fmt(decision.margin)}")
            )
        else:
            verdict = f"not shown to be within the margin {fmt(decision.margin)} of the champion"
        if bound_ok:  # only McNemar's exact p-value can disagree with its score interval
            head += f", but the exact p={fmt_p(result.p_value)} is not below {fmt(alpha)}"
        unresolved = ""
        if resolution is not None and decision.margin < resolution:
            unresolved = (
                f"; on {models.n:,} rows differences under about {fmt(resolution)} cannot "
                "be resolved"
            )
        reason = f"{head}: {verdict} ({detail}{unresolved})."
    return GateResult(
        passed=passed,
        reason=reason,
        estimate=result.estimate,
        interval=(result.lower, result.upper),
        se=result.se,
        resolution=resolution,
        p_value=result.p_value,
        **common,
    )


def _slice_label(info: Mapping[str, Any]) -> str:
    return f"{info['column']}={info['value']}"


def _slice_gates(
    rule: SliceRule, models: _Models, frame: Any
) -> tuple[list[GateResult], list[dict[str, Any]]]:
    results: list[GateResult] = []
    table: list[dict[str, Any]] = []
    # Statistical regression tests, decided together after Holm: (position, p-value).
    pending: list[tuple[int, float]] = []
    metrics = list(dict.fromkeys([*rule.thresholds, *rule.max_regression]))
    for column, value, rows in slice_groups(frame, rule.columns, models.n):
        n_rows = len(rows)
        info = {"column": column, "value": value, "n_rows": n_rows}
        label = _slice_label(info)
        part = models.subset(rows) if n_rows else None
        table.append(
            {
                **info,
                "enough_rows": n_rows >= rule.min_rows,
                "metrics": None if part is None else part.metrics,
                "baseline_metrics": None if part is None else part.baseline_metrics,
            }
        )
        if part is None or n_rows < rule.min_rows:
            note = too_few_rows(n_rows, rule.min_rows)
            for metric in metrics:
                results.append(
                    _cannot_judge(rule, f"{label} {metric}", metric, info, f"{label}: {note}")
                )
            continue
        where = f" on {label} ({n_rows:,} rows)"
        for metric, bound in rule.thresholds.items():
            if part.metrics.get(metric) is None:
                results.append(
                    _cannot_judge(
                        rule,
                        f"{label} {metric} {bound}",
                        metric,
                        info,
                        _undefined(metric, f"on {label}") + ": cannot judge",
                    )
                )
                continue
            results.append(
                _threshold_gate(
                    metric,
                    bound,
                    part.metrics,
                    part.baseline_metrics,
                    n_rows,
                    where=where,
                    slice_info=info,
                )
            )
        for metric, allowed in rule.max_regression.items():
            name = f"{label} {metric} max_regression"
            figure = part.metrics.get(metric)
            if part.baseline_metrics is None:
                results.append(_no_champion(name, "slice", metric, figure, n_rows, slice=info))
                continue
            base = part.baseline_metrics.get(metric)
            if figure is None or base is None:
                results.append(
                    _cannot_judge(
                        rule,
                        name,
                        metric,
                        info,
                        _undefined(metric, f"on {label}") + ": cannot judge",
                    )
                )
                continue
            greater = GREATER_IS_BETTER[metric]
            regression = base - figure if greater else figure - base
            common: dict[str, Any] = {
                "name": name,
                "kind": "slice",
                "metric": metric,
                "figure": figure,
                "baseline": base,
                "slice": info,
                "n": n_rows,
            }
            moved = "worsened" if regression > 0 else "improved" if regression < 0 else "held"
            change = f"{metric}{where} {moved} from {fmt(base)} to {fmt(figure)}"
            if not rule.statistical:
                passed = regression <= allowed
                within = "within" if passed else "more than"
                reason = (
                    f"{change}: a regression of {fmt(regression)}, {within} max_regression "
                    f"{fmt(allowed)}."
                    if regression > 0
                    else f"{change} against the champion: no regression."
                )
                results.append(
                    GateResult(
                        passed=passed,
                        reason=reason,
                        threshold=base - allowed if greater else base + allowed,
                        operator=">=" if greater else "<=",
                        **common,
                    )
                )
                continue
            # H1: the slice regressed by more than `allowed` (Δ < −allowed, or > +allowed
            # when lower is better); the slice blocks only if that is significant.
            null = -allowed if greater else allowed
            test = part.default_test(metric)
            try:
                result = part.compare(
                    metric,
                    test,
                    null=null,
                    alternative="less" if greater else "greater",
                    confidence=rule.confidence,
                    n_resamples=rule.n_resamples,
                    seed=rule.seed + len(results),
                )
            except InvalidValueError as exc:
                results.append(
                    _cannot_judge(rule, name, metric, info, f"{label}: cannot test: {exc.message}")
                )
                continue
            pending.append((len(results), result.p_value))
            results.append(
                GateResult(
                    passed=True,  # decided below, after the adjustment
                    reason=change,
                    threshold=null,
                    operator="<" if greater else ">",
                    estimate=result.estimate,
                    interval=(result.lower, result.upper),
                    se=result.se,
                    resolution=None if result.se is None else z_value(rule.confidence) * result.se,
                    p_value=result.p_value,
                    test=test,
                    confidence=rule.confidence,
                    **common,
                )
            )
    if pending:
        raw = [p for _, p in pending]
        adjusted = holm(raw) if rule.correction == "holm" else raw
        alpha = 1 - rule.confidence
        word = "Holm-adjusted p" if rule.correction == "holm" else "p"
        for (position, _), p_adjusted in zip(pending, adjusted, strict=True):
            gate = results[position]
            blocked = p_adjusted < alpha
            allowed = rule.max_regression[gate.metric]
            verdict = (
                f"a regression beyond max_regression {fmt(allowed)} is significant "
                f"({word}={fmt_p(p_adjusted)} < {fmt(alpha)}, {len(pending)} slice tests)"
                if blocked
                else f"a regression beyond max_regression {fmt(allowed)} is not significant "
                f"({word}={fmt_p(p_adjusted)}, {len(pending)} slice tests)"
            )
            results[position] = replace(
                gate,
                passed=not blocked,
                p_value_adjusted=p_adjusted if rule.correction == "holm" else None,
                reason=f"{gate.reason}: {verdict}.",
            )
    return results, table


def _cannot_judge(
    rule: SliceRule, name: str, metric: str, info: Mapping[str, Any], why: str
) -> GateResult:
    blocks = rule.require_all_slices
    suffix = " and require_all_slices is set, so it blocks" if blocks else "; it does not block"
    return GateResult(
        name=name,
        kind="slice",
        metric=metric,
        passed=not blocks,
        skipped=not blocks,
        reason=f"{why}{suffix}.",
        slice=info,
        n=int(info["n_rows"]),
    )
