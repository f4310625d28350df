"""Reconcile's view of the processes behind pending operations, and its audit of findings.

Issue 16, item 6: a killed process that nobody reaped (state Z) is dead, so reconcile settles
its operation instead of waiting on it forever; a pid now held by another process is dead
too. And the small item: a standing finding is audited once, not on every run, while one that
changes, or comes back after it was fixed, is audited again.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from mlgov.governance import faults, mirror, operations
from mlgov.governance.faults import InjectedFault
from mlgov.governance.reconcile import reconcile
from mlgov.governance.tables import Operation

needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


def _proc_state_and_start(pid: int) -> tuple[str, int]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rfind(")") + 2 :].split()
    return fields[0], int(fields[19])


@pytest.fixture
def mirrored(gov):
    mirror.register(gov.gates)
    return gov


@pytest.fixture
def zombie() -> Iterator[int]:
    """A child that exited and is not reaped: it stays in state Z until wait()."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while _proc_state_and_start(child.pid)[0] != "Z":  # never poll(): it would reap the child
        assert time.monotonic() < deadline, "the child did not exit"
        time.sleep(0.01)
    yield child.pid
    child.wait()


@pytest.fixture
def sleeper() -> Iterator[int]:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield child.pid
    child.kill()
    child.wait()


def _crashed_promote(gov, monkeypatch, *, pid: int, pid_start: int) -> None:
    """m/1's promote to train killed after its MLflow writes, as if by process `pid`."""
    gov.register("ds1", "m", risk_tier="low", purpose="p", run_id="r")
    faults.arm("before-commit")
    with monkeypatch.context() as m:  # a killed process cleans nothing up
        m.setattr(operations, "settle_failure", lambda gov, run: False)
        with pytest.raises(InjectedFault):
            gov.promote("ds1", "m", "1", "train")
    faults.disarm()
    with gov.store.transaction() as s:
        op = s.scalar(select(Operation).where(Operation.state == "pending"))
        op.detail = op.detail | {"pid": pid, "pid_start": pid_start}


@needs_proc
def test_an_operation_whose_process_is_an_unreaped_zombie_is_settled(mirrored, zombie, monkeypatch):
    _crashed_promote(mirrored, monkeypatch, pid=zombie, pid_start=_proc_state_and_start(zombie)[1])
    assert _proc_state_and_start(zombie)[0] == "Z"  # still a zombie while reconcile runs

    report = reconcile(mirrored, "admin", check_artifacts=False)

    assert [o["outcome"] for o in report["operations"]] == ["completed"]
    assert mirrored.show("aud", "m", "1")["stage"] == "train"
    assert report["remaining"] == 0


@needs_proc
def test_an_operation_whose_process_still_runs_is_left_alone(mirrored, sleeper, monkeypatch):
    _crashed_promote(
        mirrored, monkeypatch, pid=sleeper, pid_start=_proc_state_and_start(sleeper)[1]
    )

    report = reconcile(mirrored, "admin", check_artifacts=False)

    assert [o["outcome"] for o in report["operations"]] == ["running"]
    assert mirrored.show("aud", "m", "1")["stage"] == "develop"


@needs_proc
def test_an_operation_whose_pid_was_reused_by_another_process_is_settled(
    mirrored, sleeper, monkeypatch
):
    started = _proc_state_and_start(sleeper)[1]
    _crashed_promote(mirrored, monkeypatch, pid=sleeper, pid_start=started - 1)

    report = reconcile(mirrored, "admin", check_artifacts=False)

    assert [o["outcome"] for o in report["operations"]] == ["completed"]


# --- a standing finding is audited once ---------------------------------------------------


def _finding_events(gov) -> list[tuple[str, str]]:
    return [
        (e["action"], e["payload"]["detail"])
        for e in gov.audit_log("aud")
        if e["action"] in ("reconcile.finding", "reconcile.fix", "reconcile.cleared")
    ]


def test_a_standing_finding_is_audited_once_not_on_every_reconcile(mirrored, fake_registry):
    mirrored.register("ds1", "m", risk_tier="low", purpose="p", run_id="r")
    fake_registry.tags[("m", "1")]["mlgov.stage"] = "deploy"  # set by hand in MLflow

    reports = [reconcile(mirrored, "admin", check_artifacts=False) for _ in range(3)]

    assert [len(r["findings"]) for r in reports] == [1, 1, 1]  # still reported each time
    detail = "tag mlgov.stage is 'deploy', governance says 'develop'"
    assert _finding_events(mirrored) == [("reconcile.finding", detail)]
    assert mirrored.audit_verify("aud").ok


def test_a_finding_that_changes_or_comes_back_after_a_fix_is_audited_again(mirrored, fake_registry):
    mirrored.register("ds1", "m", risk_tier="low", purpose="p", run_id="r")
    tags = fake_registry.tags[("m", "1")]
    deploy = "tag mlgov.stage is 'deploy', governance says 'develop'"
    retire = "tag mlgov.stage is 'retire', governance says 'develop'"

    tags["mlgov.stage"] = "deploy"
    reconcile(mirrored, "admin", check_artifacts=False)
    tags["mlgov.stage"] = "retire"  # changed
    reconcile(mirrored, "admin", check_artifacts=False)
    reconcile(mirrored, "admin", fix=True, check_artifacts=False)  # fixed
    tags["mlgov.stage"] = "retire"  # and back
    reconcile(mirrored, "admin", check_artifacts=False)
    tags["mlgov.stage"] = "develop"  # repaired by hand, outside reconcile
    reconcile(mirrored, "admin", check_artifacts=False)
    tags["mlgov.stage"] = "retire"  # and back again
    reconcile(mirrored, "admin", check_artifacts=False)

    assert _finding_events(mirrored) == [
        ("reconcile.finding", deploy),
        ("reconcile.finding", retire),
        ("reconcile.cleared", deploy),
        ("reconcile.fix", retire),
        ("reconcile.finding", retire),
        ("reconcile.cleared", retire),
        ("reconcile.finding", retire),
    ]


def test_skipping_artifacts_does_not_clear_a_standing_artifact_finding(mirrored, fake_registry):
    mirrored.register("ds1", "m", risk_tier="low", purpose="p", run_id="r")
    fake_registry.files[("m", "1")]["model.pkl"] = b"tampered"

    reconcile(mirrored, "admin")
    reconcile(mirrored, "admin", check_artifacts=False)
    reconcile(mirrored, "admin")

    assert [action for action, _ in _finding_events(mirrored)] == ["reconcile.finding"]
