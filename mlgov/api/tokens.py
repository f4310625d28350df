"""Use cases of personal access tokens: create (the secret shown once), list, revoke, and
authenticate a presented token (what the server does on every request)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlgov.api.actor import Actor, Identification
from mlgov.api.platform import Platform
from mlgov.api.results import Result


@dataclass(frozen=True)
class TokenRecord(Result):
    id: int
    user: str
    name: str
    created_at: str
    created_by: str
    expires_at: str
    last_used_at: str | None
    revoked_at: str | None
    state: str


@dataclass(frozen=True)
class CreatedToken(TokenRecord):
    token: str  # the secret: this is the only time anyone sees it


@dataclass(frozen=True)
class TokenList(Result):
    tokens: tuple[TokenRecord, ...]

    def to_json(self) -> Any:
        return [t.to_json() for t in self.tokens]


def create_token(
    platform: Platform, actor: Actor, user: str, *, name: str | None = None, days: int = 90
) -> CreatedToken:
    """A token for `user` (an admin for anyone, anyone for themselves), valid `days` days."""
    from mlgov.governance import tokens

    created = tokens.create_token(platform.governance(), actor.name, user, name=name, days=days)
    return CreatedToken(token=created.token, **created.record.to_dict())


def list_tokens(platform: Platform, actor: Actor, *, user: str | None = None) -> TokenList:
    from mlgov.governance import tokens

    rows = tokens.list_tokens(platform.governance(), actor.name, user=user)
    return TokenList(tuple(TokenRecord.from_mapping(r.to_dict()) for r in rows))


def revoke_token(platform: Platform, actor: Actor, token_id: int) -> TokenRecord:
    from mlgov.governance import tokens

    row = tokens.revoke_token(platform.governance(), actor.name, token_id)
    return TokenRecord.from_mapping(row.to_dict())


def authenticate(platform: Platform, presented: str) -> Actor:
    """The actor a bearer token proves; NotAuthenticated, the same for every failure, if none."""
    from mlgov.governance import tokens

    principal = tokens.authenticate(platform.governance(), presented)
    return Actor(principal.user, Identification.TOKEN, credential=f"token:{principal.token_id}")


def refused_message() -> str:
    """What every failed authentication answers, whichever credential and check failed."""
    from mlgov.governance import tokens

    return tokens.REFUSED


def authenticate_oidc(platform: Platform, user: str, subject: str, jti: str | None) -> Actor:
    """The actor an identity provider's verified token names. The server checked signature,
    issuer, audience and times; here mlgov decides whether `user` is one of its users (and
    not removed). Roles come from mlgov's table when the actor acts, never from the token.
    The credential, `oidc:<sub>:<jti or ->`, is what audit events record as `via`."""
    from mlgov.governance import tokens

    name = tokens.vouch_for_user(platform.governance(), user)
    return Actor(name, Identification.OIDC, credential=f"oidc:{subject}:{jti or '-'}")
