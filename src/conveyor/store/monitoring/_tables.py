"""The monitoring tables (see ``conveyor.store._schema`` for the conventions)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, UniqueConstraint

from .._schema import BigId, Json, fk, metadata

# One computed window of one monitor (``drift``, ``performance``) over a deployment's
# prediction log. ``window_key`` names the window however it is cut (by time or by count),
# so computing a window again updates its row instead of adding a second (a performance
# window is recomputed as late labels arrive).
monitor_windows = Table(
    "monitor_windows",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("project_id", Integer, fk("projects.id", cascade=True), nullable=False),
    Column("deployment_id", Integer, fk("deployments.id", cascade=True), nullable=False),
    Column("monitor", String(32), nullable=False),
    Column("window_key", String(64), nullable=False),
    Column("start_ms", BigInteger, nullable=False),
    Column("end_ms", BigInteger, nullable=False),
    Column("n_rows", Integer, nullable=False),
    Column("model_version_id", BigId, fk("model_versions.id", nullable=True)),
    Column("status", String(16), nullable=False),
    Column("figures", Json, nullable=False, default=dict),
    Column("computed_at", BigInteger, nullable=False),
    UniqueConstraint("project_id", "deployment_id", "monitor", "window_key"),
    Index(None, "deployment_id", "monitor", "end_ms"),
    Index(None, "model_version_id"),
)

# What a monitor carries from one run to the next (its cursor, its cached reference, a
# sequential detector's state), written by compare-and-set on ``revision`` so two
# processes computing the same monitor never both advance it.
monitor_states = Table(
    "monitor_states",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, fk("projects.id", cascade=True), nullable=False),
    Column("deployment_id", Integer, fk("deployments.id", cascade=True), nullable=False),
    Column("monitor", String(32), nullable=False),
    Column("state", Json, nullable=False, default=dict),
    Column("revision", Integer, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("project_id", "deployment_id", "monitor"),
    Index(None, "deployment_id"),
)
