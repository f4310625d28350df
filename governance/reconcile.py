"""Reconcile: compare MLflow with governance state; repair MLflow from governance, never back.

First it settles operations a crash left pending (governance/operations.py): each is
completed or aborted, and audited.

Findings: versions in MLflow that are not governed; mlgov tags or aliases changed by hand;
governed versions deleted in MLflow, or whose run was deleted; a legacy MLflow stage set by
hand; artifact files whose SHA-256 no longer matches the registration fingerprint. Each
finding is audited when first seen (or when it changes), each fix when made, and a standing
finding that is gone without a fix as `reconcile.cleared`: a finding that stands for a
hundred runs is one event, and one that comes back after it was fixed is audited again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mlgov.governance import checkpoints, implied_state, operations
from mlgov.governance.errors import BadInput, NotFound
from mlgov.governance.fingerprints import compare_fingerprints
from mlgov.governance.lifecycle import Stage
from mlgov.governance.mirror import (
    ALIASES,
    MIRRORED_TAGS,
    TAG_PREFIX,
    expected_aliases,
    expected_tags,
    tags_to_write,
)
from mlgov.governance.ports import RUN_ACTIVE, RUN_DELETED
from mlgov.governance.roles import Action
from mlgov.governance.tables import AuditEvent, Model, ModelVersion

UNSET_TAG = "is set but governance has none"

if TYPE_CHECKING:
    from mlgov.governance.service import Governance


@dataclass
class Finding:
    # ungoverned_version, version_deleted, run_deleted, run_missing, legacy_stage, tag_changed,
    # alias_changed, artifact_changed
    kind: str
    model: str
    version: str | None
    detail: str
    fixable: bool
    fixed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _findings(gov: Governance, registry: Any, *, check_artifacts: bool) -> list[Finding]:
    findings: list[Finding] = []
    with gov.store.read() as s:
        governed = {m.name: m for m in s.scalars(select(Model).order_by(Model.name))}
        for name, model in governed.items():
            state = registry.state(name)
            versions = list(
                s.scalars(select(ModelVersion).where(ModelVersion.model_id == model.id))
            )
            runs = registry.run_states([v.run_id for v in versions if v.run_id])
            for v in versions:
                findings.extend(_run_findings(v, runs.get(v.run_id) if v.run_id else None))
                actual = state.versions.get(v.version)
                if actual is None:
                    findings.append(_version_deleted(v))
                    continue
                if actual.legacy_stage is not None:
                    findings.append(
                        Finding(
                            "legacy_stage",
                            name,
                            v.version,
                            f"MLflow's deprecated stage is {actual.legacy_stage!r}; governance "
                            "never sets one (its stage is the tag mlgov.stage): "
                            "`mlgov reconcile --fix` sets it back to 'None'",
                            True,
                        )
                    )
                wanted = expected_tags(s, v)
                for key, want in wanted.items():
                    have = actual.tags.get(key)
                    if have != want:
                        findings.append(
                            Finding(
                                "tag_changed",
                                name,
                                v.version,
                                f"tag {key} is {have!r}, governance says {want!r}",
                                True,
                            )
                        )
                for key in sorted(actual.tags):
                    if (
                        key.startswith(TAG_PREFIX)
                        and key not in wanted
                        and key != "mlgov.created"  # the registry's mark of versions it made
                        and not key.startswith(("mlgov.card.", "mlgov.op_id"))
                    ):
                        findings.append(
                            Finding(
                                "tag_changed",
                                name,
                                v.version,
                                f"tag {key} {UNSET_TAG}",
                                key in MIRRORED_TAGS,
                            )
                        )
                if check_artifacts:
                    try:
                        now = registry.fingerprint(name, v.version)
                    except NotFound:
                        now = {}
                    change = compare_fingerprints(v.fingerprint, now).change()
                    if change:
                        findings.append(
                            Finding(
                                "artifact_changed",
                                name,
                                v.version,
                                f"artifact files differ from registration: {change}",
                                False,
                            )
                        )
            expected = _pointable(expected_aliases(s, model.id), state)
            for alias in ALIASES:
                if state.aliases.get(alias) != expected.get(alias):
                    findings.append(
                        Finding(
                            "alias_changed",
                            name,
                            expected.get(alias) or state.aliases.get(alias),
                            f"alias {alias} points at {state.aliases.get(alias)!r}, "
                            f"governance says {expected.get(alias)!r}",
                            True,
                        )
                    )
            governed_versions = {v.version for v in versions}
            for extra in sorted(set(state.versions) - governed_versions, key=_num):
                findings.append(
                    Finding(
                        "ungoverned_version",
                        name,
                        extra,
                        "registered in MLflow but not governed by mlgov",
                        False,
                    )
                )
        for name in registry.list_models():
            if name not in governed:
                for extra in sorted(registry.state(name).versions, key=_num):
                    findings.append(
                        Finding(
                            "ungoverned_version",
                            name,
                            extra,
                            "registered in MLflow but not governed by mlgov",
                            False,
                        )
                    )
    return findings


def _pointable(expected: dict[str, str], state: Any) -> dict[str, str]:
    """The aliases governance expects, less those naming a version deleted in MLflow: no
    alias can point there (version_deleted reports that version)."""
    return {alias: v for alias, v in expected.items() if v in state.versions}


def _retire_hint(v: ModelVersion) -> str:
    return f"`mlgov retire {v.model.name} {v.version} --reason ...`"


def _version_deleted(v: ModelVersion) -> Finding:
    if v.stage == Stage.RETIRE.value:
        fix = "it is retired: governance keeps its record and evidence, nothing to fix"
    else:
        fix = (
            "it cannot move or serve any more: retire it with "
            f"{_retire_hint(v)} (other versions are not affected)"
        )
    return Finding(
        "version_deleted",
        v.model.name,
        v.version,
        f"governed version no longer exists in MLflow; {fix}",
        False,
    )


def _run_findings(v: ModelVersion, run_state: str | None) -> list[Finding]:
    """A governed version's run deleted in MLflow: its metrics, card and reference are gone
    from the gates' view, which then fail with "run not found"."""
    if run_state is None or run_state == RUN_ACTIVE:
        return []
    if run_state == RUN_DELETED:
        return [
            Finding(
                "run_deleted",
                v.model.name,
                v.version,
                f"run {v.run_id} of this version is deleted in MLflow: restore it with "
                f"`mlflow runs restore --run-id {v.run_id}`",
                False,
            )
        ]
    return [
        Finding(
            "run_missing",
            v.model.name,
            v.version,
            f"run {v.run_id} of this version does not exist in MLflow (deleted for good): "
            + (
                "it is retired, governance keeps its record"
                if v.stage == Stage.RETIRE.value
                else f"retire the version with {_retire_hint(v)}"
            ),
            False,
        )
    ]


