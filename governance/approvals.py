"""Approval requests and decisions: quorum by tier, maker-checker, binding to the evidence.

An approval is bound to a frozen snapshot of the evidence and to the SHA-256 of every artifact
file, so what was approved is exactly what gets deployed. The rules live here, in the core.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mlgov.governance import operations
from mlgov.governance.clock import isoformat
from mlgov.governance.errors import (
    BadInput,
    Conflict,
    GateRefused,
    MlgovError,
    PermissionDenied,
    Refused,
    Unmet,
)
from mlgov.governance.faults import fault_point
from mlgov.governance.findings import sweep_due as sweep_findings
from mlgov.governance.findings import unmet as findings_unmet
from mlgov.governance.gates import Gates, MoveContext
from mlgov.governance.lifecycle import Stage
from mlgov.governance.mirror import APPROVED_BY_TAG, mirror_version, tags_to_write
from mlgov.governance.roles import Action
from mlgov.governance.snapshot import build_snapshot, describe_changes, snapshot_hash
from mlgov.governance.tables import ApprovalDecision, ApprovalRequest, ModelVersion, User
from mlgov.governance.validate import free_text

if TYPE_CHECKING:
    from mlgov.governance.service import Governance

PENDING, APPROVED, REJECTED, EXPIRED, VOID = "pending", "approved", "rejected", "expired", "void"
OPEN_STATES = (PENDING, APPROVED)


def latest_request(session: Session, version: ModelVersion) -> ApprovalRequest | None:
    return session.scalar(
        select(ApprovalRequest)
        .where(ApprovalRequest.version_id == version.id)
        .order_by(ApprovalRequest.id.desc())
        .limit(1)
    )


def approvals_count(request: ApprovalRequest) -> int:
    return sum(1 for d in request.decisions if d.decision == "approve")


def effective_state(request: ApprovalRequest, now: datetime) -> str:
    """Pending and approved requests past their validity read as expired, even unswept."""
    if request.state in OPEN_STATES and now >= request.expires_at:
        return EXPIRED
    return request.state


def request_view(request: ApprovalRequest, version: ModelVersion, now: datetime) -> dict[str, Any]:
    return {
        "id": request.id,
        "model": version.model.name,
        "version": version.version,
        "state": effective_state(request, now),
        "approvals_count": approvals_count(request),
        "approvals_required": request.approvals_required,
        "requested_by": request.requested_by,
        "requested_at": isoformat(request.requested_at),
        "expires_at": isoformat(request.expires_at),
        "snapshot_hash": request.snapshot_hash,
        "note": request.note,
        "closed_reason": request.close_reason,
    }


def _subject(version: ModelVersion) -> str:
    return f"model:{version.label}"


def _close(
    gov: Governance,
    s: Session,
    request: ApprovalRequest,
    version: ModelVersion,
    state: str,
    reason: str,
    actor: str,
) -> None:
    request.state = state
    request.closed_at = gov.now()
    request.close_reason = reason
    action = {EXPIRED: "approval.expire", VOID: "approval.void"}[state]
    gov.audit(
        s,
        actor,
        action,
        _subject(version),
        {"request_id": request.id, "snapshot_hash": request.snapshot_hash, "reason": reason},
    )


def sweep(gov: Governance, actor: str, model: str, version: str) -> None:
    """Record expiry and voiding that are due (its own transaction, before any decision).

    Closing an approved request also takes its approvers off MLflow's `mlgov.approved_by`
    in the same transaction (see _withdraw_approval_tag).
    """
    with gov.store.transaction() as s:
        v = gov.version(s, model, version, lock=True)
        request = latest_request(s, v)
        if request is None or request.state not in OPEN_STATES:
            return
        was_approved = request.state == APPROVED
        if gov.now() >= request.expires_at:
            _close(
                gov,
                s,
                request,
                v,
                EXPIRED,
                f"validity of {gov.policy.for_tier(v.risk_tier).approval_valid_days} days ended",
                actor,
            )
            if was_approved:
                _withdraw_approval_tag(gov, s, v)
            gov.notify(
                "approval.expired", {"model": model, "version": v.version, "request_id": request.id}
            )
            return
        changes = describe_changes(request.snapshot, _current_snapshot(gov, s, v))
        if changes:
            _close(gov, s, request, v, VOID, "evidence changed: " + "; ".join(changes), actor)
            if was_approved:
                _withdraw_approval_tag(gov, s, v)
            gov.notify(
                "approval.void",
                {
                    "model": model,
                    "version": v.version,
                    "request_id": request.id,
                    "changes": changes,
                },
            )


def _withdraw_approval_tag(gov: Governance, s: Session, v: ModelVersion) -> None:
    """Make MLflow's `mlgov.approved_by` follow an approval that was just closed.

    Written before the commit, as a decision's mirror is: a crash in between leaves MLflow
    showing less approval than governance, never more, and reconcile reports the difference.
    Only this tag is written: the version's other tags and its aliases may be in the middle
    of another process's move. No operation row: sweeps run inside reconcile's replay of a
    crashed approve or deploy, whose own pending operation would refuse a second one.
    If MLflow does not answer, the closing stands (it is a fact of governance) and the user
    is told to run reconcile --fix.
    """
    registry = gov.ports.get("registry")
    if registry is None:
        return
    s.flush()
    wanted = tags_to_write(s, v)[APPROVED_BY_TAG]
    try:
        registry.mirror(v.model.name, v.version, tags={APPROVED_BY_TAG: wanted})
    except MlgovError as exc:
        gov.warnings.append(
            f"MLflow may still show {APPROVED_BY_TAG} on {v.label} ({exc}): "
            "run `mlgov reconcile --fix` once MLflow answers"
        )


def _current_snapshot(gov: Governance, s: Session, v: ModelVersion) -> dict[str, Any]:
    extra = {name: fn(s, v) for name, fn in gov.snapshot_sections.items()}
    return build_snapshot(s, v, gov.policy, gov.ports.get("registry"), extra)


def request_approval(
    gov: Governance, actor: str, model: str, version: str, *, note: str | None = None
) -> dict[str, Any]:
    free_text(note, "--note")
    with gov.store.read() as s:
        gov.authorize(s, actor, Action.REQUEST_APPROVAL)
        gov.check_against_trail(s, gov.version(s, model, version), locked=False)
    sweep(gov, actor, model, version)
    sweep_findings(gov, actor)
    with gov.store.transaction() as s:
        gov.authorize(s, actor, Action.REQUEST_APPROVAL)
        v = gov.version(s, model, version, lock=True)
        gov.check_against_trail(s, v)
        # The review first: only a serving version can owe one, and it is never in train.
        if v.review_required:
            raise Refused(f"{v.label} needs a risk officer's review first (mlgov monitor ack)")
        if v.stage != Stage.TRAIN.value:
            raise Refused(f"{v.label} is in stage {v.stage}: approval is requested in train")
        ctx = MoveContext(
            session=s,
            version=v,
            current=Stage.TRAIN,
            target=Stage.TRAIN,
            actor=actor,
            policy=gov.policy,
            now=gov.now(),
            ports=gov.ports,
        )
        unmet = gov.gates.unmet_for(Stage.TRAIN, ctx)
        if unmet:
            raise GateRefused("train evidence", unmet)
        existing = latest_request(s, v)
        if existing is not None and existing.state in OPEN_STATES:
            raise Conflict(
                f"{v.label} already has an {existing.state} request (id {existing.id})",
                hint="it must be decided, expire or be voided first",
            )
        snapshot = _current_snapshot(gov, s, v)
        changed = describe_changes({**snapshot, "fingerprint": {"files": v.fingerprint}}, snapshot)
        if changed:
            raise Refused(
                f"{v.label}: artifacts differ from their registration: " + "; ".join(changed),
                hint="run `mlgov reconcile`",
            )
        tier = gov.policy.for_tier(v.risk_tier)
        digest = snapshot_hash(snapshot)
        request = ApprovalRequest(
            version_id=v.id,
            requested_by=actor,
            registered_by=v.registered_by,  # copies the database checks maker-checker with
            owner=v.owner,
            requested_at=gov.now(),
            note=note,
            snapshot=snapshot,
            snapshot_hash=digest,
            approvals_required=tier.approvals_required,
            state=PENDING,
            expires_at=gov.now() + timedelta(days=tier.approval_valid_days),
        )
        s.add(request)
        s.flush()
        gov.touch(v)
        gov.audit(
            s,
            actor,
            "approval.request",
            _subject(v),
            {
                "request_id": request.id,
                "snapshot_hash": digest,
                "approvals_required": request.approvals_required,
                "note": note,
                "expires_at": request.expires_at,
            },
        )
        view = request_view(request, v, gov.now())
    gov.notify(
        "approval.requested",
        {k: view[k] for k in ("id", "model", "version", "requested_by", "snapshot_hash")},
    )
    return view


@dataclass(frozen=True)
class Refusal:
    """Why a user may not decide on a request: `code` is role, maker_checker or decided."""

    code: str
    message: str


def decision_refusal(
    gov: Governance, user: User, v: ModelVersion, request: ApprovalRequest
) -> Refusal | None:
    """Why `user` may not decide on `request` (role, then maker-checker), or None if they
    may. The one place these rules live: `decide` raises with this message, the console
    shows it beside a request it lists."""
    role = gov.policy.for_tier(v.risk_tier).approver_role
    if role not in user.role_names:
        return Refusal(
            "role",
            f"'{user.name}' may not decide on {v.label}: the policy for tier {v.risk_tier} "
            f"needs role {role} (has {', '.join(user.role_names) or 'none'})",
        )
    for rule, who in (
        ("registrant", v.registered_by),
        ("owner", v.owner),
        ("requester", request.requested_by),
    ):
        if user.name == who:
            return Refusal(
                "maker_checker",
                f"maker-checker: '{user.name}' is the {rule} of {v.label} and may never "
                "decide on it",
            )
    return None


def _check_approver(
    gov: Governance, s: Session, actor: str, v: ModelVersion, request: ApprovalRequest
) -> None:
    refusal = decision_refusal(gov, gov.user(s, actor), v, request)
    if refusal is not None:
        raise PermissionDenied(refusal.message)


def _refusal(exc: IntegrityError, actor: str, model: str, version: str) -> Refused:
    """The domain error for a decision the database refused (constraint names: tables.py)."""
    if "ck_decision_not_maker" in str(exc.orig):
        return PermissionDenied(
            f"maker-checker: '{actor}' requested, registered or owns {model}/{version} "
            "and may never decide on it"
        )
    return Conflict(f"'{actor}' already decided on {model}/{version}: one decision per approver")


def decide(
    gov: Governance,
    actor: str,
    model: str,
    version: str,
    *,
    approve: bool,
    comment: str | None = None,
    resume: str | None = None,
    recovered_by: str | None = None,
) -> dict[str, Any]:
    """Record one approver's decision. It runs as an operation (governance/operations.py):
    the decision that completes a quorum writes MLflow's approval tag before it commits."""
    free_text(comment, "--reason" if not approve else "--comment")
    if not approve and not (comment and comment.strip()):
        raise BadInput("a rejection needs --reason saying why")
    with gov.store.read() as s:
        v = gov.version(s, model, version)
        user = gov.user(s, actor)
        gov.check_against_trail(s, v, locked=False)  # before the sweep writes about it
        may_decide = gov.policy.for_tier(v.risk_tier).approver_role in user.role_names
    if may_decide:
        sweep(gov, actor, model, version)  # records expiry/voiding before deciding
        sweep_findings(gov, actor)  # and findings whose risk acceptance ended
    with operations.running(
        gov,
        model,
        version,
        kind="approve",
        actor=actor,
        to_stage=None,
        detail={"approve": approve, "comment": comment},
        precheck=lambda s, v: gov.user(s, actor),
        resume=resume,
        recovered_by=recovered_by,
    ) as run:
        view, decision = _decide(gov, actor, model, version, approve, comment, run)
    fault_point("after-commit")
    gov.notify(
        "approval.decided",
        {
            "model": model,
            "version": view["version"],
            "request_id": view["id"],
            "decision": decision,
            "by": actor,
            "state": view["state"],
        },
    )
    return view


