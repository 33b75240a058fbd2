"""The tuning tables (see ``conveyor.store._schema`` for the conventions)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from ...core import TRIAL_STATES
from .._schema import BigId, Json, fk, metadata, states

# One row per trial of a tuning study, under the step run that runs the study. A finished
# trial is never run again: a resumed attempt of the step reloads these rows.
tuning_trials = Table(
    "tuning_trials",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("step_run_id", BigId, fk("step_runs.id", cascade=True), nullable=False),
    Column("number", Integer, nullable=False),
    # The step attempt that ran the trial (the fencing token of its writes).
    Column("attempt", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("params", Json, nullable=False, default=dict),
    Column("distributions", Json, nullable=False, default=dict),
    Column("value", Float),
    Column("intermediate", Json, nullable=False, default=dict),
    Column("user_attrs", Json, nullable=False, default=dict),
    Column("artifact_id", BigId, fk("artifacts.id", nullable=True)),
    Column("error", String(2000)),
    Column("started_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger),
    UniqueConstraint("step_run_id", "number"),
    states("state", TRIAL_STATES),
    Index(None, "artifact_id"),
)
