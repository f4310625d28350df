"""Cursor pagination: a page of items after an opaque cursor, and the cursor of the next."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any

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
