"""Datasets and their immutable snapshots (dense versions, deduplicated by content digest)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select

from ...core import SNAPSHOT_CREATED, now_ms, parse_digest, validate_name
from .._engine import Operation, Replay, Store
from .._sql import require_in_project
from .._versioned import Versioned
from ..events import append_event
from . import _tables as t
from ._records import DatasetRecord, SnapshotRecord

d, s = t.datasets.c, t.dataset_snapshots.c


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
) -> tuple[SnapshotRecord, bool]:
    """Record a snapshot of ``dataset``; return ``(snapshot, created)``.

    The same content (digest) is the same snapshot: a repeat returns the existing one with
    ``created=False``, so "new data" triggers fire once per distinct content.

    Raises:
        NotFoundError: ``artifact_id`` or ``run_id`` is not the store project's.
    """
    validate_name(dataset, what="dataset name")
    digest = parse_digest(digest)

    def tx(conn: Connection, _op: Operation) -> tuple[SnapshotRecord, bool]:
        require_in_project(conn, store, [("artifact", artifact_id), ("run", run_id)])
        dataset_id = DATASETS.find_id(conn, store, dataset, create=True)
        number = DATASETS.next_version(conn, dataset_id)
        existing = conn.execute(
            select(t.dataset_snapshots).where(s.dataset_id == dataset_id, s.digest == digest)
        ).first()
        if existing is not None:
            DATASETS.give_back(conn, dataset_id, number)
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
