"""Findings: problems found in validation or in production, tracked to closure.

A finding is on one version, or on the whole model (`version_id` NULL: what mlgov opens on a
drift or health breach in production concerns the model's data, so it holds for the next
version too). An open finding at or above the policy's blocking severity is an unmet
condition of promote to train, of approval and of deploy. High and critical findings are
closed only by a risk officer independent of the model; a risk acceptance is a quorum of the
tier's approvers and ends on a date, after which the finding is open again.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mlgov.governance.clock import isoformat
from mlgov.governance.errors import BadInput, Conflict, NotFound, PermissionDenied
from mlgov.governance.gates import Gates, MoveContext
from mlgov.governance.lifecycle import RiskTier, Stage
from mlgov.governance.policy import FINDING_SEVERITIES, MAX_DAYS, Policy, TierPolicy
from mlgov.governance.roles import Action, Role, validate_user_name
from mlgov.governance.tables import (
    FINDING_TYPES,
    Finding,
    FindingAcceptance,
    FindingComment,
    Model,
    ModelVersion,
)
from mlgov.governance.validate import free_text

if TYPE_CHECKING:
    from mlgov.governance.service import Governance

OPEN, CLOSED, ACCEPTED = "open", "closed", "accepted"
MANUAL, DRIFT, HEALTH = "manual", "drift", "health"
SEVERE = ("critical", "high")  # closed only by an independent risk officer
_RANK = {s: i for i, s in enumerate(FINDING_SEVERITIES)}  # 0: most severe
_TIER_RANK = {RiskTier.HIGH.value: 0, RiskTier.MEDIUM.value: 1, RiskTier.LOW.value: 2}
MAX_TITLE = 200


def parse_severity(value: str) -> str:
    v = (value or "").strip().lower()
    if v not in _RANK:
        raise BadInput(f"unknown severity '{value}': use {', '.join(FINDING_SEVERITIES)}")
    return v


def parse_type(value: str) -> str:
    v = (value or "").strip().lower()
    if v not in FINDING_TYPES:
        raise BadInput(f"unknown finding type '{value}': use {', '.join(FINDING_TYPES)}")
    return v


def at_or_above(severity: str, level: str) -> bool:
    return _RANK[severity] <= _RANK[level]


# --- reading state -------------------------------------------------------------------------


def effective_state(f: Finding, now: datetime) -> str:
    """An acceptance past its end reads as open, whether or not a sweep recorded it yet."""
    if f.state == ACCEPTED and f.accepted_until is not None and now >= f.accepted_until:
        return OPEN
    return f.state


def is_open(f: Finding, now: datetime) -> bool:
    return effective_state(f, now) == OPEN


def is_overdue(f: Finding, now: datetime) -> bool:
    return is_open(f, now) and now > f.due_at


def subject_of(f: Finding) -> str:
    if f.version is None:
        return f"model:{f.model.name}"
    return f"model:{f.model.name}/{f.version.version}"


def _votes(s: Session, f: Finding) -> list[FindingAcceptance]:
    return list(
        s.scalars(
            select(FindingAcceptance)
            .where(
                FindingAcceptance.finding_id == f.id,
                FindingAcceptance.round == f.acceptance_round,
            )
            .order_by(FindingAcceptance.id)
        )
    )


def finding_view(s: Session, f: Finding, policy: Policy, now: datetime) -> dict[str, Any]:
    state = effective_state(f, now)
    votes = _votes(s, f) if state == OPEN else []
    return {
        "id": f.id,
        "model": f.model.name,
        "version": f.version.version if f.version is not None else None,
        "severity": f.severity,
        "type": f.type,
        "title": f.title,
        "owner": f.owner,
        "state": state,
        "overdue": is_overdue(f, now),
        "due_at": isoformat(f.due_at),
        "source": f.source,
        "created_at": isoformat(f.created_at),
        "created_by": f.created_by,
        "accepted_until": isoformat(f.accepted_until)
        if state == ACCEPTED and f.accepted_until
        else None,
        "acceptance_votes": len(votes),
        "acceptance_required": _tier(s, f, policy).approvals_required,
    }


def finding_detail(s: Session, f: Finding, policy: Policy, now: datetime) -> dict[str, Any]:
    comments = s.scalars(
        select(FindingComment).where(FindingComment.finding_id == f.id).order_by(FindingComment.id)
    )
    acceptances = s.scalars(
        select(FindingAcceptance)
        .where(FindingAcceptance.finding_id == f.id)
        .order_by(FindingAcceptance.id)
    )
    return finding_view(s, f, policy, now) | {
        "description": f.description,
        "evidence": dict(f.evidence or {}),
        "closed_at": isoformat(f.closed_at) if f.closed_at else None,
        "closed_by": f.closed_by,
        "resolution": f.resolution,
        "comments": [{"author": c.author, "at": isoformat(c.at), "text": c.text} for c in comments],
        "acceptances": [
            {
                "round": a.round,
                "approver": a.approver,
                "reason": a.reason,
                "until": isoformat(a.until),
                "at": isoformat(a.at),
            }
            for a in acceptances
        ],
    }


def _model_versions(s: Session, model_id: int) -> list[ModelVersion]:
    return list(
        s.scalars(
            select(ModelVersion).where(ModelVersion.model_id == model_id).order_by(ModelVersion.id)
        )
    )


def _tier_name(s: Session, f: Finding) -> str:
    """The version's tier; for a model-wide finding the highest tier of the model's versions
    (the finding holds for all of them)."""
    if f.version is not None:
        return f.version.risk_tier
    tiers = [v.risk_tier for v in _model_versions(s, f.model_id)]
    return min(tiers, key=lambda t: _TIER_RANK[t]) if tiers else RiskTier.HIGH.value


def _tier(s: Session, f: Finding, policy: Policy) -> TierPolicy:
    return policy.for_tier(_tier_name(s, f))


def _makers(s: Session, f: Finding) -> set[str]:
    """Who built the model this finding is about: never the one to close or accept it."""
    versions = [f.version] if f.version is not None else _model_versions(s, f.model_id)
    return {name for v in versions if v is not None for name in (v.owner, v.registered_by)}


def blocking(s: Session, v: ModelVersion, policy: Policy, now: datetime) -> list[Finding]:
    """Open findings on `v` or on its model (model-wide) at or above the blocking level."""
    level = policy.for_tier(v.risk_tier).finding_blocking_severity
    found = s.scalars(
        select(Finding)
        .where(
            Finding.model_id == v.model_id,
            or_(Finding.version_id == v.id, Finding.version_id.is_(None)),
            Finding.state != CLOSED,
        )
        .order_by(Finding.id)
    )
    return [f for f in found if is_open(f, now) and at_or_above(f.severity, level)]


def _get(s: Session, finding_id: int, *, lock: bool = False) -> Finding:
    if isinstance(finding_id, bool) or not isinstance(finding_id, int) or finding_id < 1:
        raise BadInput(f"malformed finding id {finding_id!r}: give a positive whole number")
    stmt = select(Finding).where(Finding.id == finding_id)
    if lock:
        stmt = stmt.with_for_update(of=Finding)
    f = s.scalar(stmt)
    if f is None:
        raise NotFound(f"no finding {finding_id}", hint="see `mlgov findings list`")
    return f


def _due(text: datetime | None, now: datetime, tier: TierPolicy, severity: str) -> datetime:
    if text is None:
        return now + timedelta(days=tier.finding_due_days[severity])
    if text <= now:
        raise BadInput(f"--due {isoformat(text)} is not in the future (now {isoformat(now)})")
    if text > now + timedelta(days=MAX_DAYS):
        raise BadInput(f"--due {isoformat(text)} is more than {MAX_DAYS} days away")
    return text


def _payload(f: Finding, **extra: Any) -> dict[str, Any]:
    return {
        "finding_id": f.id,
        "severity": f.severity,
        "version": f.version.version if f.version is not None else None,
        "state": f.state,
        **extra,
    }


# --- recording -----------------------------------------------------------------------------


def _check_owner(gov: Governance, s: Session, name: str) -> None:
    user = gov.user(s, name)
    roles = set(user.role_names)
    if not roles & {Role.DATA_SCIENTIST.value, Role.ML_ENGINEER.value, Role.RISK_OFFICER.value}:
        raise PermissionDenied(
            f"'{name}' may not own a finding: it needs role data_scientist, ml_engineer or "
            f"risk_officer (has {', '.join(sorted(roles)) or 'none'})"
        )


def _insert(
    gov: Governance,
    s: Session,
    actor: str,
    m: Model,
    v: ModelVersion | None,
    *,
    severity: str,
    title: str,
    type_: str,
    owner: str,
    due_at: datetime,
    description: str | None,
    source: str,
    evidence: dict[str, Any],
) -> Finding:
    now = gov.now()
    f = Finding(
        model_id=m.id,
        version_id=v.id if v is not None else None,
        severity=severity,
        type=type_,
        title=title,
        description=description,
        owner=owner,
        state=OPEN,
        source=source,
        evidence=evidence,
        due_at=due_at,
        created_at=now,
        created_by=actor,
        acceptance_round=0,
    )
    s.add(f)
    s.flush()
    s.refresh(f)
    gov.audit(
        s,
        actor,
        "finding.open",
        subject_of(f),
        _payload(
            f,
            type=type_,
            title=title,
            owner=owner,
            due_at=due_at,
            source=source,
            evidence=evidence,
        ),
        at=now,
    )
    gov.notify(
        "finding.opened",
        {
            "finding_id": f.id,
            "model": m.name,
            "version": v.version if v is not None else None,
            "severity": severity,
            "owner": owner,
            "source": source,
        },
    )
    return f


def open_finding(
    gov: Governance,
    actor: str,
    model: str,
    version: str | None,
    *,
    severity: str,
    title: str,
    type_: str = "validation_issue",
    owner: str | None = None,
    due: datetime | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    severity, type_ = parse_severity(severity), parse_type(type_)
    free_text(title, "--title", required=True)
    if len(title.strip()) > MAX_TITLE:
        raise BadInput(f"--title is longer than {MAX_TITLE} characters")
    free_text(description, "--description")
    if owner is not None:
        validate_user_name(owner)
    with gov.store.transaction() as s:
        gov.authorize(s, actor, Action.RAISE_FINDING)
        if version is not None:
            v: ModelVersion | None = gov.version(s, model, version, lock=True)
            assert v is not None
            if v.stage == Stage.RETIRE.value:
                raise BadInput(f"{v.label} is retired: record findings on a live version")
            m = v.model
            tier_name = v.risk_tier
        else:
            v = None
            m = _model(s, model)
            tiers = [x.risk_tier for x in _model_versions(s, m.id)]
            tier_name = min(tiers, key=lambda t: _TIER_RANK[t]) if tiers else "high"
        who = owner or (v.owner if v is not None else _model_versions(s, m.id)[-1].owner)
        _check_owner(gov, s, who)
        due_at = _due(due, gov.now(), gov.policy.for_tier(tier_name), severity)
        f = _insert(
            gov,
            s,
            actor,
            m,
            v,
            severity=severity,
            title=title.strip(),
            type_=type_,
            owner=who,
            due_at=due_at,
            description=description,
            source=MANUAL,
            evidence={},
        )
        return finding_detail(s, f, gov.policy, gov.now())


def _model(s: Session, name: str) -> Model:
    from mlgov.governance.validate import model_name

    m = s.scalar(select(Model).where(Model.name == model_name(name)))
    if m is None:
        raise NotFound(f"unknown model '{name}'", hint="see `mlgov models list`")
    return m


def open_automatic(
    gov: Governance,
    s: Session,
    actor: str,
    v: ModelVersion,
    *,
    source: str,
    severity: str,
    title: str,
    evidence: dict[str, Any],
    model_wide: bool = True,
) -> Finding | None:
    """A finding mlgov opens itself, in the caller's transaction, linked to its evidence.

    One open finding per source and version is enough: a breach seen again on the next check
    adds nothing the open finding does not already say (it returns None then)."""
    now = gov.now()
    existing = s.scalars(
        select(Finding).where(
            Finding.model_id == v.model_id,
            Finding.source == source,
            Finding.state != CLOSED,
        )
    )
    for f in existing:
        if is_open(f, now) and (f.evidence or {}).get("version") == v.version:
            return None
    tier = gov.policy.for_tier(v.risk_tier)
    return _insert(
        gov,
        s,
        actor,
        v.model,
        None if model_wide else v,
        severity=severity,
        title=title,
        type_="validation_issue",
        owner=v.owner,
        due_at=now + timedelta(days=tier.finding_due_days[severity]),
        description=None,
        source=source,
        evidence={"version": v.version, **evidence},
    )


def _refuse_unless_open(f: Finding, now: datetime, what: str) -> None:
    state = effective_state(f, now)
    if state != OPEN:
        raise Conflict(f"finding {f.id} is {state}: nothing to {what}")


def close_finding(
    gov: Governance, actor: str, finding_id: int, *, resolution: str
) -> dict[str, Any]:
    free_text(resolution, "--resolution", required=True)
    sweep_due(gov, actor)
    with gov.store.transaction() as s:
        user = gov.user(s, actor)
        f = _get(s, finding_id, lock=True)
        if f.state == CLOSED:
            raise Conflict(f"finding {f.id} is already closed ({f.resolution})")
        roles = set(user.role_names)
        if f.severity in SEVERE:
            if Role.RISK_OFFICER.value not in roles:
                raise PermissionDenied(
                    f"'{actor}' may not close finding {f.id}: a {f.severity} finding is closed "
                    "by a risk officer"
                )
            if actor in _makers(s, f):
                raise PermissionDenied(
                    f"'{actor}' may not close finding {f.id}: owners and registrants of the "
                    f"model never close its {f.severity} findings"
                )
        elif Role.RISK_OFFICER.value not in roles and actor not in {f.owner} | _makers(s, f):
            raise PermissionDenied(
                f"'{actor}' may not close finding {f.id}: its owner, the model's owner or a "
                "risk officer closes it"
            )
        now = gov.now()
        f.state, f.closed_at, f.closed_by = CLOSED, now, actor
        f.resolution = resolution.strip()
        s.flush()
        gov.audit(
            s, actor, "finding.close", subject_of(f), _payload(f, resolution=f.resolution), at=now
        )
        return finding_detail(s, f, gov.policy, now)


def assign(gov: Governance, actor: str, finding_id: int, owner: str) -> dict[str, Any]:
    validate_user_name(owner)
    with gov.store.transaction() as s:
        user = gov.authorize(s, actor, Action.RAISE_FINDING)
        f = _get(s, finding_id, lock=True)
        if f.state == CLOSED:
            raise Conflict(f"finding {f.id} is closed: nothing to assign")
        if Role.RISK_OFFICER.value not in user.role_names and actor not in (
            {f.owner} | _makers(s, f)
        ):
            raise PermissionDenied(
                f"'{actor}' may not assign finding {f.id}: its owner, the model's owner or a "
                "risk officer assigns it"
            )
        _check_owner(gov, s, owner)
        if owner == f.owner:
            raise Conflict(f"finding {f.id} is already assigned to '{owner}'")
        before, f.owner = f.owner, owner
        s.flush()
        gov.audit(
            s, actor, "finding.assign", subject_of(f), _payload(f, owner=owner, previous=before)
        )
        gov.notify("finding.assigned", {"finding_id": f.id, "owner": owner, "by": actor})
        return finding_detail(s, f, gov.policy, gov.now())


def comment(gov: Governance, actor: str, finding_id: int, text: str) -> dict[str, Any]:
    free_text(text, "the comment", required=True)
    with gov.store.transaction() as s:
        gov.authorize(s, actor, Action.RAISE_FINDING)
        f = _get(s, finding_id, lock=True)
        now = gov.now()
        s.add(FindingComment(finding_id=f.id, author=actor, at=now, text=text.strip()))
        s.flush()
        gov.audit(
            s, actor, "finding.comment", subject_of(f), _payload(f, text=text.strip()), at=now
        )
        return finding_detail(s, f, gov.policy, now)


def accept(
    gov: Governance, actor: str, finding_id: int, *, reason: str, until: datetime
) -> dict[str, Any]:
    """One vote to accept the finding's risk until `until`; the tier's quorum of votes accepts
    it until the earliest date voted (no approver accepts longer than they agreed to)."""
    free_text(reason, "--reason", required=True)
    sweep_due(gov, actor)
    try:
        with gov.store.transaction() as s:
            user = gov.authorize(s, actor, Action.ACCEPT_RISK)
            f = _get(s, finding_id, lock=True)
            now = gov.now()
            _refuse_unless_open(f, now, "accept")
            tier = _tier(s, f, gov.policy)
            if tier.approver_role not in user.role_names:
                raise PermissionDenied(
                    f"'{actor}' may not accept finding {f.id}: the policy for tier "
                    f"{_tier_name(s, f)} needs role {tier.approver_role}"
                )
            if actor in _makers(s, f):
                raise PermissionDenied(
                    f"maker-checker: '{actor}' owns or registered {f.model.name} and may never "
                    "accept the risk of its findings"
                )
            if until <= now:
                raise BadInput(f"--until {isoformat(until)} is not in the future")
            if until > now + timedelta(days=MAX_DAYS):
                raise BadInput(f"--until {isoformat(until)} is more than {MAX_DAYS} days away")
            votes = _votes(s, f)
            if any(vote.approver == actor for vote in votes):
                raise Conflict(f"'{actor}' already voted to accept finding {f.id}")
            s.add(
                FindingAcceptance(
                    finding_id=f.id,
                    round=f.acceptance_round,
                    approver=actor,
                    reason=reason.strip(),
                    until=until,
                    at=now,
                )
            )
            s.flush()
            votes = _votes(s, f)
            if len(votes) >= tier.approvals_required:
                f.state = ACCEPTED
                f.accepted_until = min(vote.until for vote in votes)
            s.flush()
            gov.audit(
                s,
                actor,
                "finding.accept",
                subject_of(f),
                _payload(
                    f,
                    reason=reason.strip(),
                    until=until,
                    votes=len(votes),
                    required=tier.approvals_required,
                    accepted_until=f.accepted_until if f.state == ACCEPTED else None,
                    round=f.acceptance_round,
                ),
                at=now,
            )
            return finding_detail(s, f, gov.policy, now)
    except IntegrityError as exc:  # two votes by one approver raced
        raise Conflict(f"'{actor}' already voted to accept finding {finding_id}") from exc


def sweep_due(gov: Governance, actor: str) -> None:
    """Record what time has made due (its own transaction): acceptances that ended reopen
    their findings, and findings past their due date are notified once as overdue."""
    now = gov.now()
    with gov.store.transaction() as s:
        candidates = s.scalars(
            select(Finding)
            .where(
                Finding.state != CLOSED,
                or_(
                    Finding.accepted_until <= now,
                    Finding.overdue_notified_at.is_(None) & (Finding.due_at < now),
                ),
            )
            .order_by(Finding.id)
            .with_for_update(of=Finding)
        )
        for f in candidates:
            if f.state == ACCEPTED and f.accepted_until is not None and now >= f.accepted_until:
                ended = f.accepted_until
                f.state, f.accepted_until = OPEN, None
                f.acceptance_round += 1
                s.flush()
                gov.audit(
                    s,
                    actor,
                    "finding.reopen",
                    subject_of(f),
                    _payload(f, reason=f"risk acceptance ended {isoformat(ended)}"),
                    at=now,
                )
                gov.notify(
                    "finding.reopened",
                    {"finding_id": f.id, "model": f.model.name, "severity": f.severity},
                )
            if f.state == OPEN and f.overdue_notified_at is None and now > f.due_at:
                f.overdue_notified_at = now
                s.flush()
                gov.audit(
                    s,
                    actor,
                    "finding.overdue",
                    subject_of(f),
                    _payload(f, due_at=f.due_at, owner=f.owner),
                    at=now,
                )
                gov.notify(
                    "finding.overdue",
                    {
                        "finding_id": f.id,
                        "model": f.model.name,
                        "version": f.version.version if f.version is not None else None,
                        "severity": f.severity,
                        "owner": f.owner,
                        "due_at": isoformat(f.due_at),
                    },
                )


def list_findings(
    gov: Governance,
    actor: str,
    *,
    open_only: bool = False,
    mine: bool = False,
    overdue: bool = False,
    model: str | None = None,
) -> list[dict[str, Any]]:
    with gov.store.read() as s:
        gov.authorize(s, actor, Action.READ)
        now = gov.now()
        stmt = select(Finding).order_by(Finding.id)
        if model is not None:
            stmt = stmt.where(Finding.model_id == _model(s, model).id)
        if mine:
            stmt = stmt.where(Finding.owner == actor)
        rows = []
        for f in s.scalars(stmt):
            if open_only and not is_open(f, now):
                continue
            if overdue and not is_overdue(f, now):
                continue
            rows.append(finding_view(s, f, gov.policy, now))
        return rows


def show_finding(gov: Governance, actor: str, finding_id: int) -> dict[str, Any]:
    with gov.store.read() as s:
        gov.authorize(s, actor, Action.READ)
        return finding_detail(s, _get(s, finding_id), gov.policy, gov.now())


def findings_section(s: Session, v: ModelVersion, policy: Policy, now: datetime) -> list[Any]:
    """`models show`: the findings open on the version or model-wide."""
    found = s.scalars(
        select(Finding)
        .where(
            Finding.model_id == v.model_id,
            or_(Finding.version_id == v.id, Finding.version_id.is_(None)),
            Finding.state != CLOSED,
        )
        .order_by(Finding.id)
    )
    return [finding_view(s, f, policy, now) for f in found if effective_state(f, now) != CLOSED]


# --- the gate ------------------------------------------------------------------------------


def unmet(s: Session, v: ModelVersion, policy: Policy, now: datetime) -> Iterator[str]:
    level = policy.for_tier(v.risk_tier).finding_blocking_severity
    for f in blocking(s, v, policy, now):
        scope = f"on {v.label}" if f.version_id is not None else f"model-wide on {f.model.name}"
        yield (
            f"finding {f.id} ({f.severity}, {f.type}) is open {scope}: {f.title} "
            f"(blocking level {level}; close it or accept its risk: mlgov findings show {f.id})"
        )


def check_findings(ctx: MoveContext) -> Iterator[str]:
    yield from unmet(ctx.session, ctx.version, ctx.policy, ctx.now)


def _sweep(gov: Any, actor: str, model: str, version: str) -> None:
    sweep_due(gov, actor)


def register(gates: Gates) -> None:
    for stage in (Stage.TRAIN, Stage.DEPLOY):
        gates.add_sweep(stage, "findings", _sweep)
        gates.add_check(stage, "findings", check_findings)


def pack_section(s: Session, v: ModelVersion, policy: Policy, now: datetime) -> dict[str, Any]:
    """The evidence pack's model-risk data: every finding on the version or model-wide, open
    or not (a closed finding and its resolution are evidence too)."""
    found = s.scalars(
        select(Finding)
        .where(
            Finding.model_id == v.model_id,
            or_(Finding.version_id == v.id, Finding.version_id.is_(None)),
        )
        .order_by(Finding.id)
    )
    return {
        "blocking_severity": policy.for_tier(v.risk_tier).finding_blocking_severity,
        "findings": [finding_detail(s, f, policy, now) for f in found],
    }
