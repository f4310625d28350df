"""Who calls: a bearer token, checked on every request; failures throttled per address.

The bearer is either one of mlgov's personal tokens or, when OIDC is configured, a JWT from
the bank's identity provider; its shape tells which. Every failure answers the same 401,
counts against the caller's address, and is logged with the reason but never the token.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict, deque

from mlgov.api import Actor, Platform, errors
from mlgov.api import tokens as api
from mlgov.server import oidc

log = logging.getLogger("mlgov.server.auth")


class TooManyFailures(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins from this address: retry in {retry_after} s")
        self.retry_after = retry_after


class FailureThrottle:
    """`limit` failed attempts within `window` seconds from one address lock it out for
    `window` seconds. Kept in memory, per server process."""

    def __init__(self, limit: int = 10, window: float = 60.0) -> None:
        self.limit, self.window = limit, window
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        seen = self._failures[address]
        while seen and now - seen[0] > self.window:
            seen.popleft()
        return seen

    def check(self, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            seen = self._recent(address, now)
            if len(seen) >= self.limit:
                raise TooManyFailures(max(1, int(self.window - (now - seen[0])) + 1))

    def failed(self, address: str) -> None:
        with self._lock:
            self._recent(address, time.monotonic()).append(time.monotonic())


def bearer(header: str | None) -> str:
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise errors.NotAuthenticated("not authenticated: send 'Authorization: Bearer <token>'")
    return value.strip()


def authenticate(
    platform: Platform,
    throttle: FailureThrottle,
    header: str | None,
    address: str,
    verifier: oidc.Verifier | None = None,
) -> Actor:
    throttle.check(address)
    try:
        return _actor(platform, verifier, header, address)
    except errors.NotAuthenticated:
        throttle.failed(address)
        raise


def _actor(
    platform: Platform, verifier: oidc.Verifier | None, header: str | None, address: str
) -> Actor:
    try:
        presented = bearer(header)
    except errors.NotAuthenticated:
        log.warning("authentication failed from %s: no bearer token", address)
        raise
    if oidc.looks_like_jwt(presented):
        return _oidc_actor(platform, verifier, presented, address)
    try:
        return api.authenticate(platform, presented)
    except errors.NotAuthenticated:
        log.warning("authentication failed from %s: personal token refused", address)
        raise


def _oidc_actor(
    platform: Platform, verifier: oidc.Verifier | None, presented: str, address: str
) -> Actor:
    """The actor a provider's JWT proves. Every failure raises the one NotAuthenticated a
    bad personal token raises too, so the client cannot tell an expired token from a wrong
    audience or a forged signature; the log says which."""
    refused = errors.NotAuthenticated(api.refused_message())
    if verifier is None:
        log.warning("authentication failed from %s: a JWT, but OIDC is not configured", address)
        raise refused
    try:
        verified = verifier.verify(presented)
    except oidc.Refused as exc:
        log.warning("authentication failed from %s: OIDC token refused: %s", address, exc)
        raise refused from None
    try:
        return api.authenticate_oidc(platform, verified.user, verified.subject, verified.jti)
    except errors.NotAuthenticated:
        log.warning(
            "authentication failed from %s: OIDC subject %s names %s, not an active mlgov user",
            address,
            oidc.shown(verified.subject),
            oidc.shown(verified.user),
        )
        raise refused from None
