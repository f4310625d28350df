"""The governance database, as SQLAlchemy 2.x typed ORM. Portable SQL only (SQLite now,
PostgreSQL for the multi-user deployment). Times are stored as UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from mlgov.governance.lifecycle import ALLOWED_MOVES, Health, RiskTier, Stage

# Rules the database itself enforces (migration 0005), so they hold under any race and for
# any writer that bypasses mlgov's checks by accident. The literal SQL is frozen in the
# migration; tests/governance/test_integrity_rules.py keeps the two in step.
REQUEST_STATES = ("pending", "approved", "rejected", "expired", "void")
DECISIONS = ("approve", "reject")
GENESIS_HASH = "0" * 64


def one_of(column: str, values: Any) -> str:
    """SQL: `column` holds one of `values` (plain string literals, no user input)."""
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


def lifecycle_moves_sql() -> str:
    """SQL: a stage change is registration into develop or a move the lifecycle allows.

    A CHECK passes when its expression is NULL, so every comparison with the nullable
    from_stage sits behind an explicit IS [NOT] NULL that makes the result TRUE or FALSE.
    """
    moves = " OR ".join(
        f"(from_stage = '{current.value}' AND {one_of('to_stage', sorted(targets))})"
        for current, targets in ALLOWED_MOVES.items()
        if targets
    )
    return (
        f"(from_stage IS NULL AND to_stage = '{Stage.DEVELOP.value}') "
        f"OR (from_stage IS NOT NULL AND ({moves}))"
    )


# As above: prev_seq IS NOT NULL keeps a missing link from reading as NULL (a pass).
AUDIT_LINK_SQL = (
    f"(seq = 1 AND prev_seq IS NULL AND prev_hash = '{GENESIS_HASH}') "
    "OR (seq > 1 AND prev_seq IS NOT NULL AND prev_seq = seq - 1)"
)
NOT_MAKER_SQL = "approver <> requested_by AND approver <> registered_by AND approver <> owner"
# Idempotency keys (migration 0009, which freezes the same SQL): a finished request keeps the
# answer it gave.
IDEMPOTENCY_STATES = ("in_progress", "done")
IDEMPOTENCY_DONE_SQL = (
    "state = 'in_progress' OR (status_code IS NOT NULL AND response_json IS NOT NULL "
    "AND completed_at IS NOT NULL)"
)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: the same on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store: use UTC-aware times")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), float: Float()}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    removed_at: Mapped[datetime | None]
    removed_by: Mapped[str | None] = mapped_column(String(64))
    roles: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def role_names(self) -> list[str]:
        return sorted(r.role for r in self.roles)

    @property
    def active(self) -> bool:
        return self.removed_at is None


class UserRole(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    user: Mapped[User] = relationship(back_populates="roles")


class Model(Base):
    __tablename__ = "models"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime]
    versions: Mapped[list[ModelVersion]] = relationship(back_populates="model")


class ModelVersion(Base):
    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("model_id", "version", name="uq_model_version"),
        # The target of approval_requests' composite key: requests copy these two names.
        UniqueConstraint("id", "registered_by", "owner", name="uq_version_makers"),
        CheckConstraint(one_of("stage", [s.value for s in Stage]), name="ck_version_stage"),
        CheckConstraint(
            one_of("risk_tier", [t.value for t in RiskTier]), name="ck_version_risk_tier"
        ),
        CheckConstraint(one_of("health", [h.value for h in Health]), name="ck_version_health"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    version: Mapped[str] = mapped_column(String(32))
    owner: Mapped[str] = mapped_column(String(64))
    registered_by: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(Text)
    risk_tier: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(16))
    health: Mapped[str] = mapped_column(String(16))
    review_required: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    stage_changed_at: Mapped[datetime]
    last_activity_at: Mapped[datetime]
    source_uri: Mapped[str] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(String(64))
    experiment_id: Mapped[str | None] = mapped_column(String(64))
    lineage: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fingerprint: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fingerprint_digest: Mapped[str] = mapped_column(String(64), index=True)

    model: Mapped[Model] = relationship(back_populates="versions", lazy="joined")

    @property
    def model_name(self) -> str:
        return self.model.name

    @property
    def label(self) -> str:
        return f"{self.model.name}/{self.version}"


class StageChange(Base):
    __tablename__ = "stage_changes"
    # The lifecycle only moves forward, so a version enters each stage at most once: two
    # racing promotions to the same stage cannot both commit.
    __table_args__ = (
        UniqueConstraint("version_id", "to_stage", name="uq_stage_entered_once"),
        CheckConstraint(lifecycle_moves_sql(), name="ck_stage_change_move"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    from_stage: Mapped[str | None] = mapped_column(String(16))
    to_stage: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]
    audit_seq: Mapped[int] = mapped_column(Integer)


class ModelCard(Base):
    __tablename__ = "model_cards"
    __table_args__ = (UniqueConstraint("version_id", "revision", name="uq_card_revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))


class ReferenceDataset(Base):
    __tablename__ = "reference_datasets"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    path: Mapped[str] = mapped_column(Text)
    original_name: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    columns: Mapped[dict[str, Any]] = mapped_column(JSON)  # column -> {"kind", "dtype"}
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    # Given at `models reference --data-grade`; None where it was not (older rows too).
    data_grade: Mapped[str | None] = mapped_column(String(16), default=None)
    sensitive: Mapped[bool | None] = mapped_column(default=None)


class ApprovalRequest(Base):
    __tablename__ = "approval_requests"
    __table_args__ = (
        # registered_by/owner are copies of the version's, checked by the database.
        ForeignKeyConstraint(
            ["version_id", "registered_by", "owner"],
            ["model_versions.id", "model_versions.registered_by", "model_versions.owner"],
            name="fk_request_version_makers",
        ),
        UniqueConstraint("id", "requested_by", "registered_by", "owner", name="uq_request_makers"),
        CheckConstraint(one_of("state", REQUEST_STATES), name="ck_request_state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    requested_by: Mapped[str] = mapped_column(String(64))
    registered_by: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    snapshot_hash: Mapped[str] = mapped_column(String(64))
    approvals_required: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))  # pending/approved/rejected/expired/void
    expires_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[str | None] = mapped_column(Text)
    decisions: Mapped[list[ApprovalDecision]] = relationship(
        back_populates="request",
        lazy="selectin",
        order_by="ApprovalDecision.id",
        foreign_keys="ApprovalDecision.request_id",
    )


class ApprovalDecision(Base):
    __tablename__ = "approval_decisions"
    __table_args__ = (
        UniqueConstraint("request_id", "approver", name="uq_decision_approver"),
        # Maker-checker in the database: the approver is none of the request's makers, and
        # the copies of the makers' names are checked against the request (and through it
        # against the version), so they cannot be faked to pass the check.
        ForeignKeyConstraint(
            ["request_id", "requested_by", "registered_by", "owner"],
            [
                "approval_requests.id",
                "approval_requests.requested_by",
                "approval_requests.registered_by",
                "approval_requests.owner",
            ],
            name="fk_decision_request_makers",
        ),
        CheckConstraint(NOT_MAKER_SQL, name="ck_decision_not_maker"),
        CheckConstraint(one_of("decision", DECISIONS), name="ck_decision_value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("approval_requests.id"), index=True)
    approver: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))  # approve / reject
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]
    requested_by: Mapped[str] = mapped_column(String(64))
    registered_by: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(64))
    request: Mapped[ApprovalRequest] = relationship(
        back_populates="decisions", foreign_keys=[request_id]
    )


class AuditEvent(Base):
    """Append-only. Written only by mlgov.governance.audit.append_event.

    The database keeps the sequence gap-free and linked: event 1 starts at the genesis hash,
    every later event names seq - 1 as prev_seq, and (prev_seq, prev_hash) must be an existing
    event's (seq, hash). prev_seq is not hashed: the canonical form is unchanged.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        UniqueConstraint("seq", "hash", name="uq_audit_seq_hash"),
        UniqueConstraint("prev_seq", name="uq_audit_prev_seq"),
        ForeignKeyConstraint(
            ["prev_seq", "prev_hash"],
            ["audit_events.seq", "audit_events.hash"],
            name="fk_audit_prev",
        ),
        CheckConstraint(AUDIT_LINK_SQL, name="ck_audit_link"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(256), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    prev_seq: Mapped[int | None] = mapped_column(Integer)


class AuditHead(Base):
    """One row: the lock appenders take, and where the chain's head is said to be."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class DriftRecord(Base):
    """One drift check of a version: its decision, per-column tests and report files."""

    __tablename__ = "drift_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(16))  # check (pre-deployment) / monitor
    engine: Mapped[str] = mapped_column(String(16))
    reference_sha256: Mapped[str] = mapped_column(String(64))
    current_sha256: Mapped[str] = mapped_column(String(64))
    current_source: Mapped[str] = mapped_column(Text)
    reference_rows: Mapped[int] = mapped_column(Integer)
    current_rows: Mapped[int] = mapped_column(Integer)
    share_threshold: Mapped[float]
    drifted_share: Mapped[float]
    drift_detected: Mapped[bool] = mapped_column(Boolean)
    health: Mapped[str | None] = mapped_column(String(16))
    columns: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"tests": [...]} per column
    quality: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"findings": [...]}
    sample: Mapped[int | None] = mapped_column(Integer)
    seed: Mapped[int | None] = mapped_column(Integer)
    report_html: Mapped[str | None] = mapped_column(Text)
    report_json: Mapped[str | None] = mapped_column(Text)
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]


class PerformanceRecord(Base):
    """One performance window of a version: served predictions joined to their outcomes,
    the metrics against training's, and the health they gave."""

    __tablename__ = "performance_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    target: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    task: Mapped[str] = mapped_column(String(16))
    rows: Mapped[int] = mapped_column(Integer)
    unmatched_labels: Mapped[int] = mapped_column(Integer)
    labels_sha256: Mapped[str] = mapped_column(String(64))
    id_column: Mapped[str] = mapped_column(Text)
    # {"observed": {...}, "training": {...}, "decay": {...}, "levels": {...}}
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    window_health: Mapped[str] = mapped_column(String(16))
    health: Mapped[str] = mapped_column(String(16))
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]


