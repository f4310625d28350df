"""`Idempotency-Key` on the state-changing routes: a retried request does its work once and
answers the same, with `Idempotent-Replayed: true` (the rules: governance/idempotency.py).

A route takes `idem: Idem` and wraps its one API call:

    def add_user(p: Plat, who: Who, body: NewUser, idem: Idem) -> Any:
        return idem.run(p, who, body, lambda: users_api.add_user(...).to_json())

Without the header the work just runs. Only a successful answer is kept: when the work raises,
the claim is released and the error goes on to the problem+json handlers, so a retry runs the
work again. Request bodies are fingerprinted, never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from mlgov.api import Actor, Platform, errors
from mlgov.api import idempotency as api

log = logging.getLogger("mlgov.server")
REPLAYED = "Idempotent-Replayed"

KeyHeader = Annotated[
    str | None,
    Header(
        alias=api.HEADER,
        description=(
            "Optional: 1-200 printable ASCII characters, unique per request. A retry with the "
            "same key and the same request does the work once and answers the same (header "
            "Idempotent-Replayed: true); the same key with a different request is 422. Keys "
            "are kept 24 hours, per caller."
        ),
    ),
]


def _target(request: Request) -> str:
    """The path and the query, its parameters in a canonical order."""
    query = sorted(request.query_params.multi_items())
    if not query:
        return request.url.path
    return f"{request.url.path}?{urlencode(query)}"


def _route_status(request: Request) -> int:
    route = request.scope.get("route")
    status = getattr(route, "status_code", None)
    return status if isinstance(status, int) else 200


def idempotent(
    request: Request,
    p: Platform,
    who: Actor,
    body: BaseModel | None,
    work: Callable[[], Any],
    *,
    key: str | None,
    status_code: int | None = None,
) -> Any:
    """Run `work` once per `key`; its JSON-ready result is the answer, with the route's own
    status code unless `status_code` is given."""
    if key is None:
        return work()
    status = status_code if status_code is not None else _route_status(request)
    payload = b"" if body is None else body.model_dump_json().encode("utf-8")
    claimed = api.claim(p, who, key, api.fingerprint(request.method, _target(request), payload))
    if isinstance(claimed, api.Replay):
        return JSONResponse(
            claimed.response, status_code=claimed.status_code, headers={REPLAYED: "true"}
        )
    try:
        answer = jsonable_encoder(work())
    except Exception:
        try:
            api.release(p, who, key)
        except Exception as exc:  # the work's error is the one to answer
            log.warning("idempotency key not released: %s", type(exc).__name__)
        raise
    try:
        if not api.complete(p, who, key, status, answer):
            log.warning("idempotency key gone before its answer was kept")
    except Exception as exc:
        # The work is done: answer it. A retry is refused (409) until the lease ends.
        log.warning("idempotency answer not kept: %s", type(exc).__name__)
    return JSONResponse(answer, status_code=status)


@dataclass(frozen=True)
class Idempotency:
    """The request and its `Idempotency-Key` (None without the header)."""

    request: Request
    key: str | None

    def run(
        self,
        p: Platform,
        who: Actor,
        body: BaseModel | None,
        work: Callable[[], Any],
        *,
        status_code: int | None = None,
    ) -> Any:
        return idempotent(self.request, p, who, body, work, key=self.key, status_code=status_code)

    def refuse(self, why: str) -> None:
        """For a route whose answer must not be kept (it carries a secret)."""
        if self.key is not None:
            raise errors.BadInput(f"the {api.HEADER} header is not accepted here: {why}")


def _idempotency(request: Request, key: KeyHeader = None) -> Idempotency:
    return Idempotency(request, key)


Idem = Annotated[Idempotency, Depends(_idempotency)]
