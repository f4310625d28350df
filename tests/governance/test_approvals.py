"""Approvals: maker-checker, roles, quorum, binding to the evidence, expiry, races, notices."""

from __future__ import annotations

import json
import multiprocessing as mp
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from mlgov.governance import approvals, cards
from mlgov.governance.errors import (
    BadInput,
    Conflict,
    GateRefused,
    NotFound,
    PermissionDenied,
    Refused,
)


def _approve(gov, who, comment=None):
    return approvals.decide(gov, who, "credit", "1", approve=True, comment=comment)


def test_request_freezes_snapshot_and_notifies(in_train, tmp_path):
    view = approvals.request_approval(in_train, "ds1", "credit", "1", note="please")
    assert view["state"] == "pending" and view["approvals_required"] == 2
    shown = approvals.show_request(in_train, "aud", "credit", "1")
    snap = shown["snapshot"]
    assert snap["card"]["fields"]["fallback_plan"] == "manual underwriting"
    assert set(snap["fingerprint"]["files"]) == {"MLmodel", "model.pkl"}
    assert snap["reference"]["rows"] == 2 and snap["policy"]["digest"]
    assert approvals.snapshot_hash(snap) == view["snapshot_hash"]
    event = in_train.audit_log("aud", action="approval.request")[0]
    assert event["payload"]["snapshot_hash"] == view["snapshot_hash"]
    notices = [json.loads(x) for x in (tmp_path / "notifications.jsonl").read_text().splitlines()]
    assert any(n["event"] == "approval.requested" and n["id"] == view["id"] for n in notices)


def test_request_only_in_train_with_evidence(governed):
    governed.register("ds1", "credit", risk_tier="high", purpose="p", run_id="r1")
    with pytest.raises(Refused, match="requested in train"):
        approvals.request_approval(governed, "ds1", "credit", "1")


def test_maker_checker(in_train):
    in_train.add_user("admin", "ds1", ["risk_officer"])  # registrant and owner, now also RO
    in_train.add_user("admin", "ds2", ["risk_officer"])
    approvals.request_approval(in_train, "ds2", "credit", "1")
    for who, rule in (("ds1", "registrant"), ("ds2", "requester")):
        with pytest.raises(PermissionDenied, match=f"maker-checker: '{who}' is the {rule}"):
            _approve(in_train, who)
    assert in_train.audit_log("aud", action="approval.decide") == []


def test_owner_may_not_approve(governed, high_card, tmp_path):
    from mlgov.governance.references import record_reference

    governed.add_user("admin", "ro_owner", ["risk_officer"])
    governed.register("ds1", "credit", risk_tier="high", purpose="p", run_id="r", owner="ro_owner")
    cards.set_card(governed, "ds1", "credit", "1", high_card)
    ref = tmp_path / "r.csv"
    ref.write_text("x\n1\n")
    record_reference(governed, "ds1", "credit", "1", ref)
    governed.promote("ds1", "credit", "1", "train")
    approvals.request_approval(governed, "ds2", "credit", "1")
    with pytest.raises(PermissionDenied, match="is the owner"):
        _approve(governed, "ro_owner")


@pytest.mark.parametrize("who", ["eng", "aud", "admin"])
def test_only_the_policy_role_decides(in_train, who):
    approvals.request_approval(in_train, "ds1", "credit", "1")
    with pytest.raises(PermissionDenied, match="needs role risk_officer"):
        _approve(in_train, who)


def test_quorum_and_duplicates(in_train):
    approvals.request_approval(in_train, "ds1", "credit", "1")
    assert _approve(in_train, "ro1")["state"] == "pending"
    with pytest.raises(Conflict, match="one decision per approver"):
        _approve(in_train, "ro1")
    with pytest.raises(GateRefused, match="1 of 2"):
        in_train.promote("eng", "credit", "1", "deploy")
    view = _approve(in_train, "ro2", "fine")
    assert (view["state"], view["approvals_count"]) == ("approved", 2)
    assert approvals.verify_binding(in_train, "aud", "credit", "1")["ok"]
    in_train.promote("eng", "credit", "1", "deploy")
    assert in_train.ports["registry"].tags[("credit", "1")]["mlgov.approved_by"] == "ro1,ro2"


def test_rejection_ends_request_version_stays_in_train(in_train):
    approvals.request_approval(in_train, "ds1", "credit", "1")
    with pytest.raises(BadInput, match="reason"):
        approvals.decide(in_train, "ro1", "credit", "1", approve=False, comment="  ")
    view = approvals.decide(in_train, "ro1", "credit", "1", approve=False, comment="KS too low")
    assert view["state"] == "rejected" and view["closed_reason"] == "KS too low"
    with pytest.raises(Refused, match="rejected"):
        _approve(in_train, "ro2")
    assert in_train.show("aud", "credit", "1")["stage"] == "train"
    approvals.request_approval(in_train, "ds1", "credit", "1")  # a new request may follow


@pytest.fixture
def approved(in_train):
    approvals.request_approval(in_train, "ds1", "credit", "1")
    _approve(in_train, "ro1")
    _approve(in_train, "ro2")
    return in_train


