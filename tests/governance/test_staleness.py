"""Stale versions: each rule matches at its limit and not one day earlier; retirement is
per-version, safe to repeat and to run twice at once."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

from mlgov.governance import approvals
from mlgov.governance.errors import ExternalError, NotFound
from mlgov.governance.staleness import find_stale, retire_stale


def _rules(gov, **kw):
    return {(s.model, s.version): s.rule for s in find_stale(gov, "ro1", **kw)}


def test_no_activity_rule(governed, clock):
    governed.register("ds1", "m", risk_tier="low", purpose="p", run_id="r")
    clock.advance(days=89)
    assert _rules(governed) == {}
    clock.advance(days=1)
    found = find_stale(governed, "ro1")
    assert [(f.rule, f.last_activity[:10]) for f in found] == [("no_activity", "2026-01-01")]


def test_days_option_overrides_policy(governed, clock):
    governed.register("ds1", "m", risk_tier="low", purpose="p", run_id="r")
    clock.advance(days=9)
    assert _rules(governed, days=10) == {}
    clock.advance(days=1)
    assert _rules(governed, days=10) == {("m", "1"): "no_activity"}


def test_stuck_rule(in_train, clock):
    # activity keeps the version fresh, but it stays in train: stuck after the limit
    for _ in range(8):
        clock.advance(days=10)
        in_train.add_user("admin", f"u{clock.now().day}{clock.now().month}", ["auditor"])
        with in_train.store.transaction() as s:
            in_train.touch(in_train.version(s, "credit", "1"))
    clock.advance(days=9)
    with in_train.store.transaction() as s:
        in_train.touch(in_train.version(s, "credit", "1"))
    assert _rules(in_train) == {}
    clock.advance(days=1)
    assert _rules(in_train) == {("credit", "1"): "stuck"}


def test_approval_expired_never_deployed(in_train, clock):
    approvals.request_approval(in_train, "ds1", "credit", "1")
    clock.advance(days=29)
    assert _rules(in_train) == {}
    clock.advance(days=1)
    assert _rules(in_train) == {("credit", "1"): "approval_expired"}


def test_superseded_rule(operated, clock, ops):
    from mlgov.governance import deployments
    from mlgov.governance.drift_checks import record_drift

    ops.approve()
    record_drift(operated, "eng", "credit", "1", ops.current())
    deployments.deploy(operated, "eng", "credit", "1", target="scoring")
    ops.second_version()
    assert ("credit", "2") not in _rules(operated, days=5)  # serving: never unless asked
    clock.advance(days=4)
    assert _rules(operated, days=5) == {}
    clock.advance(days=1)
    assert _rules(operated, days=5)[("credit", "1")] in ("superseded", "no_activity")
    assert _rules(operated, days=5, include_serving=True)[("credit", "2")] == "no_activity"


def test_partial_failure_leaves_that_version_and_retries_later(governed, fake_registry, clock):
    for _ in range(3):
        governed.register("ds1", "m", risk_tier="low", purpose="p", run_id="r")
    clock.advance(days=90)
    fake_registry.fail_versions.add("2")
    result = retire_stale(governed, "ro1", find_stale(governed, "ro1"))
    assert [r["version"] for r in result["retired"]] == ["1", "3"]
    assert [f["version"] for f in result["failed"]] == ["2"]
    assert governed.show("aud", "m", "2")["stage"] == "develop"
    fake_registry.fail_versions.clear()
    again = retire_stale(governed, "ro1", find_stale(governed, "ro1"))
    assert [r["version"] for r in again["retired"]] == ["2"]
    assert len(governed.audit_log("aud", action="stage.change")) == 3


def test_dry_run_finds_but_changes_nothing(governed, clock):
    governed.register("ds1", "m", risk_tier="low", purpose="p", run_id="r")
    clock.advance(days=91)
    before = governed.audit_verify("aud")
    assert len(find_stale(governed, "ro1")) == 1
    assert governed.audit_verify("aud") == before


def _stale_run(url: str, home: str) -> dict:
    from mlgov.governance.clock import FixedClock
    from mlgov.governance.defaults import core_gates
    from mlgov.governance.service import Governance
    from mlgov.governance.store import Store
    from mlgov.governance.testing import FakeRegistry

    clock = FixedClock()
    clock.advance(days=100)
    gov = Governance(
        Store(url), clock=clock, gates=core_gates(), registry=FakeRegistry(), home=Path(home)
    )
    try:
        result = retire_stale(gov, "ro1", find_stale(gov, "ro1"))
        return {k: len(v) for k, v in result.items()}
    finally:
        gov.store.engine.dispose()


def test_two_concurrent_runs_retire_each_version_once(governed, tmp_path):
    for _ in range(6):
        governed.register("ds1", "m", risk_tier="low", purpose="p", run_id="r")
    url = governed.store.url
    governed.store.engine.dispose()  # children open their own connections
    with mp.get_context("fork").Pool(2) as pool:
        outcomes = pool.starmap(_stale_run, [(url, str(tmp_path))] * 2)
    assert sum(o["retired"] for o in outcomes) == 6
    assert sum(o["failed"] for o in outcomes) == 0
    changes = governed.audit_log("aud", action="stage.change")
    assert len(changes) == 6 and len({e["subject"] for e in changes}) == 6
    assert governed.audit_verify("aud").ok


def test_failed_retire_with_external_error_is_reported(governed, fake_registry, clock):
    governed.register("ds1", "m", risk_tier="low", purpose="p", run_id="r")
    clock.advance(days=90)
    fake_registry.fail_on.add("mirror")
    result = retire_stale(governed, "ro1", find_stale(governed, "ro1"))
    assert result["failed"] and "refused mirror" in result["failed"][0]["error"]
    assert isinstance(ExternalError("x"), Exception)


def test_unknown_model_is_not_found(governed):
    # NotFound, which the server answers 404 (a bad version "0" once made it a 400)
    with pytest.raises(NotFound, match="unknown model 'nope'"):
        find_stale(governed, "ro1", model="nope")
