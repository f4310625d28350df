"""Use cases of approval: request it, decide on it, list, show and verify requests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlgov.api.actor import Actor
from mlgov.api.platform import Platform
from mlgov.api.results import Record, Result


@dataclass(frozen=True)
class ApprovalRequestRecord(Result):
    """An approval request bound to a frozen snapshot of the evidence, with its counts."""

    id: int
    model: str
    version: str
    state: str
    approvals_count: int
    approvals_required: int
    requested_by: str
    requested_at: str
    expires_at: str
    snapshot_hash: str
    note: str | None
    closed_reason: str | None


@dataclass(frozen=True)
class DecisionRecord(Result):
    approver: str
    decision: str
    comment: str | None
    at: str


@dataclass(frozen=True)
class ApprovalRequestDetail(ApprovalRequestRecord):
    """A request with every decision and the frozen snapshot it is bound to."""

    closed_at: str | None
    decisions: tuple[DecisionRecord, ...]
    snapshot: Record

    @classmethod
    def of(cls, view: Mapping[str, Any]) -> ApprovalRequestDetail:
        return cls.from_mapping(
            dict(view)
            | {
                "decisions": tuple(DecisionRecord.from_mapping(d) for d in view["decisions"]),
                "snapshot": Record(view["snapshot"]),
            }
        )


@dataclass(frozen=True)
class ApprovalRequestList(Result):
    requests: tuple[ApprovalRequestRecord, ...]

    def to_json(self) -> Any:
        return [r.to_json() for r in self.requests]


@dataclass(frozen=True)
class BindingCheck(Result):
    """Is the latest approval valid and still bound to the evidence as it is now?"""

    model: str
    version: str
    request_id: int | None
    state: str | None
    ok: bool
    problems: tuple[str, ...]

    @classmethod
    def of(cls, view: Mapping[str, Any]) -> BindingCheck:
        return cls.from_mapping(dict(view) | {"problems": tuple(view["problems"])})


def request_approval(
    platform: Platform, actor: Actor, model: str, version: str, *, note: str | None = None
) -> ApprovalRequestRecord:
    """Ask for approval of a version in train, with the train gate's evidence present."""
    from mlgov.governance.approvals import request_approval as run

    view = run(platform.governance(), actor.name, model, version, note=note)
    return ApprovalRequestRecord.from_mapping(view)


def decide(
    platform: Platform,
    actor: Actor,
    model: str,
    version: str,
    *,
    approve: bool,
    comment: str | None = None,
) -> ApprovalRequestRecord:
    """Record the actor's decision on the version's pending request; a rejection needs a
    comment saying why. Never on the actor's own model."""
    from mlgov.governance.approvals import decide as run

    view = run(platform.governance(), actor.name, model, version, approve=approve, comment=comment)
    return ApprovalRequestRecord.from_mapping(view)


def list_requests(
    platform: Platform, actor: Actor, *, pending: bool = False, mine: bool = False
) -> ApprovalRequestList:
    """Approval requests; `pending` only pending ones, `mine` those the actor made or that
    await the actor's decision."""
    from mlgov.governance.approvals import list_requests as run

    rows = run(platform.governance(), actor.name, pending=pending, mine=mine)
    return ApprovalRequestList(tuple(ApprovalRequestRecord.from_mapping(r) for r in rows))


@dataclass(frozen=True)
class InboxItem(ApprovalRequestRecord):
    """A pending request, its version's risk tier, and why the actor may not decide on it
    (None: they may)."""

    risk_tier: str
    refusal: str | None
    refusal_code: str | None  # role, maker_checker or decided


@dataclass(frozen=True)
class Inbox(Result):
    items: tuple[InboxItem, ...]

    def to_json(self) -> Any:
        return [i.to_json() for i in self.items]


def inbox(platform: Platform, actor: Actor) -> Inbox:
    """Every pending request, each with the reason the actor may not decide on it (their
    role, maker-checker, already decided) from the very rules `decide` applies."""
    from mlgov.governance.approvals import inbox as run

    return Inbox(tuple(InboxItem.from_mapping(r) for r in run(platform.governance(), actor.name)))


def show_request(
    platform: Platform, actor: Actor, model: str, version: str
) -> ApprovalRequestDetail:
    """The version's latest request: the frozen snapshot and every decision."""
    from mlgov.governance.approvals import show_request as run

    return ApprovalRequestDetail.of(run(platform.governance(), actor.name, model, version))


def verify_binding(platform: Platform, actor: Actor, model: str, version: str) -> BindingCheck:
    """Check the version's approval is valid and bound; the result says what is wrong (a
    surface decides how to fail on it)."""
    from mlgov.governance.approvals import verify_binding as run

    return BindingCheck.of(run(platform.governance(), actor.name, model, version))
