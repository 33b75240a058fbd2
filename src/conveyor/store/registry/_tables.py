"""The registry tables (see ``conveyor.store._schema`` for the conventions)."""

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

from ...core import MODEL_VERSION_STATES
from .._schema import BigId, Json, fk, metadata, states
from .._versioned import names_table

models = names_table("models")

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("model_id", Integer, fk("models.id", cascade=True), nullable=False),
    Column("version", Integer, nullable=False),
    Column("run_id", BigId, fk("runs.id", nullable=True)),
    Column("artifact_id", BigId, fk("artifacts.id", nullable=True)),
    # The version this one was trained from (incremental training), if any.
    Column("parent_version_id", BigId, fk("model_versions.id", nullable=True)),
    Column("flavor", String(64), nullable=False, default=""),
    Column("signature", Json, nullable=False, default=dict),
    Column("metrics", Json, nullable=False, default=dict),
    Column("params", Json, nullable=False, default=dict),
    Column("tags", Json, nullable=False, default=dict),
    Column("status", String(16), nullable=False, default="ready"),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("model_id", "version"),
    states("status", MODEL_VERSION_STATES),
    Index(None, "run_id"),
    Index(None, "artifact_id"),
    Index(None, "parent_version_id"),
)

aliases = Table(
    "aliases",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model_id", Integer, fk("models.id", cascade=True), nullable=False),
    Column("name", String(128), nullable=False),
    Column("version_id", BigId, fk("model_versions.id"), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("model_id", "name"),
    Index(None, "version_id"),
)

alias_history = Table(
    "alias_history",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("model_id", Integer, fk("models.id", cascade=True), nullable=False),
    Column("alias", String(128), nullable=False),
    Column("from_version_id", BigId, fk("model_versions.id", nullable=True)),
    Column("to_version_id", BigId, fk("model_versions.id", nullable=True)),
    # The evaluation that allowed the move, when one did (a promotion to the champion).
    Column("evaluation_id", BigId, fk("evaluations.id", nullable=True)),
    Column("reason", Text, nullable=False, default=""),
    Column("actor", String(128), nullable=False, default=""),
    Column("moved_at", BigInteger, nullable=False),
    Index(None, "model_id", "alias", "id"),
    Index(None, "from_version_id"),
    Index(None, "to_version_id"),
    Index(None, "evaluation_id"),
)

# An evaluation of one version (against a baseline version, the champion, when there was
# one): the full report, its digest, and the store's signature over both, so a promotion
# can prove which evaluation allowed it and a report edited afterwards no longer verifies.
evaluations = Table(
    "evaluations",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("model_version_id", BigId, fk("model_versions.id", cascade=True), nullable=False),
    Column("baseline_version_id", BigId, fk("model_versions.id", nullable=True)),
    Column("step_run_id", BigId, fk("step_runs.id", nullable=True)),
    Column("passed", Boolean, nullable=False),
    Column("report", Json, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("signature", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "model_version_id", "id"),
    Index(None, "baseline_version_id"),
    Index(None, "step_run_id"),
)
