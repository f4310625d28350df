"""The audit chain detects edited, deleted, inserted and reordered events, and a cut tail."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from support import tampering

from mlgov.governance.audit import GENESIS


def _sql(gov, statement: str, **params) -> None:
    # An insider: the database's own chain constraints are lifted (see tampering.insider).
    with tampering.insider(gov.store) as conn:
        conn.execute(text(statement), params)


@pytest.fixture
def busy(gov, registered):
    gov.promote("ds1", "credit", "1", "train")
    gov.register("ds1", "credit", risk_tier="low", purpose="challenger", run_id="r2")
    report = gov.audit_verify("aud")
    assert report.ok and report.events >= 10
    return gov


def test_clean_chain_verifies(busy):
    report = busy.audit_verify("aud")
    assert report.ok and report.first_bad_seq is None
    assert report.head_seq == report.events


def test_edited_payload_detected(busy):
    _sql(busy, "UPDATE audit_events SET payload = :p WHERE seq = 5", p=json.dumps({"roles": []}))
    report = busy.audit_verify("aud")
    assert not report.ok and report.first_bad_seq == 5 and "modified" in report.problem


def test_edited_actor_detected(busy):
    _sql(busy, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 3")
    assert busy.audit_verify("aud").first_bad_seq == 3


def test_deleted_event_detected(busy):
    _sql(busy, "DELETE FROM audit_events WHERE seq = 4")
    report = busy.audit_verify("aud")
    assert not report.ok and report.first_bad_seq == 4 and "missing" in report.problem


def test_inserted_event_detected(busy):
    n = busy.audit_verify("aud").events
    _sql(busy, "UPDATE audit_events SET seq = seq + 1000 WHERE seq >= 6")
    _sql(busy, "UPDATE audit_events SET seq = seq - 999 WHERE seq >= 1006")
    _sql(
        busy,
        "INSERT INTO audit_events (seq, occurred_at, actor, action, subject, payload, prev_hash,"
        " hash) SELECT 6, occurred_at, 'mallory', 'user.add', 'user:mallory', '{}', hash, :h "
        "FROM audit_events WHERE seq = 5",
        h="f" * 64,
    )
    report = busy.audit_verify("aud")
    assert not report.ok and report.first_bad_seq == 6
    assert busy.audit_verify("aud").events < n + 1


def test_reordered_events_detected(busy):
    _sql(busy, "UPDATE audit_events SET seq = -1 WHERE seq = 7")
    _sql(busy, "UPDATE audit_events SET seq = 7 WHERE seq = 8")
    _sql(busy, "UPDATE audit_events SET seq = 8 WHERE seq = -1")
    report = busy.audit_verify("aud")
    assert not report.ok and report.first_bad_seq == 7


def test_truncated_tail_detected_with_head(busy):
    head = busy.audit_verify("aud").head_hash
    last = busy.audit_verify("aud").events
    # a careful attacker deletes the newest events and rewinds the head record too
    _sql(busy, "DELETE FROM audit_events WHERE seq >= :s", s=last - 1)
    _sql(
        busy,
        "UPDATE audit_head SET seq = :s, hash = (SELECT hash FROM audit_events WHERE seq = :s)",
        s=last - 2,
    )
    assert busy.audit_verify("aud").chain.ok  # undetectable without an outside head
    report = busy.audit_verify("aud", head=head)
    assert not report.ok and "truncated" in report.problem
    assert report.first_bad_seq == last - 1


def test_naive_truncation_detected_by_head_record(busy):
    last = busy.audit_verify("aud").events
    _sql(busy, "DELETE FROM audit_events WHERE seq = :s", s=last)
    report = busy.audit_verify("aud")
    assert not report.ok and report.first_bad_seq == last


def test_head_from_the_past_is_accepted_when_chain_grew(busy):
    head = busy.audit_verify("aud").head_hash
    busy.add_user("admin", "late", ["auditor"])
    assert busy.audit_verify("aud", head=head).ok
    assert busy.audit_verify("aud", head=GENESIS).ok


def test_export_writes_every_event_and_head(busy, tmp_path):
    out = tmp_path / "audit.jsonl"
    result = busy.audit_export("aud", out)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == result["events"] == busy.audit_verify("aud").events
    assert lines[-1]["hash"] == result["head_hash"]
    assert [e["seq"] for e in lines] == list(range(1, len(lines) + 1))
