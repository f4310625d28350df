"""Findings (issue 20): opened on a drift breach, blocking approval and deploy, closed only by
an independent risk officer, accepted by a quorum until a date that reopens them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mlgov.governance import approvals, cards, deployments, findings, health
from mlgov.governance.drift_checks import record_drift
from mlgov.governance.errors import (
    BadInput,
    Conflict,
    GateRefused,
    PermissionDenied,
)
from mlgov.governance.references import record_reference


@pytest.fixture
def evaluated(operated, ops, tmp_path):
    """credit/1 serving in evaluate; credit/2 in train with an approval request open."""
    ops.approve()
    record_drift(operated, "eng", "credit", "1", ops.current())
    deployments.deploy(operated, "eng", "credit", "1", target="scoring")
    deployments.record_verification(operated, "eng", "scoring", probe="ok")
    operated.register("ds1", "credit", risk_tier="high", purpose="v2", run_id="r2")
    cards.set_card(operated, "ds1", "credit", "2", ops.card)
    ref = tmp_path / "ref2.csv"
    ref.write_text("x\n1.5\n2.5\n")
    record_reference(operated, "ds1", "credit", "2", ref)
    operated.promote("ds1", "credit", "2", "train")
    approvals.request_approval(operated, "ds1", "credit", "2")
    return operated


def _breach(gov, ops) -> dict:
    gov.ports["drift"].drifted_share = 1.0
    record_drift(gov, "eng", "credit", "1", ops.current())
    [found] = findings.list_findings(gov, "aud", open_only=True)
    return found


def test_drift_breach_opens_a_blocking_finding_closed_by_an_independent_officer(
    evaluated, ops, clock, tmp_path
):
    found = _breach(evaluated, ops)
    assert (found["severity"], found["source"], found["version"]) == ("high", "drift", None)
    detail = findings.show_finding(evaluated, "aud", found["id"])
    drift_id = evaluated.audit_log("aud", action="drift.check")[-1]["payload"]["result_id"]
    assert detail["evidence"]["drift_result_id"] == drift_id
    # Due by the policy's days for a high finding on a high-tier model.
    assert detail["due_at"].startswith((clock.now() + timedelta(days=30)).date().isoformat())
    assert '"event": "finding.opened"' in (tmp_path / "notifications.jsonl").read_text()

    # The new version's approval and deploy both list it with the other unmet conditions.
    with pytest.raises(GateRefused) as refused:
        approvals.decide(evaluated, "ro1", "credit", "2", approve=True)
    assert [u.check for u in refused.value.unmet] == ["findings"]
    assert f"finding {found['id']} (high" in refused.value.unmet[0].message
    preview = evaluated.gate_preview("aud", "credit", "2", "deploy")
    assert "findings" in {u["check"] for u in preview}

    with pytest.raises(PermissionDenied, match="closed by a risk officer"):
        findings.close_finding(evaluated, "ds1", found["id"], resolution="fixed it myself")
    closed = findings.close_finding(evaluated, "ro2", found["id"], resolution="feature fixed")
    assert closed["state"] == "closed" and closed["closed_by"] == "ro2"
    with pytest.raises(Conflict, match="already closed"):
        findings.close_finding(evaluated, "ro2", found["id"], resolution="again")
    assert not [
        u
        for u in evaluated.gate_preview("aud", "credit", "2", "deploy")
        if u["check"] == "findings"
    ]
    approvals.decide(evaluated, "ro1", "credit", "2", approve=True)
    # A second breach check while the first finding is closed opens a new one.
    assert _breach(evaluated, ops)["id"] != found["id"]


def test_risk_acceptance_needs_the_quorum_and_expires_into_reopening(evaluated, clock):
    f = findings.open_finding(
        evaluated, "ro1", "credit", "2", severity="critical", title="unstable on thin files"
    )
    assert f["due_at"].startswith((clock.now() + timedelta(days=7)).date().isoformat())
    until = clock.now() + timedelta(days=10)
    with pytest.raises(PermissionDenied, match="needs role risk_officer"):
        findings.accept(evaluated, "ds1", f["id"], reason="owner", until=until)
    one = findings.accept(evaluated, "ro1", f["id"], reason="compensating control", until=until)
    assert (one["state"], one["acceptance_votes"], one["acceptance_required"]) == ("open", 1, 2)
    with pytest.raises(Conflict, match="already voted"):
        findings.accept(evaluated, "ro1", f["id"], reason="again", until=until)
    two = findings.accept(
        evaluated, "ro2", f["id"], reason="agreed", until=until + timedelta(days=5)
    )
    assert two["state"] == "accepted" and two["accepted_until"].startswith(
        until.date().isoformat()  # the earliest date voted
    )
    assert _blocking(evaluated, "2") == []

    clock.advance(days=11)
    assert findings.show_finding(evaluated, "aud", f["id"])["state"] == "open"
    with pytest.raises(GateRefused) as refused:
        approvals.decide(evaluated, "ro1", "credit", "2", approve=True)
    assert "critical" in refused.value.unmet[0].message
    actions = [e["action"] for e in evaluated.audit_log("aud", model="credit")]
    assert "finding.reopen" in actions and "finding.overdue" in actions
    # The reopened finding takes a new round of votes.
    again = findings.accept(
        evaluated, "ro1", f["id"], reason="extend", until=clock.now() + timedelta(days=3)
    )
    assert (again["state"], again["acceptance_votes"]) == ("open", 1)


def _blocking(gov, version):
    with gov.store.read() as s:
        return findings.blocking(s, gov.version(s, "credit", version), gov.policy, gov.now())


def test_health_breach_opens_one_finding(evaluated, clock):
    log, drift = evaluated.ports["predictions"], evaluated.ports["drift"]
    for _ in range(2):
        clock.advance(hours=1)
        log.batches.append((clock.now(), 50))
        drift.drifted_share = 1.0
        health.monitor_run(evaluated, "eng")
    [found] = findings.list_findings(evaluated, "aud", open_only=True)
    assert found["source"] == "health"


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"severity": "severe"}, BadInput, "unknown severity"),
        ({"type_": "bug"}, BadInput, "unknown finding type"),
        ({"title": " "}, BadInput, "--title"),
        ({"due": "past"}, BadInput, "not in the future"),
        ({"owner": "aud"}, PermissionDenied, "may not own a finding"),
    ],
)
def test_bad_input_writes_nothing(in_train, clock, kwargs, error, match):
    args = {"severity": "high", "title": "t"} | kwargs
    if args.get("due") == "past":
        args["due"] = clock.now() - timedelta(days=1)
    before = len(in_train.audit_log("aud"))
    with pytest.raises(error, match=match):
        findings.open_finding(in_train, "ro1", "credit", "1", **args)
    assert len(in_train.audit_log("aud")) == before
    assert findings.list_findings(in_train, "aud") == []


def test_auditor_may_not_open_and_owner_closes_low(in_train):
    with pytest.raises(PermissionDenied):
        findings.open_finding(in_train, "aud", "credit", "1", severity="low", title="t")
    f = findings.open_finding(in_train, "ds2", "credit", None, severity="low", title="doc gap")
    assert f["version"] is None and f["owner"] == "ds1"
    findings.comment(in_train, "ds1", f["id"], "will add")
    findings.assign(in_train, "ds1", f["id"], "ds2")
    assert findings.list_findings(in_train, "ds2", mine=True)[0]["id"] == f["id"]
    done = findings.close_finding(in_train, "ds2", f["id"], resolution="added")
    assert done["state"] == "closed" and [c["text"] for c in done["comments"]] == ["will add"]


def test_a_risk_officer_who_owns_the_model_may_not_close_its_high_finding(in_train):
    in_train.add_user("admin", "ro_ds", ["risk_officer", "data_scientist"])
    in_train.register("ro_ds", "fraud", risk_tier="low", purpose="fraud", run_id="r9")
    f = findings.open_finding(in_train, "ro1", "fraud", "1", severity="high", title="leak")
    with pytest.raises(PermissionDenied, match="owners and registrants"):
        findings.close_finding(in_train, "ro_ds", f["id"], resolution="mine, fixed")
    with pytest.raises(PermissionDenied, match="maker-checker"):
        findings.accept(
            in_train, "ro_ds", f["id"], reason="fine", until=in_train.now() + timedelta(days=1)
        )
    assert findings.close_finding(in_train, "ro1", f["id"], resolution="fixed")["state"] == "closed"
