"""Artifact metadata: what each stored blob is, who produced it, and what references it.

The bytes live in :mod:`conveyor.artifacts`; a row here is written only after the bytes are
durably stored (RELIABILITY rule 9), so every recorded digest is readable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    String,
    bindparam,
    cast,
    column,
    select,
    table,
    union,
)

from ...core import (
    InvalidValueError,
    NotFoundError,
    check_relative_path,
    did_you_mean,
    now_ms,
    parse_digest,
)
from .._engine import Store
from .._hot import HotStatement
from .._sql import (
    PROJECT,
    artifact_in_project,
    replay_by_id,
    require_in_project,
    step_run_in_project,
)
from . import _tables as t
from ._records import ArtifactRecord, LineageEdgeRecord, NewArtifact

a = t.artifacts.c
_INSERT_ARTIFACT = t.artifacts.insert().returning(*t.artifacts.c)
_REPLAY = replay_by_id(t.artifacts, ArtifactRecord.from_row)


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
    spec = NewArtifact(
        digest=digest,
        size=size,
        kind=kind,
        name=name,
        type_name=type_name,
        media_type=media_type,
        meta=dict(meta or {}),
        files=tuple(files),
    )
    spec = checked(spec)

    def tx(conn: Connection, _op: object) -> ArtifactRecord:
        require_in_project(conn, store, [("step run", producer_step_run_id)])
        return insert_artifact(conn, store, spec, producer_step_run_id)

    return store.transact_once(
        tx,
        what="artifact record",
        replay=_REPLAY,
    )


def checked(spec: NewArtifact) -> NewArtifact:
    """Validate a spec's digest, name and member paths; return it normalised."""
    name = spec.name
    if name is not None:
        name = str(check_relative_path(name, what="artifact name"))
    if spec.kind not in ("file", "dir"):
        raise InvalidValueError(
            f"An artifact's kind must be 'file' or 'dir'. Got {spec.kind!r}."
            f"{did_you_mean(str(spec.kind), ('file', 'dir'))}",
            hint="Record a single blob as 'file' and a directory manifest as 'dir'.",
        )
    for path, member, _ in spec.files:
        check_relative_path(path, what="directory member")
        parse_digest(member)
    return replace(spec, digest=parse_digest(spec.digest), name=name)


def insert_artifact(
    conn: Connection, store: Store, spec: NewArtifact, producer_step_run_id: int | None
) -> ArtifactRecord:
    """Insert a checked spec inside the caller's transaction (``producer_step_run_id``
    checked by the caller to be the store project's)."""
    row = conn.execute(
        _INSERT_ARTIFACT,
        {
            "project_id": store.project_id,
            "digest": spec.digest,
            "size": spec.size,
            "kind": spec.kind,
            "name": spec.name,
            "type_name": spec.type_name,
            "media_type": spec.media_type,
            "meta": dict(spec.meta),
            "producer_step_run_id": producer_step_run_id,
            "created_at": now_ms(),
        },
    ).one()
    if spec.files:
        conn.execute(
            t.artifact_files.insert(),
            [{"artifact_id": row.id, "path": p, "digest": d, "size": n} for p, d, n in spec.files],
        )
    return ArtifactRecord.from_row(row)


def get_artifact(store: Store, ref: int | str) -> ArtifactRecord:
    """An artifact by id, or the newest with a digest (``sha256:...`` or a hex prefix of 8+).

    A string of fewer than 8 digits is an id; ``sha256:`` forces a digest; a longer string
    of digits is tried as a digest prefix first, then as an id.
    """
    by_id = select(t.artifacts).where(a.project_id == store.project_id)
    text = ref if isinstance(ref, str) else ""
    if isinstance(ref, int) or (text.isdigit() and len(text) < 8):
        query = by_id.where(a.id == int(ref))
        fallback = None
    else:
        prefix = text.removeprefix("sha256:")
        if len(prefix) < 8 or any(ch not in "0123456789abcdef" for ch in prefix):
            parse_digest(text)  # raises the standard message
        query = by_id.where(a.digest.startswith(prefix)).order_by(a.id.desc()).limit(1)
        fallback = by_id.where(a.id == int(text)) if text.isdigit() else None

    def read(conn: Connection) -> Any:
        row = conn.execute(query).first()
        if row is None and fallback is not None:
            row = conn.execute(fallback).first()
        return row

    row = store.query(read)
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
    """The members of a directory artifact (none for another project's artifact)."""
    f = t.artifact_files.c
    query = (
        select(f.path, f.digest, f.size)
        .where(f.artifact_id == artifact_id, artifact_in_project(f.artifact_id, store.project_id))
        .order_by(f.path)
    )
    return store.query(lambda conn: [(p, d, s) for p, d, s in conn.execute(query)])


