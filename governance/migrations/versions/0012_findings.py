"""findings, finding_comments, finding_acceptances: the model-risk workflow's findings

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here: the tables module may change its lists, a migration never does.
SEVERITY_SQL = "severity IN ('critical', 'high', 'medium', 'low')"
STATE_SQL = "state IN ('open', 'closed', 'accepted')"
TYPE_SQL = "type IN ('validation_issue', 'policy_exception', 'limitation')"


def upgrade() -> None:
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("acceptance_round", sa.Integer(), nullable=False),
        sa.Column("accepted_until", sa.DateTime(), nullable=True),
        sa.Column("overdue_notified_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(SEVERITY_SQL, name="ck_finding_severity"),
        sa.CheckConstraint(STATE_SQL, name="ck_finding_state"),
        sa.CheckConstraint(TYPE_SQL, name="ck_finding_type"),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"]),
        sa.ForeignKeyConstraint(["version_id"], ["model_versions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_findings_model_id", "findings", ["model_id"])
    op.create_index("ix_findings_version_id", "findings", ["version_id"])
    op.create_index("ix_findings_owner", "findings", ["owner"])
    op.create_index("ix_findings_state", "findings", ["state"])
    op.create_table(
        "finding_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["finding_id"], ["findings.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_finding_comments_finding_id", "finding_comments", ["finding_id"])
    op.create_table(
        "finding_acceptances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("approver", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("until", sa.DateTime(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["finding_id"], ["findings.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("finding_id", "round", "approver", name="uq_finding_acceptance_vote"),
    )
    op.create_index("ix_finding_acceptances_finding_id", "finding_acceptances", ["finding_id"])


def downgrade() -> None:
    op.drop_table("finding_acceptances")
    op.drop_table("finding_comments")
    op.drop_table("findings")
