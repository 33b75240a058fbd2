"""evaluations, signing keys, tuning trials, parent versions, the evaluation of an alias move

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_signing_keys_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_signing_keys")),
    )
    op.create_table(
        "tuning_trials",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("step_run_id", BIG_ID, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("distributions", JSON, nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("intermediate", JSON, nullable=False),
        sa.Column("user_attrs", JSON, nullable=False),
        sa.Column("artifact_id", BIG_ID, nullable=True),
        sa.Column("error", sa.String(length=2000), nullable=True),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "state IN ('running', 'complete', 'pruned', 'failed')",
            name=op.f("ck_tuning_trials_state_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["artifact_id"],
            ["artifacts.id"],
            name=op.f("fk_tuning_trials_artifact_id_artifacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["step_run_id"],
            ["step_runs.id"],
            name=op.f("fk_tuning_trials_step_run_id_step_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tuning_trials")),
        sa.UniqueConstraint(
            "step_run_id", "number", name=op.f("uq_tuning_trials_step_run_id_number")
        ),
    )
    with op.batch_alter_table("tuning_trials", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tuning_trials_artifact_id"), ["artifact_id"], unique=False
        )

    op.create_table(
        "evaluations",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("model_version_id", BIG_ID, nullable=False),
        sa.Column("baseline_version_id", BIG_ID, nullable=True),
        sa.Column("step_run_id", BIG_ID, nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("report", JSON, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["baseline_version_id"],
            ["model_versions.id"],
            name=op.f("fk_evaluations_baseline_version_id_model_versions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_evaluations_model_version_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["step_run_id"],
            ["step_runs.id"],
            name=op.f("fk_evaluations_step_run_id_step_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluations")),
    )
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_evaluations_baseline_version_id"), ["baseline_version_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_evaluations_model_version_id_id"),
            ["model_version_id", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_evaluations_step_run_id"), ["step_run_id"], unique=False
        )

    with op.batch_alter_table("alias_history", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evaluation_id", BIG_ID, nullable=True))
        batch_op.create_index(
            batch_op.f("ix_alias_history_evaluation_id"), ["evaluation_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_alias_history_evaluation_id_evaluations"),
            "evaluations",
            ["evaluation_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_version_id", BIG_ID, nullable=True))
        batch_op.create_index(
            batch_op.f("ix_model_versions_parent_version_id"), ["parent_version_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_model_versions_parent_version_id_model_versions"),
            "model_versions",
            ["parent_version_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("alias_history", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_alias_history_evaluation_id_evaluations"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_alias_history_evaluation_id"))
        batch_op.drop_column("evaluation_id")

    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_model_versions_parent_version_id_model_versions"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_model_versions_parent_version_id"))
        batch_op.drop_column("parent_version_id")

    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evaluations_step_run_id"))
        batch_op.drop_index(batch_op.f("ix_evaluations_model_version_id_id"))
        batch_op.drop_index(batch_op.f("ix_evaluations_baseline_version_id"))

    op.drop_table("evaluations")
    with op.batch_alter_table("tuning_trials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tuning_trials_artifact_id"))

    op.drop_table("tuning_trials")
    op.drop_table("signing_keys")
