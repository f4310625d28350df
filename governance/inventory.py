"""The model inventory: every governed version with its tier, owner, stage, health, approval,
serving targets and review dates -- as it is now, or as it stood at a past moment.

Two builders give the same rows: `live_inventory` reads today's tables; `replay_inventory`
rebuilds the state from the audit events alone, so "what was in production on 30 June" is
answered from the hash-chained trail, not from tables that have moved on since. In both, the
times (registered, in stage since, last review) are the stamps of the audit events that
recorded those facts: the event is the record of when.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mlgov.governance.approvals import OPEN_STATES, approvals_count, effective_state
from mlgov.governance.audit import event_dict, iter_events
from mlgov.governance.clock import as_utc, isoformat
from mlgov.governance.errors import BadInput
from mlgov.governance.lifecycle import Health, Stage, parse_stage
from mlgov.governance.policy import Policy
from mlgov.governance.roles import Action
from mlgov.governance.tables import (
    ApprovalRequest,
    AuditEvent,
    Deployment,
    Finding,
    ModelVersion,
    StageChange,
)

if TYPE_CHECKING:
    from mlgov.governance.service import Governance

FIELDS = (
    "model",
    "version",
    "risk_tier",
    "owner",
    "purpose",
    "stage",
    "stage_since",
    "health",
    "review_required",
    "approval_request",
    "approval_state",
    "approvals_count",
    "approvals_required",
    "targets",
    "last_review",
    "next_review_due",
    "registered_at",
    "open_findings",
    "overdue_findings",
)

# A deployment row in this state is the one serving its target (mlgov.governance.deployments).
ACTIVE_DEPLOYMENT = "active"
REVIEW_ACK = "review.ack"
# What counts as a review: an approver's decision (either way) or an acknowledged review.
REVIEW_ACTIONS = ("approval.decide", REVIEW_ACK)


@dataclass
class _Approval:
    request_id: int | None
    state: str
    count: int
    required: int
    expires_at: datetime | None


@dataclass
class _VersionState:
    """One version as the rows need it; both builders fill these, one row renders them."""

    model: str
    version: str
    risk_tier: str
    owner: str
    purpose: str
    stage: str
    stage_since: datetime
    health: str
    review_required: bool
    registered_at: datetime
    approval: _Approval | None = None
    targets: set[str] = field(default_factory=set)
    last_review: datetime | None = None

    def review(self, when: datetime) -> None:
        if self.last_review is None or when > self.last_review:
            self.last_review = when


@dataclass
class _Finding:
    """A finding as the rows need it: on `version`, or model-wide when it is None."""

    model: str
    version: str | None
    state: str
    due_at: datetime
    accepted_until: datetime | None = None

    def open_at(self, now: datetime) -> bool:
        if self.state == "accepted":
            return self.accepted_until is not None and now >= self.accepted_until
        return self.state == "open"


def _finding_counts(
    state: _VersionState, found: Iterable[_Finding], now: datetime
) -> tuple[int, int]:
    mine = [
        f
        for f in found
        if f.model == state.model and f.version in (None, state.version) and f.open_at(now)
    ]
    return len(mine), sum(1 for f in mine if now > f.due_at)


def _t(value: datetime | None) -> str | None:
    return None if value is None else isoformat(value)


def _row(
    state: _VersionState, policy: Policy, now: datetime, found: Iterable[_Finding] = ()
) -> dict[str, Any]:
    approval = state.approval
    open_findings, overdue_findings = _finding_counts(state, found, now)
    approval_state = None
    if approval is not None:
        approval_state = approval.state
        if approval.state in OPEN_STATES and approval.expires_at and now >= approval.expires_at:
            approval_state = "expired"  # past validity reads as expired, swept or not
    due = None
    if state.stage != Stage.RETIRE.value:
        interval = policy.for_tier(state.risk_tier).review_interval_days
        due = (state.last_review or state.registered_at) + timedelta(days=interval)
    return {
        "model": state.model,
        "version": state.version,
        "risk_tier": state.risk_tier,
        "owner": state.owner,
        "purpose": state.purpose,
        "stage": state.stage,
        "stage_since": _t(state.stage_since),
        "health": state.health,
        "review_required": state.review_required,
        "approval_request": approval.request_id if approval else None,
        "approval_state": approval_state,
        "approvals_count": approval.count if approval else None,
        "approvals_required": approval.required if approval else None,
        "targets": sorted(state.targets),
        "last_review": _t(state.last_review),
        "next_review_due": _t(due),
        "registered_at": _t(state.registered_at),
        "open_findings": open_findings,
        "overdue_findings": overdue_findings,
    }


# --- live: from today's tables -------------------------------------------------------------


def _live_targets(session: Session) -> dict[int, set[str]]:
    """version id -> targets it serves now."""
    found: dict[int, set[str]] = {}
    rows = session.execute(
        select(Deployment.version_id, Deployment.target).where(
            Deployment.state == ACTIVE_DEPLOYMENT
        )
    )
    for version_id, target in rows:
        found.setdefault(version_id, set()).add(target)
    return found


def _live_reviews(session: Session) -> dict[str, datetime]:
    """subject -> time of its latest review: an approval decision or an acknowledged review."""
    rows = session.execute(
        select(AuditEvent.subject, func.max(AuditEvent.occurred_at))
        .where(AuditEvent.action.in_(REVIEW_ACTIONS))
        .group_by(AuditEvent.subject)
    )
    return {subject: as_utc(at) for subject, at in rows}


def _live_stage_times(session: Session) -> dict[int, tuple[datetime, datetime]]:
    """version id -> (registered at, in its stage since), as stamped on the audit events the
    stage changes point to: the same instants a replay sees, to the microsecond."""
    rows = session.execute(
        select(StageChange.version_id, AuditEvent.occurred_at)
        .join(AuditEvent, AuditEvent.seq == StageChange.audit_seq)
        .order_by(StageChange.id)
    )
    times: dict[int, tuple[datetime, datetime]] = {}
    for version_id, at in rows:
        first = times.get(version_id, (as_utc(at), as_utc(at)))[0]
        times[version_id] = (first, as_utc(at))
    return times


def _latest_requests(session: Session) -> dict[int, ApprovalRequest]:
    latest = (
        select(func.max(ApprovalRequest.id)).group_by(ApprovalRequest.version_id).scalar_subquery()
    )
    requests = session.scalars(select(ApprovalRequest).where(ApprovalRequest.id.in_(latest)))
    return {r.version_id: r for r in requests}


def live_inventory(session: Session, policy: Policy, now: datetime) -> list[dict[str, Any]]:
    """Every governed version as the tables say now, ordered by model and registration."""
    targets = _live_targets(session)
    reviews = _live_reviews(session)
    stage_times = _live_stage_times(session)
    requests = _latest_requests(session)
    found = [
        _Finding(
            model=f.model.name,
            version=f.version.version if f.version is not None else None,
            state=f.state,
            due_at=f.due_at,
            accepted_until=f.accepted_until,
        )
        for f in session.scalars(select(Finding).where(Finding.state != "closed"))
    ]
    rows = []
    # Sorted here, not by the database, so collation never makes live and replay differ.
    versions = sorted(
        session.scalars(select(ModelVersion).order_by(ModelVersion.id)), key=lambda v: v.model.name
    )
    for v in versions:
        registered_at, stage_since = stage_times.get(v.id, (v.created_at, v.stage_changed_at))
        state = _VersionState(
            model=v.model.name,
            version=v.version,
            risk_tier=v.risk_tier,
            owner=v.owner,
            purpose=v.purpose,
            stage=v.stage,
            stage_since=stage_since,
            health=v.health,
            review_required=v.review_required,
            registered_at=registered_at,
            targets=targets.get(v.id, set()),
            last_review=reviews.get(f"model:{v.label}"),
        )
        request = requests.get(v.id)
        if request is not None:
            state.approval = _Approval(
                request_id=request.id,
                state=effective_state(request, now),
                count=approvals_count(request),
                required=request.approvals_required,
                expires_at=request.expires_at,
            )
        rows.append(_row(state, policy, now, found))
    return rows


# --- replay: from the audit events alone --------------------------------------------------


def _when(value: Any) -> datetime:
    if isinstance(value, datetime):
        return as_utc(value)
    return as_utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def _split_subject(subject: str) -> tuple[str, str] | None:
    if not subject.startswith("model:") or "/" not in subject:
        return None
    model, _, version = subject[len("model:") :].rpartition("/")
    return (model, version) if model and version else None


class _Replay:
    """The state the events have built so far. Handlers are looked up by action; actions
    without a handler (users, exports, drift checks...) do not change the inventory."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.versions: dict[str, _VersionState] = {}
        self.serving: dict[str, str] = {}  # target -> subject of the version serving it
        self.findings: dict[int, _Finding] = {}

    def apply(self, event: Mapping[str, Any]) -> None:
        action = str(event.get("action"))
        if action.startswith("finding."):  # model-wide ones name no version: not below
            self._finding(action, str(event.get("subject", "")), dict(event.get("payload") or {}))
            return
        handler = HANDLERS.get(action)
        if handler is None:
            return
        subject = str(event.get("subject", ""))
        if handler is not _register and subject not in self.versions:
            return  # about something the inventory does not list
        handler(self, subject, _when(event["time"]), dict(event.get("payload") or {}))

    def serve(self, target: str, subject: str | None) -> None:
        old = self.serving.pop(target, None)
        if old in self.versions:
            self.versions[old].targets.discard(target)
        if subject in self.versions:
            self.serving[target] = subject
            self.versions[subject].targets.add(target)

    def _finding(self, action: str, subject: str, p: dict[str, Any]) -> None:
        if not isinstance(p.get("finding_id"), int) or not subject.startswith("model:"):
            return
        fid = p["finding_id"]
        if action == "finding.open" and p.get("due_at"):
            model = subject[len("model:") :]
            if p.get("version") is not None:
                model = model.rpartition("/")[0]
            self.findings[fid] = _Finding(model, p.get("version"), "open", _when(p["due_at"]))
            return
        found = self.findings.get(fid)
        if found is None:
            return
        if action == "finding.close":
            found.state = "closed"
        elif action == "finding.accept" and p.get("accepted_until"):
            found.state, found.accepted_until = "accepted", _when(p["accepted_until"])
        elif action == "finding.reopen":
            found.state, found.accepted_until = "open", None

    def rows(self, at: datetime) -> list[dict[str, Any]]:
        ordered = sorted(self.versions.values(), key=lambda s: s.model)  # stable: keeps seq order
        found = list(self.findings.values())
        return [_row(s, self.policy, at, found) for s in ordered]


