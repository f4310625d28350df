"""Remote twin of mlgov.api.approvals."""

from __future__ import annotations

from mlgov.api.actor import Actor
from mlgov.api.approvals import (
    ApprovalRequestDetail,
    ApprovalRequestList,
    ApprovalRequestRecord,
    BindingCheck,
)
from mlgov.api.results import revive
from mlgov.client._paths import version_path
from mlgov.client.connection import ServerConnection


def request_approval(
    conn: ServerConnection, actor: Actor, model: str, version: str, *, note: str | None = None
) -> ApprovalRequestRecord:
    data = conn.post(f"{version_path(model, version)}/approval-requests", {"note": note})
    return revive(ApprovalRequestRecord, data)


def decide(
    conn: ServerConnection,
    actor: Actor,
    model: str,
    version: str,
    *,
    approve: bool,
    comment: str | None = None,
) -> ApprovalRequestRecord:
    body = {"decision": "approve" if approve else "reject", "comment": comment}
    data = conn.post(f"{version_path(model, version)}/approval-request/decisions", body)
    return revive(ApprovalRequestRecord, data)


def list_requests(
    conn: ServerConnection, actor: Actor, *, pending: bool = False, mine: bool = False
) -> ApprovalRequestList:
    return revive(ApprovalRequestList, conn.get("/approval-requests", pending=pending, mine=mine))


def show_request(
    conn: ServerConnection, actor: Actor, model: str, version: str
) -> ApprovalRequestDetail:
    data = conn.get(f"{version_path(model, version)}/approval-request")
    return revive(ApprovalRequestDetail, data)


def verify_binding(conn: ServerConnection, actor: Actor, model: str, version: str) -> BindingCheck:
    return revive(BindingCheck, conn.get(f"{version_path(model, version)}/approval-binding"))
