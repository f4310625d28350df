"""Idempotency keys: a retried state-changing request does its work once and answers the same.

A client may send `Idempotency-Key: <1-200 printable ASCII characters>` with a request that
changes state. The server then

1. `claim`s the key for the authenticated caller, with the request's fingerprint (method,
   path, query and canonical JSON body): a new key inserts an `in_progress` row and commits;
   a key already answered for the same request gives a `Replay` of that answer; the same key
   for a different request is refused (`IdempotencyKeyReused`, HTTP 422); a key whose
   request is still running is refused for now (`RequestInProgress`, HTTP 409), unless that
   attempt's lease has ended (the process that ran it died), and then this request takes it
   over and runs the work again;
2. runs the work (its own transactions, its own audit events);
3. `complete`s the key with the status and JSON it answers, or `release`s it (deletes the
   row) when the work failed: a refusal or an error is not remembered, so a retry, perhaps
   after the cause is fixed, runs the work again.

Two concurrent claims of one key: the database decides, by UNIQUE (principal, key) (and on
SQLite by BEGIN IMMEDIATE, which serializes writers); the loser is told the request is in
progress.

The window that remains: the work and the stored answer are two transactions. If the
process dies after the work committed and before `complete` did, the row stays
`in_progress`; retries are refused with 409 until the lease ends, and the retry after that
runs the work a second time. The governance rules still hold then: a second decision by the
same approver is refused (one decision per approver, enforced by the database too), an
approval request while one is pending is refused, a version already deployed is no longer in
train and its deploy is refused ("only a version in train is deployed"), a second undeploy
finds the target serving nothing, a second `users add` with the same roles is refused. So the
retry gets a refusal instead of the first answer, never a second decision, request,
deployment or user. Work that is not refused when repeated (a monitoring run, a checkpoint, a
rollback, which steps one deployment further back if the target has one) runs twice in that
case, as it would for a client that retried without a key.

Keys are transport bookkeeping, not governance state: neither a claim nor a completion is an
audit event. The audit trail records what changed and who changed it (the work's own events,
once); an idempotency row only remembers an answer already given, changes no governance
decision and is deleted after the retention (rows older than it are purged on the next
claim). Putting it in the chain would make the chain record retries of the transport layer.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mlgov.governance.errors import BadInput, IdempotencyKeyReused, RequestInProgress
from mlgov.governance.roles import validate_user_name
from mlgov.governance.tables import IdempotencyKey

if TYPE_CHECKING:
    from mlgov.governance.service import Governance

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200
_KEY = re.compile(rf"[\x20-\x7e]{{1,{MAX_KEY_LENGTH}}}")
# How long a claimed key is taken to be running before another attempt may take it over.
LEASE = timedelta(minutes=10)
# How long an answer is kept for replays.
RETENTION = timedelta(hours=24)
IN_PROGRESS, DONE = "in_progress", "done"


@dataclass(frozen=True)
class Claimed:
    """The key is this request's: run the work, then `complete` or `release` it."""

    principal: str
    key: str
    taken_over: bool  # an earlier attempt claimed it and its lease ended


@dataclass(frozen=True)
class Replay:
    """The key was answered already, for the same request: answer the same again."""

    status_code: int
    response: Any


def validate_key(key: str) -> str:
    if not isinstance(key, str) or _KEY.fullmatch(key) is None:
        raise BadInput(
            f"the {HEADER} header must be 1 to {MAX_KEY_LENGTH} printable ASCII characters"
        )
    return key


def fingerprint(method: str, target: str, body: bytes) -> str:
    """SHA-256 of the request: its method, its target (path and canonical query) and its
    canonical JSON body (b"" for none). Each part is length-prefixed, so no two different
    requests share an encoding."""
    digest = hashlib.sha256()
    for part in (method.upper().encode("ascii"), target.encode("utf-8"), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _row(s: Session, principal: str, key: str) -> IdempotencyKey | None:
    stmt = select(IdempotencyKey).where(
        IdempotencyKey.principal == principal, IdempotencyKey.key == key
    )
    return s.scalar(stmt.with_for_update())


def _still_running() -> RequestInProgress:
    return RequestInProgress(f"a request with this {HEADER} is still being processed; retry later")


def claim(
    gov: Governance,
    principal: str,
    key: str,
    request_sha256: str,
    *,
    lease: timedelta = LEASE,
    retention: timedelta = RETENTION,
) -> Claimed | Replay:
    """Claim `key` for `principal`'s request (see the module's docstring for the outcomes)."""
    validate_user_name(principal)
    validate_key(key)
    if retention <= lease:
        raise ValueError("the retention of idempotency keys must be longer than their lease")
    now = gov.now()
    try:
        with gov.store.transaction() as s:
            # Opportunistic purge: whatever is older than the retention, done or abandoned.
            s.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < now - retention))
            row = _row(s, principal, key)
            if row is None:
                s.add(
                    IdempotencyKey(
                        principal=principal,
                        key=key,
                        request_sha256=request_sha256,
                        state=IN_PROGRESS,
                        created_at=now,
                    )
                )
                s.flush()
                return Claimed(principal, key, taken_over=False)
            if row.request_sha256 != request_sha256:
                # Never the body, neither this request's nor the first one's.
                raise IdempotencyKeyReused(
                    f"this {HEADER} was used already for a different request (method, path "
                    "or body differ): send a new key with each new request"
                )
            if row.state == DONE:
                assert row.status_code is not None and row.response_json is not None
                return Replay(row.status_code, json.loads(row.response_json))
            if now - row.created_at < lease:
                raise _still_running()
            # The attempt that claimed it has held it past the lease: it died. Take it over.
            row.created_at = now
            s.flush()
            return Claimed(principal, key, taken_over=True)
    except IntegrityError:
        # UNIQUE (principal, key): another request claimed this key at the same moment.
        raise _still_running() from None


def complete(gov: Governance, principal: str, key: str, status_code: int, response: Any) -> bool:
    """Keep the answer given to the claimed request; False if the claim is no longer there
    (purged, or released by another attempt after a takeover)."""
    if isinstance(status_code, bool) or not 100 <= status_code <= 599:
        raise ValueError(f"not an HTTP status: {status_code!r}")
    text = json.dumps(response, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    with gov.store.transaction() as s:
        row = _row(s, principal, key)
        if row is None or row.state != IN_PROGRESS:
            return False
        row.state, row.status_code, row.response_json = DONE, status_code, text
        row.completed_at = gov.now()
        return True


def release(gov: Governance, principal: str, key: str) -> bool:
    """Forget a claim whose work failed, so a retry runs the work again."""
    with gov.store.transaction() as s:
        row = _row(s, principal, key)
        if row is None or row.state != IN_PROGRESS:
            return False
        s.delete(row)
        return True
