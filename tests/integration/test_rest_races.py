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
    proc, base_url = start_server(env | {"MLGOV_NODE_NAME": "node-a"}, "--workers", "4")
    url = f"{base_url}/api/v1"

    def call(
        method: str, path: str, user: str, body: object = None, *, at: str = url, **kw
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {tokens[user]}", **kw.pop("headers", {})}
        return httpx.request(method, at + path, headers=headers, json=body, timeout=600, **kw)

    yield {
        "call": call,
        "url": url,
        "run_id": run_id,
        "files": files,
        "approved": [],
        "home": h,
        "env": env,
    }
    output = stop_server(proc)
    drop_database(db_url)
    assert "Traceback" not in output, output[-3000:]


def _version_with_evidence(api) -> str:
    """A new version in develop with its card and reference: ready to move to train."""
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
    return v


def _version_ready_for_approval(api) -> str:
    call = api["call"]
    v = _version_with_evidence(api)
    path = f"/models/{MODEL}/versions/{v}"
    assert call("POST", f"{path}/moves", "dana", {"to": "train"}).status_code == 200
    assert call("POST", f"{path}/approval-requests", "dana", {}).status_code == 201
    return v


def _race(
    api, path: str, users: tuple[str, ...], body: dict, servers: tuple[str, ...] = ()
) -> list[tuple[str, httpx.Response]]:
    """Each user POSTs at once; with `servers`, the users take turns among those base URLs."""
    barrier = threading.Barrier(len(users))
    answers: list[tuple[str, httpx.Response]] = []
    lock = threading.Lock()

    def one(user: str, at: str | None) -> None:
        barrier.wait()
        r = api["call"]("POST", path, user, body, **({"at": at} if at else {}))
        with lock:
            answers.append((user, r))

    turns = [servers[i % len(servers)] if servers else None for i in range(len(users))]
    threads = [
        threading.Thread(target=one, args=(u, at)) for u, at in zip(users, turns, strict=True)
    ]
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


@pytest.fixture(scope="module")
def second_server(api):
    """Another server process, as on another node, on the same database and home."""
    proc, base_url = start_server(api["env"] | {"MLGOV_NODE_NAME": "node-b"}, "--workers", "2")
    yield f"{base_url}/api/v1"
    output = stop_server(proc)
    assert "Traceback" not in output, output[-3000:]


def test_two_servers_on_one_database_never_run_one_move_twice(api, second_server) -> None:
    """Two nodes cannot see each other's pids: the operation row and its lease keep them
    apart. Eight requests for one stage move, split between the two servers: one moves it,
    the others are refused; one quorum for a request decided through both."""
    call = api["call"]
    v = _version_ready_for_approval(api)
    path = f"/models/{MODEL}/versions/{v}/approval-request/decisions"
    servers = (second_server, api["url"])
    answers = _race(api, path, OFFICERS[:8], {"decision": "approve"}, servers)
    statuses = Counter(r.status_code for _, r in answers)
    assert statuses == {200: 2, 409: 6}, statuses
    shown = call("GET", f"/models/{MODEL}/versions/{v}/approval-request", "eve", at=second_server)
    assert shown.json()["state"] == "approved" and shown.json()["approvals_count"] == 2
    # A stage move through both at once: develop -> train, done once.
    fresh = _version_with_evidence(api)
    vpath = f"/models/{MODEL}/versions/{fresh}"
    moves = _race(api, f"{vpath}/moves", ("dana",) * 8, {"to": "train"}, servers)
    statuses = Counter(r.status_code for _, r in moves)
    assert statuses == {200: 1, 409: 7}, {r.status_code: r.text[:200] for _, r in moves}
    query = {"action": "stage.change", "limit": 1000}
    events = call("GET", "/audit/events", "eve", params=query).json()["items"]
    promoted = [e for e in events if e["subject"] == f"model:{MODEL}/{fresh}"]
    assert len(promoted) == 1, events
    pending = call("POST", "/reconciliation", "eve", {"fix": False}).json()
    assert pending["findings"] == [], pending


def test_the_chain_and_the_state_agree_after_the_races(api) -> None:
    verified = api["call"]("GET", "/audit/verification", "eve").json()
    assert verified["ok"] is True and verified["state_disagreements"] == []
    assert len(api["approved"]) == ROUNDS
