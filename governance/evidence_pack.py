"""Evidence packs: everything about one model version that a validator or an examiner needs,
written to a directory that reads without mlgov, sealed by a manifest of SHA-256 hashes that
also names the audit chain's head at export time.

Layout: index.html (rendered by the caller: presentation is not the core's job, and so are
any further files it renders, such as other languages and PDFs), evidence.json (the same
content, with the coverage matrix evaluated), reports/ (copies of the drift reports),
manifest.json, and manifest.sig when the installation has an audit signing key.
Exporting is audited (`report.export`): for an auditor it is the one write they make.

The manifest alone only proves the pack is consistent with itself: whoever can edit a file
can recompute its line. With a signing key (the audit checkpoints' Ed25519 key, `mlgov init
--keys`), manifest.sig signs the manifest's bytes and verification with the public key
catches any rewrite; without one, verification says it checked internal consistency only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from mlgov.governance.approvals import request_detail
from mlgov.governance.audit import event_dict, verify_chain
from mlgov.governance.cards import missing_fields
from mlgov.governance.clock import isoformat
from mlgov.governance.coverage import evaluate as evaluate_coverage
from mlgov.governance.coverage import load_matrix
from mlgov.governance.drift_checks import record_view
from mlgov.governance.errors import BadInput
from mlgov.governance.findings import pack_section as model_risk_section
from mlgov.governance.fingerprints import file_sha256
from mlgov.governance.lifecycle import Stage
from mlgov.governance.references import reference_view
from mlgov.governance.roles import Action
from mlgov.governance.tables import (
    ApprovalRequest,
    AuditEvent,
    AuditHead,
    DriftRecord,
    ModelCard,
    ModelVersion,
    ReferenceDataset,
    StageChange,
)
from mlgov.governance.views import stage_change_view, version_view

if TYPE_CHECKING:
    from mlgov.governance.service import Governance

PACK_FORMAT = "mlgov-evidence-pack/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
SIGNATURE_FORMAT = "mlgov-evidence-signature/1"
# Signed bytes start with this label, never with a checkpoint's: a signature made with the
# shared key can never be replayed as the other kind.
_SIGNED_LABEL = b"mlgov-evidence-manifest\n"
INTERNAL_ONLY = "internal consistency only"
SIGNED = "signature"
INDEX = "index.html"
EVIDENCE = "evidence.json"
REPORTS = "reports"
EXPORT_ACTION = "report.export"

# Stage moves that belong to the serving story (deployment history), besides deployment.*.
_SERVING_MOVES = (Stage.DEPLOY.value, Stage.EVALUATE.value, Stage.RETIRE.value)

RenderHtml = Callable[[Mapping[str, Any]], str]
# Writes further files (other languages, PDFs) into the pack's staging directory, where the
# drift reports already are; the manifest then lists whatever it wrote.
RenderMore = Callable[[Mapping[str, Any], Path], None]


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


# --- collecting --------------------------------------------------------------------------


def _version_events(session: Session, v: ModelVersion) -> list[dict[str, Any]]:
    """The version's own events, plus rollbacks away from it (those name the version rolled
    back to as their subject)."""
    subject = f"model:{v.label}"
    stmt = (
        select(AuditEvent)
        .where(
            or_(
                AuditEvent.subject == subject,
                (AuditEvent.action == "deployment.rollback")
                & AuditEvent.subject.startswith(f"model:{v.model.name}/", autoescape=True),
            )
        )
        .order_by(AuditEvent.seq)
    )
    events = []
    for e in session.scalars(stmt):
        if e.subject != subject and str(e.payload.get("from_version")) != v.version:
            continue
        events.append(event_dict(e))
    return events


def _card(session: Session, v: ModelVersion, required: tuple[str, ...]) -> dict[str, Any]:
    revisions = list(
        session.scalars(
            select(ModelCard).where(ModelCard.version_id == v.id).order_by(ModelCard.revision)
        )
    )
    fields = dict(revisions[-1].fields) if revisions else {}
    return {
        "revision": revisions[-1].revision if revisions else 0,
        "fields": fields,
        "required": list(required),
        "missing_required": missing_fields(fields, required),
        "history": [
            {
                "revision": c.revision,
                "at": isoformat(c.created_at),
                "by": c.created_by,
                "fields": dict(c.fields),
            }
            for c in revisions
        ],
    }


def _metrics(v: ModelVersion, tier: Any) -> list[dict[str, Any]]:
    logged = dict((v.lineage or {}).get("metrics") or {})
    rows = []
    for name in sorted(set(logged) | set(tier.required_metrics)):
        threshold = tier.required_metrics.get(name)
        value = logged.get(name)
        rows.append(
            {
                "name": name,
                "value": value,
                "required": str(threshold) if threshold else None,
                "met": (threshold.met_by(float(value)) if value is not None else False)
                if threshold
                else None,
            }
        )
    return rows


def _approvals(session: Session, v: ModelVersion, now: Any) -> list[dict[str, Any]]:
    requests = session.scalars(
        select(ApprovalRequest)
        .where(ApprovalRequest.version_id == v.id)
        .order_by(ApprovalRequest.id)
    )
    return [request_detail(request, v, now) for request in requests]


def _drift(
    session: Session, v: ModelVersion
) -> tuple[list[dict[str, Any]], list[tuple[Path, str]]]:
    """Drift records with their report files renamed into the pack; and what to copy."""
    records, copies = [], []
    rows = session.scalars(
        select(DriftRecord).where(DriftRecord.version_id == v.id).order_by(DriftRecord.id)
    )
    for r in rows:
        view = record_view(r, v)
        missing = []
        for key, suffix in (("report_html", ".html"), ("report_json", ".json")):
            source = view.pop(key)
            view[key] = None
            if not source:
                continue
            if not Path(source).is_file():
                missing.append(Path(source).name)
                continue
            inside = f"{REPORTS}/drift-{r.id}{suffix}"
            copies.append((Path(source), inside))
            view[key] = inside
        view["reports_missing_at_export"] = missing
        records.append(view)
    return records, copies


def _health_timeline(
    events: Iterable[Mapping[str, Any]], tier: Any, registered_at: str, end: str
) -> dict[str, Any]:
    changes, points = [], []
    for e in events:
        p = e["payload"]
        if e["action"] == "health.change":
            changes.append(
                {
                    "time": e["time"],
                    "from": p.get("from"),
                    "to": p.get("to"),
                    "drifted_share": p.get("drifted_share"),
                    "result_id": p.get("result_id"),
                    "actions": p.get("actions") or [],
                    "actor": e["actor"],
                }
            )
        elif e["action"] in ("drift.check", "drift.monitor"):
            points.append(
                {
                    "time": e["time"],
                    "purpose": e["action"].split(".", 1)[1],
                    "drifted_share": p.get("drifted_share"),
                    "drift_detected": p.get("drift_detected"),
                    "health": p.get("health"),
                    "result_id": p.get("result_id"),
                }
            )
    return {
        "start": registered_at,
        "end": end,
        "initial": "ok",
        "changes": changes,
        "points": points,
        "thresholds": {
            "warning": tier.health_warning_share,
            "breach": tier.health_breach_share,
            "drift_share": tier.drift_share,
        },
    }


def _deployment_history(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for e in events:
        p, action = e["payload"], e["action"]
        base = {"seq": e["seq"], "time": e["time"], "actor": e["actor"], "action": action}
        if action == "stage.change" and p.get("to") in _SERVING_MOVES:
            deployment = p.get("deployment") if isinstance(p.get("deployment"), Mapping) else {}
            detail = f"{p.get('from')} -> {p.get('to')}"
            if deployment:
                detail += f"; deployment {deployment.get('id')}"
                if deployment.get("bento_tag"):
                    detail += f", bento {deployment['bento_tag']}"
            if p.get("reason"):
                detail += f"; reason: {p['reason']}"
            rows.append(base | {"target": deployment.get("target"), "detail": detail})
        elif action.startswith("deployment."):
            parts = []
            if action == "deployment.rollback":
                parts.append(f"version {p.get('from_version')} -> {p.get('to_version')}")
            if p.get("deployment_id") is not None:
                parts.append(f"deployment {p['deployment_id']}")
            if p.get("reason"):
                parts.append(f"reason: {p['reason']}")
            rows.append(base | {"target": p.get("target"), "detail": "; ".join(parts)})
    return rows


def collect_evidence(
    gov: Governance, session: Session, v: ModelVersion, *, actor: str, matrix: Path | None = None
) -> tuple[dict[str, Any], list[tuple[Path, str]]]:
    """The pack's content as one JSON-able dict, and the report files to copy into it; the
    coverage matrix (`matrix`, else the shipped one) is evaluated over that content."""
    now = gov.now()
    tier = gov.policy.for_tier(v.risk_tier)
    head = session.get(AuditHead, 1)
    chain = verify_chain(session)
    events = _version_events(session, v)
    drift, copies = _drift(session, v)
    references = session.scalars(
        select(ReferenceDataset)
        .where(ReferenceDataset.version_id == v.id)
        .order_by(ReferenceDataset.id)
    )
    stages = session.scalars(
        select(StageChange).where(StageChange.version_id == v.id).order_by(StageChange.id)
    )
    lineage = dict(v.lineage or {})
    evidence = {
        "format": PACK_FORMAT,
        "export": {
            "exported_at": isoformat(now),
            "exported_by": actor,
            "audit_head": {"seq": head.seq if head else 0, "hash": head.hash if head else None},
            "audit_chain": chain.to_dict(),
        },
        "version": version_view(v),
        "lineage": {
            "source_uri": v.source_uri,
            "run_id": v.run_id,
            "experiment_id": v.experiment_id,
            **{k: val for k, val in lineage.items() if k != "metrics"},
        },
        "fingerprint": {"digest": v.fingerprint_digest, "files": dict(v.fingerprint or {})},
        "policy": {
            "source": gov.policy.source,
            "digest": gov.policy.digest(),
            "tier": gov.policy.to_dict()["tiers"][v.risk_tier],
        },
        "card": _card(session, v, tier.required_card_fields),
        "metrics": _metrics(v, tier),
        "references": [reference_view(r) for r in references],
        "approvals": _approvals(session, v, now),
        "drift": drift,
        "health_timeline": _health_timeline(events, tier, isoformat(v.created_at), isoformat(now)),
        "deployments": _deployment_history(events),
        "stage_history": [stage_change_view(c) for c in stages],
        "audit_events": events,
        "model_risk": model_risk_section(session, v, gov.policy, now),
    }
    evidence["coverage"] = evaluate_coverage(load_matrix(matrix), evidence)
    return evidence, copies


# --- writing -----------------------------------------------------------------------------


def _check_out(out: Path) -> bool:
    """True when `out` exists (empty); refuses anything that would mix with other files."""
    if out.exists() or out.is_symlink():
        if not out.is_dir() or out.is_symlink():
            raise BadInput(f"--out {out} exists and is not a directory: give a new directory")
        if any(out.iterdir()):
            raise BadInput(f"--out {out} is not empty: give a new or empty directory")
        return True
    if not out.parent.is_dir():
        raise BadInput(f"cannot write {out}: directory {out.parent} does not exist")
    return False


def build_manifest(root: Path, meta: Mapping[str, Any]) -> dict[str, Any]:
    files = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel == MANIFEST:
            continue
        files.append({"path": rel, "sha256": file_sha256(path), "bytes": path.stat().st_size})
    return {"format": PACK_FORMAT, **meta, "files": files}


def export_pack(
    gov: Governance,
    actor: str,
    model: str,
    version: str,
    out: Path,
    *,
    render_html: RenderHtml,
    render_more: RenderMore | None = None,
    matrix: Path | None = None,
) -> dict[str, Any]:
    """Write the evidence pack of MODEL/VERSION into `out` (new or empty) and audit it.
    `matrix` is a bank's coverage matrix file (default: the one shipped with mlgov)."""
    out = Path(out)
    existed = _check_out(out)
    load_matrix(matrix)  # a bad matrix file is refused before anything is read or written
    with gov.store.read() as s:
        gov.authorize(s, actor, Action.READ)
        v = gov.version(s, model, version)
        evidence, copies = collect_evidence(gov, s, v, actor=actor, matrix=matrix)
        label = v.label
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    placed = False
    try:
        for source, inside in copies:
            target = staging / inside
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        (staging / EVIDENCE).write_bytes(_json_bytes(evidence))
        (staging / INDEX).write_text(render_html(evidence), encoding="utf-8")
        if render_more is not None:
            render_more(evidence, staging)
        export = evidence["export"]
        manifest = build_manifest(
            staging,
            {
                "model": model,
                "version": evidence["version"]["version"],
                "exported_at": export["exported_at"],
                "exported_by": actor,
                "audit_head": export["audit_head"],
            },
        )
        manifest_bytes = _json_bytes(manifest)
        (staging / MANIFEST).write_bytes(manifest_bytes)
        manifest_sha = hashlib.sha256(manifest_bytes).hexdigest()
        key_id = None
        signer = _signing_key(gov)
        if signer is not None:
            signature = sign_manifest(signer, manifest_bytes)
            (staging / SIGNATURE).write_bytes(_json_bytes(signature))
            key_id = signature["key_id"]
        with gov.store.transaction() as s:
            gov.authorize(s, actor, Action.READ)
            event = gov.audit(
                s,
                actor,
                EXPORT_ACTION,
                f"model:{label}",
                {"out_dir": out.name, "manifest_sha256": manifest_sha}
                | ({"signed_by_key": key_id} if key_id else {}),
            )
            seq = event.seq
            if existed:
                out.rmdir()
            staging.rename(out)
            placed = True
    except BaseException:
        if placed:  # the audit event did not commit: no unaudited pack is left behind
            shutil.rmtree(out, ignore_errors=True)
            if existed:
                out.mkdir()
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {
        "directory": str(out),
        "model": model,
        "version": evidence["version"]["version"],
        "files": len(manifest["files"]) + (2 if key_id else 1),
        "listed_files": len(manifest["files"]),  # what `report verify` counts
        "manifest_sha256": manifest_sha,
        "signed_by_key": key_id,
        "audit_head": evidence["export"]["audit_head"],
        "export_event_seq": seq,
    }


