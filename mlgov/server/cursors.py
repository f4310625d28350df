"""Cursor pagination: a page of items after an opaque cursor, and the cursor of the next."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from mlgov.api import errors


class Page(BaseModel):
    items: list[Any]
    next_cursor: str | None


def encode(key: int) -> str:
    return base64.urlsafe_b64encode(f"after:{key}".encode()).decode().rstrip("=")


def decode(cursor: str) -> int:
    """The key a cursor names; one message for every malformed cursor."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        prefix, _, key = text.partition(":")
        if prefix != "after" or not key.isdigit():
            raise ValueError(text)
        return int(key)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise errors.BadInput(
            "cursor is not one this server gave out", hint="pass the next_cursor of a page"
        ) from None


def page_after(
    items: Sequence[Any], *, key: Callable[[Any], int], limit: int, cursor: str | None
) -> Page:
    """Items (ordered by an increasing integer key) after the cursor's key, at most `limit`.
    A key, not an offset: items added while a client pages do not shift what it sees."""
    after = decode(cursor) if cursor else None
    rest = [i for i in items if after is None or key(i) > after]
    shown = rest[:limit]
    more = len(rest) > limit
    return Page(items=list(shown), next_cursor=encode(key(shown[-1])) if more else None)


# --- keyset pages of the other lists -------------------------------------------------------
# A list answered whole stays a JSON array, as clients written against it expect. Asked for a
# page (`limit` or `cursor`), it answers at most `limit` items in the same array and names the
# next page in `Link: <...>; rel="next"` (RFC 8288) and `X-Next-Cursor`. The cursor holds the
# last item's sort key and the list it came from, so items added meanwhile shift nothing and a
# cursor of one list is refused by another.

MAX_PAGE = 1000
DEFAULT_PAGE = 100
SortKey = tuple[str | int, ...]


def encode_key(listing: str, key: SortKey) -> str:
    raw = json.dumps([listing, list(key)], separators=(",", ":"), ensure_ascii=True)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_key(listing: str, cursor: str, width: int) -> SortKey:
    """The sort key a cursor of `listing` names; one message for every other cursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        named, key = json.loads(raw)
        if named != listing or not isinstance(key, list) or len(key) != width:
            raise ValueError(raw)
        if not all(isinstance(k, str | int) and not isinstance(k, bool) for k in key):
            raise ValueError(raw)
        return tuple(key)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        raise _not_ours() from None


def _not_ours() -> errors.BadInput:
    return errors.BadInput(
        "cursor is not one this server gave out for this list",
        hint="pass the X-Next-Cursor of a page of the same list",
    )


@dataclass(frozen=True)
class Paging:
    """`limit` and `cursor` of a list request (both None: the whole list)."""

    request: Request
    limit: int | None
    cursor: str | None

    def respond(self, rows: Sequence[Any], key: Callable[[Any], SortKey]) -> JSONResponse:
        """`rows` (JSON-ready, ordered by `key`) whole, or the page the request asks for."""
        if self.limit is None and self.cursor is None:
            return JSONResponse(list(rows))
        limit = self.limit or DEFAULT_PAGE
        listing = self.request.url.path
        rest: Sequence[Any] = rows
        if self.cursor:
            after = decode_key(listing, self.cursor, len(key(rows[0])) if rows else 0)
            try:
                rest = [r for r in rows if key(r) > after]
            except TypeError:  # a forged key of other types than this list's
                raise _not_ours() from None
        shown = list(rest[:limit])
        headers = {}
        if len(rest) > limit:
            cursor = encode_key(listing, key(shown[-1]))
            url = self.request.url.include_query_params(cursor=cursor, limit=limit)
            headers = {"Link": f'<{url}>; rel="next"', "X-Next-Cursor": cursor}
        return JSONResponse(shown, headers=headers)


def paging(
    request: Request,
    limit: Annotated[int | None, Query(ge=1, le=MAX_PAGE)] = None,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> Paging:
    return Paging(request, limit, cursor)


Pages = Annotated[Paging, Depends(paging)]
