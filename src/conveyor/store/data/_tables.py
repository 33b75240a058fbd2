"""The data tables (see ``conveyor.store._schema`` for the conventions)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text, UniqueConstraint

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
