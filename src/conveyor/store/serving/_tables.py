"""The serving tables (see ``conveyor.store._schema`` for the conventions)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from .._schema import BigId, Json, fk, metadata

deployments = Table(
    "deployments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, fk("projects.id", cascade=True), nullable=False),
    Column("name", String(128), nullable=False),
    Column("model_id", Integer, fk("models.id"), nullable=False),
    Column("alias", String(128), nullable=False),
    Column("strategy", String(16), nullable=False, default="replace"),
    Column("config", Json, nullable=False, default=dict),
    Column("status", String(16), nullable=False, default="pending"),
    Column("serving_version_id", BigId, fk("model_versions.id", nullable=True)),
    Column("previous_version_id", BigId, fk("model_versions.id", nullable=True)),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("project_id", "name"),
    Index(None, "model_id"),
    Index(None, "serving_version_id"),
    Index(None, "previous_version_id"),
)
