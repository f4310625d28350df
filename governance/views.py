"""Plain dictionaries for what the service returns: storage objects never leave the core."""

from __future__ import annotations

from typing import Any

from mlgov.governance.clock import isoformat
from mlgov.governance.tables import ModelVersion, StageChange, User


def _t(value: Any) -> str | None:
    return None if value is None else isoformat(value)


def user_view(user: User) -> dict[str, Any]:
    return {
        "name": user.name,
        "roles": user.role_names,
        "active": user.active,
        "created_at": _t(user.created_at),
        "created_by": user.created_by,
        "removed_at": _t(user.removed_at),
    }


def version_view(v: ModelVersion) -> dict[str, Any]:
    return {
        "model": v.model.name,
        "version": v.version,
        "stage": v.stage,
        "health": v.health,
        "risk_tier": v.risk_tier,
        "owner": v.owner,
        "registered_by": v.registered_by,
        "purpose": v.purpose,
        "review_required": v.review_required,
        "created_at": _t(v.created_at),
        "stage_changed_at": _t(v.stage_changed_at),
        "last_activity_at": _t(v.last_activity_at),
    }


def version_detail(v: ModelVersion) -> dict[str, Any]:
    data = version_view(v)
    data.update(
        {
            "source_uri": v.source_uri,
            "run_id": v.run_id,
            "experiment_id": v.experiment_id,
            "lineage": v.lineage,
            "fingerprint_digest": v.fingerprint_digest,
            "artifact_files": len(v.fingerprint or {}),
        }
    )
    return data


def stage_change_view(c: StageChange) -> dict[str, Any]:
    return {
        "from": c.from_stage,
        "to": c.to_stage,
        "actor": c.actor,
        "reason": c.reason,
        "at": _t(c.at),
        "audit_seq": c.audit_seq,
    }
