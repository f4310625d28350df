"""Remote twin of mlgov.api.findings."""

from __future__ import annotations

from mlgov.api.actor import Actor
from mlgov.api.findings import FindingDetail, FindingList
from mlgov.api.results import revive
from mlgov.client._paths import seg
from mlgov.client.connection import ServerConnection


def _path(finding_id: int) -> str:
    return f"/findings/{seg(finding_id)}"


def open_finding(
    conn: ServerConnection,
    actor: Actor,
    model: str,
    version: str | None = None,
    *,
    severity: str,
    title: str,
    type: str = "validation_issue",
    owner: str | None = None,
    due: str | None = None,
    description: str | None = None,
) -> FindingDetail:
    body = {
        "model": model,
        "version": version,
        "severity": severity,
        "title": title,
        "type": type,
        "owner": owner,
        "due": due,
        "description": description,
    }
    return revive(FindingDetail, conn.post("/findings", body))


def list_findings(
    conn: ServerConnection,
    actor: Actor,
    *,
    open_only: bool = False,
    mine: bool = False,
    overdue: bool = False,
    model: str | None = None,
) -> FindingList:
    data = conn.get("/findings", open=open_only, mine=mine, overdue=overdue, model=model)
    return revive(FindingList, data)


def show_finding(conn: ServerConnection, actor: Actor, finding_id: int) -> FindingDetail:
    return revive(FindingDetail, conn.get(_path(finding_id)))


def assign_finding(
    conn: ServerConnection, actor: Actor, finding_id: int, owner: str
) -> FindingDetail:
    data = conn.post(f"{_path(finding_id)}/assignment", {"owner": owner})
    return revive(FindingDetail, data)


def comment_finding(
    conn: ServerConnection, actor: Actor, finding_id: int, text: str
) -> FindingDetail:
    return revive(FindingDetail, conn.post(f"{_path(finding_id)}/comments", {"text": text}))


def close_finding(
    conn: ServerConnection, actor: Actor, finding_id: int, *, resolution: str
) -> FindingDetail:
    data = conn.post(f"{_path(finding_id)}/closing", {"resolution": resolution})
    return revive(FindingDetail, data)


def accept_finding(
    conn: ServerConnection, actor: Actor, finding_id: int, *, reason: str, until: str
) -> FindingDetail:
    data = conn.post(f"{_path(finding_id)}/acceptances", {"reason": reason, "until": until})
    return revive(FindingDetail, data)
