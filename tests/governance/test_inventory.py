"""The inventory: live from the tables, and rebuilt at any moment from the audit events alone."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from mlgov.governance import approvals, cards, health
from mlgov.governance.clock import isoformat
from mlgov.governance.drift import ColumnDrift, DriftResult
from mlgov.governance.errors import BadInput, NotFound, PermissionDenied, UnknownUser
from mlgov.governance.inventory import HANDLERS, inventory, replay_inventory
from mlgov.governance.policy import DEFAULT_POLICY
from mlgov.governance.references import record_reference


def _monitor(gov, share: float) -> str:
    """One monitoring result as `monitor run` records it: the drift record, and on a change
    of level the health.change event with the policy's actions. (Written here: at this
    branch's base, health.check_version reads the version after store.read() expired it.)"""
    from mlgov.governance.drift import DriftSpec
    from mlgov.governance.drift_checks import MONITOR, store_result

    tier = gov.policy.for_tier("high")
    level = health.health_for(share, tier)
    report_dir = gov.home / "staging" / f"r{share}"
    report_dir.mkdir(parents=True)
    (report_dir / "report.html").write_text("<html>report</html>")
    result = DriftResult(
        columns=(ColumnDrift("x", "numerical", "ks", 0.01, 0.05, share >= 0.5),),
        drifted_share=share,
        share_threshold=0.5,
        drift_detected=share >= 0.5,
        reference_rows=2,
        current_rows=3,
        engine="fast",
    )
    with gov.store.transaction() as s:
        v = gov.version(s, "credit", "1", lock=True)
        record = store_result(
            gov, s, "eng", v, result, DriftSpec(), purpose=MONITOR,
            reference_sha256="a" * 64, current_sha256="b" * 64,
            current_source="prediction log (3 rows)", report_dir=report_dir, health=level.value,
        )  # fmt: skip
        if level.value != v.health:
            actions = health.actions_for(level, tier)
            gov.audit(
                s, "eng", "health.change", f"model:{v.label}",
                {"from": v.health, "to": level.value, "result_id": record.id,
                 "drifted_share": share, "actions": list(actions)},
            )  # fmt: skip
            v.health = level.value
            if "require_review" in actions:
                v.review_required = True
    return level.value


def _train(gov, version: str, card: dict, tmp_path: Path) -> None:
    cards.set_card(gov, "ds1", "credit", version, card)
    ref = tmp_path / f"reference-{version}.csv"
    ref.write_text(f"x\n1.0\n{version}.5\n")
    record_reference(gov, "ds1", "credit", version, ref)
    gov.promote("ds1", "credit", version, "train")


@pytest.fixture
def history(governed, clock, tmp_path, high_card):
    """A rich life: rejection, expiry, voiding, approval, deploy, evaluate, warning, breach,
    review, a retired sibling, a pending request left to lapse, another model."""
    marks = {}
    day = lambda: clock.advance(days=1)  # noqa: E731

    governed.register("ds1", "credit", risk_tier="high", purpose="credit scoring", run_id="r1")
    day()
    _train(governed, "1", high_card, tmp_path)
    day()
    approvals.request_approval(governed, "ds1", "credit", "1")
    approvals.decide(governed, "ro1", "credit", "1", approve=False, comment="KS too low")
    day()
    approvals.request_approval(governed, "ds1", "credit", "1")
    approvals.decide(governed, "ro1", "credit", "1", approve=True)
    clock.advance(days=31)
    approvals.sweep(governed, "ro2", "credit", "1")  # records the expiry
    day()
    approvals.request_approval(governed, "ds1", "credit", "1")
    cards.set_card(governed, "ds1", "credit", "1", {"limitations": "not for SMEs either"})
    approvals.sweep(governed, "ro2", "credit", "1")  # the changed card voids it
    day()
    approvals.request_approval(governed, "ds1", "credit", "1")
    approvals.decide(governed, "ro1", "credit", "1", approve=True, comment="fine")
    approvals.decide(governed, "ro2", "credit", "1", approve=True, comment="agreed")
    marks["approved"] = clock.now()
    day()
    governed.promote("eng", "credit", "1", "deploy")
    marks["deployed"] = clock.now()
    day()
    governed.promote("eng", "credit", "1", "evaluate")
    day()
    _monitor(governed, 0.0)
    day()
    assert _monitor(governed, 0.3) == "warning"
    marks["warning"] = clock.now()
    day()
    assert _monitor(governed, 0.6) == "breach"
    marks["breach"] = clock.now()
    day()
    health.acknowledge(governed, "ro1", "credit", "1", "drift reviewed, retraining")
    marks["acked"] = clock.now()
    day()
    governed.register("ds2", "credit", risk_tier="medium", purpose="challenger", run_id="r2")
    day()
    governed.retire("ds2", "credit", "2", reason="superseded before training")
    day()
    governed.register("ds2", "credit", risk_tier="medium", purpose="second try", run_id="r3")
    governed.confirm_tier("ro1", "credit", "3", reason="challenger for a smaller segment")
    _train(governed, "3", dict(high_card), tmp_path)
    approvals.request_approval(governed, "ds2", "credit", "3")
    marks["pending"] = clock.now()
    clock.advance(days=31)  # lapses unswept: reads as expired
    governed.register("ds1", "affordability", risk_tier="low", purpose="limits", run_id="r4")
    day()
    return governed, marks


