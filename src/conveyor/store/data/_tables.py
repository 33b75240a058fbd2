"""The data tables (see ``conveyor.store._schema`` for the conventions)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from .._schema import BigId, Json, fk, metadata
from .._versioned import names_table

datasets = names_table("datasets")

dataset_snapshots = Table(
    "dataset_snapshots",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("dataset_id", Integer, fk("datasets.id", cascade=True), nullable=False),
    Column("version", Integer, nullable=False),
    Column("artifact_id", BigId, fk("artifacts.id"), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("source", Text, nullable=False, default=""),
    Column("schema", Json, nullable=False, default=dict),
    Column("statistics", Json, nullable=False, default=dict),
    Column("n_rows", BigInteger),
    Column("run_id", BigId, fk("runs.id", nullable=True)),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("dataset_id", "version"),
    UniqueConstraint("dataset_id", "digest"),
    Index(None, "run_id"),
    Index(None, "artifact_id"),
)

# How to read a dataset again, and what its source looked like at the last check for new
# data. The spec and the state are written by ``conveyor.data``; the store keeps them.
dataset_sources = Table(
    "dataset_sources",
    metadata,
    Column("dataset_id", Integer, fk("datasets.id", cascade=True), primary_key=True),
    Column("spec", Json, nullable=False),
    Column("appending", Boolean, nullable=False, default=False),
    Column("state", Json),
    Column("updated_at", BigInteger, nullable=False),
)

# Which step runs read or wrote which snapshots: a run shows the data it stood on.
snapshot_uses = Table(
    "snapshot_uses",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("snapshot_id", BigId, fk("dataset_snapshots.id", cascade=True), nullable=False),
    Column("step_run_id", BigId, fk("step_runs.id", cascade=True), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("snapshot_id", "step_run_id", "direction"),
    Index(None, "step_run_id"),
)
