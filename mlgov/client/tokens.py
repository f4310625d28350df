"""Remote twin of mlgov.api.tokens."""

from __future__ import annotations

from mlgov.api.actor import Actor
from mlgov.api.results import revive
from mlgov.api.tokens import CreatedToken, TokenList, TokenRecord
from mlgov.client.connection import ServerConnection


def create_token(
    conn: ServerConnection, actor: Actor, user: str, *, name: str | None = None, days: int = 90
) -> CreatedToken:
    body = {"user": user, "name": name, "expires_days": days}
    # Never retried: the server keeps no answer holding a secret (and refuses a key here).
    return revive(CreatedToken, conn.post("/tokens", body, idempotent=False))


def list_tokens(conn: ServerConnection, actor: Actor, *, user: str | None = None) -> TokenList:
    return revive(TokenList, conn.get("/tokens", user=user))


def revoke_token(conn: ServerConnection, actor: Actor, token_id: int) -> TokenRecord:
    return revive(TokenRecord, conn.delete(f"/tokens/{int(token_id)}"))
