"""Many users at once over HTTP (issue 18 item 4): `mlgov server --workers 4` on PostgreSQL,
16 clients racing on one approval request per round, and two operators deploying different
versions to one target at the same moment. Real MLflow run, real Evidently checks, real
BentoML builds. The full count (16 clients x 100 rounds) is `benchmarks/api_races.py`."""

from __future__ import annotations

import os
import threading
import warnings
from collections import Counter

import httpx
import pytest
from support.server_process import drop_database, own_database, start_server, stop_server

from .conftest import ADMIN, CARD, POLICY, Home  # noqa: TID252 (conftest is no package)

PG_URL = os.environ.get("MLGOV_TEST_PG_URL")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (MLGOV_TEST_PG_URL)"),
]
ORDERED_STEPS = True
ROUNDS = int(os.environ.get("MLGOV_HTTP_RACE_ROUNDS", "4"))
CLIENTS = 16
MODEL = "race"
OFFICERS = tuple(f"ro{i}" for i in range(CLIENTS - 1))  # and the requester: 16 clients


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):
    from support.toy_models import breast_cancer_frames, log_toy_model

    assert PG_URL is not None
    db_url = own_database(PG_URL, "http_races")
    base = tmp_path_factory.mktemp("rest-races")
    files = base / "files"
    files.mkdir()
    policy = files / "policy.toml"
    policy.write_text(POLICY)
    h = Home(root=base / "home", files=files, policy=policy)
    x_train, x_test, _, _ = breast_cancer_frames(0)
    x_train.to_csv(files / "ref.csv", index=False)
    x_test.to_csv(files / "cur.csv", index=False)
    env = h.env() | {"MLGOV_DB_URL": db_url}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(h, "env", lambda: env)
        h.cli(ADMIN, "init", "--keys")
        h.cli(ADMIN, "policy", "set", str(policy))
        team = {"dana": "data_scientist", "eve": "ml_engineer", "ed": "ml_engineer"}
        team |= {name: "risk_officer" for name in OFFICERS}
        for name, role in team.items():
            h.cli(ADMIN, "users", "add", name, "--role", role)
        tokens = {u: h.json(ADMIN, "tokens", "create", u)["token"] for u in team}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        run_id, _ = log_toy_model(
            h.tracking_uri, experiment="races", artifact_location=str(h.artifact_root)
        )
    proc, base_url = start_server(env, "--workers", "4")
    url = f"{base_url}/api/v1"

    def call(method: str, path: str, user: str, body: object = None, **kw) -> httpx.Response:
        headers = {"Authorization": f"Bearer {tokens[user]}", **kw.pop("headers", {})}
        return httpx.request(method, url + path, headers=headers, json=body, timeout=600, **kw)

    yield {"call": call, "run_id": run_id, "files": files, "approved": [], "home": h, "env": env}
    output = stop_server(proc)
    drop_database(db_url)
    assert "Traceback" not in output, output[-3000:]


def _version_ready_for_approval(api) -> str:
    call = api["call"]
    r = call(
        "POST",
        f"/models/{MODEL}/versions",
        "dana",
        {"run_id": api["run_id"], "risk_tier": "high", "purpose": "race"},
    )
    assert r.status_code == 201, r.text
    v = str(r.json()["version"])
    path = f"/models/{MODEL}/versions/{v}"
    assert call("PUT", f"{path}/card", "dana", {"fields": CARD}).status_code == 200
    ref = (api["files"] / "ref.csv").read_bytes()
    up = call("PUT", f"{path}/reference", "dana", content=ref, headers={"content-type": "text/csv"})
    assert up.status_code == 200, up.text
    assert call("POST", f"{path}/moves", "dana", {"to": "train"}).status_code == 200
    assert call("POST", f"{path}/approval-requests", "dana", {}).status_code == 201
    return v


def _race(api, path: str, users: tuple[str, ...], body: dict) -> list[tuple[str, httpx.Response]]:
    barrier = threading.Barrier(len(users))
    answers: list[tuple[str, httpx.Response]] = []
    lock = threading.Lock()

    def one(user: str) -> None:
        barrier.wait()
        r = api["call"]("POST", path, user, body)
        with lock:
            answers.append((user, r))

    threads = [threading.Thread(target=one, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    return answers


@pytest.mark.parametrize("round_no", range(ROUNDS))
def test_16_clients_race_on_one_request_exactly_one_quorum(api, round_no: int) -> None:
    v = _version_ready_for_approval(api)
    path = f"/models/{MODEL}/versions/{v}/approval-request/decisions"
    answers = _race(api, path, ("dana", *OFFICERS), {"decision": "approve"})
    statuses = Counter(r.status_code for _, r in answers)
    assert all(r.headers["content-type"].startswith("application/") for _, r in answers)
    assert 500 not in statuses and len(answers) == CLIENTS, statuses
    assert dict(answers)["dana"].status_code == 403  # never a self-approval
    won = [u for u, r in answers if r.status_code == 200]
    assert len(won) == 2, statuses  # the quorum, reached once
    assert statuses[409] == CLIENTS - 3, statuses  # the rest: refused cleanly
    shown = api["call"]("GET", f"/models/{MODEL}/versions/{v}/approval-request", "eve").json()
    assert shown["state"] == "approved" and shown["approvals_count"] == 2
    assert sorted(d["approver"] for d in shown["decisions"]) == sorted(won)
    api["approved"].append(v)


def test_two_operators_deploy_to_one_target_at_once_one_wins(api) -> None:
    call = api["call"]
    first, second = api["approved"][:2]
    cur = (api["files"] / "cur.csv").read_bytes()
    for v in (first, second):
        r = call(
            "POST",
            f"/models/{MODEL}/versions/{v}/drift-checks",
            "eve",
            content=cur,
            headers={"content-type": "text/csv"},
        )
        assert r.status_code == 201 and r.json()["drift_detected"] is False, r.text
    barrier = threading.Barrier(2)
    answers: dict[str, httpx.Response] = {}

    def deploy(user: str, v: str) -> None:
        barrier.wait()
        body = {"model": MODEL, "version": v, "target": "shared"}
        answers[v] = call("POST", "/deployments", user, body)

    threads = [
        threading.Thread(target=deploy, args=("eve", first)),
        threading.Thread(target=deploy, args=("ed", second)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=900)
    statuses = sorted(r.status_code for r in answers.values())
    assert statuses == [201, 409], {v: r.text[:300] for v, r in answers.items()}
    winner = next(v for v, r in answers.items() if r.status_code == 201)
    active = [d for d in call("GET", "/deployments", "eve").json() if d["target"] == "shared"]
    assert [(d["version"], d["state"]) for d in active] == [(winner, "active")]
    assert call("GET", "/audit/verification", "eve").json()["ok"] is True


def test_the_chain_and_the_state_agree_after_the_races(api) -> None:
    verified = api["call"]("GET", "/audit/verification", "eve").json()
    assert verified["ok"] is True and verified["state_disagreements"] == []
    assert len(api["approved"]) == ROUNDS
