"""A model version's lineage: where it came from and what it was allowed to become.

Version -> parent version; -> the run that registered it (pipeline, params, code version)
and the step run that produced its artifact; -> the dataset snapshots that run's steps
read and wrote (with digests) and the feature views they used; -> its evaluations (each
checked against the store's signature) and the alias moves to it, with the evaluation
that allowed each.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import store as st
from ._evaluations import evaluation_problem
from ._promotion import alias_history
from ._services import get_model

if TYPE_CHECKING:
    from ..workspace import Workspace


def lineage(ws: Workspace, uri: str) -> dict[str, Any]:
    """The lineage of the version ``uri`` names, as JSON-ready data.

    Keys: ``model``, ``version``, ``uri``, ``flavor``, ``digest``, ``parent`` (URI or
    None), ``run`` (id, pipeline, status, params, code version; None if no run registered
    it), ``step_run`` (the step run that produced the artifact), ``snapshots`` (dataset,
    version, digest, step, direction), ``feature_views`` (view, digest, step),
    ``evaluations`` (id, passed, baseline version, digest, whether it verifies) and
    ``promotions`` (the alias moves to this version, with the evaluation that allowed
    each).

    Raises:
        InvalidValueError: ``uri`` is not a model URI.
        NotFoundError: no such model, version or alias.

    Example:
        >>> lineage(ws, "models:/churn@champion")["run"]["code_version"]  # doctest: +SKIP
    """
    model = get_model(ws, uri)
    record = st.get_model_version(ws.store, model.name, model.version)
    out: dict[str, Any] = {
        "model": model.name,
        "version": model.version,
        "uri": model.uri,
        "flavor": model.flavor,
        "digest": model.digest,
        "parent": (
            None if model.parent_version is None else f"models:/{model.name}/{model.parent_version}"
        ),
        "run": None,
        "step_run": None,
        "snapshots": [],
        "feature_views": [],
    }
    producer = None
    if record.artifact_id is not None:
        producer = st.get_artifact(ws.store, record.artifact_id).producer_step_run_id
    if producer is not None:
        step = st.get_step_run(ws.store, producer)
        out["step_run"] = {"id": step.id, "name": step.name, "run_id": step.run_id}
    if record.run_id is not None:
        run = st.get_run(ws.store, record.run_id)
        out["run"] = {
            "id": run.id,
            "pipeline": run.pipeline,
            "status": run.status,
            "params": run.params,
            "code_version": run.code_version,
            "created_at": run.created_at,
        }
        out["snapshots"] = [
            {
                "dataset": use.dataset,
                "version": use.version,
                "uri": f"datasets:/{use.dataset}/{use.version}",
                "digest": use.digest,
                "step": use.step,
                "direction": use.direction,
            }
            for use in st.snapshot_uses(ws.store, run.id)
        ]
        out["feature_views"] = [
            {"view": use.view, "digest": use.digest, "step": use.step}
            for use in st.feature_view_uses(ws.store, run.id)
        ]
    key = st.signing_key(ws.store)
    out["evaluations"] = [
        {
            "id": e.id,
            "passed": e.passed,
            "baseline_version": e.baseline_version,
            "digest": e.digest,
            "step_run_id": e.step_run_id,
            "created_at": e.created_at,
            "verified": evaluation_problem(key, e) is None,
        }
        for e in st.list_evaluations(ws.store, model.name, model.version)
    ]
    out["promotions"] = [
        move.to_dict() for move in alias_history(ws, model.name) if move.to_version == model.version
    ]
    return out