class Deployment(Base):
    """A version serving on a target. One active row per target; the rest is history."""

    __tablename__ = "deployments"

    id: Mapped[int] = mapped_column(primary_key=True)
    target: Mapped[str] = mapped_column(String(128), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    bento_model_tag: Mapped[str] = mapped_column(String(256))
    bento_tag: Mapped[str | None] = mapped_column(String(256))
    manifest_path: Mapped[str] = mapped_column(Text)
    fingerprint_digest: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(
        String(16)
    )  # active/superseded/rolled_back/undeployed/retired
    deployed_at: Mapped[datetime]
    deployed_by: Mapped[str] = mapped_column(String(64))
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("deployments.id"))
    verified_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    ended_by: Mapped[str | None] = mapped_column(String(64))
    end_reason: Mapped[str | None] = mapped_column(Text)


class StoreIdentity(Base):
    """One row, written by migration 0004: the random id signed audit checkpoints name."""

    __tablename__ = "store_identity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    database_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class Operation(Base):
    """A move that writes outside the database (MLflow, serving status files).

    The row is committed as `pending` before the first outside write, the outside writes carry
    its id, and it becomes `completed` in the transaction of the move's stage change and audit
    event. A row still pending after a crash tells `mlgov reconcile` what to finish or undo.
    """

    __tablename__ = "operations"
    __table_args__ = (
        # At most one pending operation per version, whatever the race.
        Index(
            "uq_operation_pending_version",
            "version_id",
            unique=True,
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # register/promote/deploy/retire/approve/rollback/undeploy/suspend
    kind: Mapped[str] = mapped_column(String(16))
    # None only while a registration is pending: its version row does not exist yet.
    version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"), index=True)
    subject: Mapped[str] = mapped_column(String(256))
    actor: Mapped[str] = mapped_column(String(64))
    from_stage: Mapped[str | None] = mapped_column(String(16))  # None: a registration
    to_stage: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), index=True)  # pending/completed/aborted
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    ended_by: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(Text)
    audit_seq: Mapped[int | None] = mapped_column(Integer)