def _by_version(rows):
    return {(r["model"], r["version"]): r for r in rows}


def test_replay_at_now_equals_live(history, clock):
    gov, _ = history
    live = inventory(gov, "aud")
    replayed = inventory(gov, "aud", at=clock.now())
    assert replayed == live
    rows = _by_version(live)
    assert [(r["model"], r["version"]) for r in live] == [
        ("affordability", "1"),
        ("credit", "1"),
        ("credit", "2"),
        ("credit", "3"),
    ]
    v1 = rows[("credit", "1")]
    assert (v1["stage"], v1["health"], v1["review_required"]) == ("evaluate", "breach", False)
    # 2 of 2 approvals; the validity window has lapsed since (the view the core gives too)
    assert (v1["approval_state"], v1["approvals_count"], v1["approvals_required"]) == (
        "expired",
        2,
        2,
    )
    assert v1["last_review"] is not None and v1["risk_tier"] == "high"
    assert rows[("credit", "2")]["stage"] == "retire"
    assert rows[("credit", "2")]["next_review_due"] is None
    assert rows[("credit", "3")]["approval_state"] == "expired"  # lapsed, never swept
    assert rows[("affordability", "1")]["approval_state"] is None


def test_review_dates_follow_the_policy(history):
    gov, marks = history
    v1 = _by_version(inventory(gov, "aud"))[("credit", "1")]
    assert v1["last_review"] == isoformat(marks["acked"])  # the ack came after the approvals
    assert v1["next_review_due"] == isoformat(marks["acked"] + timedelta(days=180))
    low = _by_version(inventory(gov, "aud"))[("affordability", "1")]
    assert low["last_review"] is None
    assert low["next_review_due"] == isoformat(_parse(low["registered_at"]) + timedelta(days=730))


def _parse(text):
    from mlgov.governance.clock import parse_time

    return parse_time(text)


def test_earlier_at_shows_the_earlier_state(history):
    gov, marks = history
    before_deploy = _by_version(inventory(gov, "aud", at=marks["deployed"] - timedelta(hours=1)))
    v1 = before_deploy[("credit", "1")]
    assert (v1["stage"], v1["approval_state"], v1["health"]) == ("train", "approved", "ok")
    assert ("credit", "2") not in before_deploy  # not registered yet
    at_warning = _by_version(inventory(gov, "aud", at=marks["warning"]))[("credit", "1")]
    assert (at_warning["stage"], at_warning["health"]) == ("evaluate", "warning")
    assert at_warning["approval_state"] == "approved" and at_warning["approvals_count"] == 2
    at_breach = _by_version(inventory(gov, "aud", at=marks["breach"]))[("credit", "1")]
    assert (at_breach["health"], at_breach["review_required"]) == ("breach", True)
    assert at_breach["last_review"] == isoformat(marks["approved"])
    pending = _by_version(inventory(gov, "aud", at=marks["pending"]))[("credit", "3")]
    assert pending["approval_state"] == "pending" and pending["approvals_count"] == 0


def test_every_past_moment_matches_a_live_inventory_taken_then(
    governed, clock, high_card, tmp_path
):
    """Snapshots of the live inventory taken along the way equal later replays at those times."""
    taken = []

    def snap():
        taken.append((clock.now(), inventory(governed, "aud")))
        clock.advance(hours=5)

    governed.register("ds1", "credit", risk_tier="high", purpose="p", run_id="r1")
    snap()
    _train(governed, "1", high_card, tmp_path)
    snap()
    approvals.request_approval(governed, "ds1", "credit", "1")
    snap()
    approvals.decide(governed, "ro1", "credit", "1", approve=True)
    snap()
    approvals.decide(governed, "ro2", "credit", "1", approve=True)
    snap()
    governed.promote("eng", "credit", "1", "deploy")
    snap()
    governed.retire("ro1", "credit", "1", reason="withdrawn")
    snap()
    for when, live in taken:
        assert inventory(governed, "aud", at=when) == live, when
    assert len({json.dumps(live, sort_keys=True) for _, live in taken}) == len(taken)


def test_stage_filter_and_bad_input(history, clock):
    gov, _ = history
    assert [r["version"] for r in inventory(gov, "aud", stage="retire")] == ["2"]
    assert [r["model"] for r in inventory(gov, "aud", stage="DEVELOP")] == ["affordability"]
    with pytest.raises(BadInput, match="unknown stage"):
        inventory(gov, "aud", stage="production")
    with pytest.raises(BadInput, match="in the future"):
        inventory(gov, "aud", at=clock.now() + timedelta(seconds=1))
    assert inventory(gov, "aud", at=clock.now() - timedelta(days=3650)) == []


