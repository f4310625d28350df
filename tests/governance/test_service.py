"""Service behaviour: atomic moves, users, registration clean-up."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from mlgov.governance import faults
from mlgov.governance.errors import (
    BadInput,
    Conflict,
    ExternalError,
    NotFound,
    PermissionDenied,
    UnknownUser,
)
from mlgov.governance.faults import InjectedFault
from mlgov.governance.lifecycle import Stage


def _snapshot(gov) -> tuple:
    with gov.store.engine.connect() as conn:
        return tuple(
            tuple(conn.execute(text(f"SELECT * FROM {t} ORDER BY 1")).all())
            for t in ("model_versions", "stage_changes", "audit_events", "audit_head", "models")
        )


def test_exception_after_stage_update_before_commit_changes_nothing(gov, registered):
    before = _snapshot(gov)

    def boom(ctx):
        assert ctx.version.stage == "train"  # the update happened in the session
        raise RuntimeError("injected")

    with pytest.raises(RuntimeError, match="injected"):
        gov.promote("ds1", "credit", "1", "train", before_commit=boom)
    assert _snapshot(gov) == before
    assert gov.show("aud", "credit", "1")["stage"] == "develop"
    assert gov.audit_verify("aud").ok


@pytest.mark.parametrize("point", ["after-side-effect", "before-commit"])
def test_named_fault_points_roll_back(gov, registered, monkeypatch, point):
    before = _snapshot(gov)
    faults.arm(point)
    with pytest.raises(InjectedFault):
        gov.promote("ds1", "credit", "1", "train")
    assert _snapshot(gov) == before


def test_failed_side_effect_leaves_stage_and_audit_unchanged(gov, registered):
    def effect(ctx):
        raise ExternalError("serving target refused")

    gov.gates.add_effect(Stage.TRAIN, "explode", effect)
    before = _snapshot(gov)
    with pytest.raises(ExternalError):
        gov.promote("ds1", "credit", "1", "train")
    assert _snapshot(gov) == before


def test_every_move_has_one_audit_event_and_history(gov, registered):
    gov.promote("ds1", "credit", "1", "train")
    events = gov.audit_log("aud", action="stage.change")
    assert len(events) == 1
    assert events[0]["payload"] == {"from": "develop", "to": "train", "reason": None}
    history = gov.show("aud", "credit", "1")["history"]
    assert [(h["from"], h["to"]) for h in history] == [(None, "develop"), ("develop", "train")]
    assert history[-1]["audit_seq"] == events[0]["seq"]


def test_registration_failure_discards_created_registry_version(gov, fake_registry):
    with pytest.raises(UnknownUser):
        gov.register("ds1", "credit", risk_tier="high", purpose="p", run_id="r", owner="ghost")
    assert fake_registry.files == {}  # refused before touching the registry

    gov.register("ds1", "credit", risk_tier="high", purpose="p", run_id="r")
    fake_registry.files.pop(("credit", "1"))  # make the next registration reuse version 1
    with pytest.raises(Conflict):
        gov.register("ds1", "credit", risk_tier="high", purpose="p", run_id="r")
    assert "discard" in fake_registry.calls


@pytest.mark.parametrize(
    "kwargs,error",
    [
        ({"risk_tier": "extreme"}, BadInput),
        ({"purpose": "  "}, BadInput),
        ({"run_id": None}, BadInput),
        ({"model_uri": "models:/x/1"}, BadInput),
    ],
)
def test_register_bad_input_records_nothing(gov, fake_registry, kwargs, error):
    args = {"risk_tier": "high", "purpose": "p", "run_id": "r"} | kwargs
    before = _snapshot(gov)
    with pytest.raises(error):
        gov.register("ds1", "credit", **args)
    assert _snapshot(gov) == before
    assert fake_registry.files == {}


def test_permissions_enforced_in_service(gov, registered):
    with pytest.raises(PermissionDenied, match="needs role data_scientist"):
        gov.register("ro1", "x", risk_tier="low", purpose="p", run_id="r")
    with pytest.raises(PermissionDenied):
        gov.promote("aud", "credit", "1", "train")
    with pytest.raises(PermissionDenied):
        gov.add_user("ds1", "newbie", ["auditor"])
    with pytest.raises(UnknownUser, match="users add"):
        gov.list_versions("stranger")


def test_owner_may_retire_only_when_not_serving(gov, registered):
    gov.retire("ds1", "credit", "1", reason="abandoned")  # ds1 registered and owns it
    assert gov.show("aud", "credit", "1")["stage"] == "retire"
    v2 = gov.register("ds1", "credit", risk_tier="low", purpose="p", run_id="r")["version"]
    gov.promote("ds1", "credit", v2, "train")
    gov.promote("eng", "credit", v2, "deploy")
    with pytest.raises(PermissionDenied, match="not serving"):
        gov.retire("ds1", "credit", v2, reason="mine")
    gov.retire("ro1", "credit", v2, reason="risk decision")


def test_retire_needs_a_reason(gov, registered):
    with pytest.raises(BadInput, match="reason"):
        gov.retire("ro1", "credit", "1", reason=" ")


def test_unknown_model_and_version(gov, registered):
    with pytest.raises(NotFound, match="unknown model"):
        gov.show("aud", "nope", "1")
    with pytest.raises(NotFound, match="no version '9'"):
        gov.promote("ds1", "credit", "9", "train")


def test_users_add_grant_remove_restore(gov):
    gov.add_user("admin", "ds1", ["risk_officer"])
    assert gov.whoami("ds1")["roles"] == ["data_scientist", "risk_officer"]
    with pytest.raises(Conflict):
        gov.add_user("admin", "ds1", ["risk_officer"])
    gov.remove_user("admin", "ds1")
    with pytest.raises(UnknownUser, match="removed"):
        gov.whoami("ds1")
    assert "ds1" in [u["name"] for u in gov.list_users("aud", include_removed=True)]
    gov.add_user("admin", "ds1", ["auditor"])
    assert gov.whoami("ds1")["roles"] == ["auditor"]
    with pytest.raises(Conflict, match="last admin"):
        gov.remove_user("admin", "admin")
    actions = [e["action"] for e in gov.audit_log("aud")]
    assert actions.count("user.remove") == 1 and actions.count("user.restore") == 1


def test_init_is_idempotent_and_keeps_data(gov, registered):
    result = gov.init("someone")
    assert result["schema_before"] == result["schema_now"]
    assert result["admin_created"] is None
    assert gov.show("aud", "credit", "1")["stage"] == "develop"


def test_warnings_are_bounded_and_taken_once(gov):
    from mlgov.governance.service import MAX_WARNINGS

    for n in range(MAX_WARNINGS * 50):  # a long-running process noting warnings for days
        gov.warnings.append(f"warning {n}")
    assert len(gov.warnings) == MAX_WARNINGS
    assert gov.warnings[-1] == f"warning {MAX_WARNINGS * 50 - 1}"  # the newest are kept
    taken = gov.take_warnings()
    assert len(taken) == MAX_WARNINGS and gov.warnings == [] and gov.take_warnings() == []