def test_changed_artifact_byte_voids_approval_naming_the_file(approved, fake_registry):
    fake_registry.files[("credit", "1")]["model.pkl"] = b"y"
    with pytest.raises(GateRefused, match="changed model.pkl"):
        approved.promote("eng", "credit", "1", "deploy")
    void = approved.audit_log("aud", action="approval.void")
    assert len(void) == 1 and "model.pkl" in void[0]["payload"]["reason"]
    assert approvals.show_request(approved, "aud", "credit", "1")["state"] == "void"


def test_changed_card_voids_naming_the_field(approved):
    cards.set_card(approved, "ds1", "credit", "1", {"limitations": "also not for SMEs"})
    result = approvals.verify_binding(approved, "aud", "credit", "1")
    assert not result["ok"] and "'limitations' changed" in result["problems"][0]
    with pytest.raises(GateRefused, match="limitations"):
        approved.promote("eng", "credit", "1", "deploy")


def test_policy_change_voids(approved, tmp_path):
    approved.set_policy("admin", "[tiers.high]\napproval_valid_days = 90\n", source="p.toml")
    with pytest.raises(GateRefused, match="policy changed"):
        approved.promote("eng", "credit", "1", "deploy")


def test_expiry_with_injected_clock(in_train, clock):
    approvals.request_approval(in_train, "ds1", "credit", "1")
    _approve(in_train, "ro1")
    clock.advance(days=30, seconds=1)
    assert approvals.list_requests(in_train, "aud")[0]["state"] == "expired"
    with pytest.raises(Refused, match="expired"):
        _approve(in_train, "ro2")
    assert len(in_train.audit_log("aud", action="approval.expire")) == 1


def test_approved_then_expired_blocks_deploy(approved, clock):
    clock.advance(days=31)
    with pytest.raises(GateRefused, match="expired"):
        approved.promote("eng", "credit", "1", "deploy")


def test_bad_input(in_train):
    with pytest.raises(Refused, match="no approval request"):
        _approve(in_train, "ro1")
    with pytest.raises(NotFound):
        approvals.decide(in_train, "ro1", "nope", "1", approve=True)
    with pytest.raises(NotFound):
        approvals.decide(in_train, "ro1", "credit", "7", approve=True)
    assert in_train.audit_log("aud", action="approval.decide") == []


def test_retire_voids_open_request(in_train):
    approvals.request_approval(in_train, "ds1", "credit", "1")
    in_train.retire("ro1", "credit", "1", reason="withdrawn")
    assert approvals.show_request(in_train, "aud", "credit", "1")["state"] == "void"
    with pytest.raises(Refused):
        _approve(in_train, "ro2")


def test_list_filters(in_train):
    approvals.request_approval(in_train, "ds1", "credit", "1")
    assert [r["id"] for r in approvals.list_requests(in_train, "ro1", mine=True)] == [1]
    assert approvals.list_requests(in_train, "ds2", mine=True) == []
    assert len(approvals.list_requests(in_train, "aud", pending=True)) == 1


# --- races -----------------------------------------------------------------------------


class _SameArtifacts:
    """What every racing process sees of the registry."""

    def run_metrics(self, run_id):
        return {"roc_auc": 0.8}

    def fingerprint(self, model, version):
        return {"MLmodel": "a" * 64}

    def mirror(self, *a, **k):
        pass


def _race(url: str, home: str, who: str) -> str:
    from mlgov.governance.clock import FixedClock
    from mlgov.governance.defaults import core_gates
    from mlgov.governance.errors import MlgovError
    from mlgov.governance.service import Governance
    from mlgov.governance.store import Store

    gov = Governance(
        Store(url),
        clock=FixedClock(),
        gates=core_gates(),
        ports={"registry": _SameArtifacts()},
        home=Path(home),
    )
    try:
        return approvals.decide(gov, who, "credit", "1", approve=True)["state"]
    except MlgovError as exc:
        return f"refused: {type(exc).__name__}"
    finally:
        gov.store.engine.dispose()


