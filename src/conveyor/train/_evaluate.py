"""``evaluate``: score a registered version and the champion on the same holdout, run the
gates, and have the registry sign the verdict.

The holdout is read once; both models predict on the same rows, so every comparison is
paired (DeLong, McNemar, paired bootstrap). The report the registry signs holds every
metric, gate, interval and reason; the returned :class:`Evaluation` is its handle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..core import ConfigError, InvalidValueError, NotFoundError, did_you_mean
from ..pipelines import current_step_context
from ._evaluation import Evaluation
from ._fit import resolve_workspace, training_data

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ..registry import Model
    from ..workspace import Workspace
    from ._gate_spec import GateSpec

# The gate used when a project configures none: a challenger must not be significantly
# worse than the champion on the primary metric (and passes when there is no champion):
# ROC AUC by more than 0.01, or RMSE by more than 1% of the champion's on the holdout.
DEFAULT_AUC_MARGIN = 0.01
DEFAULT_RMSE_SHARE = 0.01


def default_gate(task: str, y: Any, champion_scores: Any | None) -> dict[str, Any]:
    """The built-in gate for ``task``; a regression margin scales with the champion's RMSE."""
    if task == "classification":
        metric, margin = "roc_auc", DEFAULT_AUC_MARGIN
    else:
        from ._metrics import regression_metrics

        metric, margin = "rmse", 1.0  # without a champion the decision is skipped anyway
        if champion_scores is not None:
            rmse = regression_metrics(y, champion_scores)["rmse"] or 0.0
            margin = max(DEFAULT_RMSE_SHARE * rmse, 1e-12)
    return {"decision": [{"metric": metric, "mode": "non_inferiority", "margin": margin}]}


def task_of(model: Any) -> str:
    """``classification`` for anything with ``predict_proba``, else ``regression``."""
    return "classification" if hasattr(model, "predict_proba") else "regression"


def score(model: Any, X: Any, task: str) -> np.ndarray:
    """Probabilities (classification: the positive class's for two classes) or values."""
    import numpy as np

    if task == "classification":
        proba = np.asarray(model.predict_proba(X), dtype=float)
        return proba[:, 1] if proba.ndim == 2 and proba.shape[1] == 2 else proba
    return np.asarray(model.predict(X), dtype=float)


def _labels(model: Any, y: Any) -> list[Any]:
    classes = getattr(model, "classes_", None)
    if classes is None:
        import numpy as np

        classes = np.unique(np.asarray(y))
    return list(classes)


def _gate_spec(ws: Workspace, gate: str | Mapping[str, Any] | GateSpec | None) -> GateSpec | None:
    """The gate to apply, validated (a config table's errors name ``[train.gates.NAME]``);
    None for the built-in default."""
    from ._gate_spec import GateSpec, parse_gate_spec

    if isinstance(gate, GateSpec):
        return gate
    if isinstance(gate, Mapping):
        return parse_gate_spec(gate, name="given")
    configured = ws.config.train.gates
    name = gate if gate is not None else ws.config.train.gate
    if name in configured:
        return parse_gate_spec(configured[name], name=name)
    if gate is None:
        return None
    raise ConfigError(
        f"No gate named {gate!r} is configured.{did_you_mean(gate, configured)}",
        hint=f"Add a [train.gates.{gate}] table to conveyor.toml, or pass a GateSpec.",
    )


def _champion(ws: Workspace, model: Model, champion: str | Model | None) -> Model | None:
    from .. import registry

    if champion is None:
        return None
    if isinstance(champion, registry.Model):
        return champion
    alias = champion
    try:
        found = registry.get_model(ws, f"models:/{model.name}@{alias}")
    except NotFoundError:
        return None  # no champion yet: champion-relative gates say so in the report
    return None if found.version == model.version else found