class PolicyVersion(Base):
    """Each policy an admin has put in force; the newest row is the policy in force.

    Rows are only added (`mlgov policy set`), each with its `policy.set` audit event in the
    same transaction; the event carries the digests, so an edited row is a disagreement.
    """

    __tablename__ = "policy_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document: Mapped[str] = mapped_column(Text)  # the TOML as given
    document_sha256: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))  # of the effective policy (Policy.digest)
    source: Mapped[str] = mapped_column(String(256))  # the file name given, for people
    set_at: Mapped[datetime]
    set_by: Mapped[str] = mapped_column(String(64))
    audit_seq: Mapped[int] = mapped_column(Integer)


class ApiToken(Base):
    """A personal access token: only its hash is kept; the secret is shown once, at creation.

    The `token.create` audit event carries the hash, so a row an insider adds or edits
    authenticates nobody (see governance/tokens.py).
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)  # looked up, not secret
    secret_sha256: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    audit_seq: Mapped[int] = mapped_column(Integer)
    user: Mapped[User] = relationship(lazy="selectin")


class IdempotencyKey(Base):
    """A state-changing server request sent with an `Idempotency-Key` header: claimed
    (`in_progress`) before its work runs, `done` with the answer it gave once it succeeded.

    Transport bookkeeping, not governance state: no audit event is written for a row, and
    rows older than the retention are deleted (governance/idempotency.py).
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("principal", "key", name="uq_idempotency_principal_key"),
        CheckConstraint(one_of("state", IDEMPOTENCY_STATES), name="ck_idempotency_state"),
        CheckConstraint(IDEMPOTENCY_DONE_SQL, name="ck_idempotency_done"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    principal: Mapped[str] = mapped_column(String(64))  # the authenticated user's name
    key: Mapped[str] = mapped_column(String(200))  # as the client sent it
    request_sha256: Mapped[str] = mapped_column(String(64))  # method, path, query and body
    state: Mapped[str] = mapped_column(String(16))  # in_progress / done
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_json: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(index=True)  # when the current attempt claimed
    completed_at: Mapped[datetime | None]


class TargetClaim(Base):
    """A serving target being changed (deploy with its build, rollback, undeploy): at most one
    change per target at a time, across processes and hosts. A lease: a claim past
    `expires_at` belongs to a move that died and is taken over.

    Coordination, not governance state: the change itself is audited; the claim is not."""

    __tablename__ = "target_claims"

    target: Mapped[str] = mapped_column(String(64), primary_key=True)
    claim_id: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(200))  # e.g. "deploy of credit/3"
    holder: Mapped[str] = mapped_column(String(200))  # host and pid, for the operator
    claimed_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class UserPassword(Base):
    """A console password, kept only as an argon2id hash. `user.password_set` and
    `user.password_change` audit events carry the SHA-256 of the hash string (useless for
    guessing without the hash and its salt), so a row an insider edits signs nobody in."""

    __tablename__ = "user_passwords"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    hash: Mapped[str] = mapped_column(String(256))
    must_change: Mapped[bool] = mapped_column(Boolean)
    set_at: Mapped[datetime]
    set_by: Mapped[str] = mapped_column(String(64))
    audit_seq: Mapped[int] = mapped_column(Integer)
    user: Mapped[User] = relationship(lazy="selectin")


