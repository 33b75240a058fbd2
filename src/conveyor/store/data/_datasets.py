"""Datasets and their immutable snapshots (dense versions, deduplicated by content digest)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, column, select, table, update

from ...core import SNAPSHOT_CREATED, NotFoundError, now_ms, parse_digest, validate_name
from .._engine import Operation, Replay, Store
from .._sql import insert, not_in_project, require_in_project
from .._versioned import Versioned
from ..events import append_event
from . import _tables as t
from ._records import DatasetRecord, DatasetSourceRecord, SnapshotRecord, SnapshotUseRecord

d, s = t.datasets.c, t.dataset_snapshots.c
src, use = t.dataset_sources.c, t.snapshot_uses.c
# Named, not imported: the runs domain is a sibling of this one (see ``store._sql``).
_STEP_RUNS = table("step_runs", column("id"), column("run_id"), column("name"))


DATASETS = Versioned(t.datasets, "dataset", "conveyor data list")


def add_snapshot(
    store: Store,
    dataset: str,
    *,
    artifact_id: int,
    digest: str,
    source: str = "",
    schema: Mapping[str, Any] | None = None,
    statistics: Mapping[str, Any] | None = None,
    n_rows: int | None = None,
    run_id: int | None = None,
    step_run_id: int | None = None,
) -> tuple[SnapshotRecord, bool]:
    """Record a snapshot of ``dataset``; return ``(snapshot, created)``.

    The same content (digest) is the same snapshot: a repeat returns the existing one with
    ``created=False``, so "new data" triggers fire once per distinct content.

    With ``step_run_id`` (the step that took it), the snapshot is recorded as that step's
    output (``wrote``), found or new.

    Raises:
        NotFoundError: ``artifact_id``, ``run_id`` or ``step_run_id`` is not the store
            project's.
    """
    validate_name(dataset, what="dataset name")
    digest = parse_digest(digest)

    def tx(conn: Connection, _op: Operation) -> tuple[SnapshotRecord, bool]:
        require_in_project(
            conn,
            store,
            [("artifact", artifact_id), ("run", run_id), ("step run", step_run_id)],
        )
        dataset_id = DATASETS.find_id(conn, store, dataset, create=True)
        number = DATASETS.next_version(conn, dataset_id)
        existing = conn.execute(
            select(t.dataset_snapshots).where(s.dataset_id == dataset_id, s.digest == digest)
        ).first()
        if existing is not None:
            DATASETS.give_back(conn, dataset_id, number)
            if step_run_id is not None:
                _insert_use(conn, existing.id, step_run_id, "wrote")
            return SnapshotRecord.from_row(existing), False
        row = conn.execute(
            t.dataset_snapshots.insert()
            .values(
                dataset_id=dataset_id,
                version=number,
                artifact_id=artifact_id,
                digest=digest,
                source=source,
                schema=dict(schema or {}),
                statistics=dict(statistics or {}),
                n_rows=n_rows,
                run_id=run_id,
                created_at=now_ms(),
            )
            .returning(*t.dataset_snapshots.c)
        ).one()
        if step_run_id is not None:
            _insert_use(conn, row.id, step_run_id, "wrote")
        append_event(
            conn,
            store,
            SNAPSHOT_CREATED,
            subject=f"datasets/{dataset}/versions/{number}",
            data={"dataset": dataset, "version": number, "digest": digest},
        )
        return SnapshotRecord.from_row(row), True

    return store.transact_once(tx, what="snapshot record", replay=_REPLAY)


def _load_created(conn: Connection, snapshot_id: Any) -> tuple[SnapshotRecord, bool]:
    row = conn.execute(select(t.dataset_snapshots).where(s.id == snapshot_id)).one()
    return SnapshotRecord.from_row(row), True


# Only a snapshot this call created is recorded: a retry that found its own snapshot by
# digest would otherwise report ``created=False`` and a "new data" trigger would not fire.
_REPLAY: Replay[tuple[SnapshotRecord, bool]] = Replay(
    dump=lambda result: result[0].id if result[1] else None, load=_load_created
)


def list_datasets(store: Store) -> list[DatasetRecord]:
    query = select(t.datasets).where(d.project_id == store.project_id).order_by(d.name)
    return store.query(lambda conn: [DatasetRecord.from_row(r) for r in conn.execute(query)])


def list_snapshots(store: Store, dataset: str) -> list[SnapshotRecord]:
    def read(conn: Connection) -> list[SnapshotRecord]:
        dataset_id = DATASETS.find_id(conn, store, dataset, create=False)
        query = select(t.dataset_snapshots).where(s.dataset_id == dataset_id).order_by(s.version)
        return [SnapshotRecord.from_row(r) for r in conn.execute(query)]

    return store.query(read)


def get_snapshot(store: Store, dataset: str, version: int | None = None) -> SnapshotRecord:
    """Snapshot ``version`` of ``dataset`` (the latest if ``None``).

    Raises:
        NotFoundError: no such dataset (with the closest name), or no such version (with
            the versions there are).
    """

    def read(conn: Connection) -> SnapshotRecord:
        dataset_id = DATASETS.find_id(conn, store, dataset, create=False)
        query = select(t.dataset_snapshots).where(s.dataset_id == dataset_id)
        if version is None:
            row = conn.execute(query.order_by(s.version.desc()).limit(1)).first()
        else:
            row = conn.execute(query.where(s.version == version)).first()
        if row is None:
            versions = conn.execute(
                select(s.version).where(s.dataset_id == dataset_id).order_by(s.version)
            ).scalars()
            listed = ", ".join(str(v) for v in versions) or "none yet"
            which = "has no snapshot" if version is None else f"has no version {version}"
            raise NotFoundError(
                f"Dataset {dataset!r} {which} (versions: {listed}).",
                hint=f"Take one with: conveyor data snapshot SOURCE --name {dataset}",
                dataset=dataset,
                version=version,
            )
        return SnapshotRecord.from_row(row)

    return store.query(read)


def set_dataset_source(
    store: Store,
    dataset: str,
    *,
    spec: Mapping[str, Any],
    appending: bool = False,
    description: str | None = None,
) -> DatasetSourceRecord:
    """Register ``dataset`` (created if new) as read from ``spec``; a new spec forgets the
    last scan's state (new data is judged against the new source)."""
    validate_name(dataset, what="dataset name")

    def tx(conn: Connection) -> DatasetSourceRecord:
        dataset_id = DATASETS.find_id(conn, store, dataset, create=True)
        if description is not None:
            conn.execute(
                update(t.datasets).where(d.id == dataset_id).values(description=description)
            )
        current = conn.execute(
            select(src.spec, src.state).where(src.dataset_id == dataset_id)
        ).first()
        state = current.state if current is not None and current.spec == dict(spec) else None
        values = {"spec": dict(spec), "appending": appending, "state": state}
        conn.execute(
            insert(conn, t.dataset_sources)
            .values(dataset_id=dataset_id, updated_at=now_ms(), **values)
            .on_conflict_do_update(
                index_elements=["dataset_id"], set_={**values, "updated_at": now_ms()}
            )
        )
        return _source(conn, dataset, dataset_id)

    return store.transact(tx, what="dataset source")


