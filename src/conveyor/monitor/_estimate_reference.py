"""What the performance monitor knows of a served version: its task and classes, and its
performance estimator (CBPE) calibrated on a labelled set the version did not train on.

The reference set, in order of preference:

1. the holdout of the evaluation that let the version through: the evaluation named by the
   newest alias move to it, else its newest passed evaluation, when that evaluation was
   run on a snapshot (``datasets:/holdout/2``) and names its target column;
2. the snapshot ``monitor.estimate_reference`` names, labelled by the version's ``target``
   param (what :func:`conveyor.train.fit` records);
3. none: no estimate, and the figures say why.

A version's estimator is fitted once per reference and kept in the artifact store (its
calibration as JSON); the monitor's state holds the digest.
"""

from __future__ import annotations

import json
import warnings
from typing import TYPE_CHECKING, Any

from .. import registry
from ..core import ConveyorError, InvalidValueError, SignatureMismatchError
from ._estimate import CBPE

if TYPE_CHECKING:
    from ..workspace import Workspace

_SEED = 20261202


def version_profile(ws: Workspace, model: str, version: int) -> dict[str, Any]:
    """``{"task": "classification" | "regression", "classes": [...] | None}`` of a version:
    a classifier has ``predict_proba`` or ``classes_``, or its signature's output is text or
    boolean (``conveyor.train``'s rule, with the signature as a second witness)."""
    uri = f"models:/{model}/{version}"
    handle = registry.get_model(ws, uri)
    outputs = handle.signature.get("outputs") or []
    output_type = outputs[0].get("type") if outputs else None
    estimator: Any = registry.load_model(ws, uri)
    classes = getattr(estimator, "classes_", None)
    is_classifier = (
        hasattr(estimator, "predict_proba")
        or classes is not None
        or output_type in ("string", "boolean")
    )
    listed = None
    if is_classifier and classes is not None:
        import numpy as np

        listed = np.asarray(classes).tolist()
    return {"task": "classification" if is_classifier else "regression", "classes": listed}


def estimate_source(ws: Workspace, model: str, version: int) -> dict[str, Any]:
    """Where the version's reference set comes from: ``{"source", "target",
    "evaluation_id"}``, or ``{"reason"}`` when there is none."""
    notes = []
    moves = [
        m
        for m in registry.alias_history(ws, model)
        if m.to_version == version and m.evaluation_id is not None
    ]
    candidates = [m.evaluation_id for m in reversed(moves)]
    candidates += [
        e.id for e in reversed(registry.list_evaluations(ws, model, version)) if e.passed
    ]
    for evaluation_id in dict.fromkeys(c for c in candidates if c is not None):
        try:
            report = registry.verify_evaluation(ws, evaluation_id).report
        except SignatureMismatchError:  # edited after it was recorded: vouches for nothing
            notes.append(f"evaluation {evaluation_id} does not verify")
            continue
        data, target = report.get("data"), report.get("target")
        if isinstance(data, str) and data.startswith("datasets:/") and isinstance(target, str):
            return {"source": data, "target": target, "evaluation_id": evaluation_id}
        notes.append(f"evaluation {evaluation_id} ran on {data!r}, not a snapshot")
    configured = ws.config.monitor.estimate_reference
    if configured:
        from ..data import parse_ref

        name, number = parse_ref(configured)
        source = f"datasets:/{name}" + (f"/{number}" if number is not None else "")
        target = registry.get_model(ws, f"models:/{model}/{version}").params.get("target")
        if not isinstance(target, str):
            return {
                "reason": f"monitor.estimate_reference is {configured!r}, but models:/{model}/"
                f"{version} records no 'target' param naming its label column"
            }
        return {"source": source, "target": target, "evaluation_id": None}
    why = "; ".join(notes) or "it has no evaluation"
    return {
        "reason": f"no reference set for models:/{model}/{version} ({why}); evaluate it on a "
        "snapshot, or set monitor.estimate_reference"
    }


def version_estimator(
    ws: Workspace, model: str, version: int, cache: dict[str, Any], classes: list[Any]
) -> tuple[CBPE | None, dict[str, Any]]:
    """The version's fitted CBPE (from ``cache``, the version's entry in the monitor's
    state, when its reference has not changed) and what to show about it: ``source``,
    ``n_reference``, ``warnings``, or ``reason`` when there is no estimator."""
    where = estimate_source(ws, model, version)
    if "reason" in where:
        cache.pop("estimator", None)
        return None, {"reason": where["reason"]}
    entry = cache.get("estimator")
    if entry is None or entry.get("source") != where["source"]:
        entry = {**where, **_fit(ws, model, version, where["source"], where["target"], classes)}
        cache["estimator"] = entry
    if "reason" in entry:
        return None, {k: entry[k] for k in ("source", "reason")}
    state = json.loads(ws.artifacts.get_bytes(entry["digest"]))
    shown = {k: entry[k] for k in ("source", "evaluation_id", "n_reference", "warnings")}
    return CBPE.from_dict(state), shown


def _fit(
    ws: Workspace, model: str, version: int, source: str, target: str, classes: list[Any]
) -> dict[str, Any]:
    """Fit on the reference and store the calibration: ``{"digest", "n_reference",
    "warnings"}``, or ``{"reason"}`` if the reference cannot calibrate it."""
    import numpy as np

    from ..data import get_dataset, parse_ref

    uri = f"models:/{model}/{version}"
    try:
        name, number = parse_ref(source)
        table = get_dataset(ws, name, number).to_arrow()
        inputs = [
            c["name"]
            for c in registry.get_model(ws, uri).signature.get("inputs") or ()
            if "name" in c
        ] or [c for c in table.column_names if c != target]
        missing = [c for c in [*inputs, target] if c not in table.column_names]
        if missing:
            raise InvalidValueError(f"{source} lacks the column(s) {missing}")
        table = table.filter(table.column(target).is_valid())
        limit = ws.config.monitor.reference_rows
        if table.num_rows > limit:
            import pyarrow as pa

            rng = np.random.default_rng(_SEED)
            keep = np.sort(rng.choice(table.num_rows, size=limit, replace=False))
            table = table.take(pa.array(keep))
        estimator: Any = registry.load_model(ws, uri)
        scores = np.asarray(estimator.predict_proba(table.select(inputs).to_pandas()))
        labels = table.column(target).to_numpy(zero_copy_only=False)
        with warnings.catch_warnings():
            # A small reference set is kept as the estimator's warnings_, shown with it.
            warnings.simplefilter("ignore", UserWarning)
            fitted = CBPE(classes=classes, random_state=_SEED).fit(scores, labels)
    except ConveyorError as exc:
        return {"reason": f"the reference {source} cannot calibrate {uri}: {exc.message}"}
    except (ValueError, TypeError, AttributeError) as exc:  # the model refused the rows
        return {"reason": f"{uri} could not score its reference {source}: {exc}"}
    digest = ws.artifacts.put_bytes(json.dumps(fitted.to_dict()).encode()).digest
    return {"digest": digest, "n_reference": fitted.n_reference_, "warnings": fitted.warnings_}
