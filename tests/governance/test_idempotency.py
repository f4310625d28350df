"""Idempotency keys (governance/idempotency.py), on SQLite and, with MLGOV_TEST_PG_URL, on
PostgreSQL: claim, replay, a key reused for another request, the lease and its takeover, the
purge, concurrent claims (the unique constraint decides) and the rules the table enforces."""

from __future__ import annotations

import importlib.util
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from mlgov.governance import idempotency, tables
from mlgov.governance.errors import BadInput, IdempotencyKeyReused, RequestInProgress
from mlgov.governance.store import _versions_dir
from mlgov.governance.tables import AuditEvent, IdempotencyKey

FP = idempotency.fingerprint("POST", "/api/v1/users", b'{"name":"olga","roles":["auditor"]}')


def _rows(gov) -> list[IdempotencyKey]:
    with gov.store.read() as s:
        return list(s.scalars(select(IdempotencyKey).order_by(IdempotencyKey.id)))


def _events(gov) -> int:
    with gov.store.read() as s:
        return s.scalar(select(func.count()).select_from(AuditEvent))


def test_a_completed_request_is_replayed_with_its_answer(gov):
    first = idempotency.claim(gov, "ds1", "k-1", FP)
    assert first == idempotency.Claimed("ds1", "k-1", taken_over=False)
    assert idempotency.complete(gov, "ds1", "k-1", 201, {"name": "olga", "n": [1, 2.5, None]})
    again = idempotency.claim(gov, "ds1", "k-1", FP)
    assert again == idempotency.Replay(201, {"name": "olga", "n": [1, 2.5, None]})
    (row,) = _rows(gov)
    assert (row.state, row.status_code, row.completed_at) == ("done", 201, gov.now())


def test_the_same_key_for_another_request_is_refused_without_echoing_it(gov):
    idempotency.claim(gov, "ds1", "k", FP)
    idempotency.complete(gov, "ds1", "k", 200, {})
    other = idempotency.fingerprint("POST", "/api/v1/users", b'{"name":"secret-person"}')
    with pytest.raises(IdempotencyKeyReused, match="Idempotency-Key") as refused:
        idempotency.claim(gov, "ds1", "k", other)
    assert "secret-person" not in str(refused.value)
    assert isinstance(refused.value, BadInput)
    # Also while the first is still in progress, and for another path or method.
    idempotency.claim(gov, "ds1", "k2", FP)
    for fp in (
        other,
        idempotency.fingerprint("DELETE", "/api/v1/users", FP.encode()),
        idempotency.fingerprint("POST", "/api/v1/users?x=1", b""),
    ):
        with pytest.raises(IdempotencyKeyReused):
            idempotency.claim(gov, "ds1", "k2", fp)


def test_the_fingerprint_separates_its_parts():
    assert idempotency.fingerprint("POST", "/a", b"b") != idempotency.fingerprint(
        "POST", "/ab", b""
    )
    assert idempotency.fingerprint("post", "/a", b"") == idempotency.fingerprint("POST", "/a", b"")


def test_keys_are_per_caller(gov):
    assert isinstance(idempotency.claim(gov, "ds1", "shared", FP), idempotency.Claimed)
    assert isinstance(idempotency.claim(gov, "ds2", "shared", FP), idempotency.Claimed)


def test_a_running_request_is_409_until_its_lease_ends_then_taken_over(gov, clock):
    idempotency.claim(gov, "ds1", "k", FP)
    with pytest.raises(RequestInProgress, match="still being processed; retry later"):
        idempotency.claim(gov, "ds1", "k", FP)
    clock.advance(minutes=9, seconds=59)
    with pytest.raises(RequestInProgress):
        idempotency.claim(gov, "ds1", "k", FP)
    clock.advance(seconds=1)
    assert idempotency.claim(gov, "ds1", "k", FP) == idempotency.Claimed("ds1", "k", True)
    # The takeover holds a fresh lease.
    with pytest.raises(RequestInProgress):
        idempotency.claim(gov, "ds1", "k", FP)
    assert _rows(gov)[0].created_at == clock.now()


def test_a_failed_request_is_released_and_runs_again(gov):
    idempotency.claim(gov, "ds1", "k", FP)
    assert idempotency.release(gov, "ds1", "k")
    assert _rows(gov) == []
    assert idempotency.claim(gov, "ds1", "k", FP) == idempotency.Claimed("ds1", "k", False)
    # A done answer is never released, and nothing unclaimed is completed.
    idempotency.complete(gov, "ds1", "k", 200, {"ok": True})
    assert not idempotency.release(gov, "ds1", "k")
    assert not idempotency.complete(gov, "ds1", "k", 200, {"ok": False})
    assert not idempotency.complete(gov, "ds1", "never-claimed", 200, {})
    assert idempotency.claim(gov, "ds1", "k", FP) == idempotency.Replay(200, {"ok": True})


