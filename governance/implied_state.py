"""The state the audit trail implies, and where the state tables disagree with it.

The tables are what mlgov acts on; the hash-chained events are the record. An insider who
edits a table (`UPDATE model_versions SET stage='train'`) leaves the chain intact, so the
chain check alone cannot see it. Replaying the events in sequence order rebuilds what the
tables must say -- per version its stage, tier, makers, health and review flag; every
approval request with its state and decisions; every deployment with its target, version and
state; every user with roles and whether active; every policy put in force -- and each row
that says otherwise is a `Disagreement`.

Only what the events really determine is claimed: a fact an event does not carry (a legacy
payload without a field) stays unknown and is not compared; rows the events never mention
(e.g. a version registered before the trail began) are reported as not on the trail.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from mlgov.governance.audit import ChainReport, iter_events
from mlgov.governance.tables import (
    ApprovalRequest,
    AuditEvent,
    Deployment,
    Model,
    ModelVersion,
    PolicyVersion,
    User,
)

# What a table row's value is compared with when the events say it should not exist.
NOT_ON_TRAIL = "(no such row on the audit trail)"
MISSING = "(row missing)"
HINT = "run `mlgov audit verify`"


class _Unknown:
    """A fact the events do not carry: never compared."""

    def __repr__(self) -> str:
        return "unknown"


UNKNOWN: Any = _Unknown()
_Row = TypeVar("_Row")


@dataclass(frozen=True)
class Disagreement:
    """One stored value that is not what the audit trail implies."""

    table: str
    key: str  # the row: model/version, request id, deployment id, user name
    column: str
    stored: Any
    implied: Any

    def describe(self) -> str:
        return (
            f"{self.table} {self.key}: {self.column} is {self.stored!r}, "
            f"the audit trail says {self.implied!r}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "key": self.key,
            "column": self.column,
            "stored": self.stored,
            "implied": self.implied,
        }


@dataclass
class ImpliedVersion:
    stage: str
    risk_tier: Any
    owner: Any
    registered_by: str
    health: str = "ok"
    review_required: bool = False


@dataclass
class ImpliedRequest:
    version: str  # model/version label
    requested_by: str
    state: Any = "pending"
    approvals_required: Any = UNKNOWN
    snapshot_hash: Any = UNKNOWN
    decisions: dict[str, str] = field(default_factory=dict)  # approver -> approve/reject


@dataclass
class ImpliedDeployment:
    target: str
    version: str  # model/version label
    state: str = "active"
    verified: bool = False


@dataclass
class ImpliedUser:
    roles: set[str]
    active: bool = True


@dataclass
class ImpliedPolicy:
    digest: Any
    document_sha256: Any


@dataclass
class ImpliedState:
    versions: dict[str, ImpliedVersion] = field(default_factory=dict)
    requests: dict[int, ImpliedRequest] = field(default_factory=dict)
    deployments: dict[int, ImpliedDeployment] = field(default_factory=dict)
    users: dict[str, ImpliedUser] = field(default_factory=dict)
    policies: dict[int, ImpliedPolicy] = field(default_factory=dict)

    # --- replay ---------------------------------------------------------------------------

    def apply(self, event: AuditEvent) -> None:
        handler = _HANDLERS.get(event.action)
        if handler is not None:
            handler(self, event, dict(event.payload or {}))

    def _active_on(self, target: str) -> int | None:
        for deployment_id, d in self.deployments.items():
            if d.target == target and d.state == "active":
                return deployment_id
        return None

    def _end(self, deployment_id: Any, state: str) -> None:
        d = _by_id(self.deployments, deployment_id)
        if d is not None:
            d.state = state


_Handler = Callable[[ImpliedState, AuditEvent, dict[str, Any]], None]


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _by_id(rows: Mapping[int, _Row], value: Any) -> _Row | None:
    """The row whose id the payload value names, None if it names none (or no id at all)."""
    key = _int(value)
    return rows.get(key) if key is not None else None


def _label(subject: str) -> str | None:
    if not subject.startswith("model:") or "/" not in subject:
        return None
    return subject[len("model:") :]


def _register(st: ImpliedState, e: AuditEvent, p: dict[str, Any]) -> None:
    label = _label(e.subject)
    if label is None:
        return
    st.versions[label] = ImpliedVersion(
        stage="develop",
        risk_tier=p.get("risk_tier", UNKNOWN),
        owner=p.get("owner", UNKNOWN),
        registered_by=e.actor,
    )


def _stage_change(st: ImpliedState, e: AuditEvent, p: dict[str, Any]) -> None:
    label = _label(e.subject)
    v = st.versions.get(label or "")
    if v is None or label is None or "to" not in p:  # no version is keyed ""
        return
    v.stage = str(p["to"])
    deployment = p.get("deployment")
    if isinstance(deployment, Mapping) and (new_id := _int(deployment.get("id"))) is not None:
        target = str(deployment.get("target"))
        previous = _int(deployment.get("previous_id"))
        if previous is None:
            previous = st._active_on(target)
        st._end(previous, "superseded")
        st.deployments[new_id] = ImpliedDeployment(target, label)


def _health_change(st: ImpliedState, e: AuditEvent, p: dict[str, Any]) -> None:
    v = st.versions.get(_label(e.subject) or "")
    if v is None or "to" not in p:
        return
    v.health = str(p["to"])
    if "require_review" in (p.get("actions") or ()):
        v.review_required = True


def _review_ack(st: ImpliedState, e: AuditEvent, p: dict[str, Any]) -> None:
    v = st.versions.get(_label(e.subject) or "")
    if v is not None:
        v.review_required = False


def _approval_request(st: ImpliedState, e: AuditEvent, p: dict[str, Any]) -> None:
    request_id, label = _int(p.get("request_id")), _label(e.subject)
    if request_id is None or label is None:
        return
    st.requests[request_id] = ImpliedRequest(
        version=label,
        requested_by=e.actor,
        approvals_required=p.get("approvals_required", UNKNOWN),
        snapshot_hash=p.get("snapshot_hash", UNKNOWN),
    )


def _approval_decide(st: ImpliedState, e: AuditEvent, p: dict[str, Any]) -> None:
    request = _by_id(st.requests, p.get("request_id"))
    if request is None:
        return
    if "decision" in p:
        request.decisions[e.actor] = str(p["decision"])
    request.state = p.get("state", UNKNOWN)


def _approval_close(state: str) -> _Handler:
    def close(st: ImpliedState, e: AuditEvent, p: dict[str, Any]) -> None:
        request = _by_id(st.requests, p.get("request_id"))
        if request is not None:
            request.state = state

    return close


def _rollback(st: ImpliedState, e: AuditEvent, p: dict[str, Any]) -> None:
    new_id, label = _int(p.get("deployment_id")), _label(e.subject)
    if new_id is None or label is None or "target" not in p:
        return
    target = str(p["target"])
    st._end(st._active_on(target), "rolled_back")
    st.deployments[new_id] = ImpliedDeployment(target, label)


def _ender(state: str) -> _Handler:
    def end(st: ImpliedState, e: AuditEvent, p: dict[str, Any]) -> None:
        st._end(p.get("deployment_id"), state)

    return end


def _verify(st: ImpliedState, e: AuditEvent, p: dict[str, Any]) -> None:
    d = _by_id(st.deployments, p.get("deployment_id"))
    if d is not None:
        d.verified = True


def _user_name(e: AuditEvent) -> str | None:
    return e.subject[len("user:") :] if e.subject.startswith("user:") else None


def _user_add(st: ImpliedState, e: AuditEvent, p: dict[str, Any]) -> None:
    name = _user_name(e)
    if name is not None:  # user.add and user.restore both give the full set of roles
        st.users[name] = ImpliedUser(roles={str(r) for r in p.get("roles") or ()})


def _user_grant(st: ImpliedState, e: AuditEvent, p: dict[str, Any]) -> None:
    user = st.users.get(_user_name(e) or "")
    if user is not None:
        user.roles.update(str(r) for r in p.get("added_roles") or ())


def _user_remove(st: ImpliedState, e: AuditEvent, p: dict[str, Any]) -> None:
    user = st.users.get(_user_name(e) or "")
    if user is not None:
        user.active = False


def _policy_set(st: ImpliedState, e: AuditEvent, p: dict[str, Any]) -> None:
    policy_id = _int(p.get("policy_id"))
    if policy_id is not None:
        st.policies[policy_id] = ImpliedPolicy(
            digest=p.get("digest", UNKNOWN), document_sha256=p.get("document_sha256", UNKNOWN)
        )


# Every action that changes a row compared below. Add a handler with any new such action.
_HANDLERS: dict[str, _Handler] = {
    "version.register": _register,
    "stage.change": _stage_change,
    "health.change": _health_change,
    "review.ack": _review_ack,
    "approval.request": _approval_request,
    "approval.decide": _approval_decide,
    "approval.expire": _approval_close("expired"),
    "approval.void": _approval_close("void"),
    "deployment.rollback": _rollback,
    "deployment.undeploy": _ender("undeployed"),
    "deployment.end": _ender("retired"),
    "deployment.verify": _verify,
    "user.add": _user_add,
    "user.restore": _user_add,
    "user.grant": _user_grant,
    "user.remove": _user_remove,
    "policy.set": _policy_set,
}
# The actions about one version, whose subject is model:NAME/VERSION.
VERSION_ACTIONS = (
    "version.register",
    "stage.change",
    "health.change",
    "review.ack",
    "approval.request",
    "approval.decide",
    "approval.expire",
    "approval.void",
)


def replay(events: Iterable[AuditEvent]) -> ImpliedState:
    """The state implied by `events`, given in sequence order."""
    state = ImpliedState()
    for event in events:
        state.apply(event)
    return state


# --- comparison ---------------------------------------------------------------------------


def _differ(
    out: list[Disagreement], table: str, key: str, pairs: Iterable[tuple[str, Any, Any]]
) -> None:
    for column, stored, implied in pairs:
        if implied is UNKNOWN or stored == implied:
            continue
        out.append(Disagreement(table, key, column, stored, implied))


def _compare_version(
    out: list[Disagreement], v: ModelVersion, implied: ImpliedVersion | None
) -> None:
    if implied is None:
        out.append(Disagreement("model_versions", v.label, "stage", v.stage, NOT_ON_TRAIL))
        return
    _differ(
        out,
        "model_versions",
        v.label,
        [
            ("stage", v.stage, implied.stage),
            ("risk_tier", v.risk_tier, implied.risk_tier),
            ("owner", v.owner, implied.owner),
            ("registered_by", v.registered_by, implied.registered_by),
            ("health", v.health, implied.health),
            ("review_required", bool(v.review_required), implied.review_required),
        ],
    )


def _compare_requests(
    out: list[Disagreement],
    rows: Iterable[tuple[ApprovalRequest, str]],
    implied: Mapping[int, ImpliedRequest],
) -> None:
    seen: set[int] = set()
    for request, label in rows:
        seen.add(request.id)
        key = str(request.id)
        want = implied.get(request.id)
        if want is None:
            out.append(Disagreement("approval_requests", key, "state", request.state, NOT_ON_TRAIL))
            continue
        _differ(
            out,
            "approval_requests",
            key,
            [
                ("version", label, want.version),
                ("requested_by", request.requested_by, want.requested_by),
                ("state", request.state, want.state),
                ("approvals_required", request.approvals_required, want.approvals_required),
                ("snapshot_hash", request.snapshot_hash, want.snapshot_hash),
            ],
        )
        stored = {d.approver: d.decision for d in request.decisions}
        for approver in sorted(set(stored) | set(want.decisions)):
            _differ(
                out,
                "approval_decisions",
                f"request {request.id} approver {approver}",
                [
                    (
                        "decision",
                        stored.get(approver, MISSING),
                        want.decisions.get(approver, NOT_ON_TRAIL),
                    )
                ],
            )
    for request_id in sorted(set(implied) - seen):
        out.append(
            Disagreement(
                "approval_requests", str(request_id), "state", MISSING, implied[request_id].state
            )
        )


def _labels(session: Session) -> dict[int, str]:
    rows = session.execute(select(ModelVersion.id, Model.name, ModelVersion.version).join(Model))
    return {vid: f"{name}/{version}" for vid, name, version in rows}


def compare(session: Session, implied: ImpliedState) -> list[Disagreement]:
    """Every row of the state tables that disagrees with `implied` (the whole store)."""
    out: list[Disagreement] = []
    labels = _labels(session)
    stored_versions = list(session.scalars(select(ModelVersion).order_by(ModelVersion.id)))
    for v in stored_versions:
        _compare_version(out, v, implied.versions.get(v.label))
    for label in sorted(set(implied.versions) - {v.label for v in stored_versions}):
        out.append(
            Disagreement("model_versions", label, "stage", MISSING, implied.versions[label].stage)
        )
    requests = session.scalars(select(ApprovalRequest).order_by(ApprovalRequest.id))
    _compare_requests(out, ((r, labels.get(r.version_id, "?")) for r in requests), implied.requests)
    seen: set[int] = set()
    for d in session.scalars(select(Deployment).order_by(Deployment.id)):
        seen.add(d.id)
        want = implied.deployments.get(d.id)
        if want is None:
            out.append(Disagreement("deployments", str(d.id), "state", d.state, NOT_ON_TRAIL))
            continue
        _differ(
            out,
            "deployments",
            str(d.id),
            [
                ("target", d.target, want.target),
                ("version", labels.get(d.version_id, "?"), want.version),
                ("state", d.state, want.state),
                ("verified", d.verified_at is not None, want.verified),
            ],
        )
    for deployment_id in sorted(set(implied.deployments) - seen):
        want = implied.deployments[deployment_id]
        out.append(Disagreement("deployments", str(deployment_id), "state", MISSING, want.state))
    users = {u.name: u for u in session.scalars(select(User).order_by(User.name))}
    for name, u in users.items():
        want_user = implied.users.get(name)
        if want_user is None:
            out.append(Disagreement("users", name, "roles", u.role_names, NOT_ON_TRAIL))
            continue
        _differ(
            out,
            "users",
            name,
            [
                ("roles", u.role_names, sorted(want_user.roles)),
                ("active", u.active, want_user.active),
            ],
        )
    for name in sorted(set(implied.users) - set(users)):
        out.append(Disagreement("users", name, "roles", MISSING, sorted(implied.users[name].roles)))
    _compare_policies(out, session, implied.policies)
    return out


def _compare_policies(
    out: list[Disagreement], session: Session, implied: Mapping[int, ImpliedPolicy]
) -> None:
    seen: set[int] = set()
    for row in session.scalars(select(PolicyVersion).order_by(PolicyVersion.id)):
        seen.add(row.id)
        want = implied.get(row.id)
        if want is None:
            out.append(
                Disagreement("policy_versions", str(row.id), "digest", row.digest, NOT_ON_TRAIL)
            )
            continue
        document_sha256 = hashlib.sha256(row.document.encode("utf-8")).hexdigest()
        _differ(
            out,
            "policy_versions",
            str(row.id),
            [
                ("digest", row.digest, want.digest),
                ("document", document_sha256, want.document_sha256),
            ],
        )
    for policy_id in sorted(set(implied) - seen):
        out.append(
            Disagreement(
                "policy_versions", str(policy_id), "digest", MISSING, implied[policy_id].digest
            )
        )


def one_snapshot(session: Session) -> None:
    """Make the rest of this read transaction see one snapshot; call it first in the block.

    The full check reads the events, then every table: at PostgreSQL's READ COMMITTED each
    statement has its own snapshot, and a move committed in between would read as a
    disagreement. SQLite's read transaction is one snapshot already.
    """
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def disagreements(session: Session) -> list[Disagreement]:
    """Replay the whole trail and compare it with every state table."""
    return compare(session, replay(iter_events(session)))


def version_disagreements(session: Session, version: ModelVersion) -> list[Disagreement]:
    """The same check for one version and its approval requests, replaying only the events
    about it (the audit table's subject column is indexed): cheap enough for every move."""
    events = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.subject == f"model:{version.label}",
            AuditEvent.action.in_(VERSION_ACTIONS),
        )
        .order_by(AuditEvent.seq)
    )
    implied = replay(events)
    out: list[Disagreement] = []
    _compare_version(out, version, implied.versions.get(version.label))
    requests = session.scalars(
        select(ApprovalRequest)
        .where(ApprovalRequest.version_id == version.id)
        .order_by(ApprovalRequest.id)
    )
    _compare_requests(out, ((r, version.label) for r in requests), implied.requests)
    return out


def summary(found: list[Disagreement], limit: int = 3) -> str:
    shown = "; ".join(d.describe() for d in found[:limit])
    more = f" (and {len(found) - limit} more)" if len(found) > limit else ""
    return shown + more


@dataclass(frozen=True)
class AuditVerifyReport:
    """`mlgov audit verify`: the chain check, and the state tables against the chain."""

    chain: ChainReport
    disagreements: tuple[Disagreement, ...] = ()

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.disagreements

    @property
    def events(self) -> int:
        return self.chain.events

    @property
    def head_seq(self) -> int:
        return self.chain.head_seq

    @property
    def head_hash(self) -> str:
        return self.chain.head_hash

    @property
    def first_bad_seq(self) -> int | None:
        return self.chain.first_bad_seq

    @property
    def problem(self) -> str | None:
        if self.chain.problem is not None:
            return self.chain.problem
        if self.disagreements:
            return f"{len(self.disagreements)} state table value(s) disagree with the audit trail"
        return None

    def to_dict(self) -> dict[str, Any]:
        return self.chain.to_dict() | {
            "ok": self.ok,
            "chain_ok": self.chain.ok,
            "problem": self.problem,
            "state_disagreements": [d.to_dict() for d in self.disagreements],
        }
