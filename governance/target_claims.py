"""At most one change of a serving target at a time, across processes and hosts.

A deploy builds its service before the move that switches the target, so the version's
operation (governance/operations.py) cannot keep two deploys of different versions to one
target apart: both would build, then switch one after the other. A claim row per target,
taken before the build and dropped when the change ends, does: the second change is refused
at once (409) instead of silently replacing the first.

The claim is a lease: a move that died holding it (SIGKILL, power loss) leaves a row that
ends at `expires_at`, or at once when its holder is a process of this host that is gone.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from mlgov.governance.clock import isoformat
from mlgov.governance.errors import Conflict
from mlgov.governance.operations import NODE, pid_alive
from mlgov.governance.tables import TargetClaim

if TYPE_CHECKING:
    from mlgov.governance.service import Governance

# Longer than any build: a lease that ends while its move still runs would let a second in.
LEASE = timedelta(minutes=30)
_HELD: set[str] = set()  # claim ids held by a thread of this process
_HELD_LOCK = threading.Lock()


def _holder() -> str:
    return f"{NODE}:{os.getpid()}"


def _holder_gone(claim: TargetClaim) -> bool:
    host, _, pid_text = claim.holder.rpartition(":")
    if host != NODE or not pid_text.isdigit():
        return False  # another host's: only its lease says when it ends
    pid = int(pid_text)
    if pid == os.getpid():
        with _HELD_LOCK:
            return claim.claim_id not in _HELD
    return not pid_alive(pid)


def _busy(target: str, claim: TargetClaim | None) -> Conflict:
    if claim is None:
        return Conflict(f"target '{target}' is being changed by another request right now")
    return Conflict(
        f"target '{target}' is being changed: {claim.purpose} by {claim.actor} since "
        f"{isoformat(claim.claimed_at)}",
        hint=f"retry when it has finished (the claim lapses by {isoformat(claim.expires_at)})",
    )


@contextmanager
def claimed(gov: Governance, target: str, *, actor: str, purpose: str) -> Iterator[str]:
    """Hold `target` for the block; a target another change holds is refused (Conflict)."""
    claim_id = uuid.uuid4().hex
    with _HELD_LOCK:
        _HELD.add(claim_id)
    try:
        _take(gov, target, claim_id, actor=actor, purpose=purpose)
        try:
            yield claim_id
        finally:
            with gov.store.transaction() as s:
                s.execute(
                    delete(TargetClaim).where(
                        TargetClaim.target == target, TargetClaim.claim_id == claim_id
                    )
                )
    finally:
        with _HELD_LOCK:
            _HELD.discard(claim_id)


def _take(gov: Governance, target: str, claim_id: str, *, actor: str, purpose: str) -> None:
    now = gov.now()
    try:
        with gov.store.transaction() as s:
            current = s.get(TargetClaim, target, with_for_update=True)
            if current is not None:
                if current.expires_at > now and not _holder_gone(current):
                    raise _busy(target, current)
                s.delete(current)  # a lapsed lease, or a holder that is gone
                s.flush()
            s.add(
                TargetClaim(
                    target=target,
                    claim_id=claim_id,
                    actor=actor,
                    purpose=purpose[:200],
                    holder=_holder()[:200],
                    claimed_at=now,
                    expires_at=now + LEASE,
                )
            )
    except IntegrityError:  # another request inserted its claim first
        raise _busy(target, None) from None
