"""Console passwords and sessions: how the governance server knows who uses the web console.

Passwords are kept only as argon2id hashes (argon2-cffi's RFC 9106 low-memory profile). An
admin sets a one-time password, which must be changed at the first sign-in. The audit events
that set or change a password carry the SHA-256 of the hash string, never the password or the
hash: without the hash (and its random salt) that digest is no help in guessing the password,
and it lets sign-in refuse a row an insider wrote or edited in the database, as tokens do.

A session's cookie holds a 256-bit secret; the row's id is its SHA-256, so the database never
holds a usable cookie. A session ends at sign-out, after `idle` without a request, `absolute`
after sign-in, or when an admin sets the user a new password. Every change of state (sign-in,
a failed sign-in, sign-out, expiry, password set or changed) is an audit event written in the
same transaction as the change.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mlgov.governance.clock import isoformat
from mlgov.governance.errors import BadInput, NotAuthenticated
from mlgov.governance.roles import Action
from mlgov.governance.tables import AuditEvent, ConsoleSession, User, UserPassword

if TYPE_CHECKING:
    from argon2 import PasswordHasher

    from mlgov.governance.service import Governance

MIN_LENGTH, MAX_LENGTH = 12, 256
DEFAULT_IDLE = timedelta(minutes=15)
DEFAULT_ABSOLUTE = timedelta(hours=12)
# last_seen_at is written at most this often: reading pages must not turn into a write each.
LAST_SEEN_RESOLUTION = timedelta(seconds=15)
REFUSED = "sign-in failed: unknown user or wrong password"
_hasher: PasswordHasher | None = None


def _argon2() -> PasswordHasher:
    global _hasher
    if _hasher is None:
        from argon2 import PasswordHasher

        _hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile
    return _hasher


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _subject(user: str) -> str:
    return f"user:{user}"


def session_ref(session_id: str) -> str:
    """How events and credentials name a session: a prefix of its id (itself a hash)."""
    return f"session:{session_id[:12]}"


@dataclass(frozen=True)
class PasswordSet:
    user: str
    must_change: bool
    set_at: str
    set_by: str
    sessions_ended: int
    password: str | None  # the generated one-time password: shown once, never stored


@dataclass(frozen=True)
class SignedIn:
    secret: str  # the cookie's value: given to the browser once, never stored
    user: str
    csrf_token: str
    must_change: bool


@dataclass(frozen=True)
class SessionPrincipal:
    """Who a presented session cookie proves the caller is."""

    user: str
    session_id: str
    csrf_token: str
    must_change: bool
    method: str = "password"


def check_password_rules(password: str, what: str = "the password") -> None:
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise BadInput(f"{what} must be at least {MIN_LENGTH} characters long")
    if len(password) > MAX_LENGTH:
        raise BadInput(f"{what} must be at most {MAX_LENGTH} characters long")
    if not password.strip() or any(c in password for c in "\r\n\x00"):
        raise BadInput(f"{what} must not be blank or contain line breaks")


def _store_password(
    gov: Governance,
    s: Session,
    actor: str,
    user: User,
    password: str,
    *,
    must_change: bool,
    action: str,
    now: datetime,
    extra: dict[str, Any],
) -> UserPassword:
    digest = _argon2().hash(password)
    row = s.get(UserPassword, user.id, with_for_update=True)
    if row is None:
        row = UserPassword(user_id=user.id, user=user)
        s.add(row)
    row.hash, row.must_change, row.set_at, row.set_by = digest, must_change, now, actor
    row.audit_seq = 0
    s.flush()
    payload = {"user": user.name, "must_change": must_change, "hash_sha256": _sha256(digest)}
    event = gov.audit(s, actor, action, _subject(user.name), payload | extra, at=now)
    row.audit_seq = event.seq
    return row


def _end_sessions(gov: Governance, s: Session, user: User, now: datetime) -> int:
    live = s.scalars(
        select(ConsoleSession).where(
            ConsoleSession.user_id == user.id, ConsoleSession.ended_at.is_(None)
        )
    ).all()
    for row in live:
        row.ended_at = now
    return len(live)


def set_password(
    gov: Governance, actor: str, user: str, *, password: str | None = None
) -> PasswordSet:
    """An admin sets `user` a one-time password (generated when none is given) that must be
    changed at the first sign-in; the user's open sessions end."""
    generated = password is None
    secret = secrets.token_urlsafe(15) if password is None else password
    check_password_rules(secret)
    with gov.store.transaction() as s:
        gov.authorize(s, actor, Action.MANAGE_USERS)
        target = gov.user(s, user)
        now = gov.now()
        ended = _end_sessions(gov, s, target, now)
        row = _store_password(
            gov,
            s,
            actor,
            target,
            secret,
            must_change=True,
            action="user.password_set",
            now=now,
            extra={"generated": generated, "sessions_ended": ended},
        )
        return PasswordSet(
            user=target.name,
            must_change=row.must_change,
            set_at=isoformat(now),
            set_by=actor,
            sessions_ended=ended,
            password=secret if generated else None,
        )


