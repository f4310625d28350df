"""Every request has an id: the client's `X-Request-ID` when it is a sane token (so a bank's
gateway can correlate), else a fresh one. It is answered in the same header, logged, and
recorded in the audit event of any state change the request makes (`payload.via`)."""

from __future__ import annotations

import re
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-request-id"
_SANE = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def request_id(presented: str | None) -> str:
    if presented and _SANE.fullmatch(presented):
        return presented
    return secrets.token_hex(12)


class RequestIds:
    """Pure ASGI middleware (no buffering of bodies: uploads stream through untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        presented = None
        for name, value in scope.get("headers", []):
            if name == HEADER.encode():
                presented = value.decode("latin-1")
                break
        rid = request_id(presented)
        scope.setdefault("state", {})["request_id"] = rid

        async def answer(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != HEADER.encode()]
                message["headers"] = [*headers, (HEADER.encode(), rid.encode())]
            await send(message)

        await self.app(scope, receive, answer)
