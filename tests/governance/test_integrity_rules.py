"""The rules the database itself enforces (migration 0005), on SQLite and PostgreSQL.

Each test writes past mlgov's own checks, with raw SQL or the ORM, and expects the database to
refuse: maker-checker, one decision per approver, lifecycle values and moves, one entry per
stage, and a gap-free linked audit sequence. Clean writes pass. The migration upgrades a
populated 0004 database with the chain still verifying and the rules active afterwards.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from mlgov.governance import approvals, tables
from mlgov.governance.audit import GENESIS, append_event
from mlgov.governance.errors import PermissionDenied
from mlgov.governance.lifecycle import ALLOWED_MOVES, Health, RiskTier, Stage
from mlgov.governance.store import Store, _versions_dir
from mlgov.governance.tables import (
    ApprovalDecision,
    ApprovalRequest,
    AuditEvent,
    ModelVersion,
    StageChange,
)


def _migration() -> Any:
    path = next(_versions_dir().glob("0005_*.py"))
    spec = importlib.util.spec_from_file_location("migration_0005", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _refused(store: Store, write: Callable[[Any], Any]) -> str:
    """Run `write(session)` in a transaction; the database must refuse it. Returns why."""
    with pytest.raises(IntegrityError) as info:
        with store.transaction() as s:
            write(s)
            s.flush()
    return str(info.value.orig)


def _sql(statement: str, **params: Any) -> Callable[[Any], Any]:
    return lambda s: s.execute(text(statement), params)


@pytest.fixture
def requested(gov):
    """credit/1 (low tier) registered by ds1, owned by ds2, in train, requested by ds1."""
    gov.register("ds1", "credit", risk_tier="low", purpose="p", owner="ds2", run_id="r1")
    gov.promote("ds1", "credit", "1", "train")
    approvals.request_approval(gov, "ds1", "credit", "1")
    with gov.store.read() as s:
        return s.scalar(select(ApprovalRequest))


def _decision(request: ApprovalRequest, approver: str, **overrides: Any) -> ApprovalDecision:
    fields = {
        "request_id": request.id,
        "approver": approver,
        "decision": "approve",
        "at": request.requested_at,
        "requested_by": request.requested_by,
        "registered_by": request.registered_by,
        "owner": request.owner,
    } | overrides
    return ApprovalDecision(**fields)


# --- the frozen SQL in the migration is the ORM's ---------------------------------------


def test_migration_freezes_the_same_rules_as_the_tables():
    m = _migration()
    assert m.STAGES == tables.one_of("stage", [s.value for s in Stage])
    assert m.TIERS == tables.one_of("risk_tier", [t.value for t in RiskTier])
    assert m.HEALTH == tables.one_of("health", [h.value for h in Health])
    assert m.MOVES == tables.lifecycle_moves_sql()
    assert m.REQUEST_STATES == tables.one_of("state", tables.REQUEST_STATES)
    assert m.DECISIONS == tables.one_of("decision", tables.DECISIONS)
    assert m.NOT_MAKER == tables.NOT_MAKER_SQL and m.AUDIT_LINK == tables.AUDIT_LINK_SQL
    named = {c.name for t in tables.Base.metadata.tables.values() for c in t.constraints}
    assert set(m.NEW_CONSTRAINTS) <= named


def test_request_states_match_the_approvals_module():
    states = (approvals.PENDING, approvals.APPROVED, approvals.REJECTED)
    assert set(states + (approvals.EXPIRED, approvals.VOID)) == set(tables.REQUEST_STATES)


# --- rule 1: one decision per (request, approver) -----------------------------------------


def test_second_decision_by_the_same_approver_is_refused(gov, requested):
    with gov.store.transaction() as s:
        s.add(_decision(requested, "ro1"))  # clean: passes
    why = _refused(gov.store, lambda s: s.add(_decision(requested, "ro1", decision="reject")))
    assert "uq_decision_approver" in why or "approval_decisions.request_id" in why


# --- rule 2: maker-checker, with copies that cannot be faked ------------------------------


@pytest.mark.parametrize("maker", ["ds1", "ds2"])  # requester and registrant / owner
def test_self_approval_is_refused(gov, requested, maker):
    why = _refused(gov.store, lambda s: s.add(_decision(requested, maker)))
    assert "ck_decision_not_maker" in why


def test_owner_distinct_from_registrant_cannot_approve(gov):
    gov.add_user("admin", "boss", ["data_scientist", "risk_officer"])
    gov.register("ds1", "credit", risk_tier="low", purpose="p", owner="boss", run_id="r1")
    gov.promote("ds1", "credit", "1", "train")
    approvals.request_approval(gov, "ds2", "credit", "1")
    with gov.store.read() as s:
        request = s.scalar(select(ApprovalRequest))
    assert (request.requested_by, request.registered_by, request.owner) == ("ds2", "ds1", "boss")
    for maker in ("ds2", "ds1", "boss"):
        assert "ck_decision_not_maker" in _refused(
            gov.store, lambda s, m=maker: s.add(_decision(request, m))
        )
    with gov.store.transaction() as s:
        s.add(_decision(request, "ro1"))


@pytest.mark.parametrize("column", ["requested_by", "registered_by", "owner"])
def test_copies_that_differ_from_the_request_are_refused(gov, requested, column):
    why = _refused(gov.store, lambda s: s.add(_decision(requested, "ro1", **{column: "ro2"})))
    assert "fk_decision_request_makers" in why or "FOREIGN KEY" in why


def test_faked_copies_cannot_let_a_maker_approve(gov, requested):
    # Copies chosen so the CHECK passes for the real requester: the foreign key catches them.
    fake = {"requested_by": "x", "registered_by": "y", "owner": "z"}
    why = _refused(gov.store, lambda s: s.add(_decision(requested, "ds1", **fake)))
    assert "fk_decision_request_makers" in why or "FOREIGN KEY" in why


@pytest.mark.parametrize("column", ["registered_by", "owner"])
def test_faked_maker_copies_on_a_request_are_refused(gov, requested, column):
    why = _refused(
        gov.store,
        _sql(f"UPDATE approval_requests SET {column} = 'nobody' WHERE id = :i", i=requested.id),
    )
    assert "fk_request_version_makers" in why or "FOREIGN KEY" in why


def test_version_makers_cannot_change_under_a_request(gov, requested):
    why = _refused(gov.store, _sql("UPDATE model_versions SET owner = 'ro1'"))
    assert "fk_request_version_makers" in why or "FOREIGN KEY" in why


def test_database_refusal_becomes_a_clean_permission_error(gov, requested, monkeypatch):
    """If a maker ever slipped past the app's check, decide still answers with a domain error."""
    monkeypatch.setattr(approvals, "_check_approver", lambda *a: None)
    before = gov.audit_verify("aud").events
    with pytest.raises(PermissionDenied, match="maker-checker"):
        approvals.decide(gov, "ds1", "credit", "1", approve=True)
    assert gov.audit_verify("aud").events == before  # nothing written
    with gov.store.read() as s:
        assert s.scalar(select(func.count()).select_from(ApprovalDecision)) == 0


