"""Who calls: a bearer token, checked on every request; failures throttled per address."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

from mlgov.api import Actor, Platform, errors
from mlgov.api import tokens as api


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
    platform: Platform, throttle: FailureThrottle, header: str | None, address: str
) -> Actor:
    throttle.check(address)
    try:
        return api.authenticate(platform, bearer(header))
    except errors.NotAuthenticated:
        throttle.failed(address)
        raise