def _decide(
    gov: Governance,
    actor: str,
    model: str,
    version: str,
    approve: bool,
    comment: str | None,
    run: operations.OperationRun,
) -> tuple[dict[str, Any], str]:
    try:
        with gov.store.transaction() as s:
            v = gov.version(s, model, version, lock=True)
            gov.user(s, actor)
            gov.check_against_trail(s, v)
            request = latest_request(s, v)
            if request is None:
                raise Refused(
                    f"{v.label} has no approval request",
                    hint=f"the owner asks with `mlgov approvals request {model} {version}`",
                )
            if v.stage == Stage.RETIRE.value:
                raise Refused(f"{v.label} is retired: nothing to decide")
            s.refresh(request, with_for_update=True)
            _check_approver(gov, s, actor, v, request)
            if request.state != PENDING:
                raise Refused(
                    f"{v.label}: request {request.id} is {request.state}"
                    + (f" ({request.close_reason})" if request.close_reason else "")
                )
            if approve:
                blocked = list(findings_unmet(s, v, gov.policy, gov.now()))
                if blocked:
                    raise GateRefused("approval", [Unmet("findings", m) for m in blocked])
            if any(d.approver == actor for d in request.decisions):
                raise Conflict(
                    f"'{actor}' already decided on request {request.id} of {v.label}: "
                    "one decision per approver"
                )
            decision = ApprovalDecision(
                request_id=request.id,
                approver=actor,
                decision="approve" if approve else "reject",
                comment=comment,
                at=gov.now(),
                requested_by=request.requested_by,
                registered_by=request.registered_by,
                owner=request.owner,
            )
            s.add(decision)
            s.flush()
            s.refresh(request)
            count = approvals_count(request)
            if not approve:
                request.state, request.closed_at = REJECTED, gov.now()
                request.close_reason = comment
            elif count >= request.approvals_required:
                request.state, request.closed_at = APPROVED, gov.now()
            gov.touch(v)
            s.flush()
            registry = gov.ports.get("registry")
            if request.state == APPROVED and registry is not None:
                run.side_effects_started = True
                mirror_version(s, registry, v)
                operations.mark_written(gov, run, v)
            fault_point("after-side-effect")
            payload = {
                "request_id": request.id,
                "snapshot_hash": request.snapshot_hash,
                "decision": decision.decision,
                "comment": comment,
                "approvals_count": count,
                "state": request.state,
            }
            event = gov.audit(s, actor, "approval.decide", _subject(v), payload | run.audit_fields)
            operations.complete(s, run, audit_seq=event.seq, now=gov.now())
            s.flush()
            fault_point("before-commit")
            view = request_view(request, v, gov.now())
    except IntegrityError as exc:  # the database's rules, should a race slip past the checks
        raise _refusal(exc, actor, model, version) from exc
    return view, decision.decision