def get_dataset_source(store: Store, dataset: str) -> DatasetSourceRecord:
    """How ``dataset`` is read, and its source's state at the last check.

    Raises:
        NotFoundError: no such dataset, or it has no registered source (its snapshots were
            all taken from data in memory).
    """

    def read(conn: Connection) -> DatasetSourceRecord:
        dataset_id = DATASETS.find_id(conn, store, dataset, create=False)
        return _source(conn, dataset, dataset_id)

    return store.query(read)


def set_source_state(store: Store, dataset: str, state: Mapping[str, Any]) -> None:
    """Remember what ``dataset``'s source looked like at this check for new data."""

    def tx(conn: Connection) -> None:
        dataset_id = DATASETS.find_id(conn, store, dataset, create=False)
        changed = conn.execute(
            update(t.dataset_sources)
            .where(src.dataset_id == dataset_id)
            .values(state=dict(state), updated_at=now_ms())
        ).rowcount
        if not changed:
            _source(conn, dataset, dataset_id)  # raises: no source registered

    store.transact(tx, what="dataset source state")


def _source(conn: Connection, dataset: str, dataset_id: int) -> DatasetSourceRecord:
    row = conn.execute(
        select(d.name.label("dataset"), src.spec, src.appending, src.state, src.updated_at)
        .join(t.datasets, d.id == src.dataset_id)
        .where(src.dataset_id == dataset_id)
    ).first()
    if row is None:
        raise NotFoundError(
            f"Dataset {dataset!r} has no registered source: its snapshots came from data in "
            "memory, which cannot be read again.",
            hint=f"Register one with: conveyor data snapshot PATH_OR_URL --name {dataset}",
            dataset=dataset,
        )
    return DatasetSourceRecord.from_row(row)


def _insert_use(conn: Connection, snapshot_id: int, step_run_id: int, direction: str) -> None:
    conn.execute(
        insert(conn, t.snapshot_uses)
        .values(
            snapshot_id=snapshot_id,
            step_run_id=step_run_id,
            direction=direction,
            created_at=now_ms(),
        )
        .on_conflict_do_nothing(index_elements=["snapshot_id", "step_run_id", "direction"])
    )


def record_snapshot_read(store: Store, snapshot_id: int, step_run_id: int) -> None:
    """Record that step run ``step_run_id`` read snapshot ``snapshot_id`` (once, however
    often it reads it or is retried).

    Raises:
        NotFoundError: either id is not the store project's.
    """

    def tx(conn: Connection) -> None:
        require_in_project(conn, store, [("step run", step_run_id)])
        _require_snapshot(conn, store, snapshot_id)
        _insert_use(conn, snapshot_id, step_run_id, "read")

    store.transact(tx, what="snapshot read")


def _require_snapshot(conn: Connection, store: Store, snapshot_id: int) -> None:
    found = conn.execute(
        select(s.id)
        .join(t.datasets, d.id == s.dataset_id)
        .where(s.id == snapshot_id, d.project_id == store.project_id)
    ).first()
    if found is None:
        raise not_in_project(store, "snapshot", snapshot_id)


def snapshot_uses(store: Store, run_id: int) -> list[SnapshotUseRecord]:
    """The snapshots run ``run_id``'s steps read and wrote, in the order they did.

    Raises:
        NotFoundError: the run is not the store project's.
    """
    st_ = _STEP_RUNS.c
    query = (
        select(
            use.step_run_id,
            st_.name.label("step"),
            use.direction,
            d.name.label("dataset"),
            s.version,
            s.digest,
            use.snapshot_id,
        )
        .join(_STEP_RUNS, st_.id == use.step_run_id)
        .join(t.dataset_snapshots, s.id == use.snapshot_id)
        .join(t.datasets, d.id == s.dataset_id)
        .where(st_.run_id == run_id)
        .order_by(use.id)
    )

    def read(conn: Connection) -> list[SnapshotUseRecord]:
        require_in_project(conn, store, [("run", run_id)])
        return [SnapshotUseRecord.from_row(r) for r in conn.execute(query)]

    return store.query(read)