def _vouched_for(s: Session, row: UserPassword) -> bool:
    event = s.get(AuditEvent, row.audit_seq)
    if event is None or event.action not in ("user.password_set", "user.password_change"):
        return False
    p = event.payload
    return (
        event.subject == _subject(row.user.name)
        and p.get("user") == row.user.name
        and p.get("hash_sha256") == _sha256(row.hash)
        and bool(p.get("must_change")) == row.must_change
    )


# Verified against when the user has no password, so an unknown name costs the same time.
_DUMMY: str | None = None


def _verify(row: UserPassword | None, password: str) -> bool:
    global _DUMMY
    from argon2.exceptions import InvalidHashError, VerificationError

    if row is None:
        if _DUMMY is None:
            _DUMMY = _argon2().hash(secrets.token_urlsafe(16))
        encoded = _DUMMY
    else:
        encoded = row.hash
    try:
        return _argon2().verify(encoded, password) and row is not None
    except (VerificationError, InvalidHashError):
        return False


def _failed(gov: Governance, name: str, reason: str, address: str | None) -> NotAuthenticated:
    """Audit a failed sign-in (never the password given) and return the one refusal."""
    from mlgov.governance.roles import validate_user_name

    try:
        actor = validate_user_name(name)
    except BadInput:
        actor = "unknown"  # a malformed name is not echoed into the trail
        reason = "malformed user name"
    with gov.store.transaction() as s:
        gov.audit(
            s,
            actor,
            "session.signin_failed",
            _subject(actor),
            {"reason": reason, "address": address},
        )
    return NotAuthenticated(REFUSED)


def sign_in(gov: Governance, name: str, password: str, *, address: str | None) -> SignedIn:
    """Check a name and password; a new session, or NotAuthenticated (the same message for
    every failure, audited with its reason)."""
    if not isinstance(password, str) or not password or len(password) > MAX_LENGTH:
        raise _failed(gov, name, "empty or overlong password", address)
    with gov.store.read() as s:
        user = s.scalar(select(User).where(User.name == name))
        row = s.get(UserPassword, user.id) if user is not None else None
        ok = _verify(row, password)
        if user is None:
            reason = "unknown user"
        elif not user.active:
            reason = "user removed"
        elif row is None:
            reason = "no password set"
        elif not ok:
            reason = "wrong password"
        elif not _vouched_for(s, row):
            reason = "password row disagrees with the audit trail"
        else:
            reason = ""
        if reason:
            raise _failed(gov, name, reason, address)
        assert user is not None and row is not None
        must_change = row.must_change
        needs_rehash = _argon2().check_needs_rehash(row.hash)
    with gov.store.transaction() as s:
        user = gov.user(s, name)
        now = gov.now()
        signed = _start(gov, s, user, "password", address, must_change, now)
        if needs_rehash and not must_change:
            _store_password(
                gov,
                s,
                user.name,
                user,
                password,
                must_change=False,
                action="user.password_change",
                now=now,
                extra={"rehash": True},
            )
    return signed


def _start(
    gov: Governance,
    s: Session,
    user: User,
    method: str,
    address: str | None,
    must_change: bool,
    now: datetime,
    extra: dict[str, Any] | None = None,
) -> SignedIn:
    secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session = ConsoleSession(
        id=_sha256(secret),
        user_id=user.id,
        user=user,
        created_at=now,
        last_seen_at=now,
        csrf_token=csrf,
        method=method,
        ended_at=None,
        audit_seq=0,
    )
    s.add(session)
    s.flush()
    payload = {
        "session_id": session.id,
        "session": session_ref(session.id),
        "method": method,
        "address": address,
        "must_change": must_change,
    }
    event = gov.audit(
        s, user.name, "session.start", _subject(user.name), payload | (extra or {}), at=now
    )
    session.audit_seq = event.seq
    return SignedIn(secret=secret, user=user.name, csrf_token=csrf, must_change=must_change)