# --- rule 3: one current stage, lifecycle values and forward moves ------------------------


@pytest.mark.parametrize(
    ("column", "bad"),
    [("stage", "production"), ("risk_tier", "extreme"), ("health", "sick"), ("stage", "")],
)
def test_unknown_lifecycle_values_are_refused(gov, registered, column, bad):
    why = _refused(gov.store, _sql(f"UPDATE model_versions SET {column} = :v", v=bad))
    assert f"ck_version_{column}" in why


@pytest.mark.parametrize("stage", [s.value for s in Stage])
def test_every_lifecycle_stage_is_accepted(gov, registered, stage):
    with gov.store.transaction() as s:
        s.execute(text("UPDATE model_versions SET stage = :v"), {"v": stage})


def test_request_state_and_decision_values_are_checked(gov, requested):
    why = _refused(gov.store, _sql("UPDATE approval_requests SET state = 'maybe'"))
    assert "ck_request_state" in why
    why = _refused(gov.store, lambda s: s.add(_decision(requested, "ro1", decision="abstain")))
    assert "ck_decision_value" in why


def _change(version_id: int, from_stage: str | None, to_stage: str, seq: int = 1) -> StageChange:
    from mlgov.governance.clock import FixedClock

    return StageChange(
        version_id=version_id,
        from_stage=from_stage,
        to_stage=to_stage,
        actor="x",
        at=FixedClock().now(),
        audit_seq=seq,
    )


