"""What MLflow should show of the governed state: version tags and the two aliases.

`champion` points at the version most recently deployed that is still serving;
`challenger` at the newest version in train. Retired versions hold no alias.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mlgov.governance.errors import NotFound
from mlgov.governance.gates import ANY_STAGE, Gates, MoveContext
from mlgov.governance.lifecycle import SERVING_STAGES, Stage
from mlgov.governance.tables import ApprovalRequest, Deployment, ModelVersion, StageChange

CHAMPION = "champion"
CHALLENGER = "challenger"
ALIASES = (CHAMPION, CHALLENGER)
TAG_PREFIX = "mlgov."
APPROVED_BY_TAG = "mlgov.approved_by"
# The version tags expected_tags writes (reconcile --fix may set or delete these).
MIRRORED_TAGS = frozenset({"mlgov.stage", "mlgov.health", "mlgov.risk_tier", APPROVED_BY_TAG})


def _version_key(v: ModelVersion) -> tuple[int, str]:
    return (int(v.version), v.version) if v.version.isdigit() else (-1, v.version)


def expected_aliases(session: Session, model_id: int) -> dict[str, str]:
    versions = list(session.scalars(select(ModelVersion).where(ModelVersion.model_id == model_id)))
    aliases: dict[str, str] = {}
    in_train = [v for v in versions if v.stage == Stage.TRAIN.value]
    if in_train:
        aliases[CHALLENGER] = max(in_train, key=_version_key).version
    serving = {v.id: v for v in versions if Stage(v.stage) in SERVING_STAGES}
    if serving:
        # The newest active deployment first: a deploy move writes it before this mirror runs
        # (its StageChange only after), and a rollback makes one for the version it restores.
        last = session.scalar(
            select(Deployment.version_id)
            .where(Deployment.version_id.in_(serving), Deployment.state == "active")
            .order_by(Deployment.id.desc())
            .limit(1)
        ) or session.scalar(
            select(StageChange.version_id)
            .where(StageChange.version_id.in_(serving), StageChange.to_stage == Stage.DEPLOY.value)
            .order_by(StageChange.id.desc())
            .limit(1)
        )
        # `last` is one of `serving`: both queries select among its ids.
        chosen = serving[last] if last else max(serving.values(), key=_version_key)
        aliases[CHAMPION] = chosen.version
    return aliases


def approved_by(session: Session, version: ModelVersion) -> list[str]:
    request = session.scalar(
        select(ApprovalRequest)
        .where(ApprovalRequest.version_id == version.id, ApprovalRequest.state == "approved")
        .order_by(ApprovalRequest.id.desc())
        .limit(1)
    )
    if request is None:
        return []
    return sorted(d.approver for d in request.decisions if d.decision == "approve")


def expected_tags(session: Session, version: ModelVersion) -> dict[str, str]:
    tags = {
        "mlgov.stage": version.stage,
        "mlgov.health": version.health,
        "mlgov.risk_tier": version.risk_tier,
    }
    approvers = approved_by(session, version)
    if approvers:
        tags[APPROVED_BY_TAG] = ",".join(approvers)
    return tags


def tags_to_write(session: Session, version: ModelVersion) -> dict[str, str | None]:
    """The mirrored tags as MLflow should hold them: None deletes one governance does not set
    (a voided approval's `mlgov.approved_by`, or one made by hand)."""
    tags: dict[str, str | None] = dict(expected_tags(session, version))
    return {key: None for key in MIRRORED_TAGS} | tags


def mirror_version(session: Session, registry: object, version: ModelVersion) -> None:
    """Write this version's tags and aliases, and re-point aliases other versions now hold."""
    model = version.model.name
    expected = expected_aliases(session, version.model_id)
    mine = [a for a, ver in expected.items() if ver == version.version]
    registry.mirror(  # type: ignore[attr-defined]
        model,
        version.version,
        tags=tags_to_write(session, version),
        set_aliases=mine,
        remove_aliases=[a for a in ALIASES if a not in mine],
    )
    for alias, other in expected.items():
        if other != version.version:
            try:
                registry.mirror(model, other, tags={}, set_aliases=[alias])  # type: ignore[attr-defined]
            except NotFound:
                # That version was deleted in MLflow by hand: this move is not its business
                # (an alias cannot point at it anyway); reconcile reports it with its fix.
                pass


def mirror_effect(ctx: MoveContext) -> None:
    registry = ctx.ports.get("registry")
    if registry is None:
        return
    try:
        mirror_version(ctx.session, registry, ctx.version)
    except NotFound:
        # A version deleted in MLflow must still be retirable: governance keeps its evidence,
        # and the audit event says the mirror had nothing left to write to.
        if ctx.target is not Stage.RETIRE:
            raise
        ctx.audit_payload["mlflow"] = "version no longer in MLflow: nothing mirrored"


def register(gates: Gates) -> None:
    gates.add_effect(ANY_STAGE, "mirror", mirror_effect)
