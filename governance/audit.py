"""The audit chain: append-only events, each hashing its predecessor.

Events are written only through `append_event`, inside the caller's transaction, so a state
change and its event commit together or not at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mlgov.governance.clock import as_utc, isoformat
from mlgov.governance.faults import fault_point
from mlgov.governance.tables import AuditEvent, AuditHead

GENESIS = "0" * 64


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_jsonable(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if isinstance(value, datetime):
        return isoformat(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def canonical(
    *,
    seq: int,
    occurred_at: datetime,
    actor: str,
    action: str,
    subject: str,
    payload: Mapping[str, Any],
    prev_hash: str,
) -> bytes:
    """The bytes an event's hash is taken over: sorted-key compact JSON, UTF-8."""
    doc = {
        "seq": seq,
        "time": isoformat(occurred_at),
        "actor": actor,
        "action": action,
        "subject": subject,
        "payload": payload,
        "prev": prev_hash,
    }
    return json.dumps(
        doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def event_hash(event: AuditEvent | Any) -> str:
    """The hash an event (or any object with an event's fields) should carry."""
    return hashlib.sha256(
        canonical(
            seq=event.seq,
            occurred_at=event.occurred_at,
            actor=event.actor,
            action=event.action,
            subject=event.subject,
            payload=event.payload,
            prev_hash=event.prev_hash,
        )
    ).hexdigest()


_TRANSACTION_TIME = "mlgov.audit_time"


def _event_time(session: Session, head: AuditHead, at: datetime) -> datetime:
    """The time an event is stamped with: one time per transaction, never before the
    previous event's.

    One time per transaction (the first event's) means a cut of the trail by time (`inventory
    --at`) never falls between two events of one transaction, so it never shows a state that
    was never committed. Taking the later of that and the predecessor's time keeps the trail
    monotonic when clocks differ between writers or step back (NTP). The predecessor is read
    under the head row's lock, so on PostgreSQL a concurrent writer waits for the lock and
    then reads the committed event before it: two writers cannot both stamp against the same
    predecessor.
    """
    transaction = session.get_transaction()
    kept: tuple[object, datetime] | None = session.info.get(_TRANSACTION_TIME)
    if kept is not None and kept[0] is transaction:
        return kept[1]
    when = as_utc(at)
    if head.seq:
        previous = session.scalar(select(AuditEvent.occurred_at).where(AuditEvent.seq == head.seq))
        if previous is not None and as_utc(previous) > when:
            when = as_utc(previous)
    session.info[_TRANSACTION_TIME] = (transaction, when)
    return when


def append_event(
    session: Session,
    *,
    actor: str,
    action: str,
    subject: str,
    payload: Mapping[str, Any] | None = None,
    at: datetime,
) -> AuditEvent:
    """Append one event in the caller's transaction. The head row is the lock.

    The event's time is `at`, except that times never go backwards along the sequence and
    every event of one transaction carries the same time (see `_event_time`).
    """
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
    ).scalar_one()
    event = AuditEvent(
        seq=head.seq + 1,
        occurred_at=_event_time(session, head, at),
        actor=actor,
        action=action,
        subject=subject,
        payload=_jsonable(payload or {}),
        prev_hash=head.hash,
        prev_seq=head.seq or None,  # the database checks it is seq - 1 and exists
        hash="",
    )
    event.hash = event_hash(event)
    session.add(event)
    session.flush()
    fault_point("mid-audit-append")  # the event is written, the head not yet moved
    head.seq, head.hash = event.seq, event.hash
    session.flush()
    return event


def event_dict(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "time": isoformat(event.occurred_at),
        "actor": event.actor,
        "action": event.action,
        "subject": event.subject,
        "payload": event.payload,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "first_bad_seq": self.first_bad_seq,
            "problem": self.problem,
        }


def iter_events(session: Session, *, after_seq: int = 0) -> Iterator[AuditEvent]:
    stmt = (
        select(AuditEvent)
        .where(AuditEvent.seq > after_seq)
        .order_by(AuditEvent.seq)
        .execution_options(yield_per=1000)
    )
    yield from session.scalars(stmt)


def verify_chain(
    session: Session,
    *,
    expected_head: str | None = None,
    after: tuple[int, str] = (0, GENESIS),
) -> ChainReport:
    """Recompute the chain; report the first broken link by sequence number.

    `after` (seq, hash) starts from an event already trusted (a signed checkpoint's), so
    only the events after it are rehashed; `events` then counts those.
    """
    start, prev = after
    expected_seq, count = start + 1, 0
    seen_expected = expected_head is None or expected_head == prev

    def broken(seq: int, problem: str) -> ChainReport:
        return ChainReport(False, count, expected_seq - 1, prev, seq, problem)

    for event in iter_events(session, after_seq=start):
        if event.seq != expected_seq:
            return broken(
                expected_seq, f"event seq {expected_seq} is missing (next is {event.seq})"
            )
        if event.prev_hash != prev:
            return broken(event.seq, "its prev_hash does not match the previous event's hash")
        if event_hash(event) != event.hash:
            return broken(event.seq, "its content does not match its hash (modified)")
        prev, expected_seq, count = event.hash, expected_seq + 1, count + 1
        seen_expected = seen_expected or event.hash == expected_head
    end = expected_seq - 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq, head.hash) != (end, prev):
        return ChainReport(
            False,
            count,
            end,
            prev,
            end + 1,
            f"the head record says seq {head.seq} but the chain ends at seq {end}: "
            "events after it were deleted, or the head record was altered",
        )
    if not seen_expected:
        return ChainReport(
            False,
            count,
            end,
            prev,
            end + 1,
            f"the expected head {expected_head} is not on the chain: "
            "the chain was truncated or rewritten",
        )
    return ChainReport(True, count, end, prev)