def list_requests(
    gov: Governance, actor: str, *, pending: bool = False, mine: bool = False
) -> list[dict[str, Any]]:
    with gov.store.read() as s:
        user = gov.authorize(s, actor, Action.READ)
        now = gov.now()
        rows = []
        for request in s.scalars(select(ApprovalRequest).order_by(ApprovalRequest.id)):
            v = s.get(ModelVersion, request.version_id)
            assert v is not None  # version_id is a foreign key
            view = request_view(request, v, now)
            if pending and view["state"] != PENDING:
                continue
            if mine:
                awaits_me = (
                    view["state"] == PENDING
                    and decision_refusal(gov, user, v, request) is None
                    and all(d.approver != actor for d in request.decisions)
                )
                if request.requested_by != actor and not awaits_me:
                    continue
            rows.append(view)
        return rows


def inbox(gov: Governance, actor: str) -> list[dict[str, Any]]:
    """Every pending request with what the actor may do about it: `refusal` says why they
    may not decide (role, maker-checker, already decided), None when they may."""
    with gov.store.read() as s:
        user = gov.authorize(s, actor, Action.READ)
        now = gov.now()
        rows = []
        for request in s.scalars(select(ApprovalRequest).order_by(ApprovalRequest.id)):
            v = s.get(ModelVersion, request.version_id)
            assert v is not None  # version_id is a foreign key
            view = request_view(request, v, now)
            if view["state"] != PENDING:
                continue
            refusal = decision_refusal(gov, user, v, request)
            if refusal is None and any(d.approver == actor for d in request.decisions):
                message = f"'{actor}' already decided on request {request.id} of {v.label}"
                refusal = Refusal("decided", message)
            rows.append(
                view
                | {
                    "risk_tier": v.risk_tier,
                    "refusal": refusal.message if refusal else None,
                    "refusal_code": refusal.code if refusal else None,
                }
            )
        return rows


