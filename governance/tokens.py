"""Personal access tokens: how the governance server knows who calls it.

A token is `mlgov_<prefix>_<secret>`: the prefix (8 random hex digits) finds the row, the
secret (256 random bits) is compared in constant time against the SHA-256 kept in the row.
A slow password hash is not needed for a secret of that strength. The secret is returned once,
by `create_token`, and never stored, logged or audited.

Each row's `token.create` audit event carries its hash, owner and expiry, and revocation is
an audit event too: a row an insider adds, edits or un-revokes in the database authenticates
nobody.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mlgov.governance.clock import isoformat
from mlgov.governance.errors import BadInput, Conflict, NotAuthenticated, NotFound, PermissionDenied
from mlgov.governance.roles import Role, validate_user_name
from mlgov.governance.tables import ApiToken, AuditEvent, User
from mlgov.governance.validate import free_text

if TYPE_CHECKING:
    from mlgov.governance.service import Governance

TOKEN_PREFIX = "mlgov_"
_TOKEN = re.compile(r"mlgov_([0-9a-f]{8})_([A-Za-z0-9_-]{43})")
DEFAULT_DAYS = 90
MAX_DAYS = 365
# last_used_at is written at most this often: a busy client must not turn reads into writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _subject(token_id: int) -> str:
    return f"token:{token_id}"


@dataclass(frozen=True)
class TokenRecord:
    id: int
    user: str
    name: str
    created_at: str
    created_by: str
    expires_at: str
    last_used_at: str | None
    revoked_at: str | None
    state: str  # active, expired or revoked

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class CreatedToken:
    record: TokenRecord
    token: str  # the secret: shown to the caller once, never again


@dataclass(frozen=True)
class Principal:
    """Who a presented token proves the caller is."""

    user: str
    token_id: int


def _record(row: ApiToken, now: datetime) -> TokenRecord:
    if row.revoked_at is not None:
        state = "revoked"
    elif now >= row.expires_at:
        state = "expired"
    else:
        state = "active"
    return TokenRecord(
        id=row.id,
        user=row.user.name,
        name=row.name,
        created_at=isoformat(row.created_at),
        created_by=row.created_by,
        expires_at=isoformat(row.expires_at),
        last_used_at=isoformat(row.last_used_at) if row.last_used_at else None,
        revoked_at=isoformat(row.revoked_at) if row.revoked_at else None,
        state=state,
    )


def _may_manage(caller: User, owner: str) -> None:
    """An admin manages anyone's tokens; everyone else only their own."""
    if caller.name != owner and Role.ADMIN.value not in caller.role_names:
        raise PermissionDenied(
            f"'{caller.name}' may not manage tokens of '{owner}': only an admin may "
            "(anyone may manage their own)"
        )


def create_token(
    gov: Governance, actor: str, user: str, *, name: str | None = None, days: int = DEFAULT_DAYS
) -> CreatedToken:
    validate_user_name(user)
    label = name or "token"
    free_text(label, "--name")
    if len(label) > 64:
        raise BadInput("--name is longer than 64 characters")
    if isinstance(days, bool) or not 1 <= days <= MAX_DAYS:
        raise BadInput(f"--expires must be a whole number of days from 1 to {MAX_DAYS}")
    with gov.store.transaction() as s:
        caller = gov.user(s, actor)
        _may_manage(caller, user)
        owner = gov.user(s, user)
        now = gov.now()
        prefix, secret = secrets.token_hex(4), secrets.token_urlsafe(32)
        while s.scalar(select(ApiToken.id).where(ApiToken.prefix == prefix)) is not None:
            prefix = secrets.token_hex(4)
        row = ApiToken(
            prefix=prefix,
            secret_sha256=_sha256(secret),
            user_id=owner.id,
            user=owner,
            name=label,
            created_at=now,
            created_by=actor,
            expires_at=now + timedelta(days=days),
            audit_seq=0,
        )
        s.add(row)
        s.flush()
        event = gov.audit(
            s,
            actor,
            "token.create",
            _subject(row.id),
            {
                "token_id": row.id,
                "user": owner.name,
                "name": label,
                "prefix": prefix,
                "secret_sha256": row.secret_sha256,
                "expires_at": row.expires_at,
            },
            at=now,
        )
        row.audit_seq = event.seq
        return CreatedToken(_record(row, now), f"{TOKEN_PREFIX}{prefix}_{secret}")


