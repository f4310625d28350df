"""The console's pages. Each route proves the session, calls mlgov.api (the same functions as
the REST API and the CLI), and renders a template; every POST checks the form's CSRF token
first and answers with a redirect (POST-redirect-GET) or the page with the refusal on it.

Security headers are set on every response of this router (see `_ConsoleRoute`); errors are
rendered here as pages, never as tracebacks, and never with a password or a session secret.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, select_autoescape

from mlgov.api import Identification, Platform, errors
from mlgov.api import approvals as approvals_api
from mlgov.api import models as models_api
from mlgov.api import reports as reports_api
from mlgov.api import sessions as sessions_api
from mlgov.api import users as users_api
from mlgov.server.auth import TooManyFailures
from mlgov.server.console.i18n import LANGUAGES, Translator, negotiate
from mlgov.server.console.inventory_view import HEALTH, TIERS, InventoryFilter, as_csv

log = logging.getLogger("mlgov.server.console")

SESSION_COOKIE = "mlgov_session"
SIGNIN_COOKIE = "mlgov_signin"  # the sign-in form's CSRF token, before any session exists
LANG_COOKIE = "lang"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'"
)
STATIC_TYPES = {
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
# Messages a redirect may ask the next page to show (never free text from the query).
NOTICES = {
    "approved": "Your approval is recorded.",
    "rejected": "Your rejection is recorded.",
    "password": "Your password is changed.",
    "signed_out": "You are signed out.",
    "expired": "Your session has ended: sign in again.",
}

_env = Environment(
    loader=PackageLoader("mlgov.server.console", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _secure_headers(response: Response, *, data: bool = True) -> None:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    if data:
        response.headers["Cache-Control"] = "no-store"


class _ConsoleRoute(APIRoute):
    """Every console response carries the security headers; an error that escapes a route
    (bad form input, a bug) becomes a page, not problem+json or a traceback."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def wrapped(request: Request) -> Response:
            try:
                response = await handler(request)
            except RequestValidationError:
                response = _error_page(request, 400, "The request was not understood.")
            except Exception as exc:  # noqa: BLE001 (the one catch site of the console)
                log.error("console error: %s", type(exc).__name__)
                response = _error_page(request, 500, "The server failed; its log has details.")
            started = getattr(request.state, "new_session", None)
            if started:  # a session the SSO proxy's header began (see _session)
                _set_cookie(request, response, SESSION_COOKIE, started)
            _secure_headers(response, data=not request.url.path.startswith("/static/"))
            return response

        return wrapped


router = APIRouter(route_class=_ConsoleRoute, include_in_schema=False)


# --- helpers --------------------------------------------------------------------------------


def _proxied(request: Request) -> bool:
    """The direct peer is a reverse proxy the settings trust (MLGOV_TRUSTED_PROXIES)."""
    peer = request.client.host if request.client else None
    return peer is not None and peer in request.app.state.settings().trusted_proxies


def _address(request: Request) -> str:
    """The client's address: a trusted proxy's X-Forwarded-For (the hop it saw), else the
    peer's. Throttling and the audit trail use it."""
    if _proxied(request):
        forwarded = request.headers.get("x-forwarded-for", "").split(",")[-1].strip()
        if forwarded:
            return forwarded[:64]
    return request.client.host if request.client else "unknown"


def _https(request: Request) -> bool:
    if request.url.scheme == "https":
        return True
    return _proxied(request) and request.headers.get("x-forwarded-proto", "").lower() == "https"


