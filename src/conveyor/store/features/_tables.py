"""The feature tables (see ``conveyor.store._schema`` for the conventions)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text, UniqueConstraint

from .._schema import BigId, Json, fk, metadata

# A view's definition as its code last declared it (the code is the truth; this is what
# lineage and the online store's watermark refer to).
feature_views = Table(
    "feature_views",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, fk("projects.id", cascade=True), nullable=False),
    Column("name", String(128), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("definition", Json, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("project_id", "name"),
)

# How far each view was materialised into the online store: rows up to ``watermark`` (event
# time, epoch microseconds) from the view as defined by ``digest``. A changed definition
# starts again from nothing.
feature_materializations = Table(
    "feature_materializations",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("view_id", Integer, fk("feature_views.id", cascade=True), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("start_us", BigInteger),
    Column("watermark_us", BigInteger, nullable=False),
    Column("n_rows", BigInteger, nullable=False),
    Column("source", Text, nullable=False, default=""),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "view_id", "id"),
)

# Which step runs read which views (and at which definition): training data's lineage.
feature_view_uses = Table(
    "feature_view_uses",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("view_id", Integer, fk("feature_views.id", cascade=True), nullable=False),
    Column("step_run_id", BigId, fk("step_runs.id", cascade=True), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("view_id", "step_run_id", "digest"),
    Index(None, "step_run_id"),
)
