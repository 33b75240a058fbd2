"""The automation tables (see ``conveyor.store._schema`` for the conventions)."""

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

from ...core import CLAIM_STATES
from .._schema import BigId, Json, fk, metadata, states

triggers = Table(
    "triggers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, fk("projects.id", cascade=True), nullable=False),
    Column("name", String(128), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("pipeline", String(128), nullable=False),
    Column("config", Json, nullable=False, default=dict),
    Column("timezone", String(64), nullable=False, default="UTC"),
    Column("next_fire_at", BigInteger),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("project_id", "name"),
    # The scheduler's scan: a project's enabled triggers in order of their next firing.
    Index(None, "project_id", "enabled", "next_fire_at"),
)

# One row per firing of a trigger: (trigger, window) is unique, so however many controllers
# see the same firing, exactly one holds it at a time. The holder's lease lets another
# controller take a firing over when the holder dies before starting its run; ``attempt``
# counts the takeovers and fences the holder's later writes (RELIABILITY rule 7).
trigger_claims = Table(
    "trigger_claims",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("trigger_id", Integer, fk("triggers.id", cascade=True), nullable=False),
    Column("window_key", String(128), nullable=False),
    Column("status", String(16), nullable=False, default="claimed"),
    Column("claimed_by", String(64), nullable=False),
    Column("attempt", Integer, nullable=False, default=1),
    Column("lease_expires_at", BigInteger),
    Column("reason", Text, nullable=False, default=""),
    Column("claimed_at", BigInteger, nullable=False),
    UniqueConstraint("trigger_id", "window_key"),
    states("status", CLAIM_STATES),
    Index(None, "status", "lease_expires_at"),
)