# --- signing -----------------------------------------------------------------------------


def _signing_key(gov: Governance) -> Any | None:
    """The audit signing key when the installation has one (the checkpoints' key), else None.
    A key that is configured but unusable (readable by others, not Ed25519) is refused."""
    checkpointer = gov.checkpointer
    if checkpointer is None or not checkpointer.enabled:
        return None
    return checkpointer.signing_key()


def sign_manifest(private_key: Any, manifest_bytes: bytes) -> dict[str, Any]:
    """manifest.sig's content: the key's id and an Ed25519 signature of the manifest's bytes."""
    from mlgov.governance.checkpoints import key_id_of

    return {
        "format": SIGNATURE_FORMAT,
        "key_id": key_id_of(private_key.public_key()),
        "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
        "sig": base64.b64encode(private_key.sign(_SIGNED_LABEL + manifest_bytes)).decode(),
    }


def _check_signature(
    directory: Path, manifest_bytes: bytes, keys: Mapping[str, Any] | None
) -> tuple[str, str | None, str | None]:
    """(what the signature proved, the key id it names, the problem if any)."""
    path = directory / SIGNATURE
    if not path.is_file():
        if keys:
            return (
                INTERNAL_ONLY,
                None,
                f"{MANIFEST} is not signed ({SIGNATURE} is missing), yet a signing key is "
                "configured: packs exported with it are signed, so this one was altered or "
                "exported without the key (`--with-audit` checks it against the audit trail)",
            )
        return INTERNAL_ONLY, None, None
    try:
        doc = json.loads(path.read_bytes())
        key_id, sig = doc["key_id"], base64.b64decode(doc["sig"], validate=True)
        if doc.get("format") != SIGNATURE_FORMAT or not isinstance(key_id, str):
            raise ValueError
    except (ValueError, KeyError, TypeError, binascii.Error):
        return INTERNAL_ONLY, None, f"{SIGNATURE} is not a readable manifest signature"
    if not keys:
        return INTERNAL_ONLY, key_id, None  # signed, but nothing here to check it with
    key = keys.get(key_id)
    if key is None:
        return (
            INTERNAL_ONLY,
            key_id,
            f"{MANIFEST} is signed by key {key_id}, which is not among the trusted public keys",
        )
    from cryptography.exceptions import InvalidSignature

    try:
        key.verify(sig, _SIGNED_LABEL + manifest_bytes)
    except InvalidSignature:
        return (
            INTERNAL_ONLY,
            key_id,
            f"the signature of {MANIFEST} does not verify with key {key_id}: the manifest was "
            "changed after it was signed",
        )
    return SIGNED, key_id, None


