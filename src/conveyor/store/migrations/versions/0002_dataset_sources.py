"""dataset sources and snapshot uses

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 17:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "dataset_sources",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("spec", JSON, nullable=False),
        sa.Column("appending", sa.Boolean(), nullable=False),
        sa.Column("state", JSON, nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_dataset_sources_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("dataset_id", name=op.f("pk_dataset_sources")),
    )
    op.create_table(
        "snapshot_uses",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("snapshot_id", BIG_ID, nullable=False),
        sa.Column("step_run_id", BIG_ID, nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["dataset_snapshots.id"],
            name=op.f("fk_snapshot_uses_snapshot_id_dataset_snapshots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["step_run_id"],
            ["step_runs.id"],
            name=op.f("fk_snapshot_uses_step_run_id_step_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snapshot_uses")),
        sa.UniqueConstraint(
            "snapshot_id",
            "step_run_id",
            "direction",
            name=op.f("uq_snapshot_uses_snapshot_id_step_run_id_direction"),
        ),
    )
    with op.batch_alter_table("snapshot_uses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_snapshot_uses_step_run_id"), ["step_run_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("snapshot_uses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_snapshot_uses_step_run_id"))
    op.drop_table("snapshot_uses")
    op.drop_table("dataset_sources")