def test_permission_read_for_every_role_and_nobody_else(history):
    gov, _ = history
    for who in ("admin", "ds1", "ro1", "eng", "aud"):
        assert len(inventory(gov, who)) == 4
    with pytest.raises(UnknownUser):
        inventory(gov, "stranger")
    assert issubclass(UnknownUser, PermissionDenied) and not issubclass(NotFound, PermissionDenied)


def _event(seq, time, action, subject, **payload):
    return {"seq": seq, "time": time, "actor": "x", "action": action, "subject": subject,
            "payload": payload}  # fmt: skip


def test_replay_follows_deployments_rollback_undeploy_and_retire():
    s1, s2 = "model:credit/1", "model:credit/2"
    reg = {"risk_tier": "low", "owner": "ds1", "purpose": "p"}
    events = [
        _event(1, "2026-01-01T00:00:00Z", "version.register", s1, **reg),
        _event(2, "2026-01-01T00:00:00Z", "version.register", s2, **reg),
        _event(3, "2026-01-02T00:00:00Z", "stage.change", s1, to="deploy",
               deployment={"target": "scoring", "id": 1}),
        _event(4, "2026-01-03T00:00:00Z", "stage.change", s2, to="deploy",
               deployment={"target": "scoring", "id": 2}),
        _event(5, "2026-01-03T00:00:00Z", "stage.change", s2, to="deploy",
               deployment={"target": "shadow", "id": 3}),
        _event(6, "2026-01-04T00:00:00Z", "deployment.rollback", s1, target="scoring",
               from_version="2", to_version="1", deployment_id=4),
        _event(7, "2026-01-05T00:00:00Z", "deployment.undeploy", s2, target="shadow",
               deployment_id=3, reason="done"),
        _event(8, "2026-01-06T00:00:00Z", "deployment.suspend", s1, target="scoring",
               reason="breach"),
        _event(9, "2026-01-06T00:00:00Z", "some.future.action", s1, anything=True),
        _event(10, "2026-01-07T00:00:00Z", "deployment.end", s1, target="scoring",
               deployment_id=4, reason="retired"),
        _event(11, "2026-01-07T00:00:00Z", "stage.change", s1, to="retire"),
    ]  # fmt: skip

    def targets(at):
        rows = replay_inventory(events, DEFAULT_POLICY, _parse(at))
        return {r["version"]: r["targets"] for r in rows}

    assert targets("2026-01-02") == {"1": ["scoring"], "2": []}
    assert targets("2026-01-03") == {"1": [], "2": ["scoring", "shadow"]}
    assert targets("2026-01-04") == {"1": ["scoring"], "2": ["shadow"]}
    assert targets("2026-01-05") == {"1": ["scoring"], "2": []}
    assert targets("2026-01-06") == {"1": ["scoring"], "2": []}  # suspended still serves
    assert targets("2026-01-07") == {"1": [], "2": []}
    assert "some.future.action" not in HANDLERS


def test_replay_reads_an_audit_export_file(history, tmp_path, clock):
    gov, _ = history
    out = tmp_path / "audit.jsonl"
    gov.audit_export("aud", out)
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert replay_inventory(events, gov.policy, clock.now()) == inventory(gov, "aud")


def test_targets_live_and_replayed_through_real_deployments(governed, clock, high_card, tmp_path):
    """deploy, supersede, rollback, undeploy and retire through the deployment service: the
    live targets (deployments table) and the replayed ones agree at every step."""
    deployments = pytest.importorskip("mlgov.governance.deployments")
    testing = pytest.importorskip("mlgov.governance.testing")
    if not hasattr(testing, "FakeDeployer"):
        pytest.skip("the deployment service is not in this core revision")
    deployments.register(governed.gates)
    governed.ports["deployer"] = testing.FakeDeployer(tmp_path / "targets")
    for n in ("1", "2", "3"):
        governed.register("ds1", "credit", risk_tier="high", purpose="p", run_id=f"r{n}")
        _train(governed, n, high_card, tmp_path)
        approvals.request_approval(governed, "ds1", "credit", n)
        approvals.decide(governed, "ro1", "credit", n, approve=True)
        approvals.decide(governed, "ro2", "credit", n, approve=True)
    taken = []

    def step(action, *args, **kwargs):
        clock.advance(hours=1)
        action(governed, "eng", *args, **kwargs)
        live = inventory(governed, "aud")
        taken.append((clock.now(), live))
        return {r["version"]: r["targets"] for r in live}

    assert step(deployments.deploy, "credit", "1", target="scoring")["1"] == ["scoring"]
    after = step(deployments.deploy, "credit", "2", target="scoring")
    assert (after["1"], after["2"]) == ([], ["scoring"])
    assert step(deployments.deploy, "credit", "3", target="shadow")["3"] == ["shadow"]
    after = step(deployments.rollback, "scoring")
    assert (after["1"], after["2"]) == (["scoring"], [])
    assert step(deployments.undeploy, "shadow", reason="trial over")["3"] == []
    clock.advance(hours=1)
    governed.retire("ro1", "credit", "1", reason="replaced", force=True)
    final = inventory(governed, "aud")
    taken.append((clock.now(), final))
    assert all(r["targets"] == [] for r in final)
    for when, live in taken:
        assert inventory(governed, "aud", at=when) == live, when