def test_concurrent_approvals_count_exactly(tmp_path):
    from mlgov.governance.clock import FixedClock
    from mlgov.governance.defaults import core_gates
    from mlgov.governance.ports import RegisteredVersion
    from mlgov.governance.service import Governance
    from mlgov.governance.snapshot import build_snapshot, snapshot_hash
    from mlgov.governance.store import Store
    from mlgov.governance.tables import ApprovalRequest, ModelVersion

    url = f"sqlite:///{tmp_path / 'g.db'}"
    gov = Governance(Store(url), clock=FixedClock(), gates=core_gates())
    gov.init("admin")
    gov.add_user("admin", "ds1", ["data_scientist"])
    for i in range(4):
        gov.add_user("admin", f"ro{i}", ["risk_officer"])
    gov.record_registration(
        "ds1",
        RegisteredVersion(
            model="credit",
            version="1",
            source_uri="s",
            run_id="r",
            experiment_id="0",
            fingerprint={"MLmodel": "a" * 64},
        ),
        risk_tier="high",
        purpose="p",
        owner="ds1",
    )
    # Open a request directly (the train gate's evidence is exercised elsewhere); quorum 3 so
    # that 4 distinct approvers race past the quorum.
    with gov.store.transaction() as s:
        v = gov.version(s, "credit", "1")
        v.stage = "train"
        snap = build_snapshot(s, v, gov.policy, _SameArtifacts())
        s.add(
            ApprovalRequest(
                version_id=v.id,
                requested_by="ds1",
                registered_by=v.registered_by,
                owner=v.owner,
                requested_at=gov.now(),
                snapshot=snap,
                snapshot_hash=snapshot_hash(snap),
                approvals_required=3,
                state="pending",
                expires_at=gov.now().replace(year=2100),
            )
        )
        s.flush()
        # The events the real moves would write: state the trail does not support is refused.
        request_id = s.scalar(select(ApprovalRequest.id))
        gov.audit(s, "ds1", "stage.change", "model:credit/1", {"from": "develop", "to": "train"})
        gov.audit(
            s,
            "ds1",
            "approval.request",
            "model:credit/1",
            {
                "request_id": request_id,
                "snapshot_hash": snapshot_hash(snap),
                "approvals_required": 3,
            },
        )
    approvers = ["ro0", "ro1", "ro2", "ro3"] * 3  # each distinct approver three times
    gov.store.engine.dispose()  # children open their own connections
    ctx = mp.get_context("fork")
    with ctx.Pool(8) as pool:
        outcomes = pool.starmap(_race, [(url, str(tmp_path), who) for who in approvers])
    decided = gov.audit_log("admin", action="approval.decide")
    counted = [e["actor"] for e in decided]
    assert len(counted) == len(set(counted)) == 3, outcomes  # quorum 3 reached, never more
    assert gov.audit_verify("admin").ok
    with gov.store.read() as s:
        request = s.query(ApprovalRequest).one()
        assert request.state == "approved" and len(request.decisions) == 3
        assert s.query(ModelVersion).one().stage == "train"
    assert sum(o in ("pending", "approved") for o in outcomes) == 3
    assert all(o.startswith("refused") for o in outcomes if o not in ("pending", "approved"))


# --- webhook ---------------------------------------------------------------------------


class _Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_webhook_delivers_and_retries(tmp_path):
    import socket

    from mlgov.governance.notify import WebhookNotifier

    with socket.socket() as probe:  # a free port nobody listens on yet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    outbox = tmp_path / "outbox.jsonl"
    down = WebhookNotifier(f"http://127.0.0.1:{port}/hook", outbox=outbox, timeout=1)
    down.notify("approval.requested", {"id": 1})  # connection refused: queued, not raised
    assert outbox.read_text().count("approval.requested") == 1
    server = HTTPServer(("127.0.0.1", port), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        down.notify("approval.decided", {"id": 1, "decision": "approve"})
        assert [r["event"] for r in _Hook.received] == ["approval.requested", "approval.decided"]
        assert outbox.read_text() == ""
    finally:
        server.shutdown()


class _LockProbe:
    """A notifier that records, for each event, whether a write transaction was still open
    and (on SQLite) whether another writer could take the database's write lock."""

    def __init__(self, gov) -> None:
        self.gov, self.seen = gov, []

    def notify(self, event, payload) -> None:
        free = None
        url = self.gov.store.engine.url
        if url.get_backend_name() == "sqlite":
            import sqlite3

            conn = sqlite3.connect(url.database, timeout=0, isolation_level=None)
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("ROLLBACK")
                free = True
            except sqlite3.OperationalError:
                free = False
            finally:
                conn.close()
        self.seen.append((event, self.gov.store.in_transaction, free))


def test_notifications_are_sent_after_commit_never_under_the_lock(in_train, clock):
    """A webhook times out after 5 s: sent while the row lock was held, it stalled every other
    writer (issue 17 item 2). Expiry found by the sweep and a decision both notify."""
    probe = in_train.notifier = _LockProbe(in_train)
    approvals.request_approval(in_train, "ds1", "credit", "1")
    _approve(in_train, "ro1")
    clock.advance(days=30, seconds=1)
    approvals.request_approval(in_train, "ds1", "credit", "1")  # sweeps the expired one first
    events = [e for e, _, _ in probe.seen]
    assert events == [
        "approval.requested",
        "approval.decided",
        "approval.expired",
        "approval.requested",
    ]
    assert all(not locked and free is not False for _, locked, free in probe.seen), probe.seen


def test_a_rolled_back_change_notifies_nobody(in_train):
    probe = in_train.notifier = _LockProbe(in_train)
    with pytest.raises(RuntimeError), in_train.store.transaction():
        in_train.notify("approval.requested", {"id": 1})
        raise RuntimeError("the change failed")
    assert probe.seen == []
    in_train.notify("outside", {})  # no transaction: sent at once
    assert [e for e, _, _ in probe.seen] == ["outside"]