class ConsoleSession(Base):
    """A signed-in console session. `id` is the SHA-256 of the cookie's secret: the secret
    itself is never stored. Ended (sign-out, timeout) sessions are kept, with the time."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    csrf_token: Mapped[str] = mapped_column(String(64))
    # How the user was identified at sign-in: "password", or "proxy" (the bank's SSO proxy).
    method: Mapped[str] = mapped_column(String(16))
    ended_at: Mapped[datetime | None]
    audit_seq: Mapped[int] = mapped_column(Integer)
    user: Mapped[User] = relationship(lazy="selectin")


# Findings (migration 0012): problems found in validation or production, tracked to closure.
FINDING_SEVERITIES = ("critical", "high", "medium", "low")
FINDING_STATES = ("open", "closed", "accepted")
FINDING_TYPES = ("validation_issue", "policy_exception", "limitation")


class Finding(Base):
    """One finding on a version, or on the whole model when `version_id` is NULL.

    `state` is what was last recorded; an acceptance past `accepted_until` reads as open
    (governance/findings.py) until a sweep records the reopening."""

    __tablename__ = "findings"
    __table_args__ = (
        CheckConstraint(one_of("severity", FINDING_SEVERITIES), name="ck_finding_severity"),
        CheckConstraint(one_of("state", FINDING_STATES), name="ck_finding_state"),
        CheckConstraint(one_of("type", FINDING_TYPES), name="ck_finding_type"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), index=True)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    source: Mapped[str] = mapped_column(String(32))  # manual, drift, health, review...
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    due_at: Mapped[datetime]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(64))
    resolution: Mapped[str | None] = mapped_column(Text)
    # Each acceptance is a round of votes; a reopening starts the next round.
    acceptance_round: Mapped[int] = mapped_column(Integer)
    accepted_until: Mapped[datetime | None]
    overdue_notified_at: Mapped[datetime | None]
    model: Mapped[Model] = relationship(lazy="joined")
    version: Mapped[ModelVersion | None] = relationship(lazy="joined")


class FindingComment(Base):
    __tablename__ = "finding_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id"), index=True)
    author: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    text: Mapped[str] = mapped_column(Text)


class FindingAcceptance(Base):
    """One risk officer's vote to accept a finding's risk until a date (a quorum accepts)."""

    __tablename__ = "finding_acceptances"
    __table_args__ = (
        UniqueConstraint("finding_id", "round", "approver", name="uq_finding_acceptance_vote"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    approver: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    until: Mapped[datetime]
    at: Mapped[datetime]
