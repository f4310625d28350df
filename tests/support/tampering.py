"""What an insider with write access to the governance database can do to the audit trail.

For tests and red-team drills of `mlgov audit verify`: each operation edits, deletes,
inserts, reorders or truncates events, either naively (rows changed, hashes left as they
were) or as a careful insider would (every later hash recomputed and the head row rewound,
so the plain chain verifies again). Never used by mlgov itself.

Since migration 0005 the database itself keeps the chain gap-free and linked (prev_seq is
seq - 1, and (prev_seq, prev_hash) is the previous event's (seq, hash)). Those constraints stop
accidents and races, not an insider: whoever can write the database can also switch them off,
and `insider` does just that, per backend:
- SQLite: PRAGMA foreign_keys=OFF (only possible outside a transaction) and
  PRAGMA ignore_check_constraints=ON on the connection, both restored afterwards;
- PostgreSQL: the audit chain's foreign key and CHECK are dropped inside the transaction and
  re-created NOT VALID (so the tampered rows stay, unchecked, as an insider would leave them).
Constraints stop accidents and races; signed checkpoints (mlgov.governance.checkpoints) stop
insiders: every tampering here must still be detected by them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.schema import AddConstraint, DropConstraint

from mlgov.governance import audit
from mlgov.governance.audit import GENESIS
from mlgov.governance.store import Store
from mlgov.governance.tables import AuditEvent, AuditHead

OPERATIONS = ("edit", "delete", "insert", "reorder", "truncate")


@dataclass(frozen=True)
class Row:
    seq: int
    occurred_at: datetime
    actor: str
    action: str
    subject: str
    payload: Any
    prev_hash: str
    hash: str

    def computed_hash(self) -> str:
        return audit.event_hash(self)


def read_rows(store: Store) -> list[Row]:
    with store.read() as s:
        return [
            Row(e.seq, e.occurred_at, e.actor, e.action, e.subject, e.payload, e.prev_hash, e.hash)
            for e in s.scalars(select(AuditEvent).order_by(AuditEvent.seq))
        ]


# The audit chain's constraints an insider must lift on PostgreSQL (names: tables.py).
_CHAIN_GUARDS = ("fk_audit_prev", "ck_audit_link")


@contextmanager
def insider(store: Store) -> Iterator[Connection]:
    """A write transaction in which the audit chain's database constraints do not apply."""
    if store.engine.dialect.name == "sqlite":
        with store.engine.connect() as conn:
            raw = conn.connection.dbapi_connection  # not yet in a transaction: pragmas apply
            raw.execute("PRAGMA foreign_keys=OFF")
            raw.execute("PRAGMA ignore_check_constraints=ON")
            try:
                with conn.begin():
                    yield conn
            finally:
                raw.execute("PRAGMA ignore_check_constraints=OFF")
                raw.execute("PRAGMA foreign_keys=ON")
        return
    guards = [c for c in AuditEvent.__table__.constraints if c.name in _CHAIN_GUARDS]
    with store.engine.begin() as conn:
        for guard in guards:
            conn.execute(DropConstraint(guard))
        yield conn
        for guard in guards:
            ddl = str(AddConstraint(guard).compile(dialect=conn.dialect))
            conn.exec_driver_sql(ddl + " NOT VALID")


def write_rows(store: Store, rows: Sequence[Row], *, head: tuple[int, str] | None = None) -> None:
    """Replace every event with `rows`; move the head row only when `head` is given."""
    with insider(store) as conn:
        conn.execute(delete(AuditEvent))
        if rows:
            conn.execute(
                insert(AuditEvent),
                [
                    {
                        "seq": r.seq,
                        "occurred_at": r.occurred_at,
                        "actor": r.actor,
                        "action": r.action,
                        "subject": r.subject,
                        "payload": r.payload,
                        "prev_hash": r.prev_hash,
                        "prev_seq": r.seq - 1 if r.seq > 1 else None,
                        "hash": r.hash,
                    }
                    for r in rows
                ],
            )
        if head is not None:
            conn.execute(
                update(AuditHead).where(AuditHead.id == 1).values(seq=head[0], hash=head[1])
            )


def rehash(rows: Sequence[Row]) -> list[Row]:
    """Renumber 1..n and recompute every link and hash: the chain verifies again."""
    out: list[Row] = []
    prev = audit.GENESIS
    for i, r in enumerate(rows, start=1):
        linked = replace(r, seq=i, prev_hash=prev, hash="")
        linked = replace(linked, hash=linked.computed_hash())
        out.append(linked)
        prev = linked.hash
    return out


def _forged(after: Row, seq: int) -> Row:
    return Row(
        seq=seq,
        occurred_at=after.occurred_at,
        actor="mallory",
        action="user.add",
        subject="user:mallory",
        payload={"roles": ["admin"]},
        prev_hash=after.hash,
        hash=hashlib.sha256(f"forged-{seq}-{after.hash}".encode()).hexdigest(),
    )


def apply(rows: Sequence[Row], operation: str, at: int) -> tuple[list[Row], int]:
    """The naive change: (rows as the insider leaves them, first seq that is now wrong).

    `at` is a seq for edit/delete/insert/reorder (reorder swaps `at` and `at + 1`), and the
    number of newest events removed for truncate.
    """
    rows = list(rows)
    i = at - 1
    if operation == "edit":
        rows[i] = replace(rows[i], actor="mallory", payload={"tampered": True})
        return rows, at
    if operation == "delete":
        del rows[i]
        return rows, at
    if operation == "insert":
        new = _forged(rows[i - 1], at) if i > 0 else replace(_forged(rows[0], 1), prev_hash=GENESIS)
        shifted = [replace(r, seq=r.seq + 1) for r in rows[i:]]
        return rows[:i] + [new] + shifted, at
    if operation == "reorder":
        a, b = rows[i], rows[i + 1]
        rows[i], rows[i + 1] = replace(b, seq=a.seq), replace(a, seq=b.seq)
        return rows, at
    if operation == "truncate":
        kept = rows[: len(rows) - at]
        return kept, len(kept) + 1
    raise ValueError(f"unknown tamper operation {operation!r}")


def tamper(store: Store, operation: str, at: int, *, recompute: bool) -> int:
    """Tamper with the stored chain; returns the first seq that is now wrong.

    Naive: the rows change and nothing else (the head row keeps its old seq and hash).
    Recomputed: every hash after the change is recomputed and the head row rewound to the
    new end, so `audit verify` without outside evidence finds nothing.
    """
    rows, first_bad = apply(read_rows(store), operation, at)
    if not recompute:
        write_rows(store, rows)
        return first_bad
    rows = rehash(rows)
    head = (rows[-1].seq, rows[-1].hash) if rows else (0, audit.GENESIS)
    write_rows(store, rows, head=head)
    return first_bad