Handler = Callable[[_Replay, str, datetime, dict[str, Any]], None]


def _register(r: _Replay, subject: str, at: datetime, p: dict[str, Any]) -> None:
    names = _split_subject(subject)
    if names is None or subject in r.versions:
        return
    r.versions[subject] = _VersionState(
        model=names[0],
        version=names[1],
        risk_tier=p["risk_tier"],
        owner=p["owner"],
        purpose=p.get("purpose", ""),
        stage=Stage.DEVELOP.value,
        stage_since=at,
        health=Health.OK.value,
        review_required=False,
        registered_at=at,
    )


def _stage_change(r: _Replay, subject: str, at: datetime, p: dict[str, Any]) -> None:
    state = r.versions[subject]
    state.stage, state.stage_since = p["to"], at
    deployment = p.get("deployment")
    if isinstance(deployment, Mapping) and deployment.get("target"):
        r.serve(str(deployment["target"]), subject)
    if p["to"] == Stage.RETIRE.value:  # a retired version never serves
        for target in list(state.targets):
            r.serve(target, None)


def _approval_request(r: _Replay, subject: str, at: datetime, p: dict[str, Any]) -> None:
    state = r.versions[subject]
    if p.get("expires_at"):
        expires = _when(p["expires_at"])
    else:  # older events do not carry it: the policy's validity from the request time
        expires = at + timedelta(days=r.policy.for_tier(state.risk_tier).approval_valid_days)
    state.approval = _Approval(
        request_id=p.get("request_id"),
        state="pending",
        count=0,
        required=int(p.get("approvals_required") or 0),
        expires_at=expires,
    )


