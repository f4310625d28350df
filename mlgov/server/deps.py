"""What every route depends on: its own platform for the request, and the caller its
credential proves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict

from mlgov.api import Actor, Platform
from mlgov.server.auth import authenticate


class Body(BaseModel):
    """A request body: unknown fields are refused, so a misspelt option is never ignored."""

    model_config = ConfigDict(extra="forbid")


def _platform(request: Request) -> Iterator[Platform]:
    yield Platform(request.app.state.settings(), shared_store=True)


Plat = Annotated[Platform, Depends(_platform)]


def _caller(request: Request, p: Plat) -> Actor:
    address = request.client.host if request.client else "unknown"
    header = request.headers.get("authorization")
    state = request.app.state
    actor = authenticate(p, state.throttle, header, address, state.oidc)
    p.identify(actor, address=address, request_id=getattr(request.state, "request_id", None))
    return actor


Who = Annotated[Actor, Depends(_caller)]
