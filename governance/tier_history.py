"""A version's risk tier against what came before it (issue 16, defect 2).

The tier picks the policy, so a lower tier means fewer approvals and no drift check. Two ways
round that are closed here: registering the artifact of a retired version again (refused,
unless it is an explicit reinstatement that keeps the retired tier), and registering a new
version of a model -- or the same artifact under another name -- at a lower tier than before
(allowed, but the train gate waits for a risk officer's `models confirm-tier`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from mlgov.governance.errors import BadInput, Conflict, PermissionDenied, Refused
from mlgov.governance.gates import Gates, MoveContext
from mlgov.governance.lifecycle import RiskTier, Stage
from mlgov.governance.roles import Action
from mlgov.governance.tables import AuditEvent, ModelVersion
from mlgov.governance.validate import free_text

if TYPE_CHECKING:
    from mlgov.governance.service import Governance

CONFIRM_ACTION = "tier.confirm"
# Higher number, stricter policy.
_RANK = {RiskTier.LOW.value: 0, RiskTier.MEDIUM.value: 1, RiskTier.HIGH.value: 2}


def stricter(a: str, b: str) -> bool:
    """Tier `a` is stricter than tier `b`."""
    return _RANK[a] > _RANK[b]


@dataclass(frozen=True)
class EarlierTier:
    """The strictest tier an earlier version held, and which version held it."""

    tier: str
    label: str
    same_artifact: bool

    def describe(self) -> str:
        how = "the same artifact as" if self.same_artifact else "an earlier version,"
        return f"{how} {self.label} ({self.tier})"


def retired_with_artifact(session: Session, digest: str) -> ModelVersion | None:
    """The newest retired version whose artifact fingerprint is `digest`."""
    return session.scalar(
        select(ModelVersion)
        .where(
            ModelVersion.fingerprint_digest == digest,
            ModelVersion.stage == Stage.RETIRE.value,
        )
        .order_by(ModelVersion.id.desc())
        .limit(1)
    )


def check_not_retired(
    session: Session, digest: str, *, has_artifacts: bool, tier: str, reinstate: str | None
) -> dict[str, Any] | None:
    """Refuse a retired version's artifact unless reinstated at its tier or stricter; the
    reinstatement's facts for the audit event, else None."""
    if not has_artifacts:  # no files, no fingerprint to recognise
        return None
    retired = retired_with_artifact(session, digest)
    if retired is None:
        if reinstate is not None:
            raise BadInput("--reinstate is for an artifact of a retired version; this one is not")
        return None
    if reinstate is None:
        raise Refused(
            f"this artifact is {retired.label}'s, retired on "
            f"{retired.stage_changed_at:%Y-%m-%d}: a retired model does not come back by "
            "registering it again",
            hint="to bring it back on purpose, register with --reinstate REASON "
            f"(it keeps {retired.label}'s {retired.risk_tier} tier or stricter)",
        )
    if stricter(retired.risk_tier, tier):
        raise Refused(
            f"a reinstated {retired.label} keeps its {retired.risk_tier} tier or a stricter "
            f"one, not {tier}",
            hint=f"register it with --risk-tier {retired.risk_tier}",
        )
    return {"version": retired.label, "tier": retired.risk_tier, "reason": reinstate}


def earlier_tier(session: Session, version: ModelVersion) -> EarlierTier | None:
    """The strictest tier above `version`'s held by a version registered before it: of the
    same model, or of any model with the same artifact."""
    same_model = ModelVersion.model_id == version.model_id
    same_artifact = ModelVersion.fingerprint_digest == version.fingerprint_digest
    rows = session.scalars(
        select(ModelVersion).where(
            ModelVersion.id < version.id,
            or_(same_model, same_artifact) if version.fingerprint else same_model,
        )
    )
    best: EarlierTier | None = None
    for row in rows:
        if not stricter(row.risk_tier, version.risk_tier):
            continue
        if best is None or stricter(row.risk_tier, best.tier):
            shared = bool(version.fingerprint) and row.fingerprint_digest == (
                version.fingerprint_digest
            )
            best = EarlierTier(row.risk_tier, row.label, shared)
    return best


def confirmation(session: Session, version: ModelVersion) -> AuditEvent | None:
    return session.scalar(
        select(AuditEvent)
        .where(
            AuditEvent.subject == f"model:{version.label}",
            AuditEvent.action == CONFIRM_ACTION,
        )
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    )


def check_tier(ctx: MoveContext) -> Iterator[str]:
    v = ctx.version
    earlier = earlier_tier(ctx.session, v)
    if earlier is None:
        return
    confirmed = confirmation(ctx.session, v)
    if confirmed is not None and (confirmed.payload or {}).get("tier") == v.risk_tier:
        return
    yield (
        f"risk tier {v.risk_tier} is lower than {earlier.describe()}: a risk officer who is "
        "not its registrant or owner confirms it with "
        f"`mlgov models confirm-tier {v.label.replace('/', ' ')} --reason TEXT`"
    )


def confirm_tier(
    gov: Governance, actor: str, model: str, version: str, *, reason: str
) -> dict[str, Any]:
    """A risk officer signs off a tier lower than the model's earlier versions'."""
    reason_text = free_text(reason, "--reason", required=True)
    with gov.store.transaction() as s:
        gov.authorize(s, actor, Action.APPROVE)
        v = gov.version(s, model, version, lock=True)
        if actor in (v.registered_by, v.owner):
            raise PermissionDenied(
                f"'{actor}' registered or owns {v.label} and may not confirm its tier"
            )
        if v.stage == Stage.RETIRE.value:
            raise Conflict(f"{v.label} is retired: there is no tier to confirm")
        earlier = earlier_tier(s, v)
        if earlier is None:
            raise Conflict(
                f"{v.label}'s tier {v.risk_tier} is not lower than any earlier version's: "
                "nothing to confirm"
            )
        done = confirmation(s, v)
        if done is not None and (done.payload or {}).get("tier") == v.risk_tier:
            raise Conflict(f"{v.label}'s tier was already confirmed by {done.actor}")
        now = gov.now()
        event = gov.audit(
            s,
            actor,
            CONFIRM_ACTION,
            f"model:{v.label}",
            {
                "tier": v.risk_tier,
                "earlier_tier": earlier.tier,
                "earlier_version": earlier.label,
                "same_artifact": earlier.same_artifact,
                "reason": reason_text,
            },
            at=now,
        )
        gov.touch(v)
        return {
            "model": v.model.name,
            "version": v.version,
            "tier": v.risk_tier,
            "earlier_tier": earlier.tier,
            "earlier_version": earlier.label,
            "confirmed_by": actor,
            "audit_seq": event.seq,
        }


def register(gates: Gates) -> None:
    gates.add_check(Stage.TRAIN, "tier", check_tier)
