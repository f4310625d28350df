"""mlgov.api.approvals: request, decide, list, show and verify, called without the CLI.

On the core's fake registry (tests/conftest.py `in_train`); the real MLflow path is the
CLI's, exercised end to end in tests/integration (approve_for_deploy).
"""

from __future__ import annotations

import json

import pytest

from mlgov.api import Actor, Platform
from mlgov.api import approvals as api
from mlgov.api.errors import BadInput, Conflict, PermissionDenied, Refused


class OnService(Platform):
    """A platform on an already open governance service (fake adapters)."""

    def __init__(self, gov) -> None:
        super().__init__(settings=None)  # type: ignore[arg-type]
        self._gov = gov


def _as(name: str) -> Actor:
    return Actor.asserted(name)


def test_request_decide_list_show_verify(in_train) -> None:
    p = OnService(in_train)
    opened = api.request_approval(p, _as("ds1"), "credit", "1", note="please")
    assert isinstance(opened, api.ApprovalRequestRecord)
    assert (opened.state, opened.approvals_required, opened.note) == ("pending", 2, "please")
    assert set(opened.to_json()) == {
        "id", "model", "version", "state", "approvals_count", "approvals_required",
        "requested_by", "requested_at", "expires_at", "snapshot_hash", "note", "closed_reason",
    }  # fmt: skip

    first = api.decide(p, _as("ro1"), "credit", "1", approve=True, comment="fine")
    assert (first.id, first.state, first.approvals_count) == (opened.id, "pending", 1)
    second = api.decide(p, _as("ro2"), "credit", "1", approve=True)
    assert (second.state, second.approvals_count) == ("approved", 2)

    listed = api.list_requests(p, _as("aud"))
    assert [r.id for r in listed.requests] == [opened.id]
    assert listed.to_json()[0]["state"] == "approved"
    assert api.list_requests(p, _as("aud"), pending=True).requests == ()
    assert [r.id for r in api.list_requests(p, _as("ds1"), mine=True).requests] == [opened.id]

    shown = api.show_request(p, _as("aud"), "credit", "1")
    assert [(d.approver, d.decision) for d in shown.decisions] == [
        ("ro1", "approve"),
        ("ro2", "approve"),
    ]
    data = shown.to_json()
    assert data["decisions"][0] == {
        "approver": "ro1",
        "decision": "approve",
        "comment": "fine",
        "at": shown.decisions[0].at,
    }
    assert data["snapshot"]["card"]["fields"]["fallback_plan"] == "manual underwriting"
    json.dumps(data)  # JSON-ready as is

    check = api.verify_binding(p, _as("aud"), "credit", "1")
    assert check.ok and check.problems == () and check.request_id == opened.id
    assert check.to_json() == {
        "model": "credit",
        "version": "1",
        "request_id": opened.id,
        "state": "approved",
        "ok": True,
        "problems": [],
    }


def test_rejection_and_a_verify_that_finds_problems(in_train) -> None:
    p = OnService(in_train)
    api.request_approval(p, _as("ds1"), "credit", "1")
    with pytest.raises(BadInput, match="needs --reason"):
        api.decide(p, _as("ro1"), "credit", "1", approve=False, comment=" ")
    rejected = api.decide(p, _as("ro1"), "credit", "1", approve=False, comment="no fairness data")
    assert rejected.state == "rejected"
    check = api.verify_binding(p, _as("aud"), "credit", "1")
    assert not check.ok and check.problems  # the surface decides how to fail on it


def test_refusals_are_the_core_error_family(in_train) -> None:
    p = OnService(in_train)
    with pytest.raises(Refused, match="has no approval request"):
        api.show_request(p, _as("aud"), "credit", "1")
    with pytest.raises(PermissionDenied):
        api.request_approval(p, _as("aud"), "credit", "1")
    api.request_approval(p, _as("ds1"), "credit", "1")
    with pytest.raises(Conflict, match="already has a"):
        api.request_approval(p, _as("ds1"), "credit", "1")
    with pytest.raises(PermissionDenied, match="needs role risk_officer"):
        api.decide(p, _as("ds1"), "credit", "1", approve=True)
    in_train.register("ds1", "credit", risk_tier="high", purpose="p", run_id="r2")
    with pytest.raises(Refused, match="requested in train"):
        api.request_approval(p, _as("ds1"), "credit", "2")
