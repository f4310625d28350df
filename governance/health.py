"""Health in evaluation: `monitor run` checks served data against the reference, sets health
(ok, warning, breach) by the policy's levels and applies the policy's actions. The stage never
changes silently: only health and the review flag do."""

from __future__ import annotations

import shutil
import tempfile
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mlgov.governance import operations
from mlgov.governance.deployments import active_for_version, suspend_version
from mlgov.governance.drift_checks import MONITOR, latest, run_check, store_result
from mlgov.governance.errors import BadInput, MlgovError, Refused
from mlgov.governance.findings import HEALTH, open_automatic, sweep_due
from mlgov.governance.faults import fault_point
from mlgov.governance.lifecycle import SERVING_STAGES, Health
from mlgov.governance.mirror import mirror_version
from mlgov.governance.policy import TierPolicy
from mlgov.governance.references import current_reference
from mlgov.governance.roles import Action
from mlgov.governance.tables import Model, ModelVersion, StageChange
from mlgov.governance.validate import free_text

if TYPE_CHECKING:
    from mlgov.governance.service import Governance


def health_for(share: float, tier: TierPolicy) -> Health:
    if share >= tier.health_breach_share:
        return Health.BREACH
    if share >= tier.health_warning_share:
        return Health.WARNING
    return Health.OK


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
                "status": "no new predictions",
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
        tier = gov.policy.for_tier(v.risk_tier)
        health = health_for(result.drifted_share, tier)
        actions = actions_for(health, tier) if health.value != old_health else ()
        reason = (
            f"health {health.value}: drift share {result.drifted_share:.2f} reached the "
            "policy's level"
        )
        # A suspension rewrites the serving targets' status files: an operation, so a crash
        # between those writes and this transaction's commit is settled by reconcile.
        intent: Any = (
            operations.running(
                gov,
                model,
                version,
                kind=operations.SUSPEND,
                actor=actor,
                to_stage=None,
                detail={"reason": reason},
                precheck=lambda s, v: None,
                targets=lambda s, v: [d.target for d in active_for_version(s, v)],
            )
            if "suspend" in actions
            else nullcontext()
        )
        with intent as run, gov.store.transaction() as s:
            v = gov.version(s, model, version, lock=True)
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
                health=health.value,
                window=(exported.first, exported.last),
            )
            if health.value != v.health:
                v.health = health.value
                if "require_review" in actions:
                    v.review_required = True
                gov.audit(
                    s,
                    actor,
                    "health.change",
                    f"model:{v.label}",
                    {
                        "from": old_health,
                        "to": health.value,
                        "result_id": record.id,
                        "drifted_share": result.drifted_share,
                        "actions": list(actions),
                    },
                )
                s.flush()
                if health is Health.BREACH:
                    open_automatic(
                        gov,
                        s,
                        actor,
                        v,
                        source=HEALTH,
                        severity="high",
                        title=f"health breach of {v.label}: drift share "
                        f"{result.drifted_share:.2f} on served data",
                        evidence={"drift_result_id": record.id, "health": health.value},
                    )
                registry = gov.ports.get("registry")
                if registry is not None:
                    mirror_version(s, registry, v)
                if run is not None:
                    suspend_version(gov, s, v, actor, reason, run)
            fault_point("before-commit")
        if run is not None:
            operations.forget(gov, run)  # nothing was serving it: no status was written
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
            "status": "checked",
            "rows": exported.rows,
            "drifted_share": result.drifted_share,
            "health": health.value,
            "previous_health": old_health,
            "actions": list(actions),
            "result_id": record.id,
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
            failures.append({"model": name, "version": version, "error": str(exc)})
    return {"checked": outcomes, "failed": failures}


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
