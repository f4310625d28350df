"""Deployments, the pre-deployment drift gate and health in evaluation, on fake adapters.
(The real BentoML server and Evidently reports are exercised in tests/deploy, tests/monitoring
and the end-to-end demo.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgov.governance import approvals, deployments, health
from mlgov.governance.drift_checks import record_drift
from mlgov.governance.errors import GateRefused, PermissionDenied, Refused


def test_deploy_refused_lists_approval_and_drift(operated, ops):
    with pytest.raises(GateRefused) as err:
        deployments.deploy(operated, "eng", "credit", "1")
    checks = {u.check for u in err.value.unmet}
    assert {"approval", "drift"} <= checks and "deployment" not in checks
    assert operated.ports["deployer"].prepared == []  # nothing built for a refused version


def test_deploy_refused_with_one_approval_on_high_tier(operated, tmp_path, ops):
    approvals.request_approval(operated, "ds1", "credit", "1")
    approvals.decide(operated, "ro1", "credit", "1", approve=True)
    record_drift(operated, "eng", "credit", "1", ops.current())
    with pytest.raises(GateRefused, match="1 of 2"):
        deployments.deploy(operated, "eng", "credit", "1")


def test_drift_gate_none_stale_drifted_fresh(operated, clock, tmp_path, ops):
    ops.approve()
    with pytest.raises(GateRefused, match="no pre-deployment drift check"):
        deployments.deploy(operated, "eng", "credit", "1")
    operated.ports["drift"].drifted_share = 1.0
    view = record_drift(operated, "eng", "credit", "1", ops.current())
    assert view["drift_detected"] and view["drifted_columns"] == ["x", "y"]
    with pytest.raises(GateRefused, match="detected drift in x, y"):
        deployments.deploy(operated, "eng", "credit", "1")
    operated.ports["drift"].drifted_share = 0.0
    record_drift(operated, "eng", "credit", "1", ops.current())
    clock.advance(days=29)  # approval still valid (30 days), drift check 29 days old: fine
    clock.advance(days=2)
    with pytest.raises(GateRefused, match="days old"):
        deployments.deploy(operated, "eng", "credit", "1")


def test_drift_result_stored_with_reports(operated, tmp_path, ops):
    html = tmp_path / "out.html"
    view = record_drift(operated, "eng", "credit", "1", ops.current(), html_out=html)
    assert html.read_text() == "<html>fake report</html>"
    assert Path(view["report_html"]).exists() and Path(view["report_json"]).exists()
    event = operated.audit_log("aud", action="drift.check")[-1]
    assert event["payload"]["result_id"] == view["result_id"]


@pytest.fixture
def deployed(operated, tmp_path, ops):
    ops.approve()
    record_drift(operated, "eng", "credit", "1", ops.current())
    result = deployments.deploy(operated, "eng", "credit", "1", target="scoring")
    assert result["stage"] == "deploy"
    return operated


def test_deploy_records_and_serves(deployed, fake_registry, ops):
    rows = deployments.list_deployments(deployed, "aud")
    assert [(r["target"], r["version"], r["state"]) for r in rows] == [("scoring", "1", "active")]
    assert deployed.ports["deployer"].statuses["scoring"]["state"] == "serving"
    assert fake_registry.aliases["credit"].get("champion") == "1"
    change = deployed.audit_log("aud", action="stage.change")[-1]["payload"]
    assert change["deployment"]["target"] == "scoring"


def test_deploy_hashes_the_artifacts_once(operated, fake_registry, ops, monkeypatch):
    ops.approve()
    record_drift(operated, "eng", "credit", "1", ops.current())
    hashed: list[tuple[str, str]] = []
    real = type(fake_registry).fingerprint

    def counting(self, model, version):
        hashed.append((model, version))
        return real(self, model, version)

    monkeypatch.setattr(type(fake_registry), "fingerprint", counting)
    deployments.deploy(operated, "eng", "credit", "1", target="scoring")
    assert hashed == [("credit", "1")]  # the sweep, the gate preview and the move share it
    assert operated.ports["registry"] is fake_registry  # the memo ends with the deploy
    # A later use case hashes afresh: a file changed since is seen.
    fake_registry.files[("credit", "1")]["model.pkl"] = b"changed"
    with operated.store.read() as s:
        v = operated.version(s, "credit", "1")
        problems = list(approvals.binding_problems(operated, s, v))
    assert any("artifact files changed" in p for p in problems)


def test_only_engineers_deploy(operated, ops):
    with pytest.raises(PermissionDenied):
        deployments.deploy(operated, "ds1", "credit", "1")


def test_verify_moves_to_evaluate(deployed, ops):
    with pytest.raises(GateRefused, match="not verified"):
        deployed.promote("eng", "credit", "1", "evaluate")
    assert deployed.ports["deployer"].stages["scoring"] == "deploy"
    result = deployments.record_verification(deployed, "eng", "scoring", probe="1 record")
    assert result["stage"] == "evaluate"
    assert deployed.ports["deployer"].stages["scoring"] == "evaluate"  # /metadata follows


def test_rollback_undeploy_and_retire(deployed, high_card, tmp_path, ops):
    ops.second_version()
    statuses = deployed.ports["deployer"].statuses
    assert statuses["scoring"]["version"] == "2"
    with pytest.raises(GateRefused, match="mlgov rollback scoring"):
        deployed.retire("ro1", "credit", "2", reason="bad")
    back = deployments.rollback(deployed, "eng", "scoring")
    shown = {k: statuses["scoring"][k] for k in ("state", "reason", "version")}
    assert back["version"] == "1" and shown == {
        "state": "serving",
        "reason": "rolled back to credit/1 by eng",
        "version": "1",
    }
    deployments.undeploy(deployed, "eng", "scoring", reason="maintenance")
    assert statuses["scoring"]["state"] == "undeployed"
    with pytest.raises(Refused, match="serves nothing"):
        deployments.rollback(deployed, "eng", "scoring")


def test_retire_serving_version_kills_it(deployed, ops):
    deployed.retire("ro1", "credit", "1", reason="model withdrawn")
    assert deployed.ports["deployer"].statuses["scoring"]["state"] == "retired"
    assert deployments.list_deployments(deployed, "aud") == []
    assert deployed.audit_log("aud", action="deployment.end")[0]["payload"]["target"] == "scoring"
    with pytest.raises(Refused):
        deployments.deploy(deployed, "eng", "credit", "1")


def test_rollback_refused_to_retired_version(deployed, high_card, tmp_path, ops):
    ops.second_version()
    deployed.retire("ro1", "credit", "1", reason="old")
    with pytest.raises(Refused, match="retired"):
        deployments.rollback(deployed, "eng", "scoring")


# --- health -------------------------------------------------------------------------------


def test_health_ok_warning_breach_with_actions(deployed, clock, tmp_path, ops):
    deployments.record_verification(deployed, "eng", "scoring", probe="ok")
    drift, log = deployed.ports["drift"], deployed.ports["predictions"]
    assert health.monitor_run(deployed, "eng")["checked"][0]["status"] == "no new predictions"
    for share, expected in ((0.0, "ok"), (0.5, "breach")):
        clock.advance(hours=1)
        log.batches.append((clock.now(), 50))
        drift.drifted_share = share
        out = health.monitor_run(deployed, "eng")["checked"][0]
        assert out["health"] == expected
    show = deployed.show("aud", "credit", "1")
    assert show["health"] == "breach" and show["review_required"] is True
    change = deployed.audit_log("aud", action="health.change")[-1]["payload"]
    assert change["to"] == "breach" and change["actions"] == ["notify", "require_review"]
    assert deployed.ports["registry"].tags[("credit", "1")]["mlgov.health"] == "breach"
    notices = (tmp_path / "notifications.jsonl").read_text()
    assert '"event": "health.breach"' in notices
    # require_review blocks re-approval until a risk officer acknowledges
    with pytest.raises(Refused):
        approvals.request_approval(deployed, "ds1", "credit", "1")
    health.acknowledge(deployed, "ro1", "credit", "1", "reviewed: population shift expected")
    assert deployed.show("aud", "credit", "1")["review_required"] is False


def test_health_warning_only_notifies(deployed, clock, ops):
    log, drift = deployed.ports["predictions"], deployed.ports["drift"]
    drift.columns = ("a", "b", "c", "d")
    clock.advance(hours=1)
    log.batches.append((clock.now(), 10))
    drift.drifted_share = 0.25
    out = health.monitor_run(deployed, "eng")["checked"][0]
    assert (out["health"], out["actions"]) == ("warning", ["notify"])
    assert deployed.show("aud", "credit", "1")["review_required"] is False
    assert deployed.show("aud", "credit", "1")["stage"] == "deploy"  # never changed silently


def test_suspend_action_trips_kill_switch(deployed, clock, tmp_path, ops):
    from mlgov.governance.policy import load_policy

    f = tmp_path / "p.toml"
    f.write_text('[default]\non_breach = ["notify", "suspend"]\n')
    deployed.policy = load_policy(f)
    clock.advance(hours=1)
    deployed.ports["predictions"].batches.append((clock.now(), 10))
    deployed.ports["drift"].drifted_share = 1.0
    health.monitor_run(deployed, "eng")
    assert deployed.ports["deployer"].statuses["scoring"]["state"] == "suspended"


def test_cross_check_refuses_on_disagreement_and_records_nothing(operated, ops):
    from mlgov.governance.testing import FakeDriftChecker

    class TwoEngines:
        def __init__(self):
            self.engines = {"fast": FakeDriftChecker(0.0), "evidently": FakeDriftChecker(0.5)}

        def __call__(self, engine, ignore_extra):
            return self.engines[engine]

    operated.ports["drift"] = TwoEngines()
    before = len(operated.audit_log("aud"))
    with pytest.raises(Refused, match="cross-check failed.*column x: drifted False vs True"):
        record_drift(operated, "eng", "credit", "1", ops.current(), cross_check=True)
    assert len(operated.audit_log("aud")) == before
    operated.ports["drift"].engines["evidently"].drifted_share = 0.0
    view = record_drift(operated, "eng", "credit", "1", ops.current(), cross_check=True)
    assert view["drift_detected"] is False


def test_a_crashed_suspension_stays_on_and_is_recorded_by_reconcile(
    deployed, clock, tmp_path, ops, monkeypatch
):
    from mlgov.governance import faults, operations
    from mlgov.governance.faults import InjectedFault
    from mlgov.governance.policy import load_policy
    from mlgov.governance.reconcile import reconcile

    f = tmp_path / "p.toml"
    f.write_text('[default]\non_breach = ["suspend"]\n')
    deployed.policy = load_policy(f)
    clock.advance(hours=1)
    deployed.ports["predictions"].batches.append((clock.now(), 10))
    deployed.ports["drift"].drifted_share = 1.0
    faults.arm("before-commit")
    with monkeypatch.context() as m:  # killed: nothing is undone in the process
        m.setattr(operations, "settle_failure", lambda gov, run: False)
        with pytest.raises(InjectedFault):
            health.check_version(deployed, "eng", "credit", "1")
    faults.disarm()
    status = deployed.ports["deployer"].statuses["scoring"]
    assert status["state"] == "suspended"  # the status file ran ahead of the database
    assert deployed.audit_log("aud", action="deployment.suspend") == []

    report = reconcile(deployed, "admin", check_artifacts=False)
    [settled] = [o for o in report["operations"] if o["kind"] == "suspend"]
    assert settled["outcome"] == "completed"
    assert deployed.ports["deployer"].statuses["scoring"]["state"] == "suspended"
    [event] = deployed.audit_log("aud", action="deployment.suspend")
    assert event["payload"]["recovered_by"] == "admin" and event["payload"]["target"] == "scoring"
    assert reconcile(deployed, "admin", check_artifacts=False)["operations"] == []
    assert deployed.audit_verify("aud").ok


def test_a_suspension_that_fails_in_process_is_undone(deployed, clock, tmp_path, ops):
    from mlgov.governance import faults
    from mlgov.governance.faults import InjectedFault
    from mlgov.governance.policy import load_policy

    f = tmp_path / "p.toml"
    f.write_text('[default]\non_breach = ["suspend"]\n')
    deployed.policy = load_policy(f)
    clock.advance(hours=1)
    deployed.ports["predictions"].batches.append((clock.now(), 10))
    deployed.ports["drift"].drifted_share = 1.0
    faults.arm("after-side-effect")
    with pytest.raises(InjectedFault):
        health.check_version(deployed, "eng", "credit", "1")
    faults.disarm()
    assert deployed.ports["deployer"].statuses["scoring"]["state"] == "serving"
    assert deployed.show("aud", "credit", "1")["health"] == "ok"
