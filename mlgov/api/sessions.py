"""Use cases of console sign-in: passwords (set by an admin, changed by their user) and
sessions (sign in, prove a session on each request, check a form's CSRF token, sign out)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from mlgov.api.actor import Actor, Identification
from mlgov.api.platform import Platform
from mlgov.api.results import Result

MIN_PASSWORD_LENGTH = 12


@dataclass(frozen=True)
class PasswordSet(Result):
    user: str
    must_change: bool
    set_at: str
    set_by: str
    sessions_ended: int
    password: str | None  # a generated one-time password: this is the only time it is shown


@dataclass(frozen=True)
class SignedIn:
    user: str
    must_change: bool
    secret: str  # the session cookie's value: never stored, logged or shown
    csrf_token: str


@dataclass(frozen=True)
class ConsoleSession:
    """A proven console session: its actor, its CSRF token and whether the password must be
    changed before anything else."""

    actor: Actor
    csrf_token: str
    must_change: bool


def set_password(
    platform: Platform, actor: Actor, user: str, *, password: str | None = None
) -> PasswordSet:
    """An admin sets `user` a one-time password (generated if none is given), to be changed
    at the first sign-in; the user's open sessions end."""
    from mlgov.governance import sessions

    done = sessions.set_password(platform.governance(), actor.name, user, password=password)
    return PasswordSet.from_mapping(done.__dict__)


def change_password(platform: Platform, actor: Actor, current: str, new: str) -> None:
    from mlgov.governance import sessions

    sessions.change_password(platform.governance(), actor.name, current, new)


def sign_in(platform: Platform, user: str, password: str, *, address: str | None) -> SignedIn:
    """A new session for a correct name and password; NotAuthenticated (one message for
    every failure, each failure audited without the password) otherwise."""
    from mlgov.governance import sessions

    done = sessions.sign_in(platform.governance(), user, password, address=address)
    return SignedIn(done.user, done.must_change, done.secret, done.csrf_token)


def authenticate(platform: Platform, secret: str) -> ConsoleSession:
    """The session a cookie proves, within the idle and absolute limits in the settings."""
    from mlgov.governance import sessions

    settings = platform.settings
    principal = sessions.authenticate(
        platform.governance(),
        secret,
        idle=timedelta(seconds=settings.console_idle_seconds),
        absolute=timedelta(seconds=settings.console_absolute_seconds),
    )
    how = Identification.PROXY if principal.method == "proxy" else Identification.SESSION
    actor = Actor(principal.user, how, credential=sessions.session_ref(principal.session_id))
    return ConsoleSession(actor, principal.csrf_token, principal.must_change)


def start_proxied(platform: Platform, user: str, *, address: str | None, proxy: str) -> SignedIn:
    """A session for the user the bank's SSO proxy (at `proxy`, trusted by the settings)
    names in its header; no password. NotAuthenticated, audited, for an unknown user."""
    from mlgov.governance import sessions

    done = sessions.start_proxied(platform.governance(), user, address=address, proxy=proxy)
    return SignedIn(done.user, done.must_change, done.secret, done.csrf_token)


def csrf_ok(session: ConsoleSession, presented: str | None) -> bool:
    import hmac

    return bool(presented) and hmac.compare_digest(
        session.csrf_token.encode(), (presented or "").encode()
    )


def sign_out(platform: Platform, secret: str) -> None:
    from mlgov.governance import sessions

    sessions.sign_out(platform.governance(), secret)