def show_request(gov: Governance, actor: str, model: str, version: str) -> dict[str, Any]:
    with gov.store.read() as s:
        gov.authorize(s, actor, Action.READ)
        v = gov.version(s, model, version)
        request = latest_request(s, v)
        if request is None:
            raise Refused(f"{v.label} has no approval request")
        return request_detail(request, v, gov.now())


def request_detail(
    request: ApprovalRequest, version: ModelVersion, now: datetime
) -> dict[str, Any]:
    """A request with its frozen snapshot and every decision with its comment."""
    view = request_view(request, version, now)
    view["closed_at"] = isoformat(request.closed_at) if request.closed_at else None
    view["decisions"] = [
        {
            "approver": d.approver,
            "decision": d.decision,
            "comment": d.comment,
            "at": isoformat(d.at),
        }
        for d in request.decisions
    ]
    view["snapshot"] = request.snapshot
    return view


def verify_binding(gov: Governance, actor: str, model: str, version: str) -> dict[str, Any]:
    """For humans: is the latest approval still valid and bound to the evidence as it is now?"""
    with gov.store.read() as s:
        gov.authorize(s, actor, Action.READ)
        v = gov.version(s, model, version)
        problems = list(binding_problems(gov, s, v))
        request = latest_request(s, v)
        return {
            "model": model,
            "version": v.version,
            "request_id": request.id if request else None,
            "state": effective_state(request, gov.now()) if request else None,
            "ok": not problems,
            "problems": problems,
        }


