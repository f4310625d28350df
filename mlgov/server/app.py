"""The FastAPI application: each route authenticates, calls one mlgov.api function, answers
its result's `to_json()` (the same shape as the CLI's `--format json`)."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from pydantic import Field
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException

from mlgov.api import approvals as approvals_api
from mlgov.api import audit as audit_api
from mlgov.api import deployments as deployments_api
from mlgov.api import errors
from mlgov.api import models as models_api
from mlgov.api import monitoring as monitoring_api
from mlgov.api import policy as policy_api
from mlgov.api import reports as reports_api
from mlgov.api import tokens as tokens_api
from mlgov.api import users as users_api
from mlgov.config import Settings
from mlgov.server import evidence_routes, finding_routes, lifecycle_routes, oidc
from mlgov.server.auth import FailureThrottle, TooManyFailures
from mlgov.server.console import router as console_router
from mlgov.server.cursors import Page, Pages, SortKey, page_after
from mlgov.server.deps import BEARER, ROW_ID, AuthenticatedRoute, Body, Plat, Who
from mlgov.server.idempotency import Idem
from mlgov.server.problems import PROBLEM_JSON, PROBLEM_RESPONSES, from_error, problem
from mlgov.server.request_ids import RequestIds

log = logging.getLogger("mlgov.server")
PREFIX = "/api/v1"


class NewUser(Body):
    name: str
    roles: list[str] = Field(min_length=1)


class NewToken(Body):
    user: str
    name: str | None = None
    expires_days: int = 90


class PolicyDocument(Body):
    document: str = Field(max_length=1024 * 1024)
    source: str = Field(default="upload", pattern=r"^[A-Za-z0-9._ -]{1,200}$")


class Move(Body):
    to: str
    reason: str | None = None


class NewApprovalRequest(Body):
    note: str | None = None


class Decision(Body):
    decision: Literal["approve", "reject"]
    comment: str | None = None


class NewDeployment(Body):
    model: str
    version: str
    target: str | None = None


class Undeploy(Body):
    reason: str | None = None


def _version_key(row: dict[str, Any]) -> SortKey:
    """Versions listed by model name, then version number (the order the store gives)."""
    version = str(row["version"])
    return (row["model"], int(version) if version.isdigit() else 0)


def _problem_response(status: int, body: dict[str, Any], **headers: str) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def create_app(
    settings: Callable[[], Settings],
    *,
    throttle: FailureThrottle | None = None,
    verifier: oidc.Verifier | None = None,
) -> FastAPI:
    """`settings` is called once per request: each request opens its own platform, so the
    policy in force and every row are read fresh, and nothing is shared between threads.
    `verifier` (OIDC on) checks JWTs from the identity provider; its key cache is shared."""
    app = FastAPI(
        title="mlgov governance server",
        version=_version(),
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
        responses=PROBLEM_RESPONSES,
        # Documents the bearer scheme on every operation (AuthenticatedRoute does the checking).
        dependencies=[BEARER],
    )
    # Every operation authenticates before its input is read (AuthenticatedRoute).
    app.router.route_class = AuthenticatedRoute
    app.state.settings = settings
    app.state.throttle = throttle or FailureThrottle()
    app.add_middleware(RequestIds)
    app.state.oidc = verifier

    @app.exception_handler(errors.MlgovError)
    def _domain_error(_request: Request, exc: errors.MlgovError) -> JSONResponse:
        status, body = from_error(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
        return _problem_response(status, body, **headers)

    @app.exception_handler(TooManyFailures)
    def _throttled(_request: Request, exc: TooManyFailures) -> JSONResponse:
        body = problem(429, "too many requests", str(exc))
        return _problem_response(429, body, **{"Retry-After": str(exc.retry_after)})

    @app.exception_handler(RequestValidationError)
    def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # Name the field and the problem, never the value given (it may be personal data).
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()
        ]
        detail = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
        return _problem_response(422, problem(422, "invalid request", detail, errors=problems))

    @app.exception_handler(StarletteHTTPException)
    def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Its headers too: a 405 says which methods the path allows (Allow).
        return _problem_response(
            exc.status_code,
            problem(exc.status_code, str(exc.detail), str(exc.detail)),
            **(exc.headers or {}),
        )

    @app.exception_handler(Exception)
    def _internal(request: Request, exc: Exception) -> JSONResponse:
        rid = getattr(request.state, "request_id", "-")
        log.error("internal error in request %s: %s", rid, type(exc).__name__)
        body = problem(
            500, "internal error", "the server failed; its log has the details", request_id=rid
        )
        return _problem_response(500, body)

    # --- identity, users, tokens, policy ----------------------------------------------------

    @app.get(f"{PREFIX}/whoami")
    def whoami(p: Plat, who: Who) -> Any:
        return users_api.whoami(p, who).to_json() | {
            "identified_by": who.identified_by.value,
            "credential": who.credential,
        }

    @app.get(f"{PREFIX}/users")
    def list_users(p: Plat, who: Who, pages: Pages, include_removed: bool = False) -> Any:
        rows = users_api.list_users(p, who, include_removed=include_removed).to_json()
        return pages.respond(rows, key=lambda r: (r["name"],))

    @app.post(f"{PREFIX}/users", status_code=201)
    def add_user(p: Plat, who: Who, body: NewUser, idem: Idem) -> Any:
        return idem.run(
            p, who, body, lambda: users_api.add_user(p, who, body.name, body.roles).to_json()
        )

    @app.delete(f"{PREFIX}/users/{{name}}")
    def remove_user(p: Plat, who: Who, name: str, idem: Idem) -> Any:
        return idem.run(p, who, None, lambda: users_api.remove_user(p, who, name).to_json())

    @app.get(f"{PREFIX}/tokens")
    def list_tokens(p: Plat, who: Who, pages: Pages, user: str | None = None) -> Any:
        rows = tokens_api.list_tokens(p, who, user=user).to_json()
        return pages.respond(rows, key=lambda r: (r["id"],))

    @app.post(f"{PREFIX}/tokens", status_code=201)
    def create_token(p: Plat, who: Who, body: NewToken, idem: Idem) -> Any:
        idem.refuse(
            "a replay would have to keep and send the token's secret again; retry "
            "without it, and revoke any token whose secret you did not receive"
        )
        created = tokens_api.create_token(p, who, body.user, name=body.name, days=body.expires_days)
        return created.to_json()

    @app.delete(f"{PREFIX}/tokens/{{token_id}}")
    def revoke_token(p: Plat, who: Who, token_id: Annotated[int, ROW_ID], idem: Idem) -> Any:
        return idem.run(p, who, None, lambda: tokens_api.revoke_token(p, who, token_id).to_json())

    @app.get(f"{PREFIX}/policy")
    def show_policy(p: Plat, who: Who, tier: str | None = None) -> Any:
        return policy_api.show_policy(p, who, tier=tier).to_json()

    @app.put(f"{PREFIX}/policy")
    def set_policy(p: Plat, who: Who, body: PolicyDocument, idem: Idem) -> Any:
        # Recorded as sent over HTTP, under the name the client gave its file.
        source = f"http:{body.source}"
        return idem.run(
            p,
            who,
            body,
            lambda: policy_api.set_policy_document(p, who, body.document, source=source).to_json(),
        )

    @app.get(f"{PREFIX}/policy/history")
    def policy_history(p: Plat, who: Who, pages: Pages) -> Any:
        rows = policy_api.policy_history(p, who).to_json()
        return pages.respond(rows, key=lambda r: (r["id"],))

    # --- models and versions -----------------------------------------------------------------

    @app.get(f"{PREFIX}/models")
    def list_versions(
        p: Plat,
        who: Who,
        pages: Pages,
        stage: str | None = None,
        tier: str | None = None,
        owner: str | None = None,
    ) -> Any:
        rows = models_api.list_versions(p, who, stage=stage, tier=tier, owner=owner).to_json()
        # Answered as JSON already: FastAPI's encoder would walk the rows again.
        return pages.respond(rows, key=_version_key)

    @app.get(f"{PREFIX}/models/{{model}}")
    def show_model(p: Plat, who: Who, model: str) -> Any:
        return models_api.show(p, who, model).to_json()

    @app.get(f"{PREFIX}/models/{{model}}/versions/{{version}}")
    def show_version(p: Plat, who: Who, model: str, version: str) -> Any:
        return models_api.show(p, who, model, version).to_json()

    @app.get(f"{PREFIX}/models/{{model}}/versions/{{version}}/gate")
    def check_gate(p: Plat, who: Who, model: str, version: str, to: Annotated[str, Query()]) -> Any:
        return models_api.check_gate(p, who, model, version, to=to).to_json()

    @app.post(f"{PREFIX}/models/{{model}}/versions/{{version}}/moves")
    def move(p: Plat, who: Who, model: str, version: str, body: Move, idem: Idem) -> Any:
        return idem.run(
            p,
            who,
            body,
            lambda: models_api.move(
                p, who, model, version, to=body.to, reason=body.reason
            ).to_json(),
        )

    # --- approvals ---------------------------------------------------------------------------
    # A version has at most one live request, so a request is addressed through its version.

    version_path = f"{PREFIX}/models/{{model}}/versions/{{version}}"

    @app.post(f"{version_path}/approval-requests", status_code=201)
    def request_approval(
        p: Plat, who: Who, model: str, version: str, body: NewApprovalRequest, idem: Idem
    ) -> Any:
        return idem.run(
            p,
            who,
            body,
            lambda: approvals_api.request_approval(
                p, who, model, version, note=body.note
            ).to_json(),
        )

    @app.get(f"{version_path}/approval-request")
    def show_request(p: Plat, who: Who, model: str, version: str) -> Any:
        return approvals_api.show_request(p, who, model, version).to_json()

    @app.post(f"{version_path}/approval-request/decisions")
    def decide(p: Plat, who: Who, model: str, version: str, body: Decision, idem: Idem) -> Any:
        approve = body.decision == "approve"
        return idem.run(
            p,
            who,
            body,
            lambda: approvals_api.decide(
                p, who, model, version, approve=approve, comment=body.comment
            ).to_json(),
        )

    @app.get(f"{version_path}/approval-binding")
    def verify_binding(p: Plat, who: Who, model: str, version: str) -> Any:
        return approvals_api.verify_binding(p, who, model, version).to_json()

    @app.get(f"{PREFIX}/approval-requests")
    def list_requests(
        p: Plat, who: Who, pages: Pages, pending: bool = False, mine: bool = False
    ) -> Any:
        rows = approvals_api.list_requests(p, who, pending=pending, mine=mine).to_json()
        return pages.respond(rows, key=lambda r: (r["id"],))

    # --- deployments -------------------------------------------------------------------------
    # Building the service and switching the target happen here; the BentoML process that
    # answers /predict is started on the server's host with `mlgov serve TARGET`.

    @app.get(f"{PREFIX}/deployments")
    def list_deployments(p: Plat, who: Who, pages: Pages, all_states: bool = False) -> Any:
        rows = deployments_api.list_deployments(p, who, all_states=all_states).to_json()
        return pages.respond(rows, key=lambda r: (r["target"], r["id"]))

    @app.post(f"{PREFIX}/deployments", status_code=201)
    def deploy(p: Plat, who: Who, body: NewDeployment, idem: Idem) -> Any:
        return idem.run(
            p,
            who,
            body,
            lambda: deployments_api.deploy(
                p, who, body.model, body.version, target=body.target
            ).to_json(),
        )

    @app.post(f"{PREFIX}/targets/{{target}}/rollback")
    def rollback(p: Plat, who: Who, target: str, idem: Idem) -> Any:
        return idem.run(p, who, None, lambda: deployments_api.rollback(p, who, target).to_json())

    @app.post(f"{PREFIX}/targets/{{target}}/undeploy")
    def undeploy(p: Plat, who: Who, target: str, body: Undeploy, idem: Idem) -> Any:
        return idem.run(
            p,
            who,
            body,
            lambda: deployments_api.undeploy(p, who, target, reason=body.reason).to_json(),
        )

    # --- inventory, monitoring, audit -------------------------------------------------------

    @app.get(f"{PREFIX}/inventory")
    def inventory(
        p: Plat, who: Who, pages: Pages, at: str | None = None, stage: str | None = None
    ) -> Any:
        rows = reports_api.inventory(p, who, at=at, stage=stage).to_json()
        return pages.respond(rows, key=_version_key)

    @app.get(f"{version_path}/drift-checks")
    def drift_history(p: Plat, who: Who, pages: Pages, model: str, version: str) -> Any:
        rows = monitoring_api.drift_history(p, who, model, version).to_json()
        return pages.respond(rows, key=lambda r: (r["result_id"],))

    @app.post(f"{PREFIX}/monitoring/runs")
    def monitoring_run(p: Plat, who: Who, idem: Idem, model: str | None = None) -> Any:
        return idem.run(
            p, who, None, lambda: monitoring_api.run_monitoring(p, who, model=model).to_json()
        )

    @app.get(f"{PREFIX}/audit/events")
    def audit_events(
        p: Plat,
        who: Who,
        model: str | None = None,
        since: str | None = None,
        action: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: str | None = None,
    ) -> Page:
        events = audit_api.audit_log(p, who, model=model, since=since, action=action).events
        return page_after(
            [e.to_json() for e in events], key=lambda e: int(e["seq"]), limit=limit, cursor=cursor
        )

    @app.get(f"{PREFIX}/audit/verification")
    def audit_verify(p: Plat, who: Who, head: str | None = None) -> Any:
        return audit_api.verify(p, who, head=head).to_json()

    @app.get(f"{PREFIX}/audit/export", response_class=FileResponse)
    def audit_export(p: Plat, who: Who) -> FileResponse:
        """Every event as JSON Lines; the headers give the count and the head hash to keep."""
        p.settings.uploads_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="audit-", dir=p.settings.uploads_dir))
        try:
            done = audit_api.export(p, who, work / "audit.jsonl")
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        return FileResponse(
            done.file,
            media_type="application/jsonl",
            filename="audit.jsonl",
            headers={
                "X-Mlgov-Events": str(done.events),
                "X-Mlgov-Head-Hash": done.head_hash,
                "Cache-Control": "no-store",
            },
            background=BackgroundTask(shutil.rmtree, work, ignore_errors=True),
        )

    @app.post(f"{PREFIX}/audit/checkpoints", status_code=201)
    def audit_checkpoint(p: Plat, who: Who, idem: Idem) -> Any:
        return idem.run(p, who, None, lambda: audit_api.write_checkpoint(p, who).to_json())

    for router in (lifecycle_routes.router, evidence_routes.router, finding_routes.router):
        app.include_router(
            router, prefix=PREFIX, responses=PROBLEM_RESPONSES, dependencies=[BEARER]
        )
    app.include_router(console_router)  # the web console at / (mlgov/server/console)
    return app


def _version() -> str:
    from importlib.metadata import version

    return version("mlgov")


def create_app_from_environment() -> FastAPI:
    """For `uvicorn --factory` with several workers: settings from MLGOV_HOME and friends."""
    from mlgov.config import load_oidc_settings, load_settings

    home = os.environ.get("MLGOV_HOME")
    configured = load_oidc_settings()
    verifier = oidc.verifier(configured) if configured else None
    return create_app(lambda: load_settings(home=home), verifier=verifier)
