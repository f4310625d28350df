"""The evidence snapshot an approval is bound to, and what changed since.

The snapshot freezes the card, metrics, lineage, reference dataset hash, artifact fingerprints
and the policy in force. Its SHA-256 is the approval request's identity.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from mlgov.governance.cards import current_card
from mlgov.governance.errors import NotFound
from mlgov.governance.fingerprints import compare_fingerprints
from mlgov.governance.policy import Policy
from mlgov.governance.references import current_reference
from mlgov.governance.tables import ModelVersion

# Sections compared for binding. Drift results are kept in the snapshot for the record but do
# not void an approval: a newer check is new evidence, not changed evidence.
BOUND_SECTIONS = ("card", "metrics", "lineage", "reference", "fingerprint", "policy")


def snapshot_hash(snapshot: Mapping[str, Any]) -> str:
    blob = json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def build_snapshot(
    session: Session,
    version: ModelVersion,
    policy: Policy,
    registry: Any,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Collect the evidence now: artifact files are re-hashed, metrics re-read from MLflow."""
    card = current_card(session, version)
    ref = current_reference(session, version)
    metrics: dict[str, float] = dict((version.lineage or {}).get("metrics") or {})
    files: dict[str, str] = dict(version.fingerprint or {})
    if registry is not None:
        if version.run_id:
            try:
                metrics = registry.run_metrics(version.run_id)
            except NotFound:
                metrics = {}
        try:
            files = registry.fingerprint(version.model.name, version.version)
        except NotFound:
            files = {}
    lineage = version.lineage or {}
    tier = policy.to_dict()["tiers"][version.risk_tier]
    return {
        "model": version.model.name,
        "version": version.version,
        "risk_tier": version.risk_tier,
        "owner": version.owner,
        "registered_by": version.registered_by,
        "card": {
            "revision": card.revision if card else 0,
            "fields": dict(card.fields) if card else {},
        },
        "metrics": {k: float(v) for k, v in sorted(metrics.items())},
        "lineage": {
            "run_id": version.run_id,
            "source_uri": version.source_uri,
            "datasets": lineage.get("datasets", []),
            "git_commit": lineage.get("git_commit"),
            "signature": lineage.get("signature"),
            "flavors": lineage.get("flavors", []),
        },
        "reference": (
            {"sha256": ref.sha256, "rows": ref.rows, "columns": sorted(ref.columns)}
            if ref
            else None
        ),
        "fingerprint": {"files": files, "registered_digest": version.fingerprint_digest},
        "policy": {"digest": policy.digest(), "tier": tier},
        **dict(extra or {}),
    }


def _dict_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def describe_changes(approved: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """Name what differs between the approved snapshot and the evidence now."""
    changes: list[str] = []
    old_card, new_card = approved["card"]["fields"], now["card"]["fields"]
    for field in _dict_changes(old_card, new_card):
        changes.append(f"model card field '{field}' changed")
    for name in _dict_changes(approved["metrics"], now["metrics"]):
        changes.append(f"metric '{name}' changed")
    for key in _dict_changes(approved["lineage"], now["lineage"]):
        changes.append(f"lineage '{key}' changed")
    if approved["reference"] != now["reference"]:
        changes.append("reference dataset changed")
    described = compare_fingerprints(
        approved["fingerprint"]["files"], now["fingerprint"]["files"]
    ).change()
    if described:
        changes.append(f"artifact files changed: {described}")
    if approved["policy"]["digest"] != now["policy"]["digest"]:
        changes.append("policy changed since approval")
    return changes
