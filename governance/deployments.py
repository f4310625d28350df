"""Deployments: which version serves on which target, and the moves around them.

`deploy` builds the service through the Deployer port (outside any transaction: it is slow),
then promotes the version to `deploy` with the deployment recorded by the move's effect, so the
stage, the deployment row and the audit event commit together; if the move is refused, what
was built is discarded. Rollback, undeploy, retire and `suspend` switch the target's status
file, which the running server reads (the hot path never touches the database).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mlgov.governance import operations, target_claims
from mlgov.governance.approvals import binding_problems
from mlgov.governance.clock import isoformat
from mlgov.governance.errors import NotFound, Refused
from mlgov.governance.faults import fault_point
from mlgov.governance.gates import Gates, MoveContext
from mlgov.governance.lifecycle import Health, Stage
from mlgov.governance.mirror import mirror_version
from mlgov.governance.references import current_reference
from mlgov.governance.roles import Action
from mlgov.governance.tables import Deployment, ModelVersion
from mlgov.governance.validate import free_text, target_name

if TYPE_CHECKING:
    from mlgov.governance.ports import PreparedDeployment
    from mlgov.governance.service import Governance

ACTIVE = "active"


def validate_target(name: str) -> str:
    return target_name(name)


def active_on(session: Session, target: str) -> Deployment | None:
    return session.scalar(
        select(Deployment).where(Deployment.target == target, Deployment.state == ACTIVE)
    )


def active_for_version(session: Session, version: ModelVersion) -> list[Deployment]:
    return list(
        session.scalars(
            select(Deployment).where(
                Deployment.version_id == version.id, Deployment.state == ACTIVE
            )
        )
    )


def _version_of(session: Session, d: Deployment) -> ModelVersion:
    v = session.get(ModelVersion, d.version_id)
    assert v is not None  # version_id is a foreign key
    return v


def _previous_of(session: Session, d: Deployment) -> Deployment:
    assert d.previous_id is not None  # callers check it first
    previous = session.get(Deployment, d.previous_id)
    assert previous is not None  # previous_id is a foreign key
    return previous


def deployment_view(session: Session, d: Deployment) -> dict[str, Any]:
    v = _version_of(session, d)
    return {
        "id": d.id,
        "target": d.target,
        "model": v.model.name,
        "version": v.version,
        "state": d.state,
        "since": isoformat(d.deployed_at),
        "by": d.deployed_by,
        "verified_at": isoformat(d.verified_at) if d.verified_at else None,
        "health": v.health,
        "stage": v.stage,
        "bento_model_tag": d.bento_model_tag,
        "bento_tag": d.bento_tag,
        "fingerprint_digest": d.fingerprint_digest,
        "previous_id": d.previous_id,
        "ended_at": isoformat(d.ended_at) if d.ended_at else None,
        "end_reason": d.end_reason,
    }


def _end(gov: Governance, s: Session, d: Deployment, state: str, actor: str, reason: str) -> None:
    d.state, d.ended_at, d.ended_by, d.end_reason = state, gov.now(), actor, reason


def _status(
    gov: Governance,
    d: Deployment,
    state: str,
    reason: str,
    v: ModelVersion,
    op_id: str | None = None,
) -> None:
    from pathlib import Path

    gov.ports["deployer"].set_status(
        d.target,
        state=state,
        reason=reason,
        model=v.model.name,
        version=v.version,
        manifest_path=Path(d.manifest_path),
        stage=v.stage,
        op_id=op_id,
    )


# --- deploy ---------------------------------------------------------------------------------


def check_deployment_built(ctx: MoveContext) -> Iterator[str]:
    if "prepared" not in ctx.options:
        yield (
            f"no deployment was built: use `mlgov deploy {ctx.version.label.replace('/', ' ')}`"
            " (it runs this gate, builds the service and records the deployment)"
        )


def check_health(ctx: MoveContext) -> Iterator[str]:
    if ctx.version.health == Health.BREACH.value:
        yield "health is breach: a risk officer must review (mlgov monitor ack) and it must recover"


def record_deployment(ctx: MoveContext) -> None:
    prepared: PreparedDeployment = ctx.options["prepared"]
    gov: Governance = ctx.ports["governance"]
    s, v = ctx.session, ctx.version
    previous = active_on(s, prepared.target)
    if previous is not None:
        _end(gov, s, previous, "superseded", ctx.actor, f"replaced by {v.label}")
    d = Deployment(
        target=prepared.target,
        version_id=v.id,
        bento_model_tag=prepared.bento_model_tag,
        bento_tag=prepared.bento_tag,
        manifest_path=str(prepared.manifest_path),
        fingerprint_digest=v.fingerprint_digest,
        state=ACTIVE,
        deployed_at=ctx.now,
        deployed_by=ctx.actor,
        previous_id=previous.id if previous else None,
    )
    s.add(d)
    s.flush()
    ctx.audit_payload["deployment"] = {
        "target": d.target,
        "id": d.id,
        "bento_tag": d.bento_tag or d.bento_model_tag,
        "previous_id": d.previous_id,
    }
    _status(gov, d, "serving", f"{v.label} deployed by {ctx.actor}", v, ctx.op_id)


def deploy(
    gov: Governance,
    actor: str,
    model: str,
    version: str,
    *,
    target: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    target = validate_target(target or model)
    # The sweep, the gate preview and the move each bind the approval to the artifacts' hash:
    # within one deploy they share one hashing (a 500 MB model was read 4 times).
    with gov.hashing_once():
        return _deploy(gov, actor, model, version, target, progress)


def _deploy(
    gov: Governance,
    actor: str,
    model: str,
    version: str,
    target: str,
    progress: Callable[[str], None] | None,
) -> dict[str, Any]:
    with gov.store.read() as s:
        gov.authorize(s, actor, Action.DEPLOY)
        v = gov.version(s, model, version)
        gov.check_against_trail(s, v, locked=False)  # before anything is swept or built
        if v.stage != Stage.TRAIN.value:
            raise Refused(
                f"{v.label} is in stage {v.stage}: only a version in train is deployed"
                + ("" if v.stage != Stage.RETIRE.value else " (retired is final)")
            )
    # The gate first, so nothing is built for a version that would be refused.
    for sweep in gov.gates.sweeps_for(Stage.DEPLOY):
        sweep(gov, actor, model, version)
    unmet = [
        u
        for u in gov.gate_preview(actor, model, version, Stage.DEPLOY.value)
        if u["check"] != "deployment"
    ]
    if unmet:
        from mlgov.governance.errors import GateRefused, Unmet

        raise GateRefused(Stage.DEPLOY.value, [Unmet(u["check"], u["message"]) for u in unmet])
    with gov.store.read() as s:
        v = gov.version(s, model, version)
        request_summary = _approval_summary(s, v)
        features = (v.lineage.get("signature") or {}).get("inputs") or []
        model_uri, digest = v.source_uri, v.fingerprint_digest
    if not features:
        raise Refused(
            f"{v.label} has no input signature: mlgov serves only models logged "
            "with a signature (inputs are validated against it)"
        )
    with target_claims.claimed(gov, target, actor=actor, purpose=f"deploy of {model}/{version}"):
        return _build_and_switch(
            gov,
            actor,
            model,
            version,
            target,
            features,
            model_uri,
            digest,
            request_summary,
            progress,
        )


def _build_and_switch(
    gov: Governance,
    actor: str,
    model: str,
    version: str,
    target: str,
    features: list[Any],
    model_uri: str,
    digest: str,
    request_summary: dict[str, Any],
    progress: Callable[[str], None] | None,
) -> dict[str, Any]:
    if progress is not None:
        progress(
            f"{model}/{version}: deploy gate passed; building the service for target "
            f"'{target}' (this takes a few seconds)..."
        )
    prepared = gov.ports["deployer"].prepare(
        target=target,
        model=model,
        version=str(version),
        model_uri=model_uri,
        fingerprint_digest=digest,
        features=features,
        metadata={"approvals": request_summary, "stage": Stage.DEPLOY.value},
    )
    try:
        result = gov.promote(
            actor, model, version, Stage.DEPLOY.value, options={"prepared": prepared}
        )
    except BaseException:
        gov.ports["deployer"].discard(prepared)
        raise
    return result | {
        "target": target,
        "bento_model_tag": prepared.bento_model_tag,
        "bento_tag": prepared.bento_tag,
    }


def _approval_summary(s: Session, v: ModelVersion) -> dict[str, Any]:
    from mlgov.governance.approvals import latest_request

    request = latest_request(s, v)
    if request is None:
        return {}
    return {
        "request_id": request.id,
        "state": request.state,
        "approved_by": sorted(d.approver for d in request.decisions if d.decision == "approve"),
        "snapshot_hash": request.snapshot_hash,
    }


# --- operations on a target -------------------------------------------------------------------


def _active(s: Session, target: str) -> Deployment:
    validate_target(target)
    d = active_on(s, target)
    if d is None:
        known = s.scalar(select(Deployment.id).where(Deployment.target == target).limit(1))
        if known is None:
            raise NotFound(f"unknown target '{target}'", hint="see `mlgov deployments list`")
        raise Refused(f"target '{target}' serves nothing now")
    return d


def _target_operation(
    gov: Governance,
    actor: str,
    target: str,
    *,
    kind: str,
    detail: dict[str, Any],
    body: Callable[[Session, operations.OperationRun], dict[str, Any]],
    resume: str | None,
    recovered_by: str | None,
) -> dict[str, Any]:
    """Run a move of a target (status file and MLflow writes) as an operation on the version
    the target serves now (see governance/operations.py)."""
    with gov.store.read() as s:
        gov.authorize(s, actor, Action.OPERATE)
        v = _version_of(s, _active(s, target))
        model, version = v.model.name, v.version
    # Reconcile's replay of a crashed move settles what that move held: it claims nothing.
    claim = (
        nullcontext()
        if resume is not None
        else target_claims.claimed(gov, target, actor=actor, purpose=f"{kind} of {target}")
    )
    with (
        claim,
        operations.running(
            gov,
            model,
            version,
            kind=kind,
            actor=actor,
            to_stage=None,
            detail=detail | {"target": target},
            precheck=lambda s, v: gov.authorize(s, actor, Action.OPERATE),
            targets=lambda s, v: [target],
            resume=resume,
            recovered_by=recovered_by,
        ) as run,
    ):
        with gov.store.transaction() as s:
            result = body(s, run)
            fault_point("before-commit")
    fault_point("after-commit")
    return result


def rollback(
    gov: Governance,
    actor: str,
    target: str,
    *,
    resume: str | None = None,
    recovered_by: str | None = None,
) -> dict[str, Any]:
    def body(s: Session, run: operations.OperationRun) -> dict[str, Any]:
        gov.authorize(s, actor, Action.OPERATE)
        current = _active(s, target)
        if current.previous_id is None:
            raise Refused(f"target '{target}' has no previous version to roll back to")
        previous = _previous_of(s, current)
        old_v = _version_of(s, previous)
        cur_v = _version_of(s, current)
        # locked: the restored version's state must not change under the check
        gov.check_against_trail(s, gov.version(s, old_v.model.name, old_v.version, lock=True))
        if old_v.stage == Stage.RETIRE.value:
            raise Refused(f"cannot roll back to {old_v.label}: it is retired")
        if old_v.review_required:
            raise Refused(
                f"cannot roll back to {old_v.label}: it needs a risk officer's review first "
                "(mlgov monitor ack)"
            )
        problems = list(binding_problems(gov, s, old_v))
        if problems:
            raise Refused(f"cannot roll back to {old_v.label}: " + "; ".join(problems))
        _end(gov, s, current, "rolled_back", actor, f"rolled back to {old_v.label}")
        d = Deployment(
            target=target,
            version_id=old_v.id,
            bento_model_tag=previous.bento_model_tag,
            bento_tag=previous.bento_tag,
            manifest_path=previous.manifest_path,
            fingerprint_digest=previous.fingerprint_digest,
            state=ACTIVE,
            deployed_at=gov.now(),
            deployed_by=actor,
            previous_id=previous.previous_id,
            verified_at=None,
        )
        s.add(d)
        s.flush()
        gov.touch(old_v)
        run.side_effects_started = True
        registry = gov.ports.get("registry")
        if registry is not None:
            registry.mirror(old_v.model.name, old_v.version, tags={}, set_aliases=["champion"])
        _status(gov, d, "serving", f"rolled back to {old_v.label} by {actor}", old_v, run.id)
        operations.mark_written(gov, run, cur_v)
        fault_point("after-side-effect")
        event = gov.audit(
            s,
            actor,
            "deployment.rollback",
            f"model:{old_v.label}",
            {
                "target": target,
                "from_version": cur_v.version,
                "to_version": old_v.version,
                "deployment_id": d.id,
            }
            | run.audit_fields,
        )
        operations.complete(s, run, audit_seq=event.seq, now=gov.now())
        return deployment_view(s, d)

    return _target_operation(
        gov,
        actor,
        target,
        kind="rollback",
        detail={},
        body=body,
        resume=resume,
        recovered_by=recovered_by,
    )


def undeploy(
    gov: Governance,
    actor: str,
    target: str,
    *,
    reason: str | None = None,
    resume: str | None = None,
    recovered_by: str | None = None,
) -> dict[str, Any]:
    free_text(reason, "--reason")

    def body(s: Session, run: operations.OperationRun) -> dict[str, Any]:
        gov.authorize(s, actor, Action.OPERATE)
        d = _active(s, target)
        v = _version_of(s, d)
        why = (reason or "").strip() or f"undeployed by {actor}"
        _end(gov, s, d, "undeployed", actor, why)
        gov.touch(v)
        s.flush()
        run.side_effects_started = True
        if gov.ports.get("registry") is not None:
            mirror_version(s, gov.ports["registry"], v)
        _status(gov, d, "undeployed", why, v, run.id)
        operations.mark_written(gov, run, v)
        fault_point("after-side-effect")
        event = gov.audit(
            s,
            actor,
            "deployment.undeploy",
            f"model:{v.label}",
            {"target": target, "deployment_id": d.id, "reason": why} | run.audit_fields,
        )
        operations.complete(s, run, audit_seq=event.seq, now=gov.now())
        return deployment_view(s, d)

    return _target_operation(
        gov,
        actor,
        target,
        kind="undeploy",
        detail={"reason": reason},
        body=body,
        resume=resume,
        recovered_by=recovered_by,
    )


def suspend_version(
    gov: Governance,
    s: Session,
    v: ModelVersion,
    actor: str,
    reason: str,
    run: operations.OperationRun,
) -> list[str]:
    """Monitoring's `suspend` action: every target serving the version answers 503.

    Runs in the monitoring step's transaction, as operation `run` (begun with these targets):
    each status file names it, and the operation completes with the last audit event."""
    targets = []
    event = None
    for d in active_for_version(s, v):
        run.side_effects_started = True
        _status(gov, d, "suspended", reason, v, run.id)
        event = gov.audit(
            s,
            actor,
            "deployment.suspend",
            f"model:{v.label}",
            {"target": d.target, "deployment_id": d.id, "reason": reason} | {"op_id": run.id},
        )
        targets.append(d.target)
    if event is not None:
        operations.mark_written(gov, run, v)
        fault_point("after-side-effect")
        operations.complete(s, run, audit_seq=event.seq, now=gov.now())
    return targets


def record_verification(gov: Governance, actor: str, target: str, *, probe: str) -> dict[str, Any]:
    """The served target answered ready and a probe prediction succeeded: record it and move
    the version deploy -> evaluate (the evaluate gate checks the verification)."""
    with gov.store.transaction() as s:
        gov.authorize(s, actor, Action.OPERATE)
        d = _active(s, target)
        v = _version_of(s, d)
        if d.verified_at is None:
            d.verified_at = gov.now()
            gov.audit(
                s,
                actor,
                "deployment.verify",
                f"model:{v.label}",
                {"target": target, "deployment_id": d.id, "probe": probe},
            )
        model, version, stage = v.model.name, v.version, v.stage
    moved = None
    if stage == Stage.DEPLOY.value:
        moved = gov.promote(
            actor, model, version, Stage.EVALUATE.value, reason=f"verified on target {target}"
        )
    return {
        "target": target,
        "model": model,
        "version": version,
        "stage": moved["stage"] if moved else stage,
    }


def check_verified(ctx: MoveContext) -> Iterator[str]:
    active = active_for_version(ctx.session, ctx.version)
    if not any(d.verified_at for d in active):
        yield (
            "deployment not verified: serve the target (`mlgov serve TARGET`) so it answers "
            "ready and a probe prediction succeeds"
        )
    if current_reference(ctx.session, ctx.version) is None:
        yield "no reference dataset recorded: monitoring has nothing to compare with"


def end_on_retire(ctx: MoveContext) -> None:
    gov: Governance = ctx.ports["governance"]
    for d in active_for_version(ctx.session, ctx.version):
        _end(gov, ctx.session, d, "retired", ctx.actor, f"version retired: {ctx.reason}")
        gov.audit(
            ctx.session,
            ctx.actor,
            "deployment.end",
            f"model:{ctx.version.label}",
            {"target": d.target, "deployment_id": d.id, "reason": "retired"},
        )
        _status(
            gov,
            d,
            "retired",
            f"{ctx.version.label} retired: {ctx.reason}",
            ctx.version,
            ctx.op_id,
        )


def stage_to_targets(ctx: MoveContext) -> None:
    """Entering evaluate: the serving targets' status shows the new stage in /metadata."""
    gov: Governance = ctx.ports["governance"]
    for d in active_for_version(ctx.session, ctx.version):
        reason = f"{ctx.version.label} verified on {d.target}"
        _status(gov, d, "serving", reason, ctx.version, ctx.op_id)


