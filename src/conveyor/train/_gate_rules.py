"""The four kinds of gate rule, each turning a holdout into :class:`GateResult` values with
a one-sentence reason: thresholds, MLflow change rules, statistical decisions and slices."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..core import InvalidValueError
from ._gate_report import GateKind, GateResult, fmt, fmt_p, signed
from ._gate_spec import ChangeThreshold, Decision, SliceRule, ValueThreshold
from ._holdout import Holdout
from ._metrics import GREATER_IS_BETTER
from ._slices import slice_groups, too_few_rows
from ._stats import Alternative, holm, z_value

__all__ = ["change_gates", "decision_gate", "slice_gates", "threshold_gate"]

# MLflow's fallback when the baseline is 0: "better than the baseline by 1e-10".
_ZERO_BASELINE_STEP = 1e-10
_UNDEFINED_WHY = {
    "roc_auc": "it needs rows of both classes",
    "log_loss": "it needs probabilities",
    "ece": "it needs probabilities",
    "r2": "the target is constant",
}


def _undefined(metric: str, where: str) -> str:
    why = _UNDEFINED_WHY.get(metric)
    return f"{metric} is undefined {where}" + (f" ({why})" if why else "")


def threshold_gate(
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


def change_gates(metric: str, rule: ChangeThreshold, holdout: Holdout) -> list[GateResult]:
    greater = (
        GREATER_IS_BETTER[metric] if rule.greater_is_better is None else rule.greater_is_better
    )
    figure = holdout.metrics.get(metric)
    checks: list[tuple[str, float]] = []
    if rule.min_absolute_change is not None:
        checks.append(("min_absolute_change", rule.min_absolute_change))
    if rule.min_relative_change is not None:
        checks.append(("min_relative_change", rule.min_relative_change))
    out = []
    for check, amount in checks:
        name = f"{metric} {check}"
        if holdout.baseline_metrics is None:
            out.append(_no_champion(name, "change", metric, figure, holdout.n))
            continue
        base = holdout.baseline_metrics.get(metric)
        common: dict[str, Any] = {
            "name": name,
            "kind": "change",
            "metric": metric,
            "figure": figure,
            "baseline": base,
            "operator": ">=" if greater else "<=",
            "n": holdout.n,
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


def decision_gate(decision: Decision, holdout: Holdout) -> GateResult:
    metric = decision.metric
    name = f"{metric} {decision.mode}"
    figure = holdout.metrics.get(metric)
    if holdout.champion is None:
        return _no_champion(
            name, "decision", metric, figure, holdout.n, confidence=decision.confidence
        )
    test = decision.test or holdout.default_test(metric)
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
        "baseline": (holdout.baseline_metrics or {}).get(metric),
        "threshold": raw_bound,
        "operator": ">" if greater else "<",
        "test": test,
        "confidence": decision.confidence,
        "n": holdout.n,
    }
    try:
        result = holdout.compare(
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
                f"; on {holdout.n:,} rows differences under about {fmt(resolution)} cannot "
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


def slice_gates(
    rule: SliceRule, holdout: Holdout, frame: Any
) -> tuple[list[GateResult], list[dict[str, Any]]]:
    results: list[GateResult] = []
    table: list[dict[str, Any]] = []
    # Statistical regression tests, decided together after Holm: (position, p-value).
    pending: list[tuple[int, float]] = []
    metrics = list(dict.fromkeys([*rule.thresholds, *rule.max_regression]))
    for column, value, rows in slice_groups(frame, rule.columns, holdout.n):
        n_rows = len(rows)
        info = {"column": column, "value": value, "n_rows": n_rows}
        label = _slice_label(info)
        part = holdout.subset(rows) if n_rows else None
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
                threshold_gate(
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