def test_a_version_enters_each_stage_once(gov, registered):
    gov.promote("ds1", "credit", "1", "train")
    with gov.store.read() as s:
        vid = s.scalar(select(ModelVersion.id))
    why = _refused(gov.store, lambda s: s.add(_change(vid, "develop", "train")))
    assert "uq_stage_entered_once" in why or "stage_changes.version_id" in why
    why = _refused(gov.store, lambda s: s.add(_change(vid, None, "develop")))
    assert "uq_stage_entered_once" in why or "stage_changes.version_id" in why


def test_only_lifecycle_moves_are_recorded(gov, registered):
    with gov.store.read() as s:
        vid = s.scalar(select(ModelVersion.id))
    allowed = {(None, Stage.DEVELOP)} | {(a, b) for a, bs in ALLOWED_MOVES.items() for b in bs}
    for a in [None, *Stage]:
        for b in Stage:
            if (a, b) in allowed:
                continue
            why = _refused(
                gov.store, lambda s, a=a, b=b: s.add(_change(vid, a and a.value, b.value))
            )
            assert "ck_stage_change_move" in why, (a, b)
    with gov.store.transaction() as s:  # a clean forward move passes (an extra row is fine)
        s.add(_change(vid, "develop", "retire"))


# --- rule 4: audit sequence unique, gap-free and linked -----------------------------------


def _event(seq: int, prev_seq: int | None, prev_hash: str, h: str = "e" * 64) -> AuditEvent:
    from mlgov.governance.clock import FixedClock

    return AuditEvent(
        seq=seq,
        occurred_at=FixedClock().now(),
        actor="x",
        action="test",
        subject="s",
        payload={},
        prev_hash=prev_hash,
        prev_seq=prev_seq,
        hash=h,
    )


def _last(store: Store) -> AuditEvent:
    with store.read() as s:
        return s.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))


def test_audit_gap_wrong_link_and_duplicates_are_refused(gov, registered):
    last = _last(gov.store)
    n, h = last.seq, last.hash
    cases = {
        "gap": _event(n + 2, n + 1, h),
        "prev_seq not seq - 1": _event(n + 1, n - 1, h),
        "no prev_seq": _event(n + 1, None, h),
        "prev_hash not the previous hash": _event(n + 1, n, "f" * 64),
        "duplicate seq": _event(n, n - 1, last.prev_hash),
        "duplicate hash": _event(n + 1, n, h, h=h),
    }
    for what, event in cases.items():
        why = _refused(gov.store, lambda s, e=event: s.add(e))
        assert why, what
    with gov.store.transaction() as s:  # the correct next link passes
        s.add(_event(n + 1, n, h))


def test_audit_events_in_the_middle_cannot_be_deleted_or_renumbered(gov, registered):
    n = _last(gov.store).seq
    assert n >= 3
    _refused(gov.store, _sql("DELETE FROM audit_events WHERE seq = 2"))
    _refused(gov.store, _sql("UPDATE audit_events SET seq = seq + 1000 WHERE seq = 2"))
    _refused(gov.store, _sql("UPDATE audit_events SET hash = :h WHERE seq = 2", h="a" * 64))
    assert gov.audit_verify("aud").ok


def test_the_first_event_starts_at_genesis(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'g.db'}")
    store.upgrade()
    assert "ck_audit_link" in _refused(store, lambda s: s.add(_event(1, None, "f" * 64)))
    assert "ck_audit_link" in _refused(store, lambda s: s.add(_event(1, 0, GENESIS)))
    with store.transaction() as s:
        s.add(_event(1, None, GENESIS))
    store.engine.dispose()


def test_append_event_fills_the_link(gov, registered):
    with gov.store.transaction() as s:
        event = append_event(s, actor="x", action="t", subject="s", at=gov.now())
    with gov.store.read() as s:
        rows = s.execute(select(AuditEvent.seq, AuditEvent.prev_seq).order_by(AuditEvent.seq))
        assert [(seq, p) for seq, p in rows] == [
            (i, i - 1 if i > 1 else None) for i in range(1, event.seq + 1)
        ]


# --- the migration on a populated 0004 database -----------------------------------------


def _alembic(store: Store, command_name: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_versions_dir().parent))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, command_name)(cfg, revision)


def _columns(store: Store, table: str) -> set[str]:
    from sqlalchemy import inspect

    with store.engine.connect() as conn:
        return {c["name"] for c in inspect(conn).get_columns(table)}


