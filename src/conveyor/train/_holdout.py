"""A holdout with the challenger's and the champion's predictions, checked and encoded
once, and the paired comparison of any metric on it or on a subset of its rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..core import InvalidValueError
from ._bootstrap import bootstrap_compare, classification_evaluator, regression_evaluator, strata_of
from ._metrics import (
    Classes,
    Task,
    compute_classification,
    compute_regression,
    prepare_classes,
    prepare_regression,
)
from ._stats import Alternative, PairedComparison, delong_compare, mcnemar_compare

__all__ = ["Holdout"]


@dataclass
class Holdout:
    """The challenger and (maybe) the champion on one holdout, checked and encoded once."""

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
    ) -> Holdout:
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

    def subset(self, rows: Any) -> Holdout:
        def take(model: Any) -> Any:
            if model is None:
                return None
            if isinstance(model, Classes):
                return model.take(rows)
            return model[0][rows], model[1][rows]

        challenger, champion = take(self.challenger), take(self.champion)
        return Holdout(
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