def list_tokens(gov: Governance, actor: str, *, user: str | None = None) -> list[TokenRecord]:
    """An admin sees every token (or one user's); anyone else sees their own."""
    with gov.store.read() as s:
        caller = gov.user(s, actor)
        owner = user or (None if Role.ADMIN.value in caller.role_names else actor)
        if owner is not None:
            _may_manage(caller, owner)
        stmt = select(ApiToken).join(User).order_by(ApiToken.id)
        if owner is not None:
            stmt = stmt.where(User.name == owner)
        now = gov.now()
        return [_record(r, now) for r in s.scalars(stmt)]


def revoke_token(gov: Governance, actor: str, token_id: int) -> TokenRecord:
    with gov.store.transaction() as s:
        caller = gov.user(s, actor)
        row = s.get(ApiToken, token_id, with_for_update=True)
        if row is None:
            raise NotFound(f"no token #{token_id} (see `mlgov tokens list`)")
        _may_manage(caller, row.user.name)
        if row.revoked_at is not None:
            raise Conflict(f"token #{token_id} was revoked already ({isoformat(row.revoked_at)})")
        now = gov.now()
        row.revoked_at, row.revoked_by = now, actor
        gov.audit(
            s,
            actor,
            "token.revoke",
            _subject(row.id),
            {"token_id": row.id, "user": row.user.name},
            at=now,
        )
        return _record(row, now)


def _vouched_for(s: Session, row: ApiToken) -> bool:
    """The row is what its audit events say: created as it is, and never revoked."""
    created = s.get(AuditEvent, row.audit_seq)
    if created is None or created.action != "token.create":
        return False
    p = created.payload
    expected = {
        "token_id": row.id,
        "user": row.user.name,
        "prefix": row.prefix,
        "secret_sha256": row.secret_sha256,
        "expires_at": isoformat(row.expires_at),
    }
    if any(p.get(k) != v for k, v in expected.items()):
        return False
    revoked = s.scalar(
        select(AuditEvent.seq).where(
            AuditEvent.subject == _subject(row.id), AuditEvent.action == "token.revoke"
        )
    )
    return revoked is None


# The one answer to every failed authentication, a personal token's or an OIDC token's.
REFUSED = "not authenticated: the token is unknown, expired or revoked"


def authenticate(gov: Governance, presented: str) -> Principal:
    """The user a presented token proves, or NotAuthenticated with the same message for
    every failure, so a caller learns nothing about which check failed."""
    match = _TOKEN.fullmatch(presented or "")
    if match is None:
        raise NotAuthenticated(REFUSED)
    prefix, secret = match.groups()
    with gov.store.read() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
        expected = row.secret_sha256 if row is not None else "0" * 64
        matches = hmac.compare_digest(_sha256(secret), expected)
        now = gov.now()
        if (
            row is None
            or not matches
            or row.revoked_at is not None
            or now >= row.expires_at
            or not row.user.active
            or not _vouched_for(s, row)
        ):
            raise NotAuthenticated(REFUSED)
        principal = Principal(row.user.name, row.id)
        stale = row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION
    if stale:
        with gov.store.transaction() as s:
            fresh = s.get(ApiToken, principal.token_id)
            if fresh is not None:
                fresh.last_used_at = now
    return principal


def vouch_for_user(gov: Governance, name: str) -> str:
    """The identity provider proved the caller is `name`; whether that is anyone here is
    still mlgov's decision: a registered user who was not removed. Anything else is
    NotAuthenticated with the one message, so a valid IdP token does not tell its holder
    which names mlgov knows. Roles are read later from mlgov's table, never from the token."""
    try:
        validate_user_name(name)
    except BadInput:
        raise NotAuthenticated(REFUSED) from None
    with gov.store.read() as s:
        user = s.scalar(select(User).where(User.name == name))
        if user is None or not user.active:
            raise NotAuthenticated(REFUSED)
        return user.name
