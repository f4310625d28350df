"""One change of a serving target at a time (governance/target_claims.py)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from mlgov.governance import target_claims
from mlgov.governance.errors import Conflict
from mlgov.governance.tables import TargetClaim


def _claims(gov) -> list[tuple[str, str]]:
    with gov.store.read() as s:
        return [(c.target, c.actor) for c in s.scalars(select(TargetClaim))]


def test_a_held_target_refuses_a_second_change_and_is_free_after(gov):
    with target_claims.claimed(gov, "credit", actor="eve", purpose="deploy of credit/1"):
        assert _claims(gov) == [("credit", "eve")]
        with pytest.raises(Conflict, match="deploy of credit/1 by eve"):
            with target_claims.claimed(gov, "credit", actor="ed", purpose="deploy of credit/2"):
                pass
        # Another target is independent.
        with target_claims.claimed(gov, "fraud", actor="ed", purpose="rollback of fraud"):
            pass
    assert _claims(gov) == []
    with target_claims.claimed(gov, "credit", actor="ed", purpose="deploy of credit/2"):
        pass


def test_the_claim_is_dropped_when_the_change_fails(gov):
    with pytest.raises(RuntimeError):
        with target_claims.claimed(gov, "credit", actor="eve", purpose="deploy"):
            raise RuntimeError("build failed")
    assert _claims(gov) == []


def test_a_thread_of_this_process_holding_it_is_live(gov):
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with target_claims.claimed(gov, "credit", actor="eve", purpose="deploy"):
            inside.set()
            release.wait(timeout=30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(timeout=30)
    try:
        with pytest.raises(Conflict):
            with target_claims.claimed(gov, "credit", actor="ed", purpose="deploy"):
                pass
    finally:
        release.set()
        holder.join(timeout=30)


def test_a_dead_holder_or_a_lapsed_lease_is_taken_over(gov, clock):
    now = gov.now()
    with gov.store.transaction() as s:
        s.add(
            TargetClaim(
                target="gone",
                claim_id="a" * 32,
                actor="eve",
                purpose="deploy",
                holder=f"{target_claims.NODE}:{2**22 + 4321}",  # no such process
                claimed_at=now,
                expires_at=now + timedelta(minutes=30),
            )
        )
        s.add(
            TargetClaim(
                target="lapsed",
                claim_id="b" * 32,
                actor="eve",
                purpose="deploy",
                holder="another-host:1",
                claimed_at=now - timedelta(hours=2),
                expires_at=now - timedelta(minutes=1),
            )
        )
        s.add(
            TargetClaim(
                target="elsewhere",
                claim_id="c" * 32,
                actor="eve",
                purpose="deploy",
                holder="another-host:1",
                claimed_at=now,
                expires_at=now + timedelta(minutes=30),
            )
        )
    for target in ("gone", "lapsed"):
        with target_claims.claimed(gov, target, actor="ed", purpose="deploy"):
            pass
    with pytest.raises(Conflict, match="lapses by"):  # another host's live lease stands
        with target_claims.claimed(gov, "elsewhere", actor="ed", purpose="deploy"):
            pass
    assert _claims(gov) == [("elsewhere", "eve")]