# Audit actions that say what reconcile found; their (subject, kind, detail) is a finding.
FINDING, FIX, CLEARED = "reconcile.finding", "reconcile.fix", "reconcile.cleared"


def _subject(f: Finding) -> str:
    return f"model:{f.model}" + (f"/{f.version}" if f.version else "")


def _standing(s: Session) -> set[tuple[str, str, str]]:
    """Findings audited and neither fixed nor cleared since, as (subject, kind, detail)."""
    standing: set[tuple[str, str, str]] = set()
    rows = s.execute(
        select(AuditEvent.action, AuditEvent.subject, AuditEvent.payload)
        .where(AuditEvent.action.in_((FINDING, FIX, CLEARED)))
        .order_by(AuditEvent.seq)
    )
    for action, subject, payload in rows:
        key = (subject, payload.get("kind"), payload.get("detail"))
        if action == FINDING:
            standing.add(key)
        elif action == FIX and "detail" not in payload:  # fixes audited before the detail was
            standing = {k for k in standing if k[:2] != key[:2]}
        else:
            standing.discard(key)
    return standing


def _audit_findings(
    gov: Governance,
    s: Session,
    actor: str,
    findings: list[Finding],
    *,
    unchecked_kinds: frozenset[str],
) -> None:
    """Audit what changed since the last run: new findings, fixes, findings gone.

    A finding of a kind this run did not look for (artifacts skipped) is not cleared.
    """
    standing = _standing(s)
    now: set[tuple[str, str, str]] = set()
    for f in findings:
        key = (_subject(f), f.kind, f.detail)
        now.add(key)
        if key not in standing:
            gov.audit(s, actor, FINDING, key[0], {"kind": f.kind, "detail": f.detail})
        if f.fixed:
            gov.audit(s, actor, FIX, key[0], {"kind": f.kind, "detail": f.detail})
    for subject, kind, detail in sorted(standing - now):
        if kind not in unchecked_kinds:
            gov.audit(s, actor, CLEARED, subject, {"kind": kind, "detail": detail})


