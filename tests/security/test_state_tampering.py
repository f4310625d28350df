"""Issue 16, item 3: edits to the state tables are caught by replaying the audit chain.

An insider edits a state table with SQL (the chain stays intact). `audit verify` replays the
chain into the state it implies and names every row that disagrees; reconcile refuses to
copy such a state into MLflow; a move or an approval request refuses to start from it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text
from support import tampering

from mlgov.governance import approvals, deployments
from mlgov.governance.drift_checks import record_drift
from mlgov.governance.errors import StateTampered
from mlgov.governance.implied_state import Disagreement
from mlgov.governance.reconcile import reconcile
from mlgov.governance.tables import ApprovalRequest, AuditEvent


def _sql(gov, statement: str, **params) -> None:
    """An insider's edit: the database's own rules lifted (see tampering.insider)."""
    with tampering.insider(gov.store) as conn:
        conn.execute(text(statement), params)


def _retired(gov, version: str = "1") -> None:
    gov.retire("ds1", "credit", version, reason="replaced")


def _keys(report) -> set[tuple[str, str, str]]:
    return {(d.table, d.key, d.column) for d in report.disagreements}


def _counts(gov) -> tuple[int, int]:
    with gov.store.read() as s:
        return (
            s.scalar(select(func.count()).select_from(AuditEvent)),
            s.scalar(select(func.count()).select_from(ApprovalRequest)),
        )


@pytest.fixture
def forged_train(in_train):
    """credit/1 retired, then set back to train in the table: the issue's repro."""
    _retired(in_train)
    _sql(in_train, "UPDATE model_versions SET stage = 'train' WHERE version = '1'")
    return in_train


# --- audit verify -----------------------------------------------------------------------


def test_clean_store_verifies_with_no_disagreement(ops):
    ops.approve()
    record_drift(ops.gov, "eng", "credit", "1", ops.current())
    deployments.deploy(ops.gov, "eng", "credit", "1", target="scoring")
    ops.second_version()  # supersedes credit/1 on the target
    deployments.rollback(ops.gov, "eng", "scoring")
    deployments.undeploy(ops.gov, "eng", "scoring", reason="maintenance")
    ops.gov.add_user("admin", "eng", ["auditor"])
    ops.gov.remove_user("admin", "ro2")
    ops.gov.add_user("admin", "ro2", ["risk_officer"])
    report = ops.gov.audit_verify("aud")
    assert report.chain.ok
    assert report.disagreements == ()
    assert report.ok


def test_audit_verify_reports_a_stage_edited_in_the_table(forged_train):
    report = forged_train.audit_verify("aud")
    assert report.chain.ok  # the chain itself is intact...
    assert not report.ok  # ...but the tables say what it does not
    assert Disagreement("model_versions", "credit/1", "stage", "train", "retire") in (
        report.disagreements
    )


def test_audit_verify_reports_an_edited_risk_tier(in_train):
    _sql(in_train, "UPDATE model_versions SET risk_tier = 'low'")
    report = in_train.audit_verify("aud")
    assert Disagreement("model_versions", "credit/1", "risk_tier", "low", "high") in (
        report.disagreements
    )


def test_audit_verify_reports_an_edited_approval_decision(ops):
    ops.approve()
    _sql(ops.gov, "UPDATE approval_decisions SET decision = 'reject' WHERE approver = 'ro2'")
    report = ops.gov.audit_verify("aud")
    assert not report.ok
    assert ("approval_decisions", "request 1 approver ro2", "decision") in _keys(report)


def test_audit_verify_reports_a_forged_approval_decision_and_state(in_train):
    approvals.request_approval(in_train, "ds1", "credit", "1")
    approvals.decide(in_train, "ro1", "credit", "1", approve=True)
    _sql(
        in_train,
        "INSERT INTO approval_decisions (request_id, approver, decision, at, requested_by, "
        "registered_by, owner) SELECT id, 'ro2', 'approve', requested_at, requested_by, "
        "registered_by, owner FROM approval_requests",
    )
    _sql(in_train, "UPDATE approval_requests SET state = 'approved'")
    keys = _keys(in_train.audit_verify("aud"))
    assert ("approval_decisions", "request 1 approver ro2", "decision") in keys
    assert ("approval_requests", "1", "state") in keys


def test_audit_verify_reports_an_edited_deployment(ops):
    ops.approve()
    record_drift(ops.gov, "eng", "credit", "1", ops.current())
    deployments.deploy(ops.gov, "eng", "credit", "1", target="scoring")
    _sql(ops.gov, "UPDATE deployments SET state = 'undeployed'")
    report = ops.gov.audit_verify("aud")
    assert Disagreement("deployments", "1", "state", "undeployed", "active") in (
        report.disagreements
    )


def test_audit_verify_reports_an_edited_user_role(gov):
    _sql(
        gov,
        "UPDATE user_roles SET role = 'admin' WHERE user_id = (SELECT id FROM users "
        "WHERE name = 'eng')",
    )
    _sql(gov, "UPDATE users SET removed_at = created_at, removed_by = 'admin' WHERE name = 'ro2'")
    report = gov.audit_verify("aud")
    assert Disagreement("users", "eng", "roles", ["admin"], ["ml_engineer"]) in (
        report.disagreements
    )
    assert Disagreement("users", "ro2", "active", False, True) in report.disagreements


def test_audit_verify_lists_every_disagreeing_row_not_only_the_first(forged_train):
    _sql(forged_train, "UPDATE model_versions SET health = 'breach', owner = 'ro1'")
    keys = _keys(forged_train.audit_verify("aud"))
    assert {
        ("model_versions", "credit/1", "stage"),
        ("model_versions", "credit/1", "health"),
        ("model_versions", "credit/1", "owner"),
    } <= keys


