"""ASGI middleware in front of the governed service: JSON bodies only, and a size limit.

- A request with a body must say `Content-Type: application/json`; BentoML's pickle and
  multipart/form media types get 415 before any handler runs, so nothing is deserialized.
- BentoML's internal payload headers (`args-number`, `payload-params`, `buffer-lengths`)
  get 400: they steer its pickle/multipart decoders and have no place in a client request.
- A body over the limit gets 413 at once: from Content-Length before reading anything, or,
  for chunked bodies, as soon as the running count passes the limit. Bodies under the limit
  are buffered and replayed to the app, so the app never sees more than the limit.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REFUSED_HEADERS = (b"args-number", b"payload-params", b"buffer-lengths")
_BODYLESS_METHODS = ("GET", "HEAD", "OPTIONS", "DELETE")


async def send_json(send: Send, status: int, body: dict[str, Any], *, close: bool = False) -> None:
    payload = json.dumps(body).encode("utf-8")
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode("ascii")),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class RequestGuard:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        content_type = b""
        content_length: bytes | None = None
        for name, value in scope["headers"]:
            if name in REFUSED_HEADERS:
                await send_json(
                    send, 400, {"error": f"header '{name.decode()}' is not accepted"}, close=True
                )
                return
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                content_length = value
        has_body = scope["method"] not in _BODYLESS_METHODS or (content_length not in (None, b"0"))
        if not has_body:
            await self.app(scope, receive, send)
            return
        media_type = content_type.split(b";", 1)[0].strip().lower()
        if media_type != b"application/json":
            await send_json(
                send,
                415,
                {"error": "only 'Content-Type: application/json' bodies are accepted"},
                close=True,
            )
            return
        if content_length is not None:
            if not content_length.isdigit():
                await send_json(send, 400, {"error": "invalid Content-Length"}, close=True)
                return
            if int(content_length) > self.max_body_bytes:
                await self._too_large(send)
                return
            await self.app(scope, receive, send)
            return
        await self._chunked(scope, receive, send)

    async def _too_large(self, send: Send) -> None:
        await send_json(
            send,
            413,
            {"error": f"body too large: at most {self.max_body_bytes} bytes per request"},
            close=True,
        )

    async def _chunked(self, scope: Scope, receive: Receive, send: Send) -> None:
        """No Content-Length: count while reading; stop at the limit; replay what was read."""
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_body_bytes:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