def evaluate(
    model: Model | str,
    data: Any,
    *,
    target: str,
    gate: str | Mapping[str, Any] | GateSpec | None = None,
    champion: str | Model | None = "",
    threshold: float = 0.5,
    ws: Workspace | None = None,
) -> Evaluation:
    """Evaluate ``model`` on the holdout ``data`` against the champion, and sign the verdict.

    Args:
        model: A registered version (``Model``, or ``models:/name/3``).
        data: The holdout: a ``Dataset``, DataFrame or Arrow table with the model's input
            columns, ``target``, and any slice columns the gate names.
        target: The column holding the truth.
        gate: A gate name from ``[train.gates.NAME]``, a mapping as such a table holds, or a
            ``GateSpec``. Default: ``[train] gate`` if configured, else non-inferiority to
            the champion on ROC AUC (margin 0.01) or RMSE (margin 1% of the champion's).
        champion: The alias to compare with (default: ``[registry] champion_alias``), a
            ``Model``, or None to compare with nothing. The version itself is never its
            own baseline.
        threshold: Decision threshold on a binary classifier's score (accuracy, F1 ...).

    Returns:
        The :class:`Evaluation`: ``passed``, each gate's figure, threshold, interval and
        reason; recorded and signed, so ``promote`` can verify it.

    Raises:
        InvalidValueError: the holdout lacks a column, or the gate is malformed.
        ConfigError: ``gate`` names no configured gate.

    Example:
        >>> from conveyor import step
        >>> from conveyor.train import evaluate
        >>> @step
        ... def judge(model, holdout):
        ...     return evaluate(model, holdout, target="delayed", gate="default")
    """
    from .. import registry
    from ._gates import evaluate_gates

    ws = resolve_workspace(ws, "evaluate()")
    version = model if isinstance(model, registry.Model) else registry.get_model(ws, model)
    version = version.bind(ws)
    holdout = training_data(data, target=target, ws=ws, what="holdout")
    fitted = version.load()
    task = task_of(fitted)
    spec = _gate_spec(ws, gate)
    slice_columns = _slice_columns(spec) if spec is not None else []
    missing = [c for c in slice_columns if c not in holdout.X.columns]
    if missing:
        raise InvalidValueError(
            f"The holdout lacks the slice column(s) {missing} that the gate segments by.",
            hint="Evaluate on data that has them, or change the gate's slices.",
        )
    alias = champion if champion != "" else ws.config.registry.champion_alias
    baseline = _champion(ws, version, alias)
    challenger_scores = score(fitted, _inputs(version, holdout.X, slice_columns), task)
    baseline_scores = None
    if baseline is not None:
        baseline = baseline.bind(ws)
        X = _inputs(baseline, holdout.X, slice_columns)
        baseline_scores = score(baseline.load(), X, task)
    if spec is None:
        from ._gate_spec import parse_gate_spec

        built_in = default_gate(task, holdout.y.to_numpy(), baseline_scores)
        spec = parse_gate_spec(built_in, name="built-in default")
    labels = _labels(fitted, holdout.y) if task == "classification" else None
    slices = holdout.X[slice_columns].reset_index(drop=True) if slice_columns else None
    report = evaluate_gates(
        spec,
        y_true=holdout.y.to_numpy(),
        challenger_scores=challenger_scores,
        champion_scores=baseline_scores,
        slices=slices,
        task=task,  # type: ignore[arg-type]
        threshold=threshold,
        labels=labels,
    )
    signed_report = {
        **report.to_dict(),
        "model": version.name,
        "version": version.version,
        "baseline_version": baseline.version if baseline else None,
        "data": holdout.source,
        "target": target,
    }
    evaluation_id = registry.record_evaluation(
        ws,
        version.name,
        version.version,
        signed_report,
        passed=report.passed,
        baseline_version=baseline.version if baseline else None,
    )
    ctx = current_step_context()
    if ctx is not None:
        figures = {f"eval.{k}": v for k, v in report.metrics.items() if v is not None}
        ctx.log_metrics({**figures, "eval.passed": float(report.passed)})
    return Evaluation(
        id=evaluation_id,
        model=version.name,
        version=version.version,
        passed=report.passed,
        baseline_version=baseline.version if baseline else None,
        digest=registry.report_digest(signed_report),  # what the store just signed
        metrics=dict(signed_report["metrics"]),
        gates=report.gates,
    )


def _inputs(model: Model, frame: pd.DataFrame, slice_columns: list[str]) -> pd.DataFrame:
    """The columns ``model`` was trained on (its signature's inputs), else every column but
    the slice columns; a missing one is an error that names it."""
    inputs = [c["name"] for c in model.signature.get("inputs", [])]
    if not inputs:
        return frame.drop(columns=slice_columns, errors="ignore")
    missing = [c for c in inputs if c not in frame.columns]
    if missing:
        raise InvalidValueError(
            f"The holdout lacks column(s) {missing} that {model.uri} takes as input.",
            hint="Evaluate on data with the columns both models were trained on.",
        )
    return frame[inputs]


def _slice_columns(spec: GateSpec) -> list[str]:
    return list(spec.slices.columns) if spec.slices is not None else []