def _num(version: str) -> tuple[int, str]:
    return (int(version), version) if version.isdigit() else (-1, version)


def _fix(gov: Governance, registry: Any, finding: Finding) -> None:
    with gov.store.read() as s:
        model = s.scalar(select(Model).where(Model.name == finding.model))
        if finding.kind == "tag_changed":
            assert finding.version is not None  # a tag is found changed on a version
            v = gov.version(s, finding.model, finding.version)
            registry.mirror(finding.model, v.version, tags=tags_to_write(s, v))
        elif finding.kind == "alias_changed":
            state = registry.state(finding.model)
            assert model is not None  # findings are about governed models; none is deleted
            expected = _pointable(expected_aliases(s, model.id), state)
            for alias in ALIASES:
                have, want = state.aliases.get(alias), expected.get(alias)
                if have == want:
                    continue
                if want is not None:
                    registry.mirror(finding.model, want, tags={}, set_aliases=[alias])
                elif have is not None:
                    registry.mirror(finding.model, have, tags={}, remove_aliases=[alias])
        elif finding.kind == "legacy_stage":
            registry.clear_legacy_stage(finding.model, finding.version)


def _unsupported_by_trail(gov: Governance, findings: list[Finding]) -> list[Finding]:
    """Never mirror into MLflow a state the audit trail does not support: a fixable finding
    about a version (or, for aliases, any version of its model) whose stored state disagrees
    with the trail is made unfixable, and the disagreement reported as its own finding."""
    blocked: dict[tuple[str, str], str] = {}
    with gov.store.read() as s:
        for f in findings:
            if not f.fixable:
                continue
            stmt = select(ModelVersion).join(Model).where(Model.name == f.model)
            if f.kind != "alias_changed":
                stmt = stmt.where(ModelVersion.version == f.version)
            for v in s.scalars(stmt):
                key = (f.model, v.version)
                if key not in blocked:
                    blocked[key] = implied_state.summary(implied_state.version_disagreements(s, v))
                if blocked[key]:
                    f.fixable = False
    return [
        Finding(
            "state_disagrees_with_trail",
            model,
            version,
            "governance state disagrees with the audit trail: run `mlgov audit verify` "
            f"(not mirrored into MLflow: {why})",
            False,
        )
        for (model, version), why in blocked.items()
        if why
    ]


def reconcile(
    gov: Governance,
    actor: str,
    *,
    fix: bool = False,
    check_artifacts: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    registry = gov.ports.get("registry")
    if registry is None:
        raise BadInput("no model registry is configured")
    with gov.store.read() as s:
        gov.authorize(s, actor, Action.RECONCILE)
    # Operations a crash left pending first: settling them is what makes MLflow comparable.
    settled = operations.settle_pending(gov, actor, progress=progress)
    if any(o["outcome"] != "running" for o in settled):
        checkpoints.checkpoint_after_commit(gov)
    findings = _findings(gov, registry, check_artifacts=check_artifacts)
    findings += _unsupported_by_trail(gov, findings)
    if fix:
        done_alias_models: set[str] = set()
        for f in findings:
            if not f.fixable:
                continue
            if f.kind == "alias_changed" and f.model in done_alias_models:
                f.fixed = True
                continue
            _fix(gov, registry, f)
            f.fixed = True
            if f.kind == "alias_changed":
                done_alias_models.add(f.model)
    with gov.store.transaction() as s:
        gov.authorize(s, actor, Action.RECONCILE)
        unchecked = frozenset() if check_artifacts else frozenset({"artifact_changed"})
        _audit_findings(gov, s, actor, findings, unchecked_kinds=unchecked)
    remaining = [f for f in findings if not f.fixed]
    running = [o for o in settled if o["outcome"] == "running"]
    return {
        "operations": settled,
        "findings": [f.to_dict() for f in findings],
        "fixed": sum(f.fixed for f in findings),
        "remaining": len(remaining) + len(running),
    }