# --- verifying ---------------------------------------------------------------------------


def _safe_relative(path: Any) -> str | None:
    if not isinstance(path, str) or not path or "\\" in path:
        return None
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or str(pure) != path:
        return None
    return path


def verify_pack(directory: Path, keys: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Recompute every hash in the manifest; name each changed, missing and added file.

    With `keys` (key id -> Ed25519 public key), the manifest must also carry a signature by
    one of them; `assurance` says what a clean result proves: "signature", or "internal
    consistency only" (no key given, so anyone able to write the pack could have rewritten
    its manifest too)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise BadInput(f"{directory} is not a directory: give an evidence pack's directory")
    result: dict[str, Any] = {
        "directory": str(directory),
        "ok": False,
        "checked": 0,
        "changed": [],
        "missing": [],
        "added": [],
        "problems": [],
        "manifest_sha256": None,
        "audit_head": None,
        "assurance": INTERNAL_ONLY,
        "signed_by_key": None,
    }
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        result["problems"].append(f"{MANIFEST} is missing: nothing to verify against")
        return result
    raw = manifest_path.read_bytes()
    result["manifest_sha256"] = hashlib.sha256(raw).hexdigest()
    try:
        manifest = json.loads(raw)
        listed = {entry["path"]: entry["sha256"] for entry in manifest["files"]}
    except (ValueError, KeyError, TypeError):
        result["problems"].append(f"{MANIFEST} is not a readable evidence-pack manifest")
        return result
    result["audit_head"] = manifest.get("audit_head")
    assurance, key_id, problem = _check_signature(directory, raw, keys)
    result["assurance"], result["signed_by_key"] = assurance, key_id
    if problem:
        result["problems"].append(problem)
    for rel, expected in sorted(listed.items()):
        if _safe_relative(rel) is None or rel in (MANIFEST, SIGNATURE):
            result["problems"].append(f"{MANIFEST} lists an invalid path {rel!r}")
            continue
        path = directory / rel
        if not path.is_file():
            result["missing"].append(rel)
        elif file_sha256(path) != expected:
            result["changed"].append(rel)
        result["checked"] += 1
    present = {
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.is_file() or p.is_symlink()
    }
    result["added"] = sorted(present - set(listed) - {MANIFEST, SIGNATURE})
    result["ok"] = not (
        result["changed"] or result["missing"] or result["added"] or result["problems"]
    )
    return result