def _lang(request: Request) -> str:
    return negotiate(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


@contextmanager
def _platform(request: Request) -> Iterator[Platform]:
    yield Platform(request.app.state.settings(), shared_store=True)


def _sso_user(request: Request) -> str | None:
    """The user the bank's SSO proxy names, when that mode is on (MLGOV_CONSOLE_SSO_HEADER)
    and the request comes from a trusted proxy; the header is ignored from anyone else."""
    header = request.app.state.settings().console_sso_header
    if not header or not _proxied(request):
        return None
    return request.headers.get(header, "").strip()[:64] or None


def _session(request: Request, p: Platform) -> sessions_api.ConsoleSession | None:
    secret = getattr(request.state, "new_session", None) or request.cookies.get(SESSION_COOKIE)
    session = None
    if secret:
        try:
            session = sessions_api.authenticate(p, secret)
        except errors.NotAuthenticated:
            session = None
    sso = _sso_user(request)
    if sso is not None and (
        session is None
        or session.actor.name != sso
        or session.actor.identified_by != Identification.PROXY
    ):
        # The proxy vouches for someone else than this session (or there is none): a
        # session of the proxy's user replaces it; the route's response carries the cookie.
        if session is not None and secret:
            sessions_api.sign_out(p, secret)
        peer = request.client.host if request.client else "unknown"
        try:
            started = sessions_api.start_proxied(p, sso, address=_address(request), proxy=peer)
        except errors.NotAuthenticated:
            return None
        request.state.new_session = started.secret
        session = sessions_api.authenticate(p, started.secret)
    if session is not None:
        p.identify(session.actor, address=_address(request))
    return session


def _render(
    request: Request,
    template: str,
    *,
    status: int = 200,
    session: sessions_api.ConsoleSession | None = None,
    **context: Any,
) -> HTMLResponse:
    t = Translator(_lang(request))
    notice = NOTICES.get(request.query_params.get("notice", ""))
    csrf = session.csrf_token if session else context.pop("csrf", "")
    html = _env.get_template(template).render(
        _=t,
        t=t,
        lang=t.lang,
        languages=LANGUAGES,
        me=session.actor.name if session else None,
        must_change=session.must_change if session else False,
        csrf=csrf,
        here=quote(_page_of(request)),
        notice=t(notice) if notice else None,
        **context,
    )
    return HTMLResponse(html, status_code=status)


def _page_of(request: Request) -> str:
    """The page a language switch returns to: the page itself, or for the answer to a POST
    the page its form was on (a POST-only path cannot be fetched)."""
    path = request.url.path
    if request.method == "GET":
        return path
    if path.startswith("/requests/") and path.endswith("/decision"):
        return path[: -len("/decision")]
    return path if path in ("/signin", "/password") else "/"


def _error_page(request: Request, status: int, message: str, detail: str = "") -> HTMLResponse:
    return _render(request, "error.html", status=status, message=message, detail=detail)


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _to_signin(request: Request, notice: str = "") -> RedirectResponse:
    response = _redirect("/signin" + (f"?notice={notice}" if notice else ""))
    if request.cookies.get(SESSION_COOKIE):
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


def _set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name, value, path="/", httponly=True, samesite="strict", secure=_https(request)
    )


def _csrf_refused(request: Request) -> HTMLResponse:
    return _error_page(
        request, 403, "The form has expired or did not come from this console: reload the page."
    )


def _domain_status(exc: errors.MlgovError) -> int:
    from mlgov.server.problems import status_of

    return status_of(exc)[0]


# --- sign-in, sign-out, password ------------------------------------------------------------


@router.get("/")
def home(request: Request) -> Response:
    with _platform(request) as p:
        session = _session(request, p)
    if session is None:
        return _to_signin(request)
    return _redirect("/password" if session.must_change else "/inbox")


@router.get("/signin")
def signin_form(request: Request) -> Response:
    with _platform(request) as p:
        if _session(request, p) is not None:
            return _redirect("/")
    token = request.cookies.get(SIGNIN_COOKIE) or secrets.token_urlsafe(32)
    response = _render(request, "signin.html", csrf=token, error=None, user="")
    _set_cookie(request, response, SIGNIN_COOKIE, token)
    return response


