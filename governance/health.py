"""Health in evaluation: `monitor run` checks served data against the reference, sets health
(ok, warning, breach) by the policy's levels and applies the policy's actions. The stage never
changes silently: only health and the review flag do."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mlgov.governance import operations
from mlgov.governance.deployments import ACTIVE, active_for_version, suspend_version
from mlgov.governance.drift_checks import MONITOR, latest, run_check, store_result
from mlgov.governance.errors import BadInput, MlgovError, Refused, Unavailable
from mlgov.governance.faults import fault_point
from mlgov.governance.findings import HEALTH, open_automatic, sweep_due
from mlgov.governance.lifecycle import SERVING_STAGES, Health
from mlgov.governance.mirror import mirror_version
from mlgov.governance.policy import TierPolicy
from mlgov.governance.references import current_reference
from mlgov.governance.roles import Action
from mlgov.governance.tables import (
    Deployment,
    DriftRecord,
    Model,
    ModelVersion,
    PerformanceRecord,
    StageChange,
)
from mlgov.governance.validate import free_text

if TYPE_CHECKING:
    from mlgov.governance.service import Governance

CHECKED, NO_PREDICTIONS, INSUFFICIENT_DATA = "checked", "no new predictions", "insufficient data"
FAILED = "failed"


def health_for(share: float, tier: TierPolicy) -> Health:
    if share >= tier.health_breach_share:
        return Health.BREACH
    if share >= tier.health_warning_share:
        return Health.WARNING
    return Health.OK


_RANK = {Health.OK: 0, Health.WARNING: 1, Health.BREACH: 2}


def sustained_health(levels: Sequence[Health], *, needed: int, of: int) -> Health:
    """The most severe level reached by at least `needed` of the last `of` windows' levels
    (oldest first, this window last): one noisy window alone moves nothing when needed > 1."""
    recent = levels[-of:]
    for level in (Health.BREACH, Health.WARNING):
        if sum(1 for seen in recent if _RANK[seen] >= _RANK[level]) >= needed:
            return level
    return Health.OK


def worst(*levels: Health | None) -> Health:
    return max((h for h in levels if h is not None), key=_RANK.__getitem__, default=Health.OK)


def latest_performance_health(s: Session, v: ModelVersion) -> Health | None:
    """What the last performance window found: drift alone never clears it."""
    found = s.scalar(
        select(PerformanceRecord.window_health)
        .where(PerformanceRecord.version_id == v.id)
        .order_by(PerformanceRecord.id.desc())
        .limit(1)
    )
    return Health(found) if found else None


def latest_drift_health(s: Session, v: ModelVersion) -> Health | None:
    """What the last drift monitoring window left (the rule over windows applied)."""
    last = latest(s, v, MONITOR)
    return Health(last.health) if last is not None and last.health else None


def apply_health(
    gov: Governance,
    s: Session,
    actor: str,
    v: ModelVersion,
    health: Health,
    actions: tuple[str, ...],
    cause: dict[str, Any],
    why: str,
    run: operations.OperationRun | None,
) -> None:
    """Set the version's health when it changed, with its audit event, the MLflow mirror,
    a finding at breach and the policy's actions (review, suspension), in the caller's
    transaction. A suspension rewrites status files: it needs the operation `run` (see
    `suspension_operation`)."""
    if health.value == v.health:
        return
    old_health = v.health
    v.health = health.value
    if "require_review" in actions:
        v.review_required = True
    gov.audit(
        s,
        actor,
        "health.change",
        f"model:{v.label}",
        {"from": old_health, "to": health.value, **cause, "actions": list(actions)},
    )
    s.flush()
    if health is Health.BREACH:
        evidence: dict[str, Any] = {"health": health.value}
        if "result_id" in cause:
            evidence["drift_result_id"] = cause["result_id"]
        if "performance_result_id" in cause:
            evidence["performance_result_id"] = cause["performance_result_id"]
        open_automatic(
            gov,
            s,
            actor,
            v,
            source=HEALTH,
            severity="high",
            title=f"health breach of {v.label} on served data: {why}",
            evidence=evidence,
        )
    registry = gov.ports.get("registry")
    if registry is not None:
        mirror_version(s, registry, v)
    if "suspend" in actions:
        if run is None:
            raise Refused(f"{v.label}: a suspension must run as an operation")
        suspend_version(gov, s, v, actor, f"health {health.value}: {why}", run)


def suspension_operation(
    gov: Governance, actor: str, model: str, version: str, tier: TierPolicy
) -> AbstractContextManager[operations.OperationRun | None]:
    """The operation a monitoring step runs in when its policy may suspend serving, so a
    crash between the status files' rewrite and the commit is settled by reconcile; none
    when no level of the tier suspends. Forget it after the step (`forget` keeps a
    completed one)."""
    if "suspend" not in (*tier.on_breach, *tier.on_warning):
        return nullcontext()
    return operations.running(
        gov,
        model,
        version,
        kind=operations.SUSPEND,
        actor=actor,
        to_stage=None,
        detail={"reason": "monitoring may suspend serving"},
        precheck=lambda s, v: None,
        targets=lambda s, v: [d.target for d in active_for_version(s, v)],
    )


def actions_for(health: Health, tier: TierPolicy) -> tuple[str, ...]:
    return {Health.BREACH: tier.on_breach, Health.WARNING: tier.on_warning}.get(health, ())


def _serving_versions(gov: Governance, model: str | None) -> list[tuple[str, str]]:
    with gov.store.read() as s:
        stmt = (
            select(ModelVersion)
            .join(Model)
            .where(ModelVersion.stage.in_([st.value for st in SERVING_STAGES]))
            .order_by(Model.name, ModelVersion.id)
        )
        if model:
            stmt = stmt.where(Model.name == model)
        return [(v.model.name, v.version) for v in s.scalars(stmt)]


def _window_start(gov: Governance, v: ModelVersion, s: Session) -> datetime | None:
    last = latest(s, v, MONITOR)
    if last is not None and last.window_end is not None:
        return last.window_end
    deployed = s.scalar(
        select(StageChange.at)
        .where(StageChange.version_id == v.id, StageChange.to_stage == "deploy")
        .order_by(StageChange.id.desc())
        .limit(1)
    )
    return deployed


def _earlier_levels(s: Session, v: ModelVersion, tier: TierPolicy) -> list[Health]:
    """The levels of the version's previous monitoring windows under today's policy,
    oldest first, as many as the consecutive-windows rule looks at."""
    if tier.health_windows_of <= 1:
        return []
    shares = s.scalars(
        select(DriftRecord.drifted_share)
        .where(DriftRecord.version_id == v.id, DriftRecord.purpose == MONITOR)
        .order_by(DriftRecord.id.desc())
        .limit(tier.health_windows_of - 1)
    ).all()
    return [health_for(share, tier) for share in reversed(shares)]


def check_version(gov: Governance, actor: str, model: str, version: str) -> dict[str, Any]:
    """One version's monitoring step; returns what happened (never half-applied)."""
    with gov.store.read() as s:
        v = gov.version(s, model, version)
        ref = current_reference(s, v)
        if ref is None:
            raise BadInput(f"{v.label} has no reference dataset to monitor against")
        since = _window_start(gov, v, s)
        kinds = {c: d["kind"] for c, d in ref.columns.items()}
        ref_path, ref_sha, old_health = Path(ref.path), ref.sha256, v.health
        risk_tier = v.risk_tier
    staging = Path(
        tempfile.mkdtemp(prefix="monitor-", dir=gov.home_for("monitoring reports") / "reports")
    )
    try:
        batch = staging / "current.parquet"
        exported = gov.ports["predictions"].export(
            model, version, since=since, out=batch, columns=list(kinds)
        )
        if exported.rows == 0:
            return {
                "model": model,
                "version": version,
                "status": NO_PREDICTIONS,
                "health": old_health,
            }
        tier = gov.policy.for_tier(risk_tier)
        if exported.rows < tier.health_min_rows:
            # No verdict, nothing recorded: the window is not closed, so its rows are
            # judged with the next ones once there are enough.
            return {
                "model": model,
                "version": version,
                "status": INSUFFICIENT_DATA,
                "rows": exported.rows,
                "min_rows": tier.health_min_rows,
                "health": old_health,
            }
        result, spec = run_check(
            gov,
            v,
            ref_path,
            kinds,
            batch,
            sample=None,
            seed=None,
            engine=None,
            report_dir=staging / "r",
        )
        window_health = health_for(result.drifted_share, tier)
        guard = suspension_operation(gov, actor, model, version, tier)
        with guard as run, gov.store.transaction() as s:
            v = gov.version(s, model, version, lock=True)
            drift_health = sustained_health(
                [*_earlier_levels(s, v, tier), window_health],
                needed=tier.health_windows_needed,
                of=tier.health_windows_of,
            )
            # The record keeps drift's own verdict; the version's health is the worse of it
            # and the last performance window's.
            health = worst(drift_health, latest_performance_health(s, v))
            actions = actions_for(health, tier) if health.value != old_health else ()
            record = store_result(
                gov,
                s,
                actor,
                v,
                result,
                spec,
                purpose=MONITOR,
                reference_sha256=ref_sha,
                current_sha256=exported.sha256,
                current_source=f"prediction log ({exported.rows} rows)",
                report_dir=staging / "r",
                health=drift_health.value,
                window=(exported.first, exported.last),
            )
            apply_health(
                gov,
                s,
                actor,
                v,
                health,
                actions,
                {
                    "result_id": record.id,
                    "drifted_share": result.drifted_share,
                    "window_health": window_health.value,
                },
                f"drift share {result.drifted_share:.2f} reached the policy's level",
                run,
            )
            fault_point("before-commit")
        if run is not None:
            operations.forget(gov, run)  # kept when a suspension completed it
        if "notify" in actions:
            gov.notify(
                f"health.{health.value}",
                {
                    "model": model,
                    "version": version,
                    "drifted_share": result.drifted_share,
                    "result_id": record.id,
                    "actions": list(actions),
                },
            )
        return {
            "model": model,
            "version": version,
            "status": CHECKED,
            "rows": exported.rows,
            "drifted_share": result.drifted_share,
            "window_health": window_health.value,
            "health": health.value,
            "previous_health": old_health,
            "actions": list(actions),
            "result_id": record.id,
            # How close each column came: a reviewer judges a near miss from these.
            "columns": [
                {k: c[k] for k in ("column", "test", "score", "threshold", "drifted")}
                for c in record.columns.get("tests", [])
            ],
        }
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def monitor_run(gov: Governance, actor: str, *, model: str | None = None) -> dict[str, Any]:
    with gov.store.read() as s:
        gov.authorize(s, actor, Action.MONITOR)
        if model and s.scalar(select(Model.id).where(Model.name == model)) is None:
            # Version "1" only to get gov.version's NotFound for the model: "0" is not a
            # valid version and was reported as bad input instead.
            gov.version(s, model, "1")
    sweep_due(gov, actor)  # the scheduled job is what notices overdue findings
    outcomes, failures = [], []
    for name, version in _serving_versions(gov, model):
        try:
            outcomes.append(check_version(gov, actor, name, version))
        except MlgovError as exc:  # one version's failure does not stop the others
            failures.append(
                {
                    "model": name,
                    "version": version,
                    "error": str(exc),
                    "unavailable": isinstance(exc, Unavailable),
                }
            )
    return {
        "checked": outcomes,
        "failed": failures,
        "targets": _target_lines(gov, outcomes, failures),
    }


