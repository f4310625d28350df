"""`Idempotency-Key` over real HTTP: a `mlgov server` subprocess, tokens from
`mlgov tokens create`, and one real MLflow version in train with a pending approval request
(so a retried decision can be counted). A retry with the same key does the work once and
answers the same, with `Idempotent-Replayed: true`; what failed is not remembered."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from unittest import mock

import httpx
import pytest
from click.testing import CliRunner

from mlgov.cli.main import cli
from mlgov.config import TELEMETRY_OFF

pytestmark = pytest.mark.slow
MODEL = "scoring"
TEAM = {"rita": "risk_officer", "omar": "risk_officer", "dana": "data_scientist"}
CARD = {
    "intended_use": "flag suspicious biopsy results for a second reading",
    "limitations": "tabular features of one clinic",
    "training_data": "sklearn breast_cancer, 75% split",
    "evaluation_data": "the 25% holdout split",
    "owner_contact": "dana@bank.example",
    "fairness_assessment": "no protected attributes among the features",
    "fallback_plan": "manual review by a specialist",
}
FOREIGN_ENV = ("MLGOV_DB_URL", "MLFLOW_TRACKING_URI", "BENTOML_HOME", "MLGOV_USER")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    from support.toy_models import breast_cancer_frames, log_toy_model

    base = tmp_path_factory.mktemp("idempotency")
    home = base / "home"
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
    env.update(TELEMETRY_OFF, MLGOV_HOME=str(home))

    def mlgov(user: str, *args: str) -> str:
        with mock.patch.dict(os.environ, env, clear=True):
            result = CliRunner().invoke(cli, ["--user", user, *args])
        assert result.exit_code == 0, result.output
        return result.stdout

    mlgov("admin", "init")
    for name, role in TEAM.items():
        mlgov("admin", "users", "add", name, "--role", role)
    reference = base / "ref.csv"
    breast_cancer_frames(0)[0].to_csv(reference, index=False)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        run_id, _ = log_toy_model(
            f"sqlite:///{home / 'mlflow.db'}",
            experiment="idempotency",
            artifact_location=str(home / "mlartifacts"),
        )
    registered = mlgov(
        "dana", "register", MODEL, "--run-id", run_id, "--risk-tier", "high", "--purpose", "p",
        "--format", "json",
    )  # fmt: skip
    version = str(json.loads(registered)["version"])
    mlgov("dana", "models", "card", MODEL, version, *(f"--set={k}={v}" for k, v in CARD.items()))
    mlgov("dana", "models", "reference", MODEL, version, str(reference))
    mlgov("dana", "promote", MODEL, version, "--to", "train")
    mlgov("dana", "approvals", "request", MODEL, version)
    tokens = {
        u: json.loads(mlgov("admin", "tokens", "create", u, "--format", "json"))["token"]
        for u in ("admin", "rita", "omar", "dana")
    }

    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlgov.cli.main", "server", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/api/v1"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/openapi.json", timeout=1)
            break
        except httpx.TransportError:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            time.sleep(0.2)

    def call(
        method: str, path: str, user: str, body: object = None, key: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {tokens[user]}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return httpx.request(method, url + path, headers=headers, json=body, timeout=60)

    yield {"call": call, "cli": mlgov, "version": version, "home": home}
    proc.terminate()
    output = proc.communicate(timeout=20)[0]
    for secret in tokens.values():
        assert secret not in output
    assert "123-45-6789" not in output  # a body is never logged


def _events(server, action: str, subject: str) -> list[dict]:
    page = server["call"]("GET", f"/audit/events?action={action}&limit=1000", "rita").json()
    return [e for e in page["items"] if e["subject"] == subject]


def test_a_retried_user_add_does_the_work_once_and_answers_the_same(server) -> None:
    call = server["call"]
    body = {"name": "olga", "roles": ["ml_engineer"]}
    first = call("POST", "/users", "admin", body, key="add-olga-1")
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    # The same request again, its JSON keys in another order: the same request.
    again = call(
        "POST", "/users", "admin", {"roles": ["ml_engineer"], "name": "olga"}, "add-olga-1"
    )
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json() and again.content == first.content
    assert again.headers["content-type"] == "application/json"
    assert len(_events(server, "user.add", "user:olga")) == 1
    # Without the key, the same request is a new one, and refused: olga has that role.
    plain = call("POST", "/users", "admin", body)
    assert plain.status_code == 409 and "already has role" in plain.json()["detail"]
    assert "idempotent-replayed" not in plain.headers


def test_the_same_key_for_a_different_request_is_422_without_echoing_it(server) -> None:
    call = server["call"]
    assert call(
        "POST", "/users", "admin", {"name": "pia", "roles": ["auditor"]}, "k-pia"
    ).is_success
    other = {"name": "pia", "roles": ["auditor", "ml_engineer"]}
    for method, path, body in (
        ("POST", "/users", other),
        ("POST", "/users", {"name": "ssn-123-45-6789", "roles": ["auditor"]}),
        ("DELETE", "/users/pia", None),
    ):
        r = call(method, path, "admin", body, key="k-pia")
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["title"] == "idempotency key reused"
        assert "Idempotency-Key" in r.json()["detail"] and "123-45-6789" not in r.text
    roles = {u["name"]: u["roles"] for u in call("GET", "/users", "rita").json()}
    assert roles["pia"] == ["auditor"]
    # Keys are per caller: the same key from someone else is theirs.
    mine = call("DELETE", "/users/pia", "rita", None, key="k-pia")
    assert mine.status_code == 403 and mine.json()["title"] == "not permitted"


def test_a_failed_request_is_not_kept_and_its_retry_runs(server) -> None:
    call = server["call"]
    body = {"name": "quinn", "roles": ["auditor"]}
    refused = call("POST", "/users", "dana", body, key="dana-adds-quinn")
    assert refused.status_code == 403 and refused.json()["title"] == "not permitted"
    server["cli"]("admin", "users", "add", "dana", "--role", "admin")  # the fix
    retried = call("POST", "/users", "dana", body, key="dana-adds-quinn")
    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert retried.json()["roles"] == ["auditor"]
    replayed = call("POST", "/users", "dana", body, key="dana-adds-quinn")
    assert replayed.headers["idempotent-replayed"] == "true" and replayed.json() == retried.json()
    assert len(_events(server, "user.add", "user:quinn")) == 1


def test_a_malformed_key_is_400_naming_the_header(server) -> None:
    call = server["call"]
    for key in ("", "x" * 201):
        r = call("POST", "/users", "admin", {"name": "rex", "roles": ["auditor"]}, key=key)
        assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
        assert "Idempotency-Key header must be 1 to 200 printable ASCII" in r.json()["detail"]
    assert "rex" not in {u["name"] for u in call("GET", "/users", "rita").json()}


def test_token_creation_refuses_a_key_rather_than_keep_the_secret(server) -> None:
    call = server["call"]
    r = call("POST", "/tokens", "rita", {"user": "rita", "name": "ci"}, key="tok-1")
    assert r.status_code == 400 and "not accepted here" in r.json()["detail"]
    assert "secret" in r.json()["detail"]
    assert [t["name"] for t in call("GET", "/tokens", "rita").json()] == ["token"]


def test_a_retried_decision_is_recorded_once(server) -> None:
    call = server["call"]
    path = f"/models/{MODEL}/versions/{server['version']}/approval-request/decisions"
    body = {"decision": "approve", "comment": "holdout ok"}
    first = call("POST", path, "rita", body, key="rita-decides")
    assert first.status_code == 200, first.text
    assert first.json()["approvals_count"] == 1
    again = call("POST", path, "rita", body, key="rita-decides")
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    # Without the key the governance rule answers: one decision per approver.
    plain = call("POST", path, "rita", body)
    assert plain.status_code == 409 and "one decision per approver" in plain.json()["detail"]
    shown = call("GET", f"/models/{MODEL}/versions/{server['version']}/approval-request", "omar")
    assert [d["approver"] for d in shown.json()["decisions"]] == ["rita"]
    subject = f"model:{MODEL}/{server['version']}"
    assert len(_events(server, "approval.decide", subject)) == 1
    assert call("GET", "/audit/verification", "rita").json()["ok"] is True


def test_the_header_is_in_the_openapi_document(server) -> None:
    spec = server["call"]("GET", "/openapi.json", "rita").json()
    for path, method in (
        ("/api/v1/users", "post"),
        ("/api/v1/deployments", "post"),
        ("/api/v1/models/{model}/versions/{version}/approval-request/decisions", "post"),
        ("/api/v1/targets/{target}/rollback", "post"),
        ("/api/v1/users/{name}", "delete"),
    ):
        names = {p["name"] for p in spec["paths"][path][method].get("parameters", [])}
        assert "Idempotency-Key" in names, (path, method)


def _claimed_earlier(server, user: str, key: str, body: dict, minutes_ago: float) -> None:
    """An attempt of POST /users with `key` claimed `minutes_ago` and never finished, as if
    its server process had died after the claim."""
    from mlgov.api.idempotency import fingerprint
    from mlgov.governance.store import Store
    from mlgov.governance.tables import IdempotencyKey
    from mlgov.server.app import NewUser

    payload = NewUser(**body).model_dump_json().encode()
    store = Store(f"sqlite:///{server['home'] / 'governance.db'}")
    try:
        with store.transaction() as s:
            s.add(
                IdempotencyKey(
                    principal=user,
                    key=key,
                    request_sha256=fingerprint("POST", "/api/v1/users", payload),
                    state="in_progress",
                    created_at=datetime.now(UTC) - timedelta(minutes=minutes_ago),
                )
            )
    finally:
        store.engine.dispose()


def test_a_request_still_running_is_409_and_an_abandoned_one_runs_again(server) -> None:
    call = server["call"]
    body = {"name": "sven", "roles": ["auditor"]}
    _claimed_earlier(server, "admin", "running", body, minutes_ago=1)
    r = call("POST", "/users", "admin", body, key="running")
    assert r.status_code == 409 and r.json()["title"] == "request in progress", r.text
    assert "still being processed; retry later" in r.json()["detail"]
    assert "sven" not in {u["name"] for u in call("GET", "/users", "rita").json()}
    # Past the 10-minute lease the earlier attempt is taken to have died: the work runs.
    _claimed_earlier(server, "admin", "abandoned", body, minutes_ago=11)
    taken = call("POST", "/users", "admin", body, key="abandoned")
    assert taken.status_code == 201 and "idempotent-replayed" not in taken.headers
    again = call("POST", "/users", "admin", body, key="abandoned")
    assert again.headers["idempotent-replayed"] == "true" and again.json() == taken.json()


def test_concurrent_retries_do_the_work_once(server) -> None:
    call = server["call"]
    body = {"name": "tove", "roles": ["auditor"]}
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: call("POST", "/users", "admin", body, "tove"), range(6)))
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {201, 409} and 201 in statuses, [a.text for a in answers]
    assert len({a.text for a in answers if a.status_code == 201}) == 1
    assert len(_events(server, "user.add", "user:tove")) == 1
