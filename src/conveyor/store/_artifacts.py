"""Artifact metadata: what each stored blob is, who produced it, and what references it.

The bytes live in :mod:`conveyor.artifacts`; a row here is written only after the bytes are
durably stored (RELIABILITY rule 9), so every recorded digest is readable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, select, union

from ..core import NotFoundError, check_relative_path, now_ms, parse_digest
from . import _schema as t
from ._engine import Store
from ._records import ArtifactRecord, LineageEdge

a = t.artifacts.c


def record_artifact(
    store: Store,
    digest: str,
    size: int,
    *,
    kind: str = "file",
    name: str | None = None,
    type_name: str | None = None,
    media_type: str | None = None,
    meta: Mapping[str, Any] | None = None,
    files: Sequence[tuple[str, str, int]] = (),
    producer_step_run_id: int | None = None,
) -> ArtifactRecord:
    """Record a stored blob (``kind='file'``) or directory manifest (``kind='dir'``).

    Args:
        files: For directories, the ``(path, digest, size)`` of every member.
        name: A user-visible relative name such as ``model`` or ``reports/eval.json``.
    """
    digest = parse_digest(digest)
    if name is not None:
        name = str(check_relative_path(name, what="artifact name"))
    for path, member, _ in files:
        check_relative_path(path, what="directory member")
        parse_digest(member)

    def tx(conn: Connection) -> ArtifactRecord:
        row = conn.execute(
            t.artifacts.insert()
            .values(
                project_id=store.project_id,
                digest=digest,
                size=size,
                kind=kind,
                name=name,
                type_name=type_name,
                media_type=media_type,
                meta=dict(meta or {}),
                producer_step_run_id=producer_step_run_id,
                created_at=now_ms(),
            )
            .returning(*t.artifacts.c)
        ).one()
        if files:
            conn.execute(
                t.artifact_files.insert(),
                [{"artifact_id": row.id, "path": p, "digest": d, "size": s} for p, d, s in files],
            )
        return ArtifactRecord.from_row(row)

    return store.transact(tx, what="artifact record")


def get_artifact(store: Store, ref: int | str) -> ArtifactRecord:
    """An artifact by id, or the newest one with a digest (``sha256:...`` or a hex prefix ≥ 8)."""
    query = select(t.artifacts).where(a.project_id == store.project_id)
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        query = query.where(a.id == int(ref))
    else:
        text = ref.removeprefix("sha256:")
        if len(text) < 8 or any(ch not in "0123456789abcdef" for ch in text):
            parse_digest(ref)  # raises the standard message
        query = query.where(a.digest.startswith(text)).order_by(a.id.desc()).limit(1)
    row = store.query(lambda conn: conn.execute(query).first())
    if row is None:
        raise NotFoundError(
            f"No artifact {ref!r} in project {store.project!r}.",
            hint="List artifacts with: conveyor artifacts list",
        )
    return ArtifactRecord.from_row(row)


def list_artifacts(
    store: Store, *, limit: int = 100, name: str | None = None
) -> list[ArtifactRecord]:
    query = select(t.artifacts).where(a.project_id == store.project_id)
    if name:
        query = query.where(a.name == name)
    query = query.order_by(a.id.desc()).limit(limit)
    return store.query(lambda conn: [ArtifactRecord.from_row(r) for r in conn.execute(query)])


def artifact_files(store: Store, artifact_id: int) -> list[tuple[str, str, int]]:
    f = t.artifact_files.c
    query = select(f.path, f.digest, f.size).where(f.artifact_id == artifact_id).order_by(f.path)
    return store.query(lambda conn: [(p, d, s) for p, d, s in conn.execute(query)])


def artifact_lineage(store: Store, artifact_id: int) -> list[LineageEdge]:
    """Every step run that produced (``out``) or consumed (``in``) this artifact."""
    e = t.lineage_edges.c
    query = select(e.step_run_id, e.artifact_id, e.direction, e.name).where(
        e.artifact_id == artifact_id
    )
    return store.query(
        lambda conn: [LineageEdge.from_row(r) for r in conn.execute(query.order_by(e.id))]
    )


def referenced_digests(store: Store) -> set[str]:
    """Every digest any project in this store references: artifacts and directory members.

    Garbage collection keeps these. It spans all projects because blobs are shared.
    """
    query = union(select(a.digest), select(t.artifact_files.c.digest))
    return store.query(lambda conn: {r[0] for r in conn.execute(query)})
