"""The governance database, as SQLAlchemy 2.x typed ORM. Portable SQL only (SQLite now,
PostgreSQL for the multi-user deployment). Times are stored as UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


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
    __table_args__ = (UniqueConstraint("model_id", "version", name="uq_model_version"),)

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
    fingerprint_digest: Mapped[str] = mapped_column(String(64))

    model: Mapped[Model] = relationship(back_populates="versions", lazy="joined")

    @property
    def model_name(self) -> str:
        return self.model.name

    @property
    def label(self) -> str:
        return f"{self.model.name}/{self.version}"


class StageChange(Base):
    __tablename__ = "stage_changes"

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


class ApprovalRequest(Base):
    __tablename__ = "approval_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    requested_by: Mapped[str] = mapped_column(String(64))
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
        back_populates="request", lazy="selectin", order_by="ApprovalDecision.id"
    )


class ApprovalDecision(Base):
    __tablename__ = "approval_decisions"
    __table_args__ = (UniqueConstraint("request_id", "approver", name="uq_decision_approver"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("approval_requests.id"), index=True)
    approver: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))  # approve / reject
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]
    request: Mapped[ApprovalRequest] = relationship(back_populates="decisions")


class AuditEvent(Base):
    """Append-only. Written only by mlgov.governance.audit.append_event."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(256), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


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
    kind: Mapped[str] = mapped_column(String(16))  # promote / deploy / retire / approve
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    subject: Mapped[str] = mapped_column(String(256))
    actor: Mapped[str] = mapped_column(String(64))
    from_stage: Mapped[str] = mapped_column(String(16))
    to_stage: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), index=True)  # pending/completed/aborted
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    ended_by: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(Text)
    audit_seq: Mapped[int | None] = mapped_column(Integer)
