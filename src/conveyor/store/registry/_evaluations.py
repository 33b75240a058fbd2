"""Evaluations of model versions (storage side): the report, its digest and the store's
signature, written once and read back for promotions and lineage.

The store keeps what it is given; the registry service computes the digest and the
signature (with :func:`conveyor.store.signing_key`) and checks them again on every read
that decides something, so a row edited in the database no longer verifies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Select, select

from ...core import EVALUATION_FAILED, EVALUATION_PASSED, InvalidValueError, NotFoundError, now_ms
from .._engine import Operation, Replay, Store
from .._sql import require_in_project
from ..events import append_event
from . import _tables as t
from ._records import EvaluationRecord
from ._registry import find_model_id, version_id

e, v, m = t.evaluations.c, t.model_versions.c, t.models.c
_BASELINE = t.model_versions.alias("baseline")
_SELECT: Select[Any] = (
    select(
        t.evaluations,
        m.name.label("model"),
        v.version.label("version"),
        _BASELINE.c.version.label("baseline_version"),
    )
    .join(t.model_versions, v.id == e.model_version_id)
    .join(t.models, m.id == v.model_id)
    .outerjoin(_BASELINE, _BASELINE.c.id == e.baseline_version_id)
)


def evaluation_by_id(conn: Connection, store: Store, evaluation_id: int) -> EvaluationRecord | None:
    row = conn.execute(
        _SELECT.where(e.id == evaluation_id, m.project_id == store.project_id)
    ).first()
    return None if row is None else EvaluationRecord.from_row(row)


def _replay(store: Store) -> Replay[EvaluationRecord]:
    def load(conn: Connection, evaluation_id: Any) -> EvaluationRecord:
        found = evaluation_by_id(conn, store, int(evaluation_id))
        assert found is not None  # written by this very call
        return found

    return Replay(dump=lambda record: record.id, load=load)


def record_evaluation(
    store: Store,
    name: str,
    version: int,
    *,
    baseline_version: int | None = None,
    step_run_id: int | None = None,
    passed: bool,
    report: Mapping[str, Any],
    digest: str,
    signature: str,
    summary: Mapping[str, Any] | None = None,
) -> EvaluationRecord:
    """Record an evaluation of version ``version`` of model ``name``, with its
    ``io.conveyor.evaluation.passed`` or ``.failed`` event in the same transaction.

    Args:
        baseline_version: The version it was compared with (the champion), if any.
        step_run_id: The step run that evaluated, if one did.
        passed: Whether the evaluation's gates passed.
        report: The full report (JSON).
        digest: sha256 of the report, as the registry computes it.
        signature: The registry's HMAC over the digest and the version's identity.
        summary: JSON the event carries besides the ids and the verdict (e.g. the
            gates that failed).

    Raises:
        NotFoundError: no such model or version, or ``step_run_id`` is not the store
            project's.
        InvalidValueError: ``digest`` or ``signature`` is not 64 hex digits.
    """
    for what, value in (("digest", digest), ("signature", signature)):
        if not (isinstance(value, str) and len(value) == 64 and _is_hex(value)):
            raise InvalidValueError(
                f"An evaluation's {what} must be 64 lowercase hex digits. Got {value!r}.",
                hint="Record evaluations with conveyor.registry.record_evaluation, which "
                "computes both.",
            )

    def tx(conn: Connection, _op: Operation) -> EvaluationRecord:
        require_in_project(conn, store, [("step run", step_run_id)])
        model_id = find_model_id(conn, store, name, create=False)
        target = version_id(conn, model_id, name, version)
        baseline = (
            None if baseline_version is None else version_id(conn, model_id, name, baseline_version)
        )
        key = conn.execute(
            t.evaluations.insert()
            .values(
                model_version_id=target,
                baseline_version_id=baseline,
                step_run_id=step_run_id,
                passed=bool(passed),
                report=dict(report),
                digest=digest,
                signature=signature,
                created_at=now_ms(),
            )
            .returning(e.id)
        ).scalar_one()
        found = evaluation_by_id(conn, store, int(key))
        assert found is not None
        append_event(
            conn,
            store,
            EVALUATION_PASSED if passed else EVALUATION_FAILED,
            subject=f"models/{name}/versions/{version}",
            data={
                **dict(summary or {}),
                "evaluation_id": found.id,
                "model": name,
                "version": version,
                "baseline_version": baseline_version,
                "passed": bool(passed),
                "step_run_id": step_run_id,
            },
        )
        return found

    return store.transact_once(tx, what="evaluation record", replay=_replay(store))


def get_evaluation(store: Store, evaluation_id: int) -> EvaluationRecord:
    """Evaluation ``evaluation_id`` of a model of the store's project.

    Raises:
        NotFoundError: no such evaluation in the project.
    """
    found = store.query(
        lambda conn: evaluation_by_id(conn, store, evaluation_id), what="evaluation"
    )
    if found is None:
        raise NotFoundError(
            f"No evaluation {evaluation_id} in project {store.project!r}.",
            hint="List a model's evaluations with: conveyor models show NAME/VERSION",
            evaluation_id=evaluation_id,
        )
    return found


def list_evaluations(store: Store, name: str, version: int | None = None) -> list[EvaluationRecord]:
    """The evaluations of model ``name`` (of one version, if given), oldest first.

    Raises:
        NotFoundError: no such model (or version).
    """

    def read(conn: Connection) -> list[EvaluationRecord]:
        model_id = find_model_id(conn, store, name, create=False)
        query = _SELECT.where(v.model_id == model_id)
        if version is not None:
            query = query.where(e.model_version_id == version_id(conn, model_id, name, version))
        return [EvaluationRecord.from_row(r) for r in conn.execute(query.order_by(e.id))]

    return store.query(read, what="evaluations")


def _is_hex(text: str) -> bool:
    return all(ch in "0123456789abcdef" for ch in text)
