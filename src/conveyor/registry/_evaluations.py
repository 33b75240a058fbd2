"""Evaluations: stored with their digest and the store's signature, verified before use.

The evaluation itself (metrics, gates, the champion comparison) is computed elsewhere;
here it is recorded so that a promotion can prove which evaluation allowed it, and so
that a report or a ``passed`` flag edited in the database afterwards is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import store as st
from ..core import InvalidValueError, SignatureMismatchError
from ..pipelines import current_step_context
from ._signing import check_report, evaluation_signature, matches, report_digest

if TYPE_CHECKING:
    from ..workspace import Workspace


def record_evaluation(
    ws: Workspace,
    name: str,
    version: int,
    report: Mapping[str, Any],
    *,
    passed: bool,
    baseline_version: int | None = None,
) -> int:
    """Record an evaluation of version ``version`` of model ``name``; return its id.

    The store keeps the report with its digest (sha256 of its canonical JSON) and signs
    both with the project's key, together with the version, the baseline and ``passed``.
    Inside a step, the evaluation is recorded as that step run's.

    Args:
        report: The evaluation's report: a dict of JSON values (no NaN or infinity).
        passed: Whether its gates passed.
        baseline_version: The version it was compared with (the champion), if any.

    Raises:
        InvalidValueError: ``report`` is not JSON, or ``passed`` is not a bool.
        NotFoundError: no such model or version.

    Example:
        >>> record_evaluation(ws, "churn", 3, {"auc": 0.91}, passed=True)  # doctest: +SKIP
        12
    """
    if not isinstance(passed, bool):
        raise InvalidValueError(
            f"passed must be True or False. Got {passed!r}.",
            hint="Pass the evaluation's verdict as a bool.",
        )
    for what, value in (("version", version), ("baseline_version", baseline_version)):
        if value is not None:
            check_version(value, what=what)
    checked = check_report(report)
    digest = report_digest(checked)
    key = st.signing_key(ws.store)
    signature = evaluation_signature(
        key,
        model=name,
        version=version,
        baseline_version=baseline_version,
        passed=passed,
        digest=digest,
    )
    ctx = current_step_context()
    record = st.record_evaluation(
        ws.store,
        name,
        version,
        baseline_version=baseline_version,
        step_run_id=ctx.step_run_id if ctx is not None else None,
        passed=passed,
        report=checked,
        digest=digest,
        signature=signature,
        summary=_summary(checked),
    )
    return record.id


def _summary(report: Mapping[str, Any]) -> dict[str, Any]:
    """What the evaluation's event says beside the verdict: the gates that failed (name
    and reason), when the report lists gates as ``conveyor.train`` does."""
    gates = report.get("gates")
    if not isinstance(gates, list):
        return {}
    failed = [
        {"name": str(g.get("name", "")), "reason": str(g.get("reason", ""))}
        for g in gates
        if isinstance(g, Mapping) and g.get("passed") is False
    ]
    return {"failed_gates": failed[:20]}


def verify_evaluation(ws: Workspace, evaluation_id: int) -> st.EvaluationRecord:
    """Evaluation ``evaluation_id``, after checking its digest and the store's signature.

    Raises:
        NotFoundError: no such evaluation in the project.
        SignatureMismatchError: the report no longer hashes to its digest, or the digest,
            version, baseline or verdict no longer match the signature (the row was edited).
    """
    return check_evaluation(st.signing_key(ws.store), st.get_evaluation(ws.store, evaluation_id))


def check_evaluation(key: bytes, record: st.EvaluationRecord) -> st.EvaluationRecord:
    """``record`` if its digest and signature verify under ``key``.

    Raises:
        SignatureMismatchError: they do not (the row was edited after it was recorded).
    """
    problem = evaluation_problem(key, record)
    if problem is not None:
        raise SignatureMismatchError(
            f"Evaluation {record.id} of models:/{record.model}/{record.version} does not "
            f"verify: {problem}. It was changed after it was recorded and cannot allow "
            "anything.",
            hint=f"Evaluate version {record.version} again.",
            evaluation_id=record.id,
        )
    return record


def evaluation_problem(key: bytes, record: st.EvaluationRecord) -> str | None:
    """Why ``record`` does not verify under ``key``, or None if it does."""
    try:
        digest = report_digest(record.report)
    except InvalidValueError:
        return "its report is not JSON any more"
    if not matches(digest, record.digest):
        return "its report does not hash to its recorded digest"
    expected = evaluation_signature(
        key,
        model=record.model,
        version=record.version,
        baseline_version=record.baseline_version,
        passed=record.passed,
        digest=record.digest,
    )
    if not matches(expected, record.signature):
        return "the store's signature does not match its digest, version, baseline and verdict"
    return None


def list_evaluations(
    ws: Workspace, name: str, version: int | None = None
) -> list[st.EvaluationRecord]:
    """The evaluations of model ``name`` (of one version, if given), oldest first."""
    return st.list_evaluations(ws.store, name, version)


def check_version(value: Any, *, what: str = "version") -> int:
    """``value`` if it is a version number (a whole number from 1), else an error."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidValueError(
            f"A model {what} is a whole number from 1. Got {value!r}.",
            hint="List the versions with: conveyor models show NAME",
        )
    return value
