"""monitor windows (the figures of each computed window) and monitor states

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "monitor_states",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("monitor", sa.String(length=32), nullable=False),
        sa.Column("state", JSON, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_monitor_states_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_monitor_states_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_states")),
        sa.UniqueConstraint(
            "project_id",
            "deployment_id",
            "monitor",
            name=op.f("uq_monitor_states_project_id_deployment_id_monitor"),
        ),
    )
    with op.batch_alter_table("monitor_states", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitor_states_deployment_id"), ["deployment_id"], unique=False
        )

    op.create_table(
        "monitor_windows",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("monitor", sa.String(length=32), nullable=False),
        sa.Column("window_key", sa.String(length=64), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("n_rows", sa.Integer(), nullable=False),
        sa.Column("model_version_id", BIG_ID, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("figures", JSON, nullable=False),
        sa.Column("computed_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_monitor_windows_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_monitor_windows_model_version_id_model_versions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_monitor_windows_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_windows")),
        sa.UniqueConstraint(
            "project_id",
            "deployment_id",
            "monitor",
            "window_key",
            name=op.f("uq_monitor_windows_project_id_deployment_id_monitor_window_key"),
        ),
    )
    with op.batch_alter_table("monitor_windows", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitor_windows_deployment_id_monitor_end_ms"),
            ["deployment_id", "monitor", "end_ms"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_monitor_windows_model_version_id"), ["model_version_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("monitor_windows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitor_windows_model_version_id"))
        batch_op.drop_index(batch_op.f("ix_monitor_windows_deployment_id_monitor_end_ms"))

    op.drop_table("monitor_windows")
    with op.batch_alter_table("monitor_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitor_states_deployment_id"))

    op.drop_table("monitor_states")
