"""Stale versions and their retirement from the command line.

Rules, each reported with the rule that matched and the last activity:
- no_activity: nothing happened to the version (registration, promotion, approval, deployment,
  served prediction seen by monitoring, drift check) for N days;
- stuck: in develop or train for N days;
- superseded: replaced on its target by a newer version N days ago and serving nowhere;
- approval_expired: its latest approval expired and it was never deployed.
N is --days, else the policy's `stale_after_days` for the version's tier.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mlgov.governance import validate
from mlgov.governance.approvals import EXPIRED, effective_state, latest_request
from mlgov.governance.clock import isoformat
from mlgov.governance.deployments import active_for_version
from mlgov.governance.errors import BadInput, IllegalTransition, MlgovError, NotFound
from mlgov.governance.lifecycle import Stage
from mlgov.governance.roles import Action
from mlgov.governance.tables import Deployment, DriftRecord, Model, ModelVersion

if TYPE_CHECKING:
    from mlgov.governance.service import Governance


@dataclass(frozen=True)
class StaleVersion:
    model: str
    version: str
    stage: str
    rule: str
    detail: str
    last_activity: str
    serving: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _last_activity(s: Session, v: ModelVersion) -> datetime:
    seen = s.scalar(select(func.max(DriftRecord.window_end)).where(DriftRecord.version_id == v.id))
    return max(t for t in (v.last_activity_at, seen) if t is not None)


def _rule(s: Session, v: ModelVersion, now: datetime, days: int) -> tuple[str, str] | None:
    limit = timedelta(days=days)
    last = _last_activity(s, v)
    if now - last >= limit:
        return "no_activity", f"no activity for {(now - last).days} days (limit {days})"
    if v.stage in (Stage.DEVELOP.value, Stage.TRAIN.value) and now - v.stage_changed_at >= limit:
        return "stuck", f"in {v.stage} for {(now - v.stage_changed_at).days} days (limit {days})"
    deployed = list(s.scalars(select(Deployment).where(Deployment.version_id == v.id)))
    if deployed and not any(d.state == "active" for d in deployed):
        superseded = [d.ended_at for d in deployed if d.state == "superseded" and d.ended_at]
        if superseded and now - max(superseded) >= limit:
            return "superseded", (
                f"replaced on its target {(now - max(superseded)).days} days ago (limit {days})"
            )
    request = latest_request(s, v)
    if request is not None and not deployed and effective_state(request, now) == EXPIRED:
        return "approval_expired", f"approval request {request.id} expired; never deployed"
    return None


def find_stale(
    gov: Governance,
    actor: str,
    *,
    days: int | None = None,
    model: str | None = None,
    include_serving: bool = False,
) -> list[StaleVersion]:
    if days is not None and days < 0:
        raise BadInput("--days must be 0 or more")
    now = gov.now()
    found = []
    with gov.store.read() as s:
        gov.authorize(s, actor, Action.READ)
        stmt = select(ModelVersion).join(Model).where(ModelVersion.stage != Stage.RETIRE.value)
        if model:
            model = validate.model_name(model)
            if s.scalar(select(Model.id).where(Model.name == model)) is None:
                raise NotFound(f"unknown model '{model}'", hint="see `mlgov models list`")
            stmt = stmt.where(Model.name == model)
        for v in s.scalars(stmt.order_by(Model.name, ModelVersion.id)):
            serving = bool(active_for_version(s, v))
            if serving and not include_serving:
                continue
            limit = days if days is not None else gov.policy.for_tier(v.risk_tier).stale_after_days
            matched = _rule(s, v, now, limit)
            if matched:
                found.append(
                    StaleVersion(
                        v.model.name,
                        v.version,
                        v.stage,
                        matched[0],
                        matched[1],
                        isoformat(_last_activity(s, v)),
                        serving,
                    )
                )
    return found


def retire_stale(
    gov: Governance, actor: str, candidates: list[StaleVersion], *, include_serving: bool = False
) -> dict[str, Any]:
    """Retire each candidate on its own; one failure leaves that version as it was and does
    not stop the others. A version another run retired meanwhile is skipped, not failed."""
    with gov.store.read() as s:  # a bulk sweep is for those who may retire anything
        gov.authorize(s, actor, Action.RETIRE)
    retired, skipped, failed = [], [], []
    for c in candidates:
        try:
            gov.retire(
                actor,
                c.model,
                c.version,
                reason=f"stale: {c.rule}: {c.detail}",
                force=include_serving,
            )
            retired.append(c.to_dict())
        except IllegalTransition:
            skipped.append(c.to_dict() | {"why": "already retired"})
        except MlgovError as exc:
            failed.append(c.to_dict() | {"error": str(exc)})
    return {"retired": retired, "skipped": skipped, "failed": failed}
