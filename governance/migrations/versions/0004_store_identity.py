"""store identity: a stable random id for this governance database

Signed audit checkpoints name the database they vouch for, so a checkpoint of one database
can never be replayed against another (or against this one after its id was swapped).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "store_identity",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("database_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    identity = sa.table(
        "store_identity", sa.column("id"), sa.column("database_id"), sa.column("created_at")
    )
    # Written once, here: never regenerated, so it stays stable across upgrades and restores.
    op.bulk_insert(
        identity,
        [
            {
                "id": 1,
                "database_id": secrets.token_hex(16),
                "created_at": datetime.now(UTC).replace(tzinfo=None),
            }
        ],
    )


def downgrade() -> None:
    op.drop_table("store_identity")
