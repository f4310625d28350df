"""Idempotency keys over the core (governance/idempotency.py): what the server does around a
state-changing request sent with an `Idempotency-Key` header. The principal is always the
proven actor, so one caller's keys never touch another's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlgov.api.actor import Actor
from mlgov.api.platform import Platform
from mlgov.api.results import Result

HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class Claimed(Result):
    """The key is this request's: run the work, then `complete` or `release`."""

    key: str
    taken_over: bool  # an earlier attempt held it past its lease (it died)


@dataclass(frozen=True)
class Replay(Result):
    """The same request was answered already: answer this again."""

    status_code: int
    response: Any


def fingerprint(method: str, target: str, body: bytes) -> str:
    """The request as the key remembers it: method, path with canonical query, JSON body."""
    from mlgov.governance import idempotency

    return idempotency.fingerprint(method, target, body)


def claim(platform: Platform, actor: Actor, key: str, request_sha256: str) -> Claimed | Replay:
    """Claim `key` for the actor's request; IdempotencyKeyReused if it named another request,
    RequestInProgress if that request is still running."""
    from mlgov.governance import idempotency

    got = idempotency.claim(platform.governance(), actor.name, key, request_sha256)
    if isinstance(got, idempotency.Replay):
        return Replay(got.status_code, got.response)
    return Claimed(got.key, got.taken_over)


def complete(platform: Platform, actor: Actor, key: str, status_code: int, response: Any) -> bool:
    """Keep the answer (JSON-ready) for replays; False if the claim was gone."""
    from mlgov.governance import idempotency

    return idempotency.complete(platform.governance(), actor.name, key, status_code, response)


def release(platform: Platform, actor: Actor, key: str) -> bool:
    """The work failed: forget the claim, so a retry runs it again."""
    from mlgov.governance import idempotency

    return idempotency.release(platform.governance(), actor.name, key)
