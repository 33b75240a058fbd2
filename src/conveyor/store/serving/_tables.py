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

# The prediction log's Parquet segments (blobs in the artifact store, by digest): one per
# write of a deployment's rows for one model version and role. Prediction ids are UUIDv7,
# whose text sorts as time does, so the segments that may hold an id are those whose
# [first_id, last_id] contains it. The digest is unique: a retried insert finds its row.
prediction_segments = Table(
    "prediction_segments",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("project_id", Integer, fk("projects.id", cascade=True), nullable=False),
    Column("deployment_id", Integer, fk("deployments.id", cascade=True), nullable=False),
    Column("model_version_id", BigId, fk("model_versions.id", nullable=True)),
    Column("role", String(16), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("n_rows", Integer, nullable=False),
    Column("n_bytes", BigInteger, nullable=False),
    Column("first_id", String(36), nullable=False),
    Column("last_id", String(36), nullable=False),
    Column("min_ts", BigInteger, nullable=False),
    Column("max_ts", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("project_id", "digest"),
    Index(None, "deployment_id", "max_ts"),
    Index(None, "project_id", "first_id", "last_id"),
    Index(None, "model_version_id"),
)

# Ground-truth labels for predictions, one per prediction id and project, however often
# they are sent: a new label replaces the old one. ``prediction_ts`` is the time inside
# the id, so monitoring windows labels by prediction time without reading the log.
feedback = Table(
    "feedback",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("project_id", Integer, fk("projects.id", cascade=True), nullable=False),
    Column("prediction_id", String(36), nullable=False),
    Column("deployment_id", Integer, fk("deployments.id", nullable=True)),
    Column("label", Json, nullable=False),
    Column("prediction_ts", BigInteger, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("project_id", "prediction_id"),
    Index(None, "project_id", "prediction_ts"),
    Index(None, "deployment_id", "prediction_ts"),
)
