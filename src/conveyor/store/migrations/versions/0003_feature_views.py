"""feature views, their materialisations and their uses

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 17:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "feature_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_feature_views_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_views")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_feature_views_project_id_name")),
    )
    op.create_table(
        "feature_materializations",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("view_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("start_us", sa.BigInteger(), nullable=True),
        sa.Column("watermark_us", sa.BigInteger(), nullable=False),
        sa.Column("n_rows", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["view_id"],
            ["feature_views.id"],
            name=op.f("fk_feature_materializations_view_id_feature_views"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_materializations")),
    )
    with op.batch_alter_table("feature_materializations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feature_materializations_view_id_id"), ["view_id", "id"], unique=False
        )
    op.create_table(
        "feature_view_uses",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("view_id", sa.Integer(), nullable=False),
        sa.Column("step_run_id", BIG_ID, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["step_run_id"],
            ["step_runs.id"],
            name=op.f("fk_feature_view_uses_step_run_id_step_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["view_id"],
            ["feature_views.id"],
            name=op.f("fk_feature_view_uses_view_id_feature_views"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_view_uses")),
        sa.UniqueConstraint(
            "view_id",
            "step_run_id",
            "digest",
            name=op.f("uq_feature_view_uses_view_id_step_run_id_digest"),
        ),
    )
    with op.batch_alter_table("feature_view_uses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feature_view_uses_step_run_id"), ["step_run_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("feature_view_uses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feature_view_uses_step_run_id"))
    op.drop_table("feature_view_uses")
    with op.batch_alter_table("feature_materializations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feature_materializations_view_id_id"))
    op.drop_table("feature_materializations")
    op.drop_table("feature_views")
