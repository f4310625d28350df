"""Use cases of findings: open, list, show, assign, comment on, close and accept the risk of
the problems found in validation or in production (issue 20)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlgov.api.actor import Actor
from mlgov.api.platform import Platform
from mlgov.api.results import Record, Result


@dataclass(frozen=True)
class FindingRecord(Result):
    """A finding as lists show it. `version` None: the finding is on the whole model.
    `state` is open, accepted or closed (an acceptance past its end reads as open)."""

    id: int
    model: str
    version: str | None
    severity: str
    type: str
    title: str
    owner: str
    state: str
    overdue: bool
    due_at: str
    source: str
    created_at: str
    created_by: str
    accepted_until: str | None
    acceptance_votes: int
    acceptance_required: int


@dataclass(frozen=True)
class FindingComment(Result):
    author: str
    at: str
    text: str


@dataclass(frozen=True)
class AcceptanceVote(Result):
    """One risk officer's vote to accept the risk until a date, in one round of votes."""

    round: int
    approver: str
    reason: str
    until: str
    at: str


@dataclass(frozen=True)
class FindingDetail(FindingRecord):
    """A finding with its evidence link, resolution, comments and acceptance votes."""

    description: str | None
    evidence: Record
    closed_at: str | None
    closed_by: str | None
    resolution: str | None
    comments: tuple[FindingComment, ...]
    acceptances: tuple[AcceptanceVote, ...]

    @classmethod
    def of(cls, view: Mapping[str, Any]) -> FindingDetail:
        return cls.from_mapping(
            dict(view)
            | {
                "evidence": Record(dict(view["evidence"])),
                "comments": tuple(FindingComment.from_mapping(c) for c in view["comments"]),
                "acceptances": tuple(AcceptanceVote.from_mapping(a) for a in view["acceptances"]),
            }
        )


@dataclass(frozen=True)
class FindingList(Result):
    findings: tuple[FindingRecord, ...]

    def to_json(self) -> Any:
        return [f.to_json() for f in self.findings]


def _when(text: str | None, what: str) -> Any:
    from mlgov.governance.clock import parse_time
    from mlgov.governance.errors import BadInput

    if text is None:
        return None
    try:
        return parse_time(text)
    except BadInput as exc:
        raise BadInput(f"{what}: {exc.message}") from None


def open_finding(
    platform: Platform,
    actor: Actor,
    model: str,
    version: str | None = None,
    *,
    severity: str,
    title: str,
    type: str = "validation_issue",
    owner: str | None = None,
    due: str | None = None,
    description: str | None = None,
) -> FindingDetail:
    """Open a finding on a version (or on the model, without one). The due date defaults
    from the policy by severity and tier; the owner, from the model's owner."""
    from mlgov.governance.findings import open_finding as run

    view = run(
        platform.governance(),
        actor.name,
        model,
        version,
        severity=severity,
        title=title,
        type_=type,
        owner=owner,
        due=_when(due, "--due"),
        description=description,
    )
    return FindingDetail.of(view)


def list_findings(
    platform: Platform,
    actor: Actor,
    *,
    open_only: bool = False,
    mine: bool = False,
    overdue: bool = False,
    model: str | None = None,
) -> FindingList:
    """Findings; `open_only` open ones, `mine` those the actor owns, `overdue` open ones past
    their due date."""
    from mlgov.governance.findings import list_findings as run

    rows = run(
        platform.governance(),
        actor.name,
        open_only=open_only,
        mine=mine,
        overdue=overdue,
        model=model,
    )
    return FindingList(tuple(FindingRecord.from_mapping(r) for r in rows))


def show_finding(platform: Platform, actor: Actor, finding_id: int) -> FindingDetail:
    from mlgov.governance.findings import show_finding as run

    return FindingDetail.of(run(platform.governance(), actor.name, finding_id))


def assign_finding(platform: Platform, actor: Actor, finding_id: int, owner: str) -> FindingDetail:
    """Give the finding to another owner (its owner, the model's owner or a risk officer)."""
    from mlgov.governance.findings import assign as run

    return FindingDetail.of(run(platform.governance(), actor.name, finding_id, owner))


def comment_finding(platform: Platform, actor: Actor, finding_id: int, text: str) -> FindingDetail:
    from mlgov.governance.findings import comment as run

    return FindingDetail.of(run(platform.governance(), actor.name, finding_id, text))


def close_finding(
    platform: Platform, actor: Actor, finding_id: int, *, resolution: str
) -> FindingDetail:
    """Close with a resolution; high and critical findings only by a risk officer who neither
    owns nor registered the model."""
    from mlgov.governance.findings import close_finding as run

    return FindingDetail.of(
        run(platform.governance(), actor.name, finding_id, resolution=resolution)
    )


def accept_finding(
    platform: Platform, actor: Actor, finding_id: int, *, reason: str, until: str
) -> FindingDetail:
    """One vote to accept the finding's risk until a date; the tier's quorum accepts it, and
    when the date passes the finding is open again."""
    from mlgov.governance.errors import BadInput
    from mlgov.governance.findings import accept as run

    when = _when(until, "--until")
    if when is None:
        raise BadInput("--until is required: a risk acceptance always ends")
    return FindingDetail.of(
        run(platform.governance(), actor.name, finding_id, reason=reason, until=when)
    )
