"""What every route depends on: its own platform for the request, and the caller its
credential proves. Both come from `AuthenticatedRoute`, which checks the credential first."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from mlgov.api import Actor, Platform
from mlgov.server.auth import authenticate


class Body(BaseModel):
    """A request body: unknown fields are refused, so a misspelt option is never ignored."""

    model_config = ConfigDict(extra="forbid")


def _open_and_authenticate(request: Request) -> Platform:
    opened = Platform(request.app.state.settings(), shared_store=True)
    address = request.client.host if request.client else "unknown"
    header = request.headers.get("authorization")
    state = request.app.state
    actor = authenticate(opened, state.throttle, header, address, state.oidc)
    opened.identify(actor, address=address, request_id=getattr(request.state, "request_id", None))
    request.state.mlgov_platform, request.state.mlgov_actor = opened, actor
    return opened


class AuthenticatedRoute(APIRoute):
    """Every /api/v1 operation. The credential is checked before FastAPI reads, parses or
    validates anything of the request (body, path, query): a caller who proves no one gets
    401 (or 429), never a 422 that describes the route's input, and the server does not read
    a body for them."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def authenticated_first(request: Request) -> Response:
            # The platform's store is the process's shared one (mlgov.app): nothing to close.
            await run_in_threadpool(_open_and_authenticate, request)
            return await handler(request)

        return authenticated_first


def _platform(request: Request) -> Platform:
    platform: Platform = request.state.mlgov_platform
    return platform


Plat = Annotated[Platform, Depends(_platform)]


def _caller(request: Request) -> Actor:
    actor: Actor = request.state.mlgov_actor
    return actor


Who = Annotated[Actor, Depends(_caller)]
# The OpenAPI document's security scheme. It checks nothing (auto_error=False): by the time
# dependencies run, AuthenticatedRoute has proven the caller.
BEARER = Depends(HTTPBearer(auto_error=False, description="a personal access token"))

# Bounds of numbers in paths and queries: beyond them the store (SQLite's 64-bit integers),
# datetime arithmetic or numpy's seeds overflow, and a 500 would be the answer.
ROW_ID = Path(ge=1, le=2**63 - 1)
MAX_DAYS = 36_500
MAX_SEED = 2**32 - 1
