"""ASGI middleware in front of the governed service: JSON bodies only, and a size limit.

- A Content-Type, when given, must be `application/json` (optionally `; charset=utf-8`), and
  a request with a body must give one. BentoML's pickle, container and multipart/form media
  types get 415 before any handler runs, so nothing is deserialized. Other parameters are
  refused too: a Content-Type is client text, and logs tend to print it.
- BentoML's internal payload headers (`args-number`, `payload-params`, `buffer-lengths`, and
  the legacy runner protocol's `payload-container`, `payload-meta`, `batch-size`, ...) get
  400: they steer its pickle/multipart decoders and have no place in a client request.
  A repeated Content-Type/Content-Length/Transfer-Encoding gets 400 too (the guard and
  BentoML could read different ones), and a compressed body 415 (nothing inflates it).
- A body over the limit gets 413 at once: from Content-Length before reading anything, or,
  for chunked (or otherwise unframed) bodies, as soon as the running count passes the
  limit. Bodies under the limit are buffered and replayed, so the app never sees more.
- Whether a request has a body follows HTTP/1.1 framing (Content-Length > 0 or a
  Transfer-Encoding), not its method: a bodyless TRACE gets the app's 405, not a 415.
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

# Headers BentoML's own decoders act on: _bentoml_impl/serde.py reads `buffer-lengths`; the
# legacy runner app (bentoml/_internal/server/runner_app.py) reads the rest and unpickles.
REFUSED_HEADERS = frozenset(
    {
        b"args-number",
        b"payload-params",
        b"buffer-lengths",
        b"payload-container",
        b"payload-meta",
        b"batch-size",
        b"kwarg-name",
        b"runner-name",
        b"bento-payload-meta",
    }
)
JSON_MEDIA_TYPE = b"application/json"
_ACCEPTED_PARAMETERS = (b"", b"charset=utf-8", b'charset="utf-8"')
_SINGLE_HEADERS = (b"content-type", b"content-length", b"transfer-encoding", b"content-encoding")


def is_json_content_type(value: bytes) -> bool:
    """`application/json`, optionally with `charset=utf-8`; case and spaces do not matter."""
    media_type, _, parameters = value.lower().partition(b";")
    return media_type.strip() == JSON_MEDIA_TYPE and (
        b"".join(parameters.split()) in _ACCEPTED_PARAMETERS
    )


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
        single: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            if name in REFUSED_HEADERS:
                await send_json(
                    send, 400, {"error": f"header '{name.decode()}' is not accepted"}, close=True
                )
                return
            if name in _SINGLE_HEADERS:
                if name in single:
                    await send_json(
                        send, 400, {"error": f"header '{name.decode()}' sent twice"}, close=True
                    )
                    return
                single[name] = value
        content_type = single.get(b"content-type")
        content_length = single.get(b"content-length")
        if content_length is not None and not content_length.isdigit():
            await send_json(send, 400, {"error": "invalid Content-Length"}, close=True)
            return
        # More than 18 digits is over any limit (and int() of thousands of digits raises).
        digits = content_length.lstrip(b"0") if content_length is not None else b""
        length = self.max_body_bytes + 1 if len(digits) > 18 else int(digits or b"0")
        has_body = b"transfer-encoding" in single or length > 0
        if content_type is not None or has_body:
            if content_type is None or not is_json_content_type(content_type):
                await send_json(
                    send,
                    415,
                    {"error": "only 'Content-Type: application/json' bodies are accepted"},
                    close=True,
                )
                return
        if single.get(b"content-encoding", b"identity").strip().lower() != b"identity":
            await send_json(
                send,
                415,
                {"error": "compressed bodies are not accepted: send plain JSON"},
                close=True,
            )
            return
        if content_length is None:
            # Chunked, or framed some other way by the server: count what arrives.
            await self._counted(scope, receive, send)
            return
        if length > self.max_body_bytes:
            await self._too_large(send)
            return
        await self.app(scope, receive, send)

    async def _too_large(self, send: Send) -> None:
        await send_json(
            send,
            413,
            {"error": f"body too large: at most {self.max_body_bytes} bytes per request"},
            close=True,
        )

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
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
