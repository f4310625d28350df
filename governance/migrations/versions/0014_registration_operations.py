"""operations: registration runs as an operation too, before its version row exists

A registration's MLflow version is created before the governed version row, so its pending
operation has no version yet: version_id and from_stage may be empty (only for kind
`register`; the row is linked to the version in the transaction that records it).

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("operations") as batch:
        batch.alter_column("version_id", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("from_stage", existing_type=sa.String(length=16), nullable=True)


def downgrade() -> None:
    # 0011 knows no registration operations: their rows go (the audit events stay).
    op.execute("DELETE FROM operations WHERE kind = 'register' OR version_id IS NULL")
    with op.batch_alter_table("operations") as batch:
        batch.alter_column("version_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("from_stage", existing_type=sa.String(length=16), nullable=False)
