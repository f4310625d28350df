"""The one error family as RFC 9457 problem details (application/problem+json)."""

from __future__ import annotations

from typing import Any

from mlgov.api import errors

PROBLEM_JSON = "application/problem+json"

# Most specific first: NotAuthenticated is a PermissionDenied, GateRefused a Refused, ...
_STATUSES: tuple[tuple[type[errors.MlgovError], int, str], ...] = (
    (errors.NotAuthenticated, 401, "not authenticated"),
    (errors.UnknownUser, 403, "not permitted"),
    (errors.PermissionDenied, 403, "not permitted"),
    (errors.NotFound, 404, "not found"),
    (errors.NotInitialized, 503, "store not initialized"),
    (errors.TooLarge, 413, "content too large"),
    (errors.IdempotencyKeyReused, 422, "idempotency key reused"),
    (errors.BadInput, 400, "bad input"),
    (errors.GateRefused, 409, "gate refused"),
    (errors.RequestInProgress, 409, "request in progress"),
    (errors.Conflict, 409, "conflict"),
    (errors.Unavailable, 503, "dependency unavailable"),
    (errors.ExternalError, 502, "dependency failed"),
    (errors.StateTampered, 409, "state disagrees with the audit trail"),
    (errors.Refused, 409, "refused"),
)


def status_of(exc: errors.MlgovError) -> tuple[int, str]:
    for kind, status, title in _STATUSES:
        if isinstance(exc, kind):
            return status, title
    return 500, "internal error"


def problem(status: int, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}


def from_error(exc: errors.MlgovError) -> tuple[int, dict[str, Any]]:
    status, title = status_of(exc)
    extra: dict[str, Any] = {"exit_code": exc.exit_code}
    if isinstance(exc, errors.GateRefused):
        # Every unmet condition, as the CLI lists them, not only the first.
        extra["unmet"] = [{"check": u.check, "message": u.message} for u in exc.unmet]
    return status, problem(status, title, str(exc), **extra)