def _target_lines(
    gov: Governance, outcomes: list[dict[str, Any]], failures: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One line per deployed target, saying what its version's check found (a version on
    two targets is checked once, on both targets' predictions, and shown on each)."""
    found = {(o["model"], o["version"]): o for o in outcomes}
    found |= {(f["model"], f["version"]): {**f, "status": FAILED} for f in failures}
    with gov.store.read() as s:
        rows = s.execute(
            select(Deployment.target, Model.name, ModelVersion.version)
            .join(ModelVersion, Deployment.version_id == ModelVersion.id)
            .join(Model, ModelVersion.model_id == Model.id)
            .where(Deployment.state == ACTIVE)
            .order_by(Deployment.target)
        ).all()
    return [
        {"target": target, **found[(name, version)]}
        for target, name, version in rows
        if (name, version) in found
    ]


def acknowledge(
    gov: Governance, actor: str, model: str, version: str, comment: str
) -> dict[str, Any]:
    free_text(comment, "--comment")
    if not comment or not comment.strip():
        raise BadInput("monitor ack needs --comment saying what was reviewed")
    with gov.store.transaction() as s:
        gov.authorize(s, actor, Action.ACK_REVIEW)
        v = gov.version(s, model, version, lock=True)
        if not v.review_required:
            raise Refused(f"{v.label} has no review pending")
        v.review_required = False
        gov.touch(v)
        gov.audit(
            s,
            actor,
            "review.ack",
            f"model:{v.label}",
            {"comment": comment.strip(), "health": v.health},
        )
        return {"model": model, "version": v.version, "health": v.health, "review_required": False}
