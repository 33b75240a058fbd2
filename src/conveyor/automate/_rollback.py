"""Rolling back a promotion that made things worse, with nobody watching.

After the champion alias of a deployment's model moves to a new version, the controller
compares the new version's live figure (``[automate.rollback] metric``, on the labelled
predictions it made since the move) with the previous champion's (on those it made in the
``baseline`` span before the move). It rolls back when both rest on at least
``min_labels`` labels and the drop exceeds ``margin`` with 95% confidence:

    (old - new) - margin > 1.645 * sqrt(se_old^2 + se_new^2)      (higher is better)

and the mirror image for a metric where lower is better (RMSE, MAE, log loss). The move
back is compare-and-set on the new version, so of several controllers one moves it; it is
recorded as ``rollback: ...`` with the figures, an alias move event that the alert
dispatcher turns into a ``model.rolled_back`` alert and that servers follow. A promotion
is judged until it is rolled back or a newer move replaces it; a rollback is never judged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core import ConflictError, ConveyorError, InvalidValueError, now_ms

if TYPE_CHECKING:
    from ..monitor import WindowPerformance
    from ..workspace import Workspace

# One-sided 95%.
_Z = 1.6448536269514722
_LOWER_IS_BETTER = {"rmse", "mae", "log_loss"}


@dataclass(frozen=True)
class Verdict:
    """What the controller made of one promotion: ``rolled_back``, ``kept`` (the new
    version is not worse beyond the margin, with enough labels to say so) or ``waiting``
    (too few labels yet), with the figures."""

    deployment: str
    model: str
    from_version: int
    to_version: int
    outcome: str
    reason: str
    figures: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment,
            "model": self.model,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "outcome": self.outcome,
            "reason": self.reason,
            "figures": self.figures,
        }


def worse_beyond_margin(
    old: float, old_se: float, new: float, new_se: float, *, margin: float, lower_is_better: bool
) -> tuple[bool, float]:
    """Whether ``new`` is worse than ``old`` by more than ``margin`` with 95% confidence,
    and the one-sided lower bound of the drop (in the metric's units, worse > 0)."""
    drop = (new - old) if lower_is_better else (old - new)
    bound = drop - _Z * math.sqrt(old_se**2 + new_se**2)
    return bound > margin, bound


def judge_promotions(ws: Workspace, *, now: int | None = None) -> list[Verdict]:
    """Judge the latest promotion of each deployment's champion (see the module docstring)
    and roll back the ones that made it worse."""
    from .. import registry
    from ..serve.runtime import list_deployments

    if not ws.config.automate.rollback:
        return []
    now = now_ms() if now is None else now
    verdicts = []
    for deployment in list_deployments(ws):
        history = registry.alias_history(ws, deployment.model)
        moves = [m for m in history if m.alias == deployment.alias]
        if not moves:
            continue
        last = moves[-1]
        if (
            last.from_version is None
            or last.to_version is None
            or last.reason.startswith("rollback:")
        ):
            continue
        try:
            verdicts.append(_judge(ws, deployment.name, last, now))
        except ConveyorError as exc:
            verdicts.append(
                Verdict(
                    deployment.name,
                    last.model,
                    last.from_version,
                    last.to_version,
                    "waiting",
                    exc.message,
                    {},
                )
            )
    return verdicts


def _figure(performance: WindowPerformance, metric: str) -> tuple[float, float, int] | None:
    figure = performance.metrics.get(metric)
    if performance.status != "ok" or figure is None:
        return None
    return figure.value, figure.standard_error, figure.n


def _judge(ws: Workspace, deployment: str, move: Any, now: int) -> Verdict:
    from .. import registry
    from ..monitor import version_performance

    cfg = ws.config.automate
    baseline = int(cfg.rollback_baseline * 1000)
    old = version_performance(
        ws,
        deployment,
        move.model,
        move.from_version,
        since_ms=move.moved_at - baseline,
        until_ms=move.moved_at,
        min_labels=cfg.rollback_min_labels,
    )
    new = version_performance(
        ws,
        deployment,
        move.model,
        move.to_version,
        since_ms=move.moved_at,
        until_ms=now,
        min_labels=cfg.rollback_min_labels,
    )
    metric = cfg.rollback_metric or ("accuracy" if old.task == "classification" else "rmse")
    base = (deployment, move.model, move.from_version, move.to_version)
    figures: dict[str, Any] = {
        "metric": metric,
        "margin": cfg.rollback_margin,
        "old": {"n_labelled": old.n_labelled, **_dump(old, metric)},
        "new": {"n_labelled": new.n_labelled, **_dump(new, metric)},
    }
    old_figure, new_figure = _figure(old, metric), _figure(new, metric)
    if old_figure is None or new_figure is None:
        waiting = (
            f"waiting for labels: {metric} of v{move.from_version} rests on "
            f"{old.n_labelled:,} and of v{move.to_version} on {new.n_labelled:,} labelled "
            f"predictions; each needs {cfg.rollback_min_labels:,}"
        )
        return Verdict(*base, "waiting", waiting, figures)
    worse, bound = worse_beyond_margin(
        old_figure[0],
        old_figure[1],
        new_figure[0],
        new_figure[1],
        margin=cfg.rollback_margin,
        lower_is_better=metric in _LOWER_IS_BETTER,
    )
    figures["drop_lower_bound"] = bound
    summary = (
        f"{metric} {new_figure[0]:.4f} on {new_figure[2]:,} labels since the promotion, "
        f"against {old_figure[0]:.4f} on {old_figure[2]:,} before it"
    )
    margin = cfg.rollback_margin
    if not worse:
        return Verdict(*base, "kept", f"not worse beyond the margin {margin:g}: {summary}", figures)
    reason = f"v{move.to_version} is worse than v{move.from_version} beyond {margin:g}: {summary}"
    try:
        registry.rollback(
            ws,
            move.model,
            move.alias,
            to_version=move.from_version,
            reason=reason,
            actor="conveyor controller",
        )
    except (ConflictError, InvalidValueError) as exc:
        # Another controller rolled it back first, or the alias moved meanwhile.
        return Verdict(*base, "waiting", f"the alias moved meanwhile: {exc.message}", figures)
    return Verdict(*base, "rolled_back", reason, figures)


def _dump(performance: WindowPerformance, metric: str) -> dict[str, Any]:
    figure = performance.metrics.get(metric)
    return {"status": performance.status, metric: None if figure is None else figure.to_dict()}