def start_proxied(gov: Governance, name: str, *, address: str | None, proxy: str) -> SignedIn:
    """A session for the user a trusted SSO proxy names (the surface checked the proxy's
    address); no password. NotAuthenticated, audited, for an unknown or removed user."""
    with gov.store.read() as s:
        user = s.scalar(select(User).where(User.name == name))
        reason = "unknown user" if user is None else ("" if user.active else "removed user")
    if reason:
        raise _failed(gov, name, f"the SSO proxy named this {reason}", address)
    with gov.store.transaction() as s:
        user = gov.user(s, name)
        return _start(gov, s, user, "proxy", address, False, gov.now(), {"proxy": proxy})


def _session_vouched(s: Session, row: ConsoleSession) -> bool:
    event = s.get(AuditEvent, row.audit_seq)
    return (
        event is not None
        and event.action == "session.start"
        and event.actor == row.user.name
        and event.payload.get("session_id") == row.id
        and event.payload.get("method", "password") == row.method
    )


def _end(gov: Governance, session_id: str, action: str, reason: str) -> None:
    with gov.store.transaction() as s:
        row = s.get(ConsoleSession, session_id, with_for_update=True)
        if row is None or row.ended_at is not None:
            return
        now = gov.now()
        row.ended_at = now
        gov.audit(
            s,
            row.user.name,
            action,
            _subject(row.user.name),
            {"session": session_ref(row.id), "reason": reason},
            at=now,
        )


def authenticate(
    gov: Governance,
    secret: str,
    *,
    idle: timedelta = DEFAULT_IDLE,
    absolute: timedelta = DEFAULT_ABSOLUTE,
) -> SessionPrincipal:
    """The user a session cookie proves; a session past its idle or absolute limit is ended
    (and audited) and refused. NotAuthenticated, the same for every failure."""
    refused = NotAuthenticated("not signed in, or the session has ended: sign in again")
    if not secret or len(secret) > 128:
        raise refused
    session_id = _sha256(secret)
    with gov.store.read() as s:
        row = s.get(ConsoleSession, session_id)
        if row is None or row.ended_at is not None or not _session_vouched(s, row):
            raise refused
        now = gov.now()
        expired = ""
        if now - row.created_at >= absolute:
            expired = f"signed in longer than {absolute}"
        elif now - row.last_seen_at >= idle:
            expired = f"idle longer than {idle}"
        active = row.user.active
        password = s.get(UserPassword, row.user_id)
        principal = SessionPrincipal(
            user=row.user.name,
            session_id=row.id,
            csrf_token=row.csrf_token,
            must_change=row.method == "password" and (password is None or password.must_change),
            method=row.method,
        )
        stale = now - row.last_seen_at >= min(LAST_SEEN_RESOLUTION, idle / 10)
    if expired or not active:
        _end(gov, session_id, "session.expire", expired or "user removed")
        raise refused
    if stale:
        with gov.store.transaction() as s:
            fresh = s.get(ConsoleSession, session_id)
            if fresh is not None and fresh.ended_at is None:
                fresh.last_seen_at = now
    return principal


def sign_out(gov: Governance, secret: str) -> None:
    """End the session the cookie names (nothing happens for an unknown or ended one)."""
    if secret and len(secret) <= 128:
        _end(gov, _sha256(secret), "session.end", "signed out")


def change_password(gov: Governance, actor: str, current: str, new: str) -> None:
    """The signed-in user replaces their password (the one-time one, or any)."""
    check_password_rules(new, "the new password")
    if hmac.compare_digest(current.encode(), new.encode()):
        raise BadInput("the new password must differ from the current one")
    with gov.store.transaction() as s:
        user = gov.user(s, actor)
        row = s.get(UserPassword, user.id, with_for_update=True)
        if row is None or not _verify(row, current) or not _vouched_for(s, row):
            raise NotAuthenticated("the current password is wrong")
        _store_password(
            gov,
            s,
            actor,
            user,
            new,
            must_change=False,
            action="user.password_change",
            now=gov.now(),
            extra={},
        )