@dataclass(frozen=True)
class AuditBinding:
    """What `--with-audit` checked: the export event recording this manifest, and the
    audit head the manifest names; `problems` is empty when both were found."""

    export_seq: int | None = None
    head_seq: int | None = None
    problems: list[str] = field(default_factory=list)


def audit_binding(gov: Governance, actor: str, directory: Path) -> AuditBinding:
    """Bind the pack to this governance store's audit trail: its manifest must be the one a
    `report.export` event recorded, and the head it names must be on the chain (the chain
    itself is `mlgov audit verify`'s job)."""
    checked = verify_pack(directory)
    digest, head = checked["manifest_sha256"], checked["audit_head"]
    if digest is None:
        return AuditBinding(problems=[f"{MANIFEST} is missing"])
    problems = []
    export_seq = head_seq = None
    with gov.store.read() as s:
        gov.authorize(s, actor, Action.VERIFY_AUDIT)
        exports = s.scalars(select(AuditEvent).where(AuditEvent.action == EXPORT_ACTION))
        export_seq = next(
            (e.seq for e in exports if e.payload.get("manifest_sha256") == digest), None
        )
        if export_seq is None:
            problems.append(
                f"no {EXPORT_ACTION} event in the audit trail records this manifest "
                f"(sha256 {digest}): it was altered or exported elsewhere"
            )
        if not isinstance(head, Mapping) or not isinstance(head.get("seq"), int):
            problems.append(f"{MANIFEST} names no audit head")
        else:
            event = s.get(AuditEvent, head["seq"])
            if event is None or event.hash != head.get("hash"):
                problems.append(
                    f"the audit head in {MANIFEST} (seq {head['seq']}) is not on this chain"
                )
            else:
                head_seq = event.seq
    return AuditBinding(export_seq=export_seq, head_seq=head_seq, problems=problems)


def verify_against_audit(gov: Governance, actor: str, directory: Path) -> list[str]:
    """`audit_binding`'s problems (none when the pack is bound to this audit trail)."""
    return audit_binding(gov, actor, directory).problems