def artifact_lineage(store: Store, artifact_id: int) -> list[LineageEdgeRecord]:
    """Every step run that produced (``out``) or consumed (``in``) this artifact (none for
    another project's artifact)."""
    e = t.lineage_edges.c
    query = select(e.step_run_id, e.artifact_id, e.direction, e.name).where(
        e.artifact_id == artifact_id, artifact_in_project(e.artifact_id, store.project_id)
    )
    return store.query(
        lambda conn: [LineageEdgeRecord.from_row(r) for r in conn.execute(query.order_by(e.id))]
    )


# The prediction log's segments (``store.serving``), named rather than imported: serving
# builds on lineage, not the other way round.
_segments = table("prediction_segments", column("digest"))


def referenced_digests(store: Store) -> set[str]:
    """Every digest any project in this store references: artifacts, directory members and
    the prediction log's segments.

    Garbage collection keeps these. It spans all projects because blobs are shared.
    """
    query = union(
        select(a.digest),
        select(t.artifact_files.c.digest),
        select(_segments.c.digest),
    )
    return store.query(lambda conn: {r[0] for r in conn.execute(query)})


# An edge is inserted only if its artifact is the store project's: ``INSERT ... SELECT``
# from that artifact's row, so the check costs no statement of its own; a row count short
# of the edges asked for names a foreign (or missing) artifact.
# Run for every step, so on the driver's cursor (see ``store._hot``).
_INSERT_EDGE = HotStatement(
    t.lineage_edges.insert().from_select(
        ["step_run_id", "artifact_id", "direction", "name"],
        select(
            cast(bindparam("p_step"), BigInteger),
            a.id,
            cast(bindparam("p_direction"), String),
            cast(bindparam("p_name"), String),
        ).where(a.id == bindparam("p_artifact"), a.project_id == PROJECT),
    )
)


def insert_edges(
    conn: Connection,
    store: Store,
    step_run_id: int,
    *,
    inputs: Mapping[str, int] | None = None,
    outputs: Mapping[str, int] | None = None,
) -> None:
    """Record that step run ``step_run_id`` (checked by the caller) read ``inputs`` and wrote
    ``outputs`` (name to artifact id), in ``conn``'s transaction, with one statement.

    Raises:
        NotFoundError: an artifact is not the store project's.
    """
    # Plain inserts: a step's edges are written once, by its one successful commit.
    edges = [("in", n, aid) for n, aid in (inputs or {}).items()]
    edges += [("out", n, aid) for n, aid in (outputs or {}).items()]
    if not edges:
        return
    rows = [
        {
            "p_step": step_run_id,
            "p_artifact": aid,
            "p_direction": direction,
            "p_name": n,
            "p_project": store.project_id,
        }
        for direction, n, aid in edges
    ]
    if _INSERT_EDGE.execute_many(conn, rows).rowcount != len(rows):
        require_in_project(conn, store, [("artifact", aid) for _, _, aid in edges])


def read_edges(
    conn: Connection, step_run_id: int, store: Store | None = None
) -> list[LineageEdgeRecord]:
    """The lineage edges of one step run, in the order they were recorded; with ``store``,
    none unless the step run is the store project's."""
    e = t.lineage_edges.c
    query = select(e.step_run_id, e.artifact_id, e.direction, e.name).where(
        e.step_run_id == step_run_id
    )
    if store is not None:
        query = query.where(step_run_in_project(e.step_run_id, store.project_id))
    return [LineageEdgeRecord.from_row(r) for r in conn.execute(query.order_by(e.id))]
