"""Approval and deployment over real HTTP: a `mlgov server` subprocess on its own home (real
MLflow store, real Evidently drift check, real BentoML build), every call with a token."""

from __future__ import annotations

import httpx
import pytest
from support.server_process import start_server, stop_server

from .conftest import ADMIN, POLICY, TEAM, Home  # noqa: TID252 (conftest is not a package module)

pytestmark = pytest.mark.slow
ORDERED_STEPS = True
MODEL = "scoring"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):
    from support.toy_models import breast_cancer_frames

    base = tmp_path_factory.mktemp("rest")
    files = base / "files"
    files.mkdir()
    policy = files / "policy.toml"
    policy.write_text(POLICY)
    h = Home(root=base / "home", files=files, policy=policy)
    x_train, x_test, _, _ = breast_cancer_frames(0)
    x_train.to_csv(files / "ref.csv", index=False)
    x_test.to_csv(files / "cur.csv", index=False)
    h.cli(ADMIN, "init", "--keys")
    h.cli(ADMIN, "policy", "set", str(policy))
    for name, role in TEAM.items():
        h.cli(ADMIN, "users", "add", name, "--role", role)
    version = h.new_version(MODEL)
    h.cli("dana", "promote", MODEL, version, "--to", "train")
    tokens = {
        u: h.json(ADMIN, "tokens", "create", u)["token"] for u in ("dana", "rita", "omar", "eve")
    }

    proc, base_url = start_server(h.env())
    url = f"{base_url}/api/v1"

    def call(method: str, path: str, user: str, body: object = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {tokens[user]}"}
        return httpx.request(method, url + path, headers=headers, json=body, timeout=300)

    yield {"call": call, "home": h, "version": version, "files": files}
    output = stop_server(proc)
    for secret in tokens.values():
        assert secret not in output


def _version_path(api) -> str:
    return f"/models/{MODEL}/versions/{api['version']}"


def test_the_data_scientist_requests_approval(api) -> None:
    r = api["call"]("POST", f"{_version_path(api)}/approval-requests", "dana", {"note": "v1"})
    assert r.status_code == 201, r.text
    assert (r.json()["state"], r.json()["requested_by"]) == ("pending", "dana")
    assert r.json()["approvals_required"] == 2


def test_the_requester_may_not_approve_their_own_model(api) -> None:
    r = api["call"](
        "POST",
        f"{_version_path(api)}/approval-request/decisions",
        "dana",
        {"decision": "approve"},
    )
    assert r.status_code == 403, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert (
        api["call"]("GET", f"{_version_path(api)}/approval-request", "rita").json()[
            "approvals_count"
        ]
        == 0
    )


def test_deploy_before_quorum_is_409_with_every_unmet_condition(api) -> None:
    r = api["call"](
        "POST", "/deployments", "eve", {"model": MODEL, "version": api["version"], "target": "t"}
    )
    assert r.status_code == 409, r.text
    assert r.json()["title"] == "gate refused" and len(r.json()["unmet"]) >= 2
    assert api["call"]("GET", "/deployments", "eve").json() == []


def test_two_risk_officers_reach_the_quorum(api) -> None:
    path = f"{_version_path(api)}/approval-request/decisions"
    first = api["call"]("POST", path, "rita", {"decision": "approve", "comment": "holdout ok"})
    assert first.status_code == 200 and first.json()["approvals_count"] == 1
    bad = api["call"]("POST", path, "omar", {"decision": "maybe"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.decision"
    second = api["call"]("POST", path, "omar", {"decision": "approve", "comment": "2nd line"})
    assert second.json()["state"] == "approved", second.text
    shown = api["call"]("GET", f"{_version_path(api)}/approval-request", "eve").json()
    assert [d["approver"] for d in shown["decisions"]] == ["rita", "omar"]
    binding = api["call"]("GET", f"{_version_path(api)}/approval-binding", "eve").json()
    assert binding["ok"] is True, binding
    listed = api["call"]("GET", "/approval-requests?pending=true", "eve").json()
    assert listed == []


def test_the_operator_deploys_and_rolls_nothing_back(api) -> None:
    h: Home = api["home"]
    check = h.json(
        "eve", "monitor", "drift", MODEL, api["version"], "--current", str(api["files"] / "cur.csv")
    )
    assert check["drift_detected"] is False
    r = api["call"](
        "POST", "/deployments", "eve", {"model": MODEL, "version": api["version"], "target": "t"}
    )
    assert r.status_code == 201, r.text
    assert (r.json()["target"], r.json()["stage"]) == ("t", "deploy")
    checks = api["call"]("GET", f"{_version_path(api)}/drift-checks", "rita").json()
    assert [c["drift_detected"] for c in checks] == [False]
    rows = api["call"]("GET", "/inventory", "rita").json()
    assert [(row["model"], row["stage"]) for row in rows] == [(MODEL, "deploy")]
    assert r.json()["bento_model_tag"]
    listed = api["call"]("GET", "/deployments", "eve").json()
    assert [(d["target"], d["version"], d["state"]) for d in listed] == [
        ("t", api["version"], "active")
    ]
    # No earlier version on the target: refused, nothing changed.
    back = api["call"]("POST", "/targets/t/rollback", "eve")
    assert back.status_code in (400, 409), back.text
    assert api["call"]("GET", "/deployments", "eve").json() == listed


def test_undeploy_over_http_is_audited_under_the_token_user(api) -> None:
    r = api["call"]("POST", "/targets/t/undeploy", "eve", {"reason": "end of test"})
    assert r.status_code == 200, r.text
    assert r.json()["state"] != "active"
    assert api["call"]("GET", "/deployments", "eve").json() == []
    events = api["home"].json("aud", "audit", "log")
    kinds = {(e["actor"], e["action"]) for e in events}
    assert {("rita", "approval.decide"), ("omar", "approval.decide")} <= kinds
    assert ("eve", "deployment.undeploy") in kinds, kinds
    # Each event of a token's user says which credential acted, and from where.
    decided = [e for e in events if e["action"] == "approval.decide"]
    vias = [e["payload"]["via"] for e in decided]
    assert [v["identified_by"] for v in vias] == ["token", "token"]
    assert all(v["credential"].startswith("token:") for v in vias)
    assert vias[0]["credential"] != vias[1]["credential"]
    assert {v["address"] for v in vias} == {"127.0.0.1"}
    assert len({v["request_id"] for v in vias}) == 2  # each decision names its own request
    # ... and the chain with those fields still verifies, over HTTP too, up to a checkpoint.
    assert api["home"].json("aud", "audit", "verify")["ok"] is True
    assert api["call"]("GET", "/audit/verification", "rita").json()["ok"] is True
    signed = api["call"]("POST", "/audit/checkpoints", "eve")
    assert signed.status_code == 201, signed.text
    assert signed.json()["checkpoint"]["seq"] == max(e["seq"] for e in events)  # the head
