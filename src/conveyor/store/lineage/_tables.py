"""The lineage tables (see ``conveyor.store._schema`` for the conventions)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from .._schema import BigId, Json, fk, metadata

artifacts = Table(
    "artifacts",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("project_id", Integer, fk("projects.id", cascade=True), nullable=False),
    # sha256 of the bytes, or of the directory manifest for kind = 'dir'.
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("name", String(256)),
    Column("type_name", String(256)),
    Column("media_type", String(128)),
    Column("meta", Json, nullable=False, default=dict),
    Column("producer_step_run_id", BigId, fk("step_runs.id", nullable=True)),
    Column("created_at", BigInteger, nullable=False),
    CheckConstraint("kind IN ('file', 'dir')", name="kind_valid"),
    Index(None, "digest"),
    Index(None, "project_id", "id"),
    Index(None, "producer_step_run_id"),
)

# The members of directory artifacts, so garbage collection can find every referenced blob
# with one query.
artifact_files = Table(
    "artifact_files",
    metadata,
    Column("artifact_id", BigId, fk("artifacts.id", cascade=True), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Index(None, "digest"),
)

lineage_edges = Table(
    "lineage_edges",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("step_run_id", BigId, fk("step_runs.id", cascade=True), nullable=False),
    Column("artifact_id", BigId, fk("artifacts.id", cascade=True), nullable=False),
    Column("direction", String(3), nullable=False),
    Column("name", String(256), nullable=False),
    UniqueConstraint("step_run_id", "direction", "name"),
    CheckConstraint("direction IN ('in', 'out')", name="direction_valid"),
    Index(None, "artifact_id"),
)