def test_migration_upgrades_a_populated_0004_database(ops, tmp_path):
    gov, store = ops.gov, ops.gov.store
    ops.approve()  # a request with two decisions, on top of stage changes and events
    gov.register("ds2", "credit", risk_tier="low", purpose="second", run_id="r2")
    before = gov.audit_verify("aud")
    assert before.ok and before.events > 10
    with store.read() as s:
        counts = {
            t: s.scalar(text(f"SELECT COUNT(*) FROM {t}"))
            for t in ("model_versions", "stage_changes", "approval_requests", "approval_decisions")
        }
    assert counts["approval_decisions"] == 2 and counts["stage_changes"] == 3

    _alembic(store, "downgrade", "0004")  # the populated database as 0004 had it
    assert store.revision() == "0004"
    assert "prev_seq" not in _columns(store, "audit_events")
    assert "owner" not in _columns(store, "approval_decisions")

    _alembic(store, "upgrade", "0005")
    assert store.revision() == "0005"
    _alembic(store, "upgrade", "head")  # audit verify reads every table of the current schema
    after = gov.audit_verify("aud")
    assert after.ok and (after.events, after.head_hash) == (before.events, before.head_hash)
    with store.read() as s:
        assert counts == {
            t: s.scalar(text(f"SELECT COUNT(*) FROM {t}"))
            for t in ("model_versions", "stage_changes", "approval_requests", "approval_decisions")
        }
        links = s.execute(text("SELECT seq, prev_seq FROM audit_events ORDER BY seq")).all()
        assert [tuple(r) for r in links] == [
            (i, i - 1 if i > 1 else None) for i in range(1, after.events + 1)
        ]
        request = s.scalar(select(ApprovalRequest))
        assert (request.registered_by, request.owner) == ("ds1", "ds1")
        copies = {(d.requested_by, d.registered_by, d.owner) for d in request.decisions}
        assert copies == {("ds1", "ds1", "ds1")}
    # the rules are active on the upgraded data
    assert "ck_decision_not_maker" in _refused(store, lambda s: s.add(_decision(request, "ds1")))
    _refused(store, _sql("DELETE FROM audit_events WHERE seq = 2"))
    _refused(store, _sql("UPDATE model_versions SET stage = 'production'"))
    if store.engine.dialect.name == "sqlite":
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    # and mlgov keeps working on it
    gov.register("ds2", "credit", risk_tier="low", purpose="third", run_id="r3")
    assert gov.audit_verify("aud").ok


def test_migration_names_the_rule_old_data_breaks(gov, registered):
    store = gov.store
    gov.promote("ds1", "credit", "1", "train")
    _alembic(store, "downgrade", "0004")
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO stage_changes (version_id, from_stage, to_stage, actor, at, "
                "audit_seq) SELECT version_id, from_stage, to_stage, actor, at, audit_seq "
                "FROM stage_changes WHERE to_stage = 'train'"
            )
        )
    with pytest.raises(RuntimeError, match="entered the same stage twice"):
        _alembic(store, "upgrade", "0005")
    assert store.revision() == "0004"  # nothing half-applied


# --- an insider lifts the rules; the chain (and checkpoints) still catch the tampering ----


@pytest.mark.parametrize("recompute", [False, True], ids=["naive", "rehashed"])
@pytest.mark.parametrize("operation", ["edit", "delete", "insert", "reorder", "truncate"])
def test_insider_tampering_bypasses_constraints_and_is_still_detected(
    gov, registered, operation, recompute
):
    from support import tampering

    gov.promote("ds1", "credit", "1", "train")
    head = gov.audit_verify("aud").head_hash
    at = 1 if operation == "truncate" else 3
    tampering.tamper(gov.store, operation, at, recompute=recompute)
    plain = gov.audit_verify("aud")
    assert plain.chain.ok is recompute  # a careful insider fools the plain chain...
    assert not gov.audit_verify("aud", head=head).ok  # ...but not an outside head
    # The guards are back for everyone else once the insider is done.
    why = _refused(gov.store, _sql("UPDATE model_versions SET stage = 'production'"))
    assert "ck_version_stage" in why
    last = _last(gov.store)
    gap = _event(last.seq + 2, last.seq + 1, last.hash, h="d" * 64)
    assert _refused(gov.store, lambda s: s.add(gap))
    if gov.store.engine.dialect.name == "sqlite":
        with gov.store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA ignore_check_constraints").scalar() == 0
