"""the prediction log's segments and the feedback labels of predictions

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "prediction_segments",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("model_version_id", BIG_ID, nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("n_rows", sa.Integer(), nullable=False),
        sa.Column("n_bytes", sa.BigInteger(), nullable=False),
        sa.Column("first_id", sa.String(length=36), nullable=False),
        sa.Column("last_id", sa.String(length=36), nullable=False),
        sa.Column("min_ts", sa.BigInteger(), nullable=False),
        sa.Column("max_ts", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_prediction_segments_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_prediction_segments_model_version_id_model_versions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_prediction_segments_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prediction_segments")),
        sa.UniqueConstraint(
            "project_id", "digest", name=op.f("uq_prediction_segments_project_id_digest")
        ),
    )
    with op.batch_alter_table("prediction_segments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_prediction_segments_deployment_id_max_ts"),
            ["deployment_id", "max_ts"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_prediction_segments_model_version_id"),
            ["model_version_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_prediction_segments_project_id_first_id_last_id"),
            ["project_id", "first_id", "last_id"],
            unique=False,
        )

    op.create_table(
        "feedback",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("prediction_id", sa.String(length=36), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=True),
        sa.Column("label", JSON, nullable=False),
        sa.Column("prediction_ts", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_feedback_deployment_id_deployments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_feedback_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
        sa.UniqueConstraint(
            "project_id", "prediction_id", name=op.f("uq_feedback_project_id_prediction_id")
        ),
    )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feedback_deployment_id_prediction_ts"),
            ["deployment_id", "prediction_ts"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_feedback_project_id_prediction_ts"),
            ["project_id", "prediction_ts"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_project_id_prediction_ts"))
        batch_op.drop_index(batch_op.f("ix_feedback_deployment_id_prediction_ts"))

    op.drop_table("feedback")
    with op.batch_alter_table("prediction_segments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prediction_segments_project_id_first_id_last_id"))
        batch_op.drop_index(batch_op.f("ix_prediction_segments_model_version_id"))
        batch_op.drop_index(batch_op.f("ix_prediction_segments_deployment_id_max_ts"))

    op.drop_table("prediction_segments")
