"""reference_datasets: the data grade and sensitivity of a reference dataset

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reference_datasets") as batch:
        batch.add_column(sa.Column("data_grade", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("sensitive", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reference_datasets") as batch:
        batch.drop_column("sensitive")
        batch.drop_column("data_grade")