@router.post("/signin")
def signin(
    request: Request,
    user: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    expected = request.cookies.get(SIGNIN_COOKIE, "")
    if not expected or not secrets.compare_digest(expected.encode(), csrf.encode()):
        return _csrf_refused(request)
    throttle = request.app.state.throttle
    address = _address(request)
    shown_user = user if len(user) <= 64 else ""
    try:
        throttle.check(address)
    except TooManyFailures as exc:
        t = Translator(_lang(request))
        message = t(
            "Too many failed sign-ins from this address: retry in {s} s.", s=exc.retry_after
        )
        response = _render(
            request, "signin.html", status=429, csrf=csrf, error=message, user=shown_user
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    with _platform(request) as p:
        try:
            signed = sessions_api.sign_in(p, user.strip(), password, address=address)
        except errors.NotAuthenticated:
            throttle.failed(address)
            t = Translator(_lang(request))
            return _render(
                request,
                "signin.html",
                status=401,
                csrf=csrf,
                error=t("Sign-in failed: unknown user or wrong password."),
                user=shown_user,
            )
        except errors.MlgovError as exc:
            return _error_page(request, _domain_status(exc), "The sign-in failed.", str(exc))
        previous = request.cookies.get(SESSION_COOKIE)
        if previous:  # signing in again ends the session this browser had
            sessions_api.sign_out(p, previous)
    done: Response = _redirect("/password" if signed.must_change else "/inbox")
    _set_cookie(request, done, SESSION_COOKIE, signed.secret)
    done.delete_cookie(SIGNIN_COOKIE, path="/", httponly=True, samesite="strict")
    return done


@router.post("/signout")
def signout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    with _platform(request) as p:
        session = _session(request, p)
        if session is None:
            return _to_signin(request)
        if not sessions_api.csrf_ok(session, csrf):
            return _csrf_refused(request)
        sessions_api.sign_out(p, request.cookies.get(SESSION_COOKIE, ""))
    return _to_signin(request, "signed_out")


@router.get("/password")
def password_form(request: Request) -> Response:
    with _platform(request) as p:
        session = _session(request, p)
    if session is None:
        return _to_signin(request, "expired")
    return _render(request, "password.html", session=session, error=None)


@router.post("/password")
def change_password(
    request: Request,
    current: Annotated[str, Form()] = "",
    new: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    t = Translator(_lang(request))
    throttle = request.app.state.throttle
    address = _address(request)
    with _platform(request) as p:
        session = _session(request, p)
        if session is None:
            return _to_signin(request, "expired")
        if not sessions_api.csrf_ok(session, csrf):
            return _csrf_refused(request)

        def again(status: int, error: str) -> Response:
            return _render(request, "password.html", status=status, session=session, error=error)

        if new != confirm:
            return again(400, t("The new password and its confirmation differ."))
        try:
            throttle.check(address)
            sessions_api.change_password(p, session.actor, current, new)
        except TooManyFailures as exc:
            return again(429, t("Too many failed attempts: retry in {s} s.", s=exc.retry_after))
        except errors.NotAuthenticated:
            throttle.failed(address)
            return again(401, t("The current password is wrong."))
        except errors.BadInput as exc:
            return again(400, str(exc))
    return _redirect("/inbox?notice=password")


@router.get("/lang/{code}")
def switch_language(request: Request, code: str, next: str = "/") -> Response:
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    if "\\" in target or any(ord(c) < 32 for c in target):
        target = "/"
    response = _redirect(target)
    if code in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE,
            code,
            path="/",
            max_age=365 * 24 * 3600,
            httponly=True,
            samesite="strict",
            secure=_https(request),
        )
    return response


# --- pages ------------------------------------------------------------------------------------


def _signed_in(
    request: Request, p: Platform
) -> tuple[sessions_api.ConsoleSession | None, Response | None]:
    """The session, or the redirect to show instead (sign-in, or the forced password change)."""
    session = _session(request, p)
    if session is None:
        return None, _to_signin(request, "expired" if request.cookies.get(SESSION_COOKIE) else "")
    if session.must_change:
        return session, _redirect("/password")
    return session, None


@router.get("/inbox")
def inbox(request: Request) -> Response:
    with _platform(request) as p:
        session, away = _signed_in(request, p)
        if away is not None or session is None:
            return away or _to_signin(request)
        items = approvals_api.inbox(p, session.actor).items
        me = users_api.whoami(p, session.actor)
    mine = [i for i in items if i.refusal_code is None]
    others = [i for i in items if i.refusal_code is not None]
    return _render(
        request,
        "inbox.html",
        session=session,
        mine=mine,
        others=others,
        roles=[f"role:{r}" for r in me.roles],
        now=datetime.now(UTC),
    )


def _evidence(p: Platform, session: sessions_api.ConsoleSession, model: str, version: str) -> Any:
    detail = approvals_api.show_request(p, session.actor, model, version)
    shown = models_api.show(p, session.actor, model, version).to_json()
    try:
        gate = models_api.check_gate(p, session.actor, model, version, to="deploy")
        unmet = [u.to_json() for u in gate.unmet]
        gate_error = None
    except errors.MlgovError as exc:
        unmet, gate_error = [], str(exc)
    return detail, shown, unmet, gate_error


def _inbox_item(
    p: Platform, session: sessions_api.ConsoleSession, model: str, version: str
) -> approvals_api.InboxItem | None:
    """The version's pending request as the inbox shows it to this user (None if none)."""
    items = approvals_api.inbox(p, session.actor).items
    return next((i for i in items if (i.model, i.version) == (model, version)), None)


def _request_page(
    request: Request,
    p: Platform,
    session: sessions_api.ConsoleSession,
    model: str,
    version: str,
    *,
    status: int = 200,
    refused: str | None = None,
    comment: str = "",
) -> Response:
    try:
        detail, shown, unmet, gate_error = _evidence(p, session, model, version)
    except errors.MlgovError as exc:
        return _error_page(
            request, _domain_status(exc), "This approval request cannot be shown.", str(exc)
        )
    inbox_item = _inbox_item(p, session, detail.model, detail.version)
    return _render(
        request,
        "request.html",
        status=status,
        session=session,
        r=detail,
        v=shown,
        snapshot=detail.snapshot.to_json(),
        unmet=unmet,
        gate_error=gate_error,
        item=inbox_item,
        refused=refused,
        comment=comment,
    )


@router.get("/requests/{model}/{version}")
def request_detail(request: Request, model: str, version: str) -> Response:
    with _platform(request) as p:
        session, away = _signed_in(request, p)
        if away is not None or session is None:
            return away or _to_signin(request)
        return _request_page(request, p, session, model, version)


@router.post("/requests/{model}/{version}/decision")
def decide(
    request: Request,
    model: str,
    version: str,
    decision: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    request_id: Annotated[str, Form()] = "",
    snapshot: Annotated[str, Form()] = "",
) -> Response:
    with _platform(request) as p:
        session, away = _signed_in(request, p)
        if away is not None or session is None:
            return away or _to_signin(request)
        if not sessions_api.csrf_ok(session, csrf):
            return _csrf_refused(request)
        if decision not in ("approve", "reject"):
            return _error_page(request, 400, "Choose approve or reject.")
        try:
            # The page the decision was made on must show the request as it is now: a new
            # request, or changed evidence, since it was loaded is refused, not applied.
            # (Checked for a decision the user may take: any other is refused by the core,
            # with its own reason, maker-checker or role.)
            current = approvals_api.show_request(p, session.actor, model, version)
            item = _inbox_item(p, session, current.model, current.version)
            may_decide = item is not None and item.refusal_code is None
            if may_decide and (str(current.id), current.snapshot_hash) != (request_id, snapshot):
                t = Translator(_lang(request))
                stale = t("The request changed since the page was loaded: read it again.")
                return _request_page(request, p, session, model, version, status=409, refused=stale)
            approvals_api.decide(
                p,
                session.actor,
                model,
                version,
                approve=decision == "approve",
                comment=comment.strip() or None,
            )
        except errors.MlgovError as exc:
            return _request_page(
                request,
                p,
                session,
                model,
                version,
                status=_domain_status(exc),
                refused=str(exc),
                comment=comment,
            )
    notice = "approved" if decision == "approve" else "rejected"
    return _redirect(f"/requests/{quote(model)}/{quote(version)}?notice={notice}")


STAGES = ("develop", "train", "deploy", "evaluate", "retire")


def inventory_filter(
    tier: str = "", owner: str = "", health: str = "", q: str = ""
) -> InventoryFilter:
    return InventoryFilter.of(tier, owner, health, q)


Keep = Annotated[InventoryFilter, Depends(inventory_filter)]


@router.get("/inventory")
def inventory(request: Request, keep: Keep, stage: str = "", at: str = "") -> Response:
    """Every version, or those the filters keep; `at` rebuilds it as it stood then."""
    return _inventory(request, stage, at, keep, csv=False)


@router.get("/inventory.csv")
def inventory_csv(request: Request, keep: Keep, stage: str = "", at: str = "") -> Response:
    """The rows the same filters keep, as a CSV download."""
    return _inventory(request, stage, at, keep, csv=True)


def _inventory(
    request: Request, stage: str, at: str, keep: InventoryFilter, *, csv: bool
) -> Response:
    chosen = stage if stage in STAGES else ""
    when = at.strip()[:32]
    error = None
    with _platform(request) as p:
        session, away = _signed_in(request, p)
        if away is not None or session is None:
            return away or _to_signin(request)
        try:
            found = reports_api.inventory(p, session.actor, at=when or None, stage=chosen or None)
            rows = keep.apply(r.to_json() for r in found.rows)
        except errors.BadInput as exc:
            rows, error = [], str(exc)
    if csv and error is None:
        stamp = (found.at or datetime.now(UTC).isoformat())[:19].replace(":", "")
        return Response(
            as_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="inventory-{stamp}Z.csv"'},
        )
    return _render(
        request,
        "inventory.html",
        status=400 if error else 200,
        session=session,
        rows=rows,
        stages=STAGES,
        stage=chosen,
        at=when,
        keep=keep,
        tiers=TIERS,
        health_states=HEALTH,
        query=urlencode(
            {
                k: v
                for k, v in (
                    ("stage", chosen),
                    ("at", when),
                    ("tier", keep.tier),
                    ("owner", keep.owner),
                    ("health", keep.health),
                    ("q", keep.text),
                )
                if v
            }
        ),  # fmt: skip
        error=error,
    )


@router.get("/static/{name}")
def static(name: str) -> Response:
    kind = STATIC_TYPES.get(name)
    if kind is None:
        return Response("not found", status_code=404, media_type="text/plain")
    body = (resources.files("mlgov.server.console") / "static" / name).read_bytes()
    return Response(body, media_type=kind, headers={"Cache-Control": "public, max-age=3600"})
