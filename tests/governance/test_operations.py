"""Operations that cross systems: intent row, tagged outside writes, settle by reconcile.

A crash is simulated in-process by a fault point whose clean-up is switched off (a killed
process runs no clean-up); tests/integration/test_crash_recovery.py kills real processes.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select, text

from mlgov.governance import approvals, deployments, faults, operations
from mlgov.governance.clock import isoformat
from mlgov.governance.drift_checks import record_drift
from mlgov.governance.errors import Conflict
from mlgov.governance.faults import InjectedFault
from mlgov.governance.reconcile import reconcile
from mlgov.governance.tables import Operation


def _snapshot(gov) -> tuple:
    with gov.store.engine.connect() as conn:
        return tuple(
            tuple(conn.execute(text(f"SELECT * FROM {t} ORDER BY 1")).all())
            for t in ("model_versions", "stage_changes", "audit_events", "operations")
        )


def _ops(gov) -> list[tuple[str, str, str | None]]:
    """The operations of moves (registrations are operations too: see their own tests)."""
    with gov.store.read() as s:
        moves = select(Operation).where(Operation.kind != "register")
        return [(o.kind, o.state, o.to_stage) for o in s.scalars(moves)]


@pytest.fixture
def mirrored(gov):
    """The service with no gate checks but the MLflow mirror effect."""
    from mlgov.governance import mirror

    mirror.register(gov.gates)
    return gov


@pytest.fixture
def crash(monkeypatch):
    """Make a fault point behave like SIGKILL: the failed move does not clean up."""

    def at(point: str | None) -> None:
        if point is not None:
            faults.arm(point)
        monkeypatch.setattr(operations, "settle_failure", lambda gov, run: False)

    def over() -> None:
        faults.disarm()
        monkeypatch.undo()

    at.over = over
    return at


def test_a_failed_move_undoes_its_mlflow_writes_and_leaves_no_trace(mirrored, monkeypatch):
    mirrored.register("ds1", "m", risk_tier="low", purpose="p", run_id="r")
    before = _snapshot(mirrored)
    tags_before = dict(mirrored.registry.tags[("m", "1")])
    faults.arm("after-side-effect")
    with pytest.raises(InjectedFault):
        mirrored.promote("ds1", "m", "1", "train")
    assert _snapshot(mirrored) == before  # no operation row either
    assert mirrored.registry.tags[("m", "1")] == tags_before
    assert "challenger" not in mirrored.registry.aliases.get("m", {})


@pytest.mark.parametrize("point", ["after-side-effect", "before-commit"])
def test_crash_after_the_mlflow_writes_is_completed_by_reconcile(mirrored, crash, point):
    mirrored.register("ds1", "m", risk_tier="low", purpose="p", run_id="r")
    crash(point)
    with pytest.raises(InjectedFault):
        mirrored.promote("ds1", "m", "1", "train", reason="ready")
    crash.over()
    assert mirrored.show("aud", "m", "1")["stage"] == "develop"
    assert _ops(mirrored) == [("promote", "pending", "train")]
    assert mirrored.registry.tags[("m", "1")][operations.OP_TAG]  # the write is visible

    results = operations.settle_pending(mirrored, "admin")

    assert [r["outcome"] for r in results] == ["completed"]
    assert mirrored.show("aud", "m", "1")["stage"] == "train"
    assert _ops(mirrored) == [("promote", "completed", "train")]
    events = mirrored.audit_log("aud", action="stage.change")
    assert len(events) == 1
    assert events[0]["payload"]["recovered_by"] == "admin"
    assert events[0]["payload"]["reason"] == "ready"
    assert mirrored.registry.tags[("m", "1")]["mlgov.stage"] == "train"
    assert mirrored.registry.aliases["m"]["challenger"] == "1"
    assert mirrored.audit_verify("aud").ok


def test_crash_before_any_outside_write_is_aborted_and_audited(mirrored, crash):
    mirrored.register("ds1", "m", risk_tier="low", purpose="p", run_id="r")

    def dies(ctx):
        raise InjectedFault("killed in the gate")

    from mlgov.governance.lifecycle import Stage

    mirrored.gates.add_check(Stage.TRAIN, "dies", dies)
    crash(None)  # no fault point: the gate itself dies
    with pytest.raises(InjectedFault):
        mirrored.promote("ds1", "m", "1", "train")
    crash.over()
    assert _ops(mirrored) == [("promote", "pending", "train")]

    results = operations.settle_pending(mirrored, "admin")

    assert [r["outcome"] for r in results] == ["aborted"]
    assert mirrored.show("aud", "m", "1")["stage"] == "develop"
    abort = mirrored.audit_log("aud", action="operation.abort")
    assert len(abort) == 1 and abort[0]["payload"]["seen"] == []
    assert abort[0]["payload"]["reason"] == "no outside write was made"
    assert mirrored.registry.tags[("m", "1")]["mlgov.stage"] == "develop"


def test_a_pending_operation_of_a_dead_process_refuses_other_moves_until_reconciled(
    mirrored, crash
):
    mirrored.register("ds1", "m", risk_tier="low", purpose="p", run_id="r")
    crash("before-commit")
    with pytest.raises(InjectedFault):
        mirrored.promote("ds1", "m", "1", "train")
    crash.over()
    with mirrored.store.transaction() as s:  # as if another process had started it
        op = s.scalar(select(Operation).where(Operation.state == "pending"))
        op.detail = op.detail | {"pid": 2**22 + 12345}
    before = _snapshot(mirrored)
    with pytest.raises(Conflict, match="still pending on m/1.*mlgov reconcile"):
        mirrored.promote("ds1", "m", "1", "train")
    assert _snapshot(mirrored) == before
    assert _ops(mirrored) == [("promote", "pending", "train")]
    operations.settle_pending(mirrored, "admin")
    assert mirrored.show("aud", "m", "1")["stage"] == "train"


def test_the_database_allows_one_pending_operation_per_version(mirrored, crash):
    from sqlalchemy.exc import IntegrityError

    mirrored.register("ds1", "m", risk_tier="low", purpose="p", run_id="r")
    crash("before-commit")
    with pytest.raises(InjectedFault):
        mirrored.promote("ds1", "m", "1", "train")
    crash.over()
    with pytest.raises(IntegrityError):
        with mirrored.store.transaction() as s:
            op = s.scalar(select(Operation).where(Operation.state == "pending"))
            s.add(
                Operation(
                    id="x" * 32,
                    kind="promote",
                    version_id=op.version_id,
                    subject=op.subject,
                    actor="ds1",
                    from_stage="develop",
                    to_stage="train",
                    detail={},
                    state="pending",
                    started_at=op.started_at,
                )
            )


@pytest.fixture
def approved(operated, ops):
    ops.approve()
    record_drift(operated, "eng", "credit", "1", ops.current())
    return operated


def test_crashed_deploy_is_completed_with_its_deployment_row(approved, crash):
    deployer = approved.ports["deployer"]
    crash("before-commit")
    with pytest.raises(InjectedFault):
        deployments.deploy(approved, "eng", "credit", "1", target="scoring")
    crash.over()
    assert deployer.statuses["scoring"]["state"] == "serving"  # ahead of governance
    assert deployments.list_deployments(approved, "aud") == []

    [result] = operations.settle_pending(approved, "admin")

    assert result["outcome"] == "completed"
    rows = deployments.list_deployments(approved, "aud")
    assert [(r["target"], r["version"]) for r in rows] == [("scoring", "1")]
    assert approved.show("aud", "credit", "1")["stage"] == "deploy"
    assert approved.registry.aliases["credit"]["champion"] == "1"


def test_crashed_deploy_whose_replay_is_refused_is_undone(approved, crash):
    deployer = approved.ports["deployer"]
    crash("after-side-effect")
    with pytest.raises(InjectedFault):
        deployments.deploy(approved, "eng", "credit", "1", target="scoring")
    crash.over()
    approved.remove_user("admin", "eng")  # the deployer lost the right in the meantime

    [result] = operations.settle_pending(approved, "admin")

    assert result["outcome"] == "aborted" and "'eng' was removed" in result["reason"]
    assert deployer.statuses["scoring"]["state"] == "undeployed"  # nothing may serve it
    assert deployer.discarded  # what the deploy built is removed
    assert approved.show("aud", "credit", "1")["stage"] == "train"
    assert "champion" not in approved.registry.aliases["credit"]
    assert approved.registry.tags[("credit", "1")]["mlgov.stage"] == "train"
    abort = approved.audit_log("aud", action="operation.abort")[0]["payload"]
    # The mark is the last completed operation's again, not the undone deploy's.
    assert approved.registry.tags[("credit", "1")].get(operations.OP_TAG) != abort["op_id"]
    assert abort["kind"] == "deploy" and abort["seen"]
    assert approved.audit_verify("aud").ok


def test_aborted_second_deploy_gives_the_target_back_to_the_first_version(approved, ops, crash):
    deployments.deploy(approved, "eng", "credit", "1", target="scoring")
    deployer = approved.ports["deployer"]
    real_deploy = deployments.deploy

    def crashing_deploy(*args, **kwargs):
        crash("before-commit")
        return real_deploy(*args, **kwargs)

    deployments.deploy = crashing_deploy
    try:
        with pytest.raises(InjectedFault):
            ops.second_version()  # registers, promotes and approves credit/2, then deploys
    finally:
        deployments.deploy = real_deploy
        crash.over()
    assert deployer.statuses["scoring"]["version"] == "2"
    approved.remove_user("admin", "eng")

    [result] = operations.settle_pending(approved, "admin")

    assert result["outcome"] == "aborted"
    assert deployer.statuses["scoring"]["version"] == "1"
    assert deployer.statuses["scoring"]["state"] == "serving"
    assert approved.registry.aliases["credit"]["champion"] == "1"


def test_crashed_quorum_approval_is_completed(operated, crash):
    approvals.request_approval(operated, "ds1", "credit", "1")
    approvals.decide(operated, "ro1", "credit", "1", approve=True)
    crash("before-commit")
    with pytest.raises(InjectedFault):
        approvals.decide(operated, "ro2", "credit", "1", approve=True, comment="fine")
    crash.over()
    assert operated.registry.tags[("credit", "1")]["mlgov.approved_by"] == "ro1,ro2"

    [result] = operations.settle_pending(operated, "admin")

    assert result["outcome"] == "completed"
    request = approvals.show_request(operated, "aud", "credit", "1")
    assert request["state"] == "approved"
    decisions = operated.audit_log("aud", action="approval.decide")
    assert [d["actor"] for d in decisions] == ["ro1", "ro2"]
    assert decisions[-1]["payload"]["recovered_by"] == "admin"


def test_crashed_decision_below_quorum_is_aborted(operated, crash):
    approvals.request_approval(operated, "ds1", "credit", "1")
    crash("before-commit")
    with pytest.raises(InjectedFault):
        approvals.decide(operated, "ro1", "credit", "1", approve=True)
    crash.over()
    [result] = operations.settle_pending(operated, "admin")
    assert result["outcome"] == "aborted"  # it wrote nothing outside: ro1 decides again
    approvals.decide(operated, "ro1", "credit", "1", approve=True)
    assert len(operated.audit_log("aud", action="approval.decide")) == 1


def test_only_admins_settle_operations(gov):
    from mlgov.governance.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        operations.settle_pending(gov, "ds1")


def test_crashed_rollback_is_completed(approved, ops, crash):
    deployments.deploy(approved, "eng", "credit", "1", target="scoring")
    ops.second_version()
    deployer = approved.ports["deployer"]
    crash("before-commit")
    with pytest.raises(InjectedFault):
        deployments.rollback(approved, "eng", "scoring")
    crash.over()
    assert deployer.statuses["scoring"]["version"] == "1"  # ahead of governance

    [result] = operations.settle_pending(approved, "admin")

    assert (result["kind"], result["outcome"]) == ("rollback", "completed")
    [active] = deployments.list_deployments(approved, "aud")
    assert active["version"] == "1"
    [event] = approved.audit_log("aud", action="deployment.rollback")
    assert event["payload"]["recovered_by"] == "admin"
    assert approved.registry.aliases["credit"]["champion"] == "1"


def test_crashed_undeploy_whose_replay_is_refused_keeps_serving(approved, crash):
    deployments.deploy(approved, "eng", "credit", "1", target="scoring")
    deployer = approved.ports["deployer"]
    crash("after-side-effect")
    with pytest.raises(InjectedFault):
        deployments.undeploy(approved, "eng", "scoring", reason="maintenance")
    crash.over()
    assert deployer.statuses["scoring"]["state"] == "undeployed"
    approved.remove_user("admin", "eng")

    [result] = operations.settle_pending(approved, "admin")

    assert (result["kind"], result["outcome"]) == ("undeploy", "aborted")
    assert deployer.statuses["scoring"]["state"] == "serving"  # as governance says
    assert [d["target"] for d in deployments.list_deployments(approved, "aud")] == ["scoring"]
    assert approved.registry.aliases["credit"]["champion"] == "1"
    assert approved.audit_log("aud", action="deployment.undeploy") == []


def test_a_move_the_database_refuses_is_a_clean_conflict_and_undone(mirrored):
    from mlgov.governance.tables import StageChange

    mirrored.register("ds1", "m", risk_tier="low", purpose="p", run_id="r")
    with mirrored.store.transaction() as s:  # a row a racing writer would have added
        first = s.scalar(select(StageChange))
        s.add(
            StageChange(
                version_id=first.version_id,
                from_stage="develop",
                to_stage="train",
                actor="ds1",
                at=first.at,
                audit_seq=first.audit_seq,
            )
        )
    before = _snapshot(mirrored)
    with pytest.raises(Conflict, match="changed by another move at the same time"):
        mirrored.promote("ds1", "m", "1", "train")
    assert _snapshot(mirrored) == before
    assert mirrored.registry.tags[("m", "1")]["mlgov.stage"] == "develop"


def test_a_thread_of_this_process_moving_a_version_is_live_not_a_leftover(mirrored):
    """A server worker runs many requests at once in one process: another thread's pending
    operation must be waited for, never settled (undone) as if it were a failed move here;
    reconcile reports it running."""
    import threading

    mirrored.register("ds1", "m", risk_tier="low", purpose="p", run_id="r")
    mirrored.operation_wait_seconds = 0.5
    inside, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold() -> None:
        try:
            with operations.running(
                mirrored,
                "m",
                "1",
                kind="promote",
                actor="ds1",
                to_stage="train",
                detail={},
                precheck=lambda s, v: None,
            ):
                inside.set()
                release.wait(timeout=30)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(timeout=30)
    try:
        with pytest.raises(Conflict, match="still pending on m/1"):
            mirrored.promote("ds1", "m", "1", "train")
        assert _ops(mirrored) == [("promote", "pending", "train")]  # not undone
        settled = operations.settle_pending(mirrored, "admin")
        assert [r["outcome"] for r in settled] == ["running"]
    finally:
        release.set()
        holder.join(timeout=30)
    assert errors == []


def test_an_operation_of_another_node_is_live_until_its_lease_ends(mirrored, crash, clock):
    """A second server on the same database cannot see the first's pids: the lease decides.
    Reconcile there leaves the move alone while the lease runs, and settles it after."""
    mirrored.register("ds1", "m", risk_tier="low", purpose="p", run_id="r")
    mirrored.operation_wait_seconds = 0.2
    crash("before-commit")
    with pytest.raises(InjectedFault):
        mirrored.promote("ds1", "m", "1", "train")
    crash.over()
    with mirrored.store.transaction() as s:  # as if a process of another node were moving it
        op = s.scalar(select(Operation).where(Operation.state == operations.PENDING))
        assert op.detail["host"] == operations.NODE
        assert op.detail["lease_until"] == isoformat(op.started_at + operations.LEASE)
        op.detail = op.detail | {"host": "node-b.bank.internal", "pid": os.getpid()}
    before = _snapshot(mirrored)
    with pytest.raises(Conflict, match="still pending on m/1"):
        mirrored.promote("ds1", "m", "1", "train")
    clock.advance(minutes=29)
    [settled] = operations.settle_pending(mirrored, "admin")
    assert settled["outcome"] == "running" and "node 'node-b.bank.internal'" in settled["reason"]
    assert _snapshot(mirrored) == before
    clock.advance(minutes=2)  # the lease has ended: the node is taken to have died
    [settled] = operations.settle_pending(mirrored, "admin")
    assert settled["outcome"] == "completed"
    assert mirrored.show("aud", "m", "1")["stage"] == "train"


@pytest.mark.parametrize("point", ["after-side-effect", "before-commit"])
def test_a_crashed_registration_is_recorded_by_reconcile(gov, fake_registry, monkeypatch, point):
    faults.arm(point)
    with monkeypatch.context() as m:  # a killed process cleans nothing up
        m.setattr(operations, "forget", lambda gov, run: None)
        m.setattr(type(fake_registry), "discard", lambda self, model, version: None)
        with pytest.raises(InjectedFault):
            gov.register("ds1", "m", risk_tier="low", purpose="p", run_id="r")
    faults.disarm()
    assert gov.list_versions("aud") == []  # MLflow ran ahead of governance
    [pending] = _all_ops(gov)
    assert pending[:2] == ("register", "pending")
    assert fake_registry.tags[("m", "1")][operations.OP_TAG] == pending[2]

    report = reconcile(gov, "admin", check_artifacts=False)
    [settled] = report["operations"]
    assert settled["outcome"] == "completed" and settled["kind"] == "register"
    assert gov.show("aud", "m", "1")["stage"] == "develop"
    assert _all_ops(gov)[0][:2] == ("register", "completed")
    event = gov.audit_log("aud", action="version.register")[0]["payload"]
    assert event["recovered_by"] == "admin" and event["op_id"] == pending[2]
    assert not [f for f in report["findings"] if f["kind"] == "ungoverned_version"]
    assert reconcile(gov, "admin", check_artifacts=False)["operations"] == []
    assert gov.audit_verify("aud").ok


def test_a_registration_crashed_before_mlflow_is_aborted(gov, fake_registry, monkeypatch):
    def killed(self, model, **kwargs):
        raise InjectedFault("killed before MLflow answered")

    with monkeypatch.context() as m:
        m.setattr(operations, "forget", lambda gov, run: None)
        m.setattr(type(fake_registry), "register", killed)
        with pytest.raises(InjectedFault):
            gov.register("ds1", "m", risk_tier="low", purpose="p", run_id="r")
    report = reconcile(gov, "admin", check_artifacts=False)
    [settled] = report["operations"]
    assert settled["outcome"] == "aborted" and "no outside write" in settled["reason"]
    assert gov.list_versions("aud") == [] and fake_registry.files == {}
    abort = gov.audit_log("aud", action="operation.abort")[0]["payload"]
    assert abort["kind"] == "register"
    assert gov.audit_verify("aud").ok


def test_a_registration_whose_replay_is_refused_deletes_the_mlflow_version(
    gov, fake_registry, monkeypatch
):
    faults.arm("after-side-effect")
    with monkeypatch.context() as m:
        m.setattr(operations, "forget", lambda gov, run: None)
        m.setattr(type(fake_registry), "discard", lambda self, model, version: None)
        with pytest.raises(InjectedFault):
            gov.register("ds1", "m", risk_tier="low", purpose="p", run_id="r")
    faults.disarm()
    gov.remove_user("admin", "ds1")  # the registrant may no longer register
    report = reconcile(gov, "admin", check_artifacts=False)
    [settled] = report["operations"]
    assert settled["outcome"] == "aborted" and "replay refused" in settled["reason"]
    assert ("m", "1") not in fake_registry.files
    assert gov.audit_verify("aud").ok


def _all_ops(gov) -> list[tuple[str, str, str]]:
    with gov.store.read() as s:
        return [(o.kind, o.state, o.id) for o in s.scalars(select(Operation))]
