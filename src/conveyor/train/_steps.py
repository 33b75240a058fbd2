"""Steps of a retraining pipeline that only conveyor can write: promote what passed."""

from __future__ import annotations

from typing import Any

from ..pipelines import get_step_context, step
from ..registry import Model
from ._evaluation import Evaluation
from ._fit import REPRODUCES_TAG


@step(cache=False)
def promote_model(model: Model, evaluation: Evaluation, alias: str | None = None) -> dict[str, Any]:
    """Point ``alias`` (default: the champion alias) at ``model``, presenting ``evaluation``.

    The move is a compare-and-set against the champion the evaluation compared with, so a
    champion that changed since (another run promoted) is not overwritten by a verdict
    about the old one: the step fails and says so. A retry after a move that committed
    finds the alias already there and moves nothing (one promotion event per run). A
    reproduction run (``conveyor models reproduce``) never promotes.

    Example:
        >>> from conveyor import pipeline
        >>> from conveyor.train import promote_model
        >>> @pipeline
        ... def retrain():
        ...     model = train()
        ...     ev = judge(model)
        ...     promote_model(model, ev, when=ev.passed)
    """
    from .. import registry

    ctx = get_step_context()
    ws = ctx.workspace
    target = alias or ws.config.registry.champion_alias
    if ctx.run_tags.get(REPRODUCES_TAG):
        return {
            "model": model.name,
            "alias": target,
            "version": model.version,
            "moved": False,
            "reason": f"a reproduction of {ctx.run_tags[REPRODUCES_TAG]} never promotes",
        }
    if registry.model_aliases(ws, model.name).get(target) == model.version:
        return {"model": model.name, "alias": target, "version": model.version, "moved": False}
    move = registry.promote(
        ws,
        model.name,
        model.version,
        target,
        evaluation_id=evaluation.id,
        expected_version=evaluation.baseline_version or 0,
        actor=f"run {ctx.run_id}",
    )
    return {
        "model": model.name,
        "alias": target,
        "version": model.version,
        "from_version": move.from_version,
        "evaluation_id": evaluation.id,
        "moved": True,
    }