def _approval_decide(r: _Replay, subject: str, at: datetime, p: dict[str, Any]) -> None:
    state = r.versions[subject]
    state.review(at)
    if state.approval is not None and state.approval.request_id == p.get("request_id"):
        state.approval.state = p.get("state", state.approval.state)
        state.approval.count = int(p.get("approvals_count", state.approval.count))


def _approval_close(new_state: str) -> Handler:
    def close(r: _Replay, subject: str, at: datetime, p: dict[str, Any]) -> None:
        approval = r.versions[subject].approval
        if approval is not None and approval.request_id == p.get("request_id"):
            approval.state = new_state

    return close


def _health_change(r: _Replay, subject: str, at: datetime, p: dict[str, Any]) -> None:
    state = r.versions[subject]
    state.health = p["to"]
    if "require_review" in (p.get("actions") or ()):
        state.review_required = True


def _review_ack(r: _Replay, subject: str, at: datetime, p: dict[str, Any]) -> None:
    state = r.versions[subject]
    state.review_required = False
    state.review(at)


def _rollback(r: _Replay, subject: str, at: datetime, p: dict[str, Any]) -> None:
    names = _split_subject(subject)
    to = f"model:{names[0]}/{p['to_version']}" if names and p.get("to_version") else subject
    r.serve(str(p["target"]), to)