# --- moves and approval requests ----------------------------------------------------------


def test_approval_request_from_a_forged_stage_is_refused(forged_train):
    before = _counts(forged_train)
    with pytest.raises(StateTampered) as info:
        approvals.request_approval(forged_train, "ds1", "credit", "1")
    message = str(info.value)
    assert "stage is 'train', the audit trail says 'retire'" in message
    assert "mlgov audit verify" in message
    assert _counts(forged_train) == before  # nothing written


def test_promote_from_a_forged_stage_is_refused(forged_train):
    before = _counts(forged_train)
    with pytest.raises(StateTampered, match="disagrees with the audit trail"):
        forged_train.retire("ds1", "credit", "1", reason="again")
    assert _counts(forged_train) == before


def test_deploy_of_a_forged_tier_is_refused_before_anything_is_built(ops):
    ops.approve()  # approved as high tier, no drift check yet
    _sql(ops.gov, "UPDATE model_versions SET risk_tier = 'low'")  # low needs no drift check
    with pytest.raises(StateTampered, match="risk_tier is 'low', the audit trail says 'high'"):
        deployments.deploy(ops.gov, "eng", "credit", "1", target="scoring")
    assert not list((ops.tmp / "targets").glob("*"))
    assert ops.gov.show("aud", "credit", "1")["stage"] == "train"


def test_approval_request_on_a_forged_tier_is_refused(in_train):
    _sql(in_train, "UPDATE model_versions SET risk_tier = 'low'")  # 1 approval instead of 2
    with pytest.raises(StateTampered, match="risk_tier"):
        approvals.request_approval(in_train, "ds1", "credit", "1")


def test_approval_decision_on_a_forged_request_is_refused(in_train):
    approvals.request_approval(in_train, "ds1", "credit", "1")
    _sql(in_train, "UPDATE approval_requests SET approvals_required = 1")
    with pytest.raises(StateTampered, match="approvals_required"):
        approvals.decide(in_train, "ro1", "credit", "1", approve=True)


# --- reconcile -----------------------------------------------------------------------------


def test_reconcile_fix_refuses_to_mirror_a_forged_stage(forged_train, fake_registry):
    assert fake_registry.tags[("credit", "1")]["mlgov.stage"] == "retire"
    result = reconcile(forged_train, "admin", fix=True)
    assert fake_registry.tags[("credit", "1")]["mlgov.stage"] == "retire"  # not spread
    blocked = [f for f in result["findings"] if f["kind"] == "state_disagrees_with_trail"]
    assert len(blocked) == 1 and blocked[0]["version"] == "1"
    assert "run `mlgov audit verify`" in blocked[0]["detail"]
    assert not any(f["fixed"] for f in result["findings"])


# --- the CLI ------------------------------------------------------------------------------


@pytest.fixture
def cli_home(tmp_path: Path, monkeypatch, fake_registry):
    """A CLI home whose credit/1 was retired and then forged back to train in the table."""
    from mlgov import app
    from mlgov.cli.main import cli
    from mlgov.governance.defaults import core_gates
    from mlgov.governance.service import Governance
    from mlgov.governance.store import Store

    monkeypatch.delenv("MLGOV_POLICY", raising=False)
    monkeypatch.delenv("MLGOV_DB_URL", raising=False)
    monkeypatch.setattr(app, "build_registry", lambda settings: fake_registry)
    home = tmp_path / "home"

    def run(*args: str, user: str = "admin"):
        return CliRunner().invoke(cli, ["--home", str(home), "--user", user, *args])

    assert run("init").exit_code == 0
    assert run("users", "add", "dana", "--role", "data_scientist").exit_code == 0
    assert run("users", "add", "aud", "--role", "auditor").exit_code == 0
    gov = Governance(
        Store(f"sqlite:///{home / 'governance.db'}"), gates=core_gates(), registry=fake_registry
    )
    gov.register("dana", "credit", risk_tier="low", purpose="credit scoring", run_id="r1")
    gov.retire("dana", "credit", "1", reason="replaced")
    _sql(gov, "UPDATE model_versions SET stage = 'train' WHERE version = '1'")
    gov.store.engine.dispose()
    return run


def test_cli_audit_verify_exits_1_and_names_the_forged_row(cli_home):
    result = cli_home("audit", "verify", user="aud")
    assert result.exit_code == 1
    assert "audit chain OK" in result.stdout  # the chain check's result as before
    assert "model_versions credit/1: stage is 'train', the audit trail says 'retire'" in (
        result.stderr
    )
    as_json = cli_home("audit", "verify", "--format", "json", user="aud")
    assert as_json.exit_code == 1
    doc = json.loads(as_json.stdout)
    assert doc["ok"] is False and doc["chain_ok"] is True
    assert {
        "table": "model_versions",
        "key": "credit/1",
        "column": "stage",
        "stored": "train",
        "implied": "retire",
    } in doc["state_disagreements"]


def test_cli_reconcile_fix_and_approval_request_refuse_the_forged_stage(cli_home, fake_registry):
    result = cli_home("reconcile", "--fix")
    assert fake_registry.tags[("credit", "1")]["mlgov.stage"] == "retire"
    assert "governance state disagrees with the audit trail" in result.output
    request = cli_home("approvals", "request", "credit", "1", user="dana")
    assert request.exit_code == 1
    assert "disagrees with the audit trail" in request.stderr
    assert "Traceback" not in request.output
