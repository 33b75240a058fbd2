"""The runs tables (see ``conveyor.store._schema`` for the conventions)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ...core import ATTEMPT_STATES, RUN_STATES, STEP_STATES
from .._schema import BigId, Json, fk, metadata, states

runs = Table(
    "runs",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("project_id", Integer, fk("projects.id", cascade=True), nullable=False),
    Column("pipeline", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    # Caller-chosen key ("trigger 7 window 2026-11-24T10:00") that makes creation idempotent.
    Column("idempotency_key", String(256)),
    Column("trigger_claim_id", BigId, fk("trigger_claims.id", nullable=True)),
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
    states("status", RUN_STATES),
    Index(None, "project_id", "status"),
    Index(None, "project_id", "pipeline", "id"),
)

step_runs = Table(
    "step_runs",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("run_id", BigId, fk("runs.id", cascade=True), nullable=False),
    # Unique within the run: "train", or "score[3]" for one item of a fan-out.
    Column("name", String(256), nullable=False),
    Column("status", String(16), nullable=False, default="pending"),
    # The current attempt number, the fencing token every result commit must present.
    Column("attempt", Integer, nullable=False, default=0),
    Column("cache_key", String(64)),
    Column("cached_from_id", BigId, fk("step_runs.id", nullable=True)),
    Column("lease_owner", String(64)),
    Column("lease_expires_at", BigInteger),
    Column("error", Text),
    Column("logs_digest", String(64)),
    Column("started_at", BigInteger),
    Column("finished_at", BigInteger),
    UniqueConstraint("run_id", "name"),
    states("status", STEP_STATES),
    Index(None, "cache_key", "status"),
    Index(None, "cached_from_id"),
)

step_attempts = Table(
    "step_attempts",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("step_run_id", BigId, fk("step_runs.id", cascade=True), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("worker", String(64)),
    Column("error", Text),
    Column("started_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger),
    UniqueConstraint("step_run_id", "attempt"),
    states("status", ATTEMPT_STATES),
)

params = Table(
    "params",
    metadata,
    Column("run_id", BigId, fk("runs.id", cascade=True), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Json, nullable=True),
)

metrics = Table(
    "metrics",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("run_id", BigId, fk("runs.id", cascade=True), nullable=False),
    Column("step_run_id", BigId, fk("step_runs.id", nullable=True)),
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
    Column("step_run_id", BigId, fk("step_runs.id", cascade=True), primary_key=True),
    Column("attempt", Integer, primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("run_id", BigId, fk("runs.id", cascade=True), nullable=False),
    Column("value", Json, nullable=True),
    Index(None, "run_id"),
)
