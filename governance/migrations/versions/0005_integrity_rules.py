"""integrity rules the database enforces

Constraints that hold under any race and against any writer that skips mlgov's own checks:
- maker-checker: approval_decisions carries copies of the request's requested_by and the
  version's registered_by and owner, CHECKed to differ from the approver; composite foreign
  keys (decision -> request -> version) make the copies impossible to fake;
- one current stage: CHECKs on the stage, tier, health, request state and decision values;
  a stage change is registration or a move the lifecycle allows, and a version enters each
  stage at most once (UNIQUE (version_id, to_stage));
- the audit sequence is gap-free and linked: prev_seq = seq - 1 (NULL for seq 1, whose
  prev_hash is the genesis hash), and (prev_seq, prev_hash) references an event's (seq, hash).

PostgreSQL gets ALTER TABLE statements. SQLite cannot add constraints in place and alembic's
batch mode (copy, drop, rename) fails here: dropping a table that other tables reference, with
foreign keys ON inside the upgrade's transaction, is refused. So each SQLite table is rebuilt
with foreign keys deferred to commit: copy the rows aside, drop, create the new definition
under the same name and insert the rows back (which settles the deferred references).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import AddConstraint, CreateIndex, CreateTable, SchemaItem

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here on purpose: later changes to the lifecycle need their own migration.
STAGES = "stage IN ('develop', 'train', 'deploy', 'evaluate', 'retire')"
TIERS = "risk_tier IN ('high', 'medium', 'low')"
HEALTH = "health IN ('ok', 'warning', 'breach')"
# A CHECK passes on NULL: comparisons with nullable columns sit behind IS [NOT] NULL.
MOVES = (
    "(from_stage IS NULL AND to_stage = 'develop') "
    "OR (from_stage IS NOT NULL AND ("
    "(from_stage = 'develop' AND to_stage IN ('retire', 'train')) "
    "OR (from_stage = 'train' AND to_stage IN ('deploy', 'retire')) "
    "OR (from_stage = 'deploy' AND to_stage IN ('evaluate', 'retire')) "
    "OR (from_stage = 'evaluate' AND to_stage IN ('retire'))))"
)
REQUEST_STATES = "state IN ('pending', 'approved', 'rejected', 'expired', 'void')"
DECISIONS = "decision IN ('approve', 'reject')"
NOT_MAKER = "approver <> requested_by AND approver <> registered_by AND approver <> owner"
AUDIT_LINK = (
    f"(seq = 1 AND prev_seq IS NULL AND prev_hash = '{'0' * 64}') "
    "OR (seq > 1 AND prev_seq IS NOT NULL AND prev_seq = seq - 1)"
)

# In creation order: a unique key before the foreign keys that reference it.
NEW_CONSTRAINTS = (
    "uq_version_makers",
    "ck_version_stage",
    "ck_version_risk_tier",
    "ck_version_health",
    "uq_stage_entered_once",
    "ck_stage_change_move",
    "fk_request_version_makers",
    "uq_request_makers",
    "ck_request_state",
    "fk_decision_request_makers",
    "ck_decision_not_maker",
    "ck_decision_value",
    "uq_audit_seq_hash",
    "uq_audit_prev_seq",
    "fk_audit_prev",
    "ck_audit_link",
)
# table -> its new NOT NULL copies (filled before the constraints are added)
NEW_COLUMNS = {
    "approval_requests": ("registered_by", "owner"),
    "approval_decisions": ("requested_by", "registered_by", "owner"),
}


def _tables(new: bool = True) -> dict[str, sa.Table]:
    """The five rebuilt tables at revision 0005, or at 0004 when not `new` (rebuild order)."""
    meta = sa.MetaData()

    def table(name: str, *items: SchemaItem | None) -> sa.Table:
        return sa.Table(name, meta, *(i for i in items if i is not None))

    def added(item: SchemaItem) -> SchemaItem | None:
        return item if new else None

    # Referenced tables, only so the foreign keys resolve when compiled.
    table("models", sa.Column("id", sa.Integer(), primary_key=True))
    model_versions = table(
        "model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("registered_by", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("risk_tier", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("health", sa.String(length=16), nullable=False),
        sa.Column("review_required", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("stage_changed_at", sa.DateTime(), nullable=False),
        sa.Column("last_activity_at", sa.DateTime(), nullable=False),
        sa.Column("source_uri", sa.Text(), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("experiment_id", sa.String(length=64), nullable=True),
        sa.Column("lineage", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sa.JSON(), nullable=False),
        sa.Column("fingerprint_digest", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("model_id", "version", name="uq_model_version"),
        added(sa.UniqueConstraint("id", "registered_by", "owner", name="uq_version_makers")),
        added(sa.CheckConstraint(STAGES, name="ck_version_stage")),
        added(sa.CheckConstraint(TIERS, name="ck_version_risk_tier")),
        added(sa.CheckConstraint(HEALTH, name="ck_version_health")),
    )
    stage_changes = table(
        "stage_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("from_stage", sa.String(length=16), nullable=True),
        sa.Column("to_stage", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("audit_seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["model_versions.id"]),
        sa.PrimaryKeyConstraint("id"),
        added(sa.UniqueConstraint("version_id", "to_stage", name="uq_stage_entered_once")),
        added(sa.CheckConstraint(MOVES, name="ck_stage_change_move")),
        sa.Index("ix_stage_changes_version_id", "version_id"),
    )
    approval_requests = table(
        "approval_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("snapshot_hash", sa.String(length=64), nullable=False),
        sa.Column("approvals_required", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
        added(sa.Column("registered_by", sa.String(length=64), nullable=False)),
        added(sa.Column("owner", sa.String(length=64), nullable=False)),
        sa.ForeignKeyConstraint(["version_id"], ["model_versions.id"]),
        sa.PrimaryKeyConstraint("id"),
        added(
            sa.ForeignKeyConstraint(
                ["version_id", "registered_by", "owner"],
                ["model_versions.id", "model_versions.registered_by", "model_versions.owner"],
                name="fk_request_version_makers",
            )
        ),
        added(
            sa.UniqueConstraint(
                "id", "requested_by", "registered_by", "owner", name="uq_request_makers"
            )
        ),
        added(sa.CheckConstraint(REQUEST_STATES, name="ck_request_state")),
        sa.Index("ix_approval_requests_version_id", "version_id"),
    )
    approval_decisions = table(
        "approval_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("approver", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        added(sa.Column("requested_by", sa.String(length=64), nullable=False)),
        added(sa.Column("registered_by", sa.String(length=64), nullable=False)),
        added(sa.Column("owner", sa.String(length=64), nullable=False)),
        sa.ForeignKeyConstraint(["request_id"], ["approval_requests.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "approver", name="uq_decision_approver"),
        added(
            sa.ForeignKeyConstraint(
                ["request_id", "requested_by", "registered_by", "owner"],
                [
                    "approval_requests.id",
                    "approval_requests.requested_by",
                    "approval_requests.registered_by",
                    "approval_requests.owner",
                ],
                name="fk_decision_request_makers",
            )
        ),
        added(sa.CheckConstraint(NOT_MAKER, name="ck_decision_not_maker")),
        added(sa.CheckConstraint(DECISIONS, name="ck_decision_value")),
        sa.Index("ix_approval_decisions_request_id", "request_id"),
    )
    audit_events = table(
        "audit_events",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=256), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        added(sa.Column("prev_seq", sa.Integer(), nullable=True)),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("hash"),
        added(sa.UniqueConstraint("seq", "hash", name="uq_audit_seq_hash")),
        added(sa.UniqueConstraint("prev_seq", name="uq_audit_prev_seq")),
        added(
            sa.ForeignKeyConstraint(
                ["prev_seq", "prev_hash"],
                ["audit_events.seq", "audit_events.hash"],
                name="fk_audit_prev",
            )
        ),
        added(sa.CheckConstraint(AUDIT_LINK, name="ck_audit_link")),
        sa.Index("ix_audit_events_action", "action"),
        sa.Index("ix_audit_events_subject", "subject"),
    )
    return {
        t.name: t
        for t in (
            model_versions,
            stage_changes,
            approval_requests,
            approval_decisions,
            audit_events,
        )
    }


def _check_existing_data(conn: sa.Connection) -> None:
    """Name the rule old data breaks, instead of a bare constraint error mid-rebuild."""
    problems = {
        "a version entered the same stage twice": (
            "SELECT COUNT(*) FROM (SELECT version_id, to_stage FROM stage_changes "
            "GROUP BY version_id, to_stage HAVING COUNT(*) > 1) d"
        ),
        "an approver decided on a request they made, registered or own": (
            "SELECT COUNT(*) FROM approval_decisions d "
            "JOIN approval_requests r ON r.id = d.request_id "
            "JOIN model_versions v ON v.id = r.version_id "
            "WHERE d.approver IN (r.requested_by, v.registered_by, v.owner)"
        ),
        "audit sequence numbers have a gap or do not start at 1": (
            "SELECT COUNT(*) FROM audit_events e WHERE e.seq > 1 AND NOT EXISTS "
            "(SELECT 1 FROM audit_events p WHERE p.seq = e.seq - 1) "
            "OR (e.seq < 1)"
        ),
    }
    found = [f"{what} ({n} rows)" for what, sql in problems.items() if (n := _count(conn, sql))]
    if found:
        raise RuntimeError(
            "governance database breaks rules that migration 0005 enforces: "
            + "; ".join(found)
            + ". Run `mlgov audit verify` and fix or restore the database, then upgrade again."
        )


def _count(conn: sa.Connection, sql: str) -> int:
    return int(conn.execute(sa.text(sql)).scalar() or 0)


def _fill_copies() -> None:
    for column in NEW_COLUMNS["approval_requests"]:
        op.execute(
            f"UPDATE approval_requests SET {column} = (SELECT v.{column} FROM model_versions v "
            "WHERE v.id = approval_requests.version_id)"
        )
    for column in NEW_COLUMNS["approval_decisions"]:
        op.execute(
            f"UPDATE approval_decisions SET {column} = (SELECT r.{column} "
            "FROM approval_requests r WHERE r.id = approval_decisions.request_id)"
        )
    op.execute("UPDATE audit_events SET prev_seq = seq - 1 WHERE seq > 1")


def upgrade() -> None:
    conn = op.get_bind()
    _check_existing_data(conn)
    for table, columns in NEW_COLUMNS.items():
        for column in columns:
            op.add_column(table, sa.Column(column, sa.String(length=64), nullable=True))
    op.add_column("audit_events", sa.Column("prev_seq", sa.Integer(), nullable=True))
    _fill_copies()
    tables = _tables()
    if conn.dialect.name == "sqlite":
        _rebuild_sqlite(conn, tables)
        return
    for table, columns in NEW_COLUMNS.items():
        for column in columns:
            op.alter_column(table, column, existing_type=sa.String(length=64), nullable=False)
    by_name = {
        c.name: c for t in tables.values() for c in t.constraints if c.name in NEW_CONSTRAINTS
    }
    for name in NEW_CONSTRAINTS:
        conn.execute(AddConstraint(by_name[name]))


def _rebuild_sqlite(conn: sa.Connection, tables: dict[str, sa.Table]) -> None:
    # Deferred until commit, and reset by SQLite when the transaction ends.
    conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
    for table in tables.values():
        names = ", ".join(f'"{c.name}"' for c in table.columns)
        conn.exec_driver_sql(f'CREATE TABLE "_mlgov_0005_copy" AS SELECT * FROM "{table.name}"')
        conn.exec_driver_sql(f'DROP TABLE "{table.name}"')
        conn.execute(CreateTable(table))
        for index in table.indexes:
            conn.execute(CreateIndex(index))
        conn.exec_driver_sql(
            f'INSERT INTO "{table.name}" ({names}) SELECT {names} FROM "_mlgov_0005_copy"'
        )
        conn.exec_driver_sql('DROP TABLE "_mlgov_0005_copy"')
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        tables_hit = sorted({row[0] for row in broken})
        raise RuntimeError(
            "migration 0005: rows reference missing or different parents in "
            + ", ".join(tables_hit)
            + " (a request's or decision's copied names do not match, or an event's "
            "predecessor is missing)"
        )
    conn.exec_driver_sql("PRAGMA defer_foreign_keys=OFF")


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        # Referencing tables first: a composite key's target must outlive its references.
        _rebuild_sqlite(conn, dict(reversed(_tables(new=False).items())))
        return
    tables = _tables()
    for name in reversed(NEW_CONSTRAINTS):
        table = next(t for t in tables.values() if name in {c.name for c in t.constraints})
        op.drop_constraint(name, table.name)
    for table_name, columns in NEW_COLUMNS.items():
        for column in columns:
            op.drop_column(table_name, column)
    op.drop_column("audit_events", "prev_seq")