def binding_problems(gov: Governance, s: Session, v: ModelVersion) -> Iterator[str]:
    request = latest_request(s, v)
    if request is None:
        yield "no approval request"
        return
    state = effective_state(request, gov.now())
    if state != APPROVED:
        count = approvals_count(request)
        if state == PENDING:
            yield (
                f"approval quorum not met: {count} of {request.approvals_required} "
                f"approvals (request {request.id})"
            )
        else:
            detail = f": {request.close_reason}" if request.close_reason else ""
            yield f"approval request {request.id} is {state}{detail}"
        return
    for change in describe_changes(request.snapshot, _current_snapshot(gov, s, v)):
        yield f"approval void: {change}"


def check_approval(ctx: MoveContext) -> Iterator[str]:
    gov = ctx.ports["governance"]
    yield from binding_problems(gov, ctx.session, ctx.version)


def check_no_review_pending(ctx: MoveContext) -> Iterator[str]:
    if ctx.version.review_required:
        yield "a risk officer's review is required first (mlgov monitor ack)"


def void_open_requests(ctx: MoveContext) -> None:
    """On retire: open requests are voided, each audited."""
    gov = ctx.ports["governance"]
    request = latest_request(ctx.session, ctx.version)
    if request is not None and request.state in OPEN_STATES:
        _close(
            gov,
            ctx.session,
            request,
            ctx.version,
            VOID,
            f"version retired: {ctx.reason}",
            ctx.actor,
        )


def register(gates: Gates) -> None:
    gates.add_sweep(Stage.DEPLOY, "approval", sweep)
    gates.add_check(Stage.DEPLOY, "approval", check_approval)
    gates.add_check(Stage.DEPLOY, "review", check_no_review_pending)
    gates.add_effect(Stage.RETIRE, "void_approvals", void_open_requests)