def test_keys_older_than_the_retention_are_purged_on_a_claim(gov, clock):
    idempotency.claim(gov, "ds1", "old-done", FP)
    idempotency.complete(gov, "ds1", "old-done", 200, {})
    idempotency.claim(gov, "ds1", "old-abandoned", FP)
    clock.advance(hours=23)
    idempotency.claim(gov, "ds2", "recent", FP)
    clock.advance(hours=1, seconds=1)
    assert len(_rows(gov)) == 3  # nothing is purged without a claim
    idempotency.claim(gov, "eng", "trigger", FP)
    assert [(r.principal, r.key) for r in _rows(gov)] == [("ds2", "recent"), ("eng", "trigger")]
    # A purged key is a new key.
    assert idempotency.claim(gov, "ds1", "old-done", FP) == idempotency.Claimed(
        "ds1", "old-done", False
    )


@pytest.mark.parametrize("key", ["", "x" * 201, "clé", "line\nbreak", "tab\there", "\x00", "\x7f"])
def test_a_malformed_key_is_bad_input_naming_the_header(gov, key):
    with pytest.raises(BadInput, match="Idempotency-Key header must be 1 to 200 printable ASCII"):
        idempotency.claim(gov, "ds1", key, FP)
    assert _rows(gov) == []


@pytest.mark.parametrize("key", ["x" * 200, "a", "550e8400-e29b-41d4-a716-446655440000", " ~!"])
def test_printable_ascii_keys_are_accepted(gov, key):
    assert isinstance(idempotency.claim(gov, "ds1", key, FP), idempotency.Claimed)


def test_neither_claims_nor_answers_are_audit_events(gov, clock):
    before = _events(gov)
    idempotency.claim(gov, "ds1", "k", FP)
    idempotency.complete(gov, "ds1", "k", 201, {})
    idempotency.claim(gov, "ds1", "k", FP)
    idempotency.claim(gov, "ds1", "k2", FP)
    idempotency.release(gov, "ds1", "k2")
    assert _events(gov) == before


def _race(gov, workers: int, job) -> list[Any]:
    barrier = threading.Barrier(workers)
    outcomes: list[Any] = [None] * workers

    def run(i: int) -> None:
        barrier.wait(timeout=30)
        try:
            outcomes[i] = job()
        except Exception as exc:  # noqa: BLE001 - the outcome is the assertion
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


def test_concurrent_claims_of_one_key_have_one_winner(gov):
    for round_ in range(5):
        key = f"race-{round_}"
        outcomes = _race(gov, 8, lambda key=key: idempotency.claim(gov, "ds1", key, FP))
        won = [o for o in outcomes if isinstance(o, idempotency.Claimed)]
        lost = [o for o in outcomes if isinstance(o, RequestInProgress)]
        assert len(won) == 1 and len(lost) == 7, outcomes
        assert str(lost[0]) == (
            "a request with this Idempotency-Key is still being processed; retry later"
        )
    assert len(_rows(gov)) == 5


def test_concurrent_takeovers_of_an_abandoned_key_have_one_winner(gov, clock):
    idempotency.claim(gov, "ds1", "k", FP)
    clock.advance(minutes=11)
    outcomes = _race(gov, 6, lambda: idempotency.claim(gov, "ds1", "k", FP))
    won = [o for o in outcomes if isinstance(o, idempotency.Claimed)]
    assert won == [idempotency.Claimed("ds1", "k", True)], outcomes
    assert all(isinstance(o, RequestInProgress) for o in outcomes if o not in won), outcomes


def test_the_lease_must_be_shorter_than_the_retention(gov):
    with pytest.raises(ValueError, match="longer than their lease"):
        idempotency.claim(gov, "ds1", "k", FP, lease=timedelta(days=2), retention=timedelta(days=1))


# --- the table's own rules ---------------------------------------------------------------------


def _migration() -> Any:
    path = next(_versions_dir().glob("0009_*.py"))
    spec = importlib.util.spec_from_file_location("migration_0009", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_migration_freezes_the_same_rules_as_the_table():
    migration = _migration()
    assert migration.STATES == tables.one_of("state", tables.IDEMPOTENCY_STATES)
    assert migration.DONE == tables.IDEMPOTENCY_DONE_SQL
    assert tables.IDEMPOTENCY_STATES == (idempotency.IN_PROGRESS, idempotency.DONE)


_INSERT = (
    "INSERT INTO idempotency_keys (principal, key, request_sha256, state, status_code, "
    "response_json, created_at, completed_at) VALUES (:p, :k, :f, :s, :c, :r, :t, :t)"
)


@pytest.mark.parametrize(
    ("state", "status", "response"),
    [("finished", 200, "{}"), ("done", None, "{}"), ("done", 200, None)],
)
def test_the_database_refuses_a_bad_row(store, state, status, response):
    row = {"p": "u", "k": "k", "f": "0" * 64, "s": state, "c": status, "r": response}
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(text(_INSERT), row | {"t": "2026-01-01 00:00:00"})


def test_the_database_refuses_a_second_row_for_one_callers_key(store):
    row = {"p": "u", "k": "k", "f": "0" * 64, "s": "in_progress", "c": None, "r": None}
    with store.engine.begin() as conn:
        conn.execute(text(_INSERT), row | {"t": "2026-01-01 00:00:00"})
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(text(_INSERT), row | {"t": "2026-01-01 00:00:01"})