def check_rollback_first(ctx: MoveContext) -> Iterator[str]:
    if ctx.options.get("force"):
        return
    for d in active_for_version(ctx.session, ctx.version):
        if d.previous_id is None:
            continue
        previous = _previous_of(ctx.session, d)
        old_v = _version_of(ctx.session, previous)
        gov = ctx.ports["governance"]
        if old_v.stage != Stage.RETIRE.value and not list(
            binding_problems(gov, ctx.session, old_v)
        ):
            yield (
                f"{ctx.version.label} is serving on target '{d.target}' and the previous "
                f"approved version {old_v.label} could take over: run `mlgov rollback "
                f"{d.target}` first, or retire with --force"
            )


def list_deployments(
    gov: Governance, actor: str, *, all_states: bool = False
) -> list[dict[str, Any]]:
    with gov.store.read() as s:
        gov.authorize(s, actor, Action.READ)
        stmt = select(Deployment).order_by(Deployment.target, Deployment.id)
        if not all_states:
            stmt = stmt.where(Deployment.state == ACTIVE)
        return [deployment_view(s, d) for d in s.scalars(stmt)]


def current_manifest(gov: Governance, actor: str, target: str) -> dict[str, Any]:
    with gov.store.read() as s:
        gov.authorize(s, actor, Action.OPERATE)
        active = _active(s, target)
        return deployment_view(s, active) | {"manifest_path": active.manifest_path}


def deployment_section(s: Session, v: ModelVersion) -> list[dict[str, Any]]:
    rows = s.scalars(
        select(Deployment).where(Deployment.version_id == v.id).order_by(Deployment.id)
    )
    return [
        {
            k: val
            for k, val in deployment_view(s, d).items()
            if k in ("id", "target", "state", "since", "verified_at", "ended_at", "end_reason")
        }
        for d in rows
    ]


def register(gates: Gates) -> None:
    gates.add_check(Stage.DEPLOY, "deployment", check_deployment_built)
    gates.add_check(Stage.DEPLOY, "health", check_health)
    gates.add_effect(Stage.DEPLOY, "record_deployment", record_deployment)
    gates.add_check(Stage.EVALUATE, "verified", check_verified)
    gates.add_effect(Stage.EVALUATE, "status_stage", stage_to_targets)
    gates.add_check(Stage.RETIRE, "rollback_first", check_rollback_first)
    gates.add_effect(Stage.RETIRE, "end_deployments", end_on_retire)
