"""Findings over HTTP: open, list, show, assign, comment on, close and accept their risk."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from mlgov.api import findings as findings_api
from mlgov.server.deps import ROW_ID, AuthenticatedRoute, Body, Plat, Who
from mlgov.server.idempotency import Idem

router = APIRouter(route_class=AuthenticatedRoute)
FINDING = "/findings/{finding_id}"


class NewFinding(Body):
    """`version` omitted: the finding is on the whole model."""

    model: str
    version: str | None = None
    severity: str
    title: str
    type: str = "validation_issue"
    owner: str | None = None
    due: str | None = None
    description: str | None = None


class Assignment(Body):
    owner: str


class NewComment(Body):
    text: str


class Closing(Body):
    resolution: str


class Acceptance(Body):
    reason: str
    until: str


@router.post("/findings", status_code=201)
def open_finding(p: Plat, who: Who, body: NewFinding, idem: Idem) -> Any:
    def work() -> Any:
        return findings_api.open_finding(
            p,
            who,
            body.model,
            body.version,
            severity=body.severity,
            title=body.title,
            type=body.type,
            owner=body.owner,
            due=body.due,
            description=body.description,
        ).to_json()

    return idem.run(p, who, body, work)


@router.get("/findings")
def list_findings(
    p: Plat,
    who: Who,
    open_only: Annotated[bool, Query(alias="open")] = False,
    mine: bool = False,
    overdue: bool = False,
    model: str | None = None,
) -> Any:
    return findings_api.list_findings(
        p, who, open_only=open_only, mine=mine, overdue=overdue, model=model
    ).to_json()


@router.get(FINDING)
def show_finding(p: Plat, who: Who, finding_id: Annotated[int, ROW_ID]) -> Any:
    return findings_api.show_finding(p, who, finding_id).to_json()


@router.post(f"{FINDING}/assignment")
def assign_finding(
    p: Plat, who: Who, finding_id: Annotated[int, ROW_ID], body: Assignment, idem: Idem
) -> Any:
    return idem.run(
        p,
        who,
        body,
        lambda: findings_api.assign_finding(p, who, finding_id, body.owner).to_json(),
    )


@router.post(f"{FINDING}/comments", status_code=201)
def comment_finding(
    p: Plat, who: Who, finding_id: Annotated[int, ROW_ID], body: NewComment, idem: Idem
) -> Any:
    return idem.run(
        p,
        who,
        body,
        lambda: findings_api.comment_finding(p, who, finding_id, body.text).to_json(),
    )


@router.post(f"{FINDING}/closing")
def close_finding(
    p: Plat, who: Who, finding_id: Annotated[int, ROW_ID], body: Closing, idem: Idem
) -> Any:
    def work() -> Any:
        return findings_api.close_finding(p, who, finding_id, resolution=body.resolution).to_json()

    return idem.run(p, who, body, work)


@router.post(f"{FINDING}/acceptances", status_code=201)
def accept_finding(
    p: Plat, who: Who, finding_id: Annotated[int, ROW_ID], body: Acceptance, idem: Idem
) -> Any:
    def work() -> Any:
        return findings_api.accept_finding(
            p, who, finding_id, reason=body.reason, until=body.until
        ).to_json()

    return idem.run(p, who, body, work)
