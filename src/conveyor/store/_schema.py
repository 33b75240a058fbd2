"""The metadata schema: every table, constraint and index, as SQLAlchemy Core objects.

Conventions: integer surrogate keys; every ``*_at`` column is UTC epoch milliseconds
(BIGINT), which compares the same on SQLite and PostgreSQL; JSON columns are JSONB on
PostgreSQL. Uniqueness constraints are the idempotency keys of RELIABILITY.md rule 6.
Alembic migrations in ``migrations/versions`` must match this module (a test diffs them).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

from ..core import CLAIM_STATES

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Json = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT identities.
BigId = BigInteger().with_variant(Integer(), "sqlite")

RUN_STATES = ("queued", "running", "succeeded", "failed", "cancelled")
STEP_STATES = (
    "pending",
    "running",
    "succeeded",
    "failed",
    "skipped",
    "upstream_failed",
    "cancelled",
)
ATTEMPT_STATES = ("running", "succeeded", "failed", "superseded")


def _states(column: str, states: tuple[str, ...]) -> CheckConstraint:
    listed = ", ".join(f"'{s}'" for s in states)
    return CheckConstraint(f"{column} IN ({listed})", name=f"{column}_valid")


def _fk(target: str, *, cascade: bool = False, nullable: bool = False) -> ForeignKey:
    return ForeignKey(target, ondelete="CASCADE" if cascade else ("SET NULL" if nullable else None))


projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("project_id", Integer, _fk("projects.id", cascade=True), nullable=False),
    Column("pipeline", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    # Caller-chosen key ("trigger 7 window 2026-11-24T10:00") that makes creation idempotent.
    Column("idempotency_key", String(256)),
    Column("trigger_claim_id", BigId, _fk("trigger_claims.id", nullable=True)),
    Column("params", Json, nullable=False, default=dict),
    Column("tags", Json, nullable=False, default=dict),
    Column("code_version", Json, nullable=False, default=dict),
    Column("environment", Json, nullable=False, default=dict),
    Column("error", Text),
    Column("trace_id", String(32)),
    # Queue claims (RELIABILITY rule 7): owner + lease; attempt is the fencing token.
    Column("lease_owner", String(64)),
    Column("lease_expires_at", BigInteger),
    Column("attempt", Integer, nullable=False, default=0),
    Column("created_at", BigInteger, nullable=False),
    Column("started_at", BigInteger),
    Column("finished_at", BigInteger),
    UniqueConstraint("project_id", "idempotency_key"),
    # Exactly one run per trigger firing (R22): a second run for a claim cannot commit.
    UniqueConstraint("trigger_claim_id"),
    _states("status", RUN_STATES),
    Index(None, "project_id", "status"),
    Index(None, "project_id", "pipeline", "id"),
)

step_runs = Table(
    "step_runs",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("run_id", BigId, _fk("runs.id", cascade=True), nullable=False),
    # Unique within the run: "train", or "score[3]" for one item of a fan-out.
    Column("name", String(256), nullable=False),
    Column("status", String(16), nullable=False, default="pending"),
    # The current attempt number, the fencing token every result commit must present.
    Column("attempt", Integer, nullable=False, default=0),
    Column("cache_key", String(64)),
    Column("cached_from_id", BigId, _fk("step_runs.id", nullable=True)),
    Column("lease_owner", String(64)),
    Column("lease_expires_at", BigInteger),
    Column("error", Text),
    Column("logs_digest", String(64)),
    Column("started_at", BigInteger),
    Column("finished_at", BigInteger),
    UniqueConstraint("run_id", "name"),
    _states("status", STEP_STATES),
    Index(None, "cache_key", "status"),
)

step_attempts = Table(
    "step_attempts",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("step_run_id", BigId, _fk("step_runs.id", cascade=True), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("worker", String(64)),
    Column("error", Text),
    Column("started_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger),
    UniqueConstraint("step_run_id", "attempt"),
    _states("status", ATTEMPT_STATES),
)

params = Table(
    "params",
    metadata,
    Column("run_id", BigId, _fk("runs.id", cascade=True), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Json, nullable=True),
)

metrics = Table(
    "metrics",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("run_id", BigId, _fk("runs.id", cascade=True), nullable=False),
    Column("step_run_id", BigId, _fk("step_runs.id", nullable=True)),
    # The step attempt that logged it (NULL: logged on the run, not by a step). A retried
    # step's earlier attempts keep their rows; readers show the step run's current attempt.
    Column("attempt", Integer),
    Column("key", String(250), nullable=False),
    # NULL is NaN: SQLite cannot store a NaN REAL, and one meaning on both backends is simpler.
    Column("value", Float, nullable=True),
    Column("step", BigInteger, nullable=False, default=0),
    Column("timestamp", BigInteger, nullable=False),
    Index(None, "run_id", "key", "step"),
    Index(None, "step_run_id", "attempt"),
)

# Params a step logs on its step run (``ctx.log_params``), per attempt: a retry may log
# other values without conflicting with the attempt it supersedes.
step_params = Table(
    "step_params",
    metadata,
    Column("step_run_id", BigId, _fk("step_runs.id", cascade=True), primary_key=True),
    Column("attempt", Integer, primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("run_id", BigId, _fk("runs.id", cascade=True), nullable=False),
    Column("value", Json, nullable=True),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("project_id", Integer, _fk("projects.id", cascade=True), nullable=False),
    # sha256 of the bytes, or of the directory manifest for kind = 'dir'.
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("name", String(256)),
    Column("type_name", String(256)),
    Column("media_type", String(128)),
    Column("meta", Json, nullable=False, default=dict),
    Column("producer_step_run_id", BigId, _fk("step_runs.id", nullable=True)),
    Column("created_at", BigInteger, nullable=False),
    CheckConstraint("kind IN ('file', 'dir')", name="kind_valid"),
    Index(None, "digest"),
    Index(None, "project_id", "id"),
)

# The members of directory artifacts, so garbage collection can find every referenced blob
# with one query.
artifact_files = Table(
    "artifact_files",
    metadata,
    Column("artifact_id", BigId, _fk("artifacts.id", cascade=True), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Index(None, "digest"),
)

lineage_edges = Table(
    "lineage_edges",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("step_run_id", BigId, _fk("step_runs.id", cascade=True), nullable=False),
    Column("artifact_id", BigId, _fk("artifacts.id", cascade=True), nullable=False),
    Column("direction", String(3), nullable=False),
    Column("name", String(256), nullable=False),
    UniqueConstraint("step_run_id", "direction", "name"),
    CheckConstraint("direction IN ('in', 'out')", name="direction_valid"),
    Index(None, "artifact_id"),
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, _fk("projects.id", cascade=True), nullable=False),
    Column("name", String(128), nullable=False),
    Column("description", Text, nullable=False, default=""),
    # Highest snapshot version handed out; bumped under a row lock for dense versions.
    Column("last_version", Integer, nullable=False, default=0),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("project_id", "name"),
)

dataset_snapshots = Table(
    "dataset_snapshots",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("dataset_id", Integer, _fk("datasets.id", cascade=True), nullable=False),
    Column("version", Integer, nullable=False),
    Column("artifact_id", BigId, _fk("artifacts.id"), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("source", Text, nullable=False, default=""),
    Column("schema", Json, nullable=False, default=dict),
    Column("statistics", Json, nullable=False, default=dict),
    Column("n_rows", BigInteger),
    Column("run_id", BigId, _fk("runs.id", nullable=True)),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("dataset_id", "version"),
    UniqueConstraint("dataset_id", "digest"),
)

models = Table(
    "models",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, _fk("projects.id", cascade=True), nullable=False),
    Column("name", String(128), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("last_version", Integer, nullable=False, default=0),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("project_id", "name"),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("model_id", Integer, _fk("models.id", cascade=True), nullable=False),
    Column("version", Integer, nullable=False),
    Column("run_id", BigId, _fk("runs.id", nullable=True)),
    Column("artifact_id", BigId, _fk("artifacts.id", nullable=True)),
    Column("flavor", String(64), nullable=False, default=""),
    Column("signature", Json, nullable=False, default=dict),
    Column("metrics", Json, nullable=False, default=dict),
    Column("params", Json, nullable=False, default=dict),
    Column("tags", Json, nullable=False, default=dict),
    Column("status", String(16), nullable=False, default="ready"),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("model_id", "version"),
    CheckConstraint("status IN ('ready', 'failed', 'archived')", name="status_valid"),
)

aliases = Table(
    "aliases",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model_id", Integer, _fk("models.id", cascade=True), nullable=False),
    Column("name", String(128), nullable=False),
    Column("version_id", BigId, _fk("model_versions.id"), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("model_id", "name"),
)

alias_history = Table(
    "alias_history",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("model_id", Integer, _fk("models.id", cascade=True), nullable=False),
    Column("alias", String(128), nullable=False),
    Column("from_version_id", BigId, _fk("model_versions.id", nullable=True)),
    Column("to_version_id", BigId, _fk("model_versions.id", nullable=True)),
    Column("reason", Text, nullable=False, default=""),
    Column("actor", String(128), nullable=False, default=""),
    Column("moved_at", BigInteger, nullable=False),
    Index(None, "model_id", "alias", "id"),
)

deployments = Table(
    "deployments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, _fk("projects.id", cascade=True), nullable=False),
    Column("name", String(128), nullable=False),
    Column("model_id", Integer, _fk("models.id"), nullable=False),
    Column("alias", String(128), nullable=False),
    Column("strategy", String(16), nullable=False, default="replace"),
    Column("config", Json, nullable=False, default=dict),
    Column("status", String(16), nullable=False, default="pending"),
    Column("serving_version_id", BigId, _fk("model_versions.id", nullable=True)),
    Column("previous_version_id", BigId, _fk("model_versions.id", nullable=True)),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("project_id", "name"),
    CheckConstraint("strategy IN ('replace', 'canary', 'shadow')", name="strategy_valid"),
)

triggers = Table(
    "triggers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, _fk("projects.id", cascade=True), nullable=False),
    Column("name", String(128), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("pipeline", String(128), nullable=False),
    Column("config", Json, nullable=False, default=dict),
    Column("timezone", String(64), nullable=False, default="UTC"),
    Column("next_fire_at", BigInteger),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("project_id", "name"),
    CheckConstraint(
        "kind IN ('schedule', 'new_data', 'drift', 'decay', 'manual', 'webhook')",
        name="kind_valid",
    ),
    Index(None, "enabled", "next_fire_at"),
)

# One row per firing of a trigger: (trigger, window) is unique, so however many controllers
# see the same firing, exactly one holds it at a time. The holder's lease lets another
# controller take a firing over when the holder dies before starting its run; ``attempt``
# counts the takeovers and fences the holder's later writes (RELIABILITY rule 7).
trigger_claims = Table(
    "trigger_claims",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("trigger_id", Integer, _fk("triggers.id", cascade=True), nullable=False),
    Column("window_key", String(128), nullable=False),
    Column("status", String(16), nullable=False, default="claimed"),
    Column("claimed_by", String(64), nullable=False),
    Column("attempt", Integer, nullable=False, default=1),
    Column("lease_expires_at", BigInteger),
    Column("reason", Text, nullable=False, default=""),
    Column("claimed_at", BigInteger, nullable=False),
    UniqueConstraint("trigger_id", "window_key"),
    _states("status", CLAIM_STATES),
    Index(None, "status", "lease_expires_at"),
)

# Outcomes of write calls that a retry may repeat, by operation key. ``Store.transact_once``
# gives each logical call a key that all its retries share and records the outcome in the
# call's own transaction, so a retry after a lost COMMIT acknowledgement finds the first
# outcome instead of writing a second one. Rows are only needed while a call retries;
# old ones are pruned.
operations = Table(
    "operations",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("outcome", Json),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "created_at"),
)

# Append-only. ``id`` is the cursor pollers resume from; on PostgreSQL inserts take a
# transaction-level advisory lock so ids commit in order and a cursor never skips an event.
events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("project_id", Integer, _fk("projects.id", cascade=True), nullable=False),
    Column("type", String(128), nullable=False),
    Column("source", String(256), nullable=False),
    Column("subject", String(256), nullable=False, default=""),
    Column("time", BigInteger, nullable=False),
    Column("data", Json, nullable=False, default=dict),
    Index(None, "project_id", "id"),
    Index(None, "project_id", "type", "id"),
)