def _undeploy(r: _Replay, subject: str, at: datetime, p: dict[str, Any]) -> None:
    r.serve(str(p["target"]), None)


def _deployment_end(r: _Replay, subject: str, at: datetime, p: dict[str, Any]) -> None:
    if r.serving.get(str(p["target"])) == subject:
        r.serve(str(p["target"]), None)


# Add a handler here when a new action changes what the inventory shows.
HANDLERS: dict[str, Handler] = {
    "version.register": _register,
    "stage.change": _stage_change,
    "approval.request": _approval_request,
    "approval.decide": _approval_decide,
    "approval.expire": _approval_close("expired"),
    "approval.void": _approval_close("void"),
    "health.change": _health_change,
    REVIEW_ACK: _review_ack,
    "deployment.rollback": _rollback,
    "deployment.undeploy": _undeploy,
    "deployment.end": _deployment_end,
}


def cut_seq(events: Iterable[Mapping[str, Any]], at: datetime) -> int:
    """The last event sequence number stamped at or before `at` (0: none).

    The inventory at `at` is the state after that event, so it is always a prefix of the
    trail. Events of one transaction share one time (audit.append_event), so a prefix cut by
    time never holds half a transaction.
    """
    at = as_utc(at)
    return max((int(e["seq"]) for e in events if _when(e["time"]) <= at), default=0)


def replay_inventory(
    events: Iterable[Mapping[str, Any]], policy: Policy, at: datetime
) -> list[dict[str, Any]]:
    """The inventory as it stood at `at`, from audit events (as `event_dict` gives them, or
    as `mlgov audit export` writes them) in sequence order: the events up to the last
    sequence number stamped at or before `at` (see `cut_seq`), the rest ignored."""
    events = list(events)
    return _replay_upto(events, policy, cut_seq(events, at), at)


def _replay_upto(
    events: Iterable[Mapping[str, Any]], policy: Policy, last_seq: int, at: datetime
) -> list[dict[str, Any]]:
    replay = _Replay(policy)
    for event in events:
        if int(event["seq"]) > last_seq:
            break
        replay.apply(event)
    return replay.rows(as_utc(at))


# --- the service call ----------------------------------------------------------------------


def inventory(
    gov: Governance, actor: str, *, at: datetime | None = None, stage: str | None = None
) -> list[dict[str, Any]]:
    """Every governed version now, or as it stood at `at` (rebuilt from the audit trail)."""
    wanted = parse_stage(stage).value if stage else None
    with gov.store.read() as s:
        gov.authorize(s, actor, Action.READ)
        now = gov.now()
        if at is None:
            rows = live_inventory(s, gov.policy, now)
        else:
            at = as_utc(at)
            if at > now:
                raise BadInput(
                    f"--at {isoformat(at)} is in the future: the inventory is known up to now "
                    f"({isoformat(now)})"
                )
            last_seq = s.scalar(
                select(func.max(AuditEvent.seq)).where(AuditEvent.occurred_at <= at)
            )
            events = (event_dict(e) for e in iter_events(s))
            rows = _replay_upto(events, gov.policy, last_seq or 0, at)
    return [r for r in rows if wanted is None or r["stage"] == wanted]
