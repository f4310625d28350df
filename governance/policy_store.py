"""The policy in force: kept in the governance store, changed only by an admin, audited.

There is no per-command or per-environment override: a policy that a command line could
replace would let anyone choose their own approver (issue 16, defect 1). Each `policy set`
adds a `policy_versions` row and its `policy.set` audit event in one transaction; the event
carries the document's and the effective policy's SHA-256, so a row edited in the database
no longer matches its event and nothing uses the policy until an admin sets it again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mlgov.governance.errors import Conflict, Refused, StateTampered
from mlgov.governance.policy import DEFAULT_POLICY, Policy, parse_policy
from mlgov.governance.roles import Action
from mlgov.governance.tables import AuditEvent, PolicyVersion
from mlgov.governance.validate import free_text

if TYPE_CHECKING:
    from mlgov.governance.service import Governance

SET_ACTION = "policy.set"
SUBJECT = "policy"
_RESTORE_HINT = (
    "run `mlgov audit verify` to see what changed, then an admin puts the intended policy "
    "back in force with `mlgov policy set FILE`"
)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def source_label(row: PolicyVersion) -> str:
    return f"store #{row.id} ({row.source}, set by {row.set_by})"


@dataclass(frozen=True)
class PolicyRecord:
    """One policy that was put in force."""

    id: int
    digest: str
    document_sha256: str
    source: str
    set_at: datetime
    set_by: str
    audit_seq: int
    in_force: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "digest": self.digest,
            "document_sha256": self.document_sha256,
            "source": self.source,
            "set_at": self.set_at.isoformat(),
            "set_by": self.set_by,
            "audit_seq": self.audit_seq,
            "in_force": self.in_force,
        }


def _record(row: PolicyVersion, *, in_force: bool) -> PolicyRecord:
    return PolicyRecord(
        id=row.id,
        digest=row.digest,
        document_sha256=row.document_sha256,
        source=row.source,
        set_at=row.set_at,
        set_by=row.set_by,
        audit_seq=row.audit_seq,
        in_force=in_force,
    )


def _latest_row(session: Session) -> PolicyVersion | None:
    return session.scalar(select(PolicyVersion).order_by(PolicyVersion.id.desc()).limit(1))


def _latest_event(session: Session) -> AuditEvent | None:
    return session.scalar(
        select(AuditEvent)
        .where(AuditEvent.action == SET_ACTION)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    )


def in_force(session: Session) -> Policy:
    """The newest stored policy (the built-in default before any), checked against its event."""
    row, event = _latest_row(session), _latest_event(session)
    if row is None and event is None:
        return DEFAULT_POLICY
    if row is None or event is None:
        missing = "its policy_versions row" if row is None else "its policy.set audit event"
        raise StateTampered(
            f"the policy in force is missing {missing}: nothing uses a policy until this is "
            "resolved",
            hint=_RESTORE_HINT,
        )
    payload = dict(event.payload or {})
    problems = [
        name
        for name, stored, recorded in (
            ("id", row.id, payload.get("policy_id")),
            ("document", sha256_text(row.document), payload.get("document_sha256")),
            ("digest", row.digest, payload.get("digest")),
        )
        if stored != recorded
    ]
    if problems:
        raise StateTampered(
            f"the stored policy #{row.id} differs from its audit event (seq {event.seq}) in "
            f"{', '.join(problems)}: nothing uses a policy until this is resolved",
            hint=_RESTORE_HINT,
        )
    policy = parse_policy(row.document, source=source_label(row))
    if policy.digest() != row.digest:
        # The document still parses to what was approved only if mlgov's defaults have not
        # changed underneath it; say so rather than silently enforce something else.
        raise Refused(
            f"the stored policy #{row.id} no longer gives the policy that was put in force "
            "(its effective digest changed, e.g. after an upgrade changed a default)",
            hint="an admin reviews `mlgov policy show` and sets the policy again with "
            "`mlgov policy set FILE`",
        )
    return policy


def set_policy(gov: Governance, actor: str, document: str, *, source: str) -> dict[str, Any]:
    """Put `document` in force (admin); refused, with nothing written, if it is invalid."""
    with gov.store.read() as s:
        # Who may comes first: a non-admin learns nothing of how a document is validated.
        gov.authorize(s, actor, Action.MANAGE_POLICY)
    policy = parse_policy(document, source=source)
    source = free_text(Path(source).name[:200], "policy file name") or "policy.toml"
    with gov.store.transaction() as s:
        gov.authorize(s, actor, Action.MANAGE_POLICY)
        previous = _latest_row(s)
        if previous is not None and previous.digest == policy.digest():
            raise Conflict(
                f"this policy is already in force (store #{previous.id}, digest "
                f"{previous.digest[:12]}): nothing changed"
            )
        now = gov.now()
        row = PolicyVersion(
            document=document,
            document_sha256=sha256_text(document),
            digest=policy.digest(),
            source=source,
            set_at=now,
            set_by=actor,
            audit_seq=0,
        )
        s.add(row)
        s.flush()
        event = gov.audit(
            s,
            actor,
            SET_ACTION,
            SUBJECT,
            {
                "policy_id": row.id,
                "digest": row.digest,
                "document_sha256": row.document_sha256,
                "previous_digest": previous.digest if previous else DEFAULT_POLICY.digest(),
                "source": source,
            },
            at=now,
        )
        row.audit_seq = event.seq
        record = _record(row, in_force=True)
    gov.policy = parse_policy(document, source=source_label(row))
    return record.to_dict() | {"previous_digest": event.payload["previous_digest"]}


def history(session: Session) -> list[PolicyRecord]:
    rows = list(session.scalars(select(PolicyVersion).order_by(PolicyVersion.id)))
    return [_record(r, in_force=i == len(rows) - 1) for i, r in enumerate(rows)]
