"""Models, versions and aliases (storage side of the registry).

Versions are dense per model (1, 2, 3 ...) however many processes register at once: the
next number comes from ``UPDATE models SET last_version = last_version + 1``, which takes
the model row's lock. An alias move is one transaction that updates one row, appends the
history and the event, so readers see the old target or the new one, never none or two.

Registrations and alias moves record their outcome under an operation
key (``Store.transact_once``): a retry after a lost COMMIT acknowledgement returns the
first version or move instead of making a second one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, and_, bindparam, select, update

from ...core import (
    ALIAS_MOVED,
    ALIASABLE,
    MODEL_VERSION_EVENT_TYPES,
    MODEL_VERSION_REGISTERED,
    MODEL_VERSION_STATES,
    MODEL_VERSION_TRANSITIONS,
    ConflictError,
    InvalidValueError,
    NotFoundError,
    can_move,
    did_you_mean,
    now_ms,
    validate_name,
)
from .._engine import Operation, Replay, Store
from .._hot import HotRow, HotStatement
from .._sql import replay_by_id, require_in_project
from .._versioned import Versioned
from ..events import append_event
from . import _tables as t
from ._records import AliasMoveRecord, EvaluationRecord, ModelRecord, ModelVersionRecord

m, v, al = t.models.c, t.model_versions.c, t.aliases.c
_VERSION = replay_by_id(t.model_versions, ModelVersionRecord.from_row)
h = t.alias_history.c
_FROM, _TO = t.model_versions.alias("from_v"), t.model_versions.alias("to_v")
# History rows with their versions' numbers, in one read.
_HISTORY = select(
    t.alias_history, _FROM.c.version.label("from_version"), _TO.c.version.label("to_version")
).select_from(
    t.alias_history.outerjoin(_FROM, _FROM.c.id == h.from_version_id).outerjoin(
        _TO, _TO.c.id == h.to_version_id
    )
)


def _load_move(conn: Connection, row_id: Any) -> AliasMoveRecord:
    return AliasMoveRecord.from_row(conn.execute(_HISTORY.where(h.id == row_id)).one())


# A retried move returns the first one's history row (numbers included).
_MOVE: Replay[AliasMoveRecord] = Replay(dump=lambda record: record.id, load=_load_move)


MODELS = Versioned(t.models, "model", "conveyor models list")

# An alias move runs on the driver's cursor (see ``store._hot``): one read of the model,
# the target version and the alias's current target, then two writes. The event and the
# operation key carry JSON, so they stay on SQLAlchemy.
_PREV = t.model_versions.alias("prev_v")
_MOVE_STATE = HotStatement(
    select(
        m.id.label("model_id"),
        v.id.label("target"),
        v.status,
        al.version_id.label("previous"),
        _PREV.c.version.label("previous_number"),
    )
    .select_from(
        t.models.outerjoin(
            t.model_versions,
            and_(v.model_id == m.id, v.version == bindparam("p_version")),
        )
        .outerjoin(t.aliases, and_(al.model_id == m.id, al.name == bindparam("p_alias")))
        .outerjoin(_PREV, _PREV.c.id == al.version_id)
    )
    .where(m.project_id == bindparam("p_project"), m.name == bindparam("p_name"))
)
_UPDATE_ALIAS = HotStatement(
    update(t.aliases)
    .where(al.model_id == bindparam("p_model"), al.name == bindparam("p_alias"))
    .values(version_id=bindparam("p_target"), updated_at=bindparam("p_now"))
)
_INSERT_ALIAS = HotStatement(
    t.aliases.insert().values(
        model_id=bindparam("p_model"),
        name=bindparam("p_alias"),
        version_id=bindparam("p_target"),
        updated_at=bindparam("p_now"),
    )
)
_INSERT_HISTORY = HotStatement(
    t.alias_history.insert()
    .values(
        model_id=bindparam("p_model"),
        alias=bindparam("p_alias"),
        from_version_id=bindparam("p_from"),
        to_version_id=bindparam("p_target"),
        evaluation_id=bindparam("p_evaluation"),
        reason=bindparam("p_reason"),
        actor=bindparam("p_actor"),
        moved_at=bindparam("p_now"),
    )
    .returning(*t.alias_history.c)
)


def find_model_id(conn: Connection, store: Store, name: str, *, create: bool) -> int:
    """The id of model ``name`` (created if missing and ``create``)."""
    return MODELS.find_id(conn, store, name, create=create)


def version_id(conn: Connection, model_id: int, name: str, version: int) -> int:
    """The row id of version ``version`` of model ``model_id`` (named ``name``).

    Raises:
        NotFoundError: the model has no such version.
    """
    found = conn.execute(select(v.id).where(v.model_id == model_id, v.version == version)).scalar()
    if found is None:
        raise NotFoundError(
            f"Model {name!r} has no version {version}.",
            hint=f"List its versions with: conveyor models show {name}",
            model=name,
            version=version,
        )
    return int(found)


def register_model_version(
    store: Store,
    name: str,
    *,
    artifact_id: int | None = None,
    run_id: int | None = None,
    flavor: str = "",
    signature: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    description: str = "",
    parent_version: int | None = None,
) -> ModelVersionRecord:
    """Register the next version of model ``name`` (created on first use).

    Args:
        parent_version: The version of the same model this one was trained from
            (incremental training), recorded as its parent.

    Raises:
        NotFoundError: ``artifact_id`` or ``run_id`` is not the store project's, or the
            model has no version ``parent_version``.
    """
    validate_name(name, what="model name")

    def tx(conn: Connection, _op: Operation) -> ModelVersionRecord:
        require_in_project(conn, store, [("artifact", artifact_id), ("run", run_id)])
        model_id = find_model_id(conn, store, name, create=parent_version is None)
        parent = (
            None if parent_version is None else version_id(conn, model_id, name, parent_version)
        )
        number = MODELS.next_version(conn, model_id)
        row = conn.execute(
            t.model_versions.insert()
            .values(
                model_id=model_id,
                version=number,
                run_id=run_id,
                artifact_id=artifact_id,
                parent_version_id=parent,
                flavor=flavor,
                signature=dict(signature or {}),
                metrics=dict(metrics or {}),
                params=dict(params or {}),
                tags=dict(tags or {}),
                status="ready",
                description=description,
                created_at=now_ms(),
            )
            .returning(*t.model_versions.c)
        ).one()
        append_event(
            conn,
            store,
            MODEL_VERSION_REGISTERED,
            subject=f"models/{name}/versions/{number}",
            data={"model": name, "version": number, "run_id": run_id},
        )
        return ModelVersionRecord.from_row(row)

    return store.transact_once(tx, what="model registration", replay=_VERSION)


def get_model(store: Store, name: str) -> ModelRecord:
    def read(conn: Connection) -> ModelRecord:
        model_id = find_model_id(conn, store, name, create=False)
        return ModelRecord.from_row(conn.execute(select(t.models).where(m.id == model_id)).one())

    return store.query(read)


def list_models(store: Store) -> list[ModelRecord]:
    query = select(t.models).where(m.project_id == store.project_id).order_by(m.name)
    return store.query(lambda conn: [ModelRecord.from_row(r) for r in conn.execute(query)])


def get_model_version(store: Store, name: str, version: int) -> ModelVersionRecord:
    def read(conn: Connection) -> ModelVersionRecord:
        model_id = find_model_id(conn, store, name, create=False)
        row = conn.execute(
            select(t.model_versions).where(v.model_id == model_id, v.version == version)
        ).first()
        if row is None:
            raise NotFoundError(
                f"Model {name!r} has no version {version}.", model=name, version=version
            )
        return ModelVersionRecord.from_row(row)

    return store.query(read)


def list_model_versions(
    store: Store, name: str, *, ids: Sequence[int] | None = None
) -> list[ModelVersionRecord]:
    """The versions of model ``name``, oldest first (only those with these ``ids``, if given)."""

    def read(conn: Connection) -> list[ModelVersionRecord]:
        model_id = find_model_id(conn, store, name, create=False)
        query = select(t.model_versions).where(v.model_id == model_id).order_by(v.version)
        if ids is not None:
            query = query.where(v.id.in_(list(ids)))
        return [ModelVersionRecord.from_row(r) for r in conn.execute(query)]

    return store.query(read)


def move_alias(
    store: Store,
    name: str,
    alias: str,
    version: int,
    *,
    expected_version: int | None = None,
    reason: str = "",
    actor: str = "",
    evaluation_id: int | None = None,
    vouch: Callable[[EvaluationRecord], str] | None = None,
) -> AliasMoveRecord:
    """Point ``models:/name@alias`` at ``version`` atomically, with history and an event.

    The event's data holds the history row's id (``history_id``) and, when an evaluation
    allowed the move, its id (``evaluation_id``).

    Args:
        expected_version: Compare-and-set: only move if the alias currently points here
            (0 = only if the alias does not exist yet).
        vouch: Called inside the move's transaction with evaluation ``evaluation_id``
            (checked to be of this version): the domain's policy, which raises to refuse
            the move or returns the reason to record (replacing ``reason``).
        evaluation_id: The evaluation of ``version`` that allowed the move (checked to be
            of that version, in the move's transaction).

    Raises:
        ConflictError: ``expected_version`` did not match.
        NotFoundError: no such version, or no evaluation ``evaluation_id`` of it.
    """
    validate_name(alias, what="alias")

    def tx(conn: Connection, _op: Operation) -> AliasMoveRecord:
        now = now_ms()
        params: dict[str, Any] = {
            "p_project": store.project_id,
            "p_name": name,
            "p_version": version,
            "p_alias": alias,
        }
        found = _MOVE_STATE.execute(conn, params).first()
        if found is None:  # no such model: find_model_id raises, with its hints
            find_model_id(conn, store, name, create=False)
        assert found is not None
        model_id = found.model_id
        if conn.dialect.name == "postgresql":
            # Serialise moves and status changes per model (SQLite's write lock already
            # does), so the history records each move's true predecessor, even for an
            # alias's first creation, and no version is archived while an alias moves to it.
            # Then read the state again: it may have changed while this move waited.
            conn.execute(select(m.id).where(m.id == model_id).with_for_update())
            found = _MOVE_STATE.execute(conn, params).first()
            assert found is not None
        if found.target is None:
            raise NotFoundError(
                f"Model {name!r} has no version {version}.", model=name, version=version
            )
        target = found.target
        why = reason
        if evaluation_id is not None:
            from ._evaluations import evaluation_by_id

            evaluation = evaluation_by_id(conn, store, evaluation_id)
            if evaluation is not None and vouch is not None:
                why = vouch(evaluation)
            if evaluation is None or evaluation.model_version_id != target:
                raise NotFoundError(
                    f"No evaluation {evaluation_id} of version {version} of model {name!r}.",
                    hint=f"List its evaluations with: conveyor models show {name}/{version}",
                    evaluation_id=evaluation_id,
                )
        if found.status not in ALIASABLE:
            raise ConflictError(
                f"Version {version} of model {name!r} is {found.status}; an alias may only "
                "point at a ready version.",
                hint=f"Pick a ready version (conveyor models versions {name}).",
                model=name,
                version=version,
            )
        previous, prev_number = found.previous, found.previous_number or 0
        if expected_version is not None and prev_number != expected_version:
            raise ConflictError(
                f"Alias {alias!r} of model {name!r} points at version {prev_number or 'none'}, "
                f"not {expected_version}; not moved.",
                model=name,
                alias=alias,
            )
        pointer = {"p_model": model_id, "p_alias": alias, "p_target": target, "p_now": now}
        (_UPDATE_ALIAS if previous is not None else _INSERT_ALIAS).execute(conn, pointer)
        moved = {
            "p_from": previous,
            "p_evaluation": evaluation_id,
            "p_reason": why,
            "p_actor": actor,
        }
        row = _INSERT_HISTORY.execute(conn, {**pointer, **moved}).first()
        assert row is not None
        append_event(
            conn,
            store,
            ALIAS_MOVED,
            subject=f"models/{name}/versions/{version}",
            data={
                "model": name,
                "alias": alias,
                "from_version": prev_number or None,
                "to_version": version,
                "reason": why,
                "history_id": row.id,
                "evaluation_id": evaluation_id,
            },
        )
        numbers = {"from_version": prev_number or None, "to_version": version}
        return AliasMoveRecord.from_row(HotRow({**row._mapping, **numbers}))

    # A retry must not record a second move, nor fail its own compare-and-set against the
    # state its first execution committed.
    return store.transact_once(tx, what="alias move", replay=_MOVE)


def set_model_version_status(
    store: Store, name: str, version: int, status: str, *, reason: str = ""
) -> ModelVersionRecord:
    """Move version ``version`` of model ``name`` to ``status`` along a legal edge.

    ``ready -> failed | archived``, ``failed -> archived``, ``archived -> ready``. A version
    an alias points at cannot leave ``ready``: move the alias first. Emits
    ``io.conveyor.model_version.<status>``.

    Raises:
        InvalidValueError: ``status`` is not a model version status.
        ConflictError: the version cannot move to ``status`` from where it is, or an alias
            points at it.
    """
    if status not in MODEL_VERSION_STATES:
        raise InvalidValueError(
            f"A model version's status must be one of {list(MODEL_VERSION_STATES)}. "
            f"Got {status!r}.{did_you_mean(status, MODEL_VERSION_STATES)}"
        )

    def tx(conn: Connection) -> ModelVersionRecord:
        model_id = find_model_id(conn, store, name, create=False)
        if conn.dialect.name == "postgresql":
            conn.execute(select(m.id).where(m.id == model_id).with_for_update())  # see move_alias
        row = conn.execute(
            select(t.model_versions).where(v.model_id == model_id, v.version == version)
        ).first()
        if row is None:
            raise NotFoundError(
                f"Model {name!r} has no version {version}.", model=name, version=version
            )
        current = ModelVersionRecord.from_row(row)
        if current.status == status:
            return current  # already there (also a retry after a lost acknowledgement)
        if not can_move(MODEL_VERSION_TRANSITIONS, current.status, status):
            raise ConflictError(
                f"Version {version} of model {name!r} is {current.status}; it cannot become "
                f"{status}.",
                model=name,
                version=version,
            )
        if status not in ALIASABLE:
            pointing = list(
                conn.execute(select(al.name).where(al.version_id == current.id)).scalars()
            )
            if pointing:
                raise ConflictError(
                    f"Version {version} of model {name!r} is the target of alias(es) "
                    f"{sorted(pointing)}; it cannot become {status} while served.",
                    hint=f"Move {sorted(pointing)[0]!r} to another version first.",
                    model=name,
                    version=version,
                )
        updated = conn.execute(
            update(t.model_versions)
            .where(v.id == current.id, v.status == current.status)
            .values(status=status)
            .returning(*t.model_versions.c)
        ).one()
        append_event(
            conn,
            store,
            MODEL_VERSION_EVENT_TYPES[status],
            subject=f"models/{name}/versions/{version}",
            data={"model": name, "version": version, "from": current.status, "reason": reason},
        )
        return ModelVersionRecord.from_row(updated)

    return store.transact(tx, what="model version status")


def resolve_alias(store: Store, name: str, alias: str) -> ModelVersionRecord:
    """The version ``models:/name@alias`` points at, read in one statement."""

    def read(conn: Connection) -> ModelVersionRecord:
        model_id = find_model_id(conn, store, name, create=False)
        row = conn.execute(
            select(t.model_versions)
            .join(t.aliases, al.version_id == v.id)
            .where(al.model_id == model_id, al.name == alias)
        ).first()
        if row is None:
            known = conn.execute(select(al.name).where(al.model_id == model_id)).scalars()
            raise NotFoundError(
                f"Model {name!r} has no alias {alias!r}.{did_you_mean(alias, known)}",
                model=name,
                alias=alias,
            )
        return ModelVersionRecord.from_row(row)

    return store.query(read)


def list_aliases(store: Store, name: str) -> dict[str, int]:
    """The aliases of model ``name`` and the version number each points at, by alias."""

    def read(conn: Connection) -> dict[str, int]:
        model_id = find_model_id(conn, store, name, create=False)
        query = (
            select(al.name, v.version)
            .join(t.model_versions, v.id == al.version_id)
            .where(al.model_id == model_id)
            .order_by(al.name)
        )
        return {alias: int(number) for alias, number in conn.execute(query)}

    return store.query(read)


def alias_history(store: Store, name: str, alias: str | None = None) -> list[AliasMoveRecord]:
    """Every move of model ``name``'s aliases (or of one), oldest first."""

    def read(conn: Connection) -> list[AliasMoveRecord]:
        model_id = find_model_id(conn, store, name, create=False)
        query = _HISTORY.where(h.model_id == model_id)
        if alias:
            query = query.where(h.alias == alias)
        return [AliasMoveRecord.from_row(r) for r in conn.execute(query.order_by(h.id))]

    return store.query(read)
