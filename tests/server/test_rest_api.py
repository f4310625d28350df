"""The governance server over real HTTP: a `mlgov server` subprocess on 127.0.0.1, called
with tokens made by `mlgov tokens create` (issue 18, first slice)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from mlgov.cli.main import cli

pytestmark = pytest.mark.slow
MLGOV = [sys.executable, "-m", "mlgov.cli.main"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(home: Path, user: str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--home", str(home), "--user", user, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def _token(home: Path, user: str) -> str:
    return json.loads(_cli(home, "admin", "tokens", "create", user, "--format", "json"))["token"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("server") / "home"
    _cli(home, "admin", "init")
    for name, role in (("rita", "risk_officer"), ("sam", "data_scientist")):
        _cli(home, "admin", "users", "add", name, "--role", role)
    port = _free_port()
    env = {**os.environ, "MLGOV_HOME": str(home)}
    proc = subprocess.Popen(
        [*MLGOV, "server", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/openapi.json", timeout=1)
            break
        except httpx.TransportError:
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.2)
    tokens = {u: _token(home, u) for u in ("admin", "rita", "sam")}
    yield {"base": base, "home": home, "tokens": tokens, "proc": proc}
    proc.terminate()
    output = proc.communicate(timeout=20)[0]
    for secret in tokens.values():  # the access log never shows a presented secret
        assert secret not in output


def _get(server, path: str, user: str | None = None, **kw) -> httpx.Response:
    headers = {"Authorization": f"Bearer {server['tokens'][user]}"} if user else {}
    headers |= kw.pop("headers", {})
    return httpx.get(server["base"] + path, headers=headers, timeout=10, **kw)


def _post(server, path: str, user: str, body) -> httpx.Response:
    headers = {"Authorization": f"Bearer {server['tokens'][user]}"}
    return httpx.post(server["base"] + path, headers=headers, json=body, timeout=10)


def test_identity_comes_from_the_token_only(server):
    me = _get(server, "/whoami", "rita")
    assert me.status_code == 200
    assert (me.json()["name"], me.json()["identified_by"]) == ("rita", "token")
    assert me.json()["roles"] == ["risk_officer"]
    # A name the client picks plays no part: there is no way to pass one.
    assert _get(server, "/whoami", "sam", params={"user": "rita"}).json()["name"] == "sam"


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Basic YWRtaW46YWRtaW4=", "Bearer mlgov_00000000_" + "a" * 43],
)
def test_no_valid_token_is_401_problem_json(server, header):
    headers = {"Authorization": header} if header else {}
    r = httpx.get(server["base"] + "/users", headers=headers, timeout=10)
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["status"] == 401 and "not authenticated" in r.json()["detail"]


def test_every_answer_names_its_request_id(server):
    fresh = _get(server, "/whoami", "rita")
    assert len(fresh.headers["x-request-id"]) == 24
    given = _get(server, "/whoami", "rita", headers={"X-Request-ID": "gw-7f3a9c1e-0001"})
    assert given.headers["x-request-id"] == "gw-7f3a9c1e-0001"  # a gateway's id is kept
    odd = _get(server, "/whoami", "rita", headers={"X-Request-ID": "id <script>x</script>"})
    assert "<" not in odd.headers["x-request-id"] and len(odd.headers["x-request-id"]) == 24
    missing = _get(server, "/models/nosuch", "rita")  # (a 401 here would feed the throttle)
    assert missing.status_code == 404 and missing.headers["x-request-id"]


def test_roles_are_enforced_and_answered_403(server):
    r = _post(server, "/users", "sam", {"name": "eve", "roles": ["admin"]})
    assert r.status_code == 403 and r.json()["title"] == "not permitted"
    assert r.json()["exit_code"] == 1
    added = _post(server, "/users", "admin", {"name": "olga", "roles": ["ml_engineer"]})
    assert added.status_code == 201 and added.json()["roles"] == ["ml_engineer"]
    names = [u["name"] for u in _get(server, "/users", "rita").json()]
    assert names == ["admin", "olga", "rita", "sam"]


def test_bad_input_names_the_field_never_the_value(server):
    r = _post(server, "/users", "admin", {"name": "x", "roles": [], "ssn": "123-45-6789"})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert "123-45-6789" not in r.text
    assert {e["field"] for e in r.json()["errors"]} == {"body.roles", "body.ssn"}
    core = _post(server, "/users", "admin", {"name": "bad name!", "roles": ["auditor"]})
    assert core.status_code == 400 and "malformed user name" in core.json()["detail"]


def test_reads_and_a_missing_model(server):
    assert _get(server, "/models", "rita").json() == []
    missing = _get(server, "/models/nope/versions/1", "rita")
    assert missing.status_code == 404 and missing.json()["title"] == "not found"
    policy = _get(server, "/policy", "sam", params={"tier": "high"}).json()
    assert policy["tier"] == "high" and policy["approvals_required"] == 2
    unknown = _get(server, "/no/such/route", "sam")
    assert unknown.status_code == 404 and unknown.json()["status"] == 404


def test_openapi_is_published(server):
    spec = _get(server, "/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert "/api/v1/models/{model}/versions/{version}/moves" in spec["paths"]


def test_a_revoked_token_is_refused_on_its_next_request(server):
    created = _post(server, "/tokens", "sam", {"user": "sam", "name": "ci"})
    assert created.status_code == 201
    secret, token_id = created.json()["token"], created.json()["id"]
    headers = {"Authorization": f"Bearer {secret}"}
    assert httpx.get(server["base"] + "/whoami", headers=headers).status_code == 200
    listed = _get(server, "/tokens", "sam").json()
    assert all("token" not in t for t in listed)
    revoked = httpx.delete(f"{server['base']}/tokens/{token_id}", headers=headers, timeout=10)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    assert httpx.get(server["base"] + "/whoami", headers=headers).status_code == 401


def test_audit_events_page_by_cursor_and_the_chain_verifies(server):
    everything = _get(server, "/audit/events", "rita", params={"limit": 1000}).json()
    assert everything["next_cursor"] is None and len(everything["items"]) >= 5
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = _get(server, "/audit/events", "rita", params=params).json()
        assert len(page["items"]) <= 2
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [e["seq"] for e in seen] == [e["seq"] for e in everything["items"]]
    bad = _get(server, "/audit/events", "rita", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 400 and "cursor" in bad.json()["detail"]
    too_many = _get(server, "/audit/events", "rita", params={"limit": 5000})
    assert too_many.status_code == 422 and too_many.json()["errors"][0]["field"] == "query.limit"
    only_users = _get(server, "/audit/events", "rita", params={"action": "user.add"}).json()
    assert {e["action"] for e in only_users["items"]} == {"user.add"}
    verified = _get(server, "/audit/verification", "rita").json()
    assert verified["ok"] is True and verified["events"] == len(everything["items"])
    assert _get(server, "/inventory", "rita").json() == []
    unsigned = _post(server, "/audit/checkpoints", "admin", None)
    assert unsigned.status_code == 400 and "no audit signing key" in unsigned.json()["detail"]


# Last: it locks 127.0.0.1 out for the rest of the module.
def test_repeated_failures_from_one_address_are_throttled(server):
    bad = {"Authorization": "Bearer mlgov_00000000_" + "b" * 43}
    statuses = [httpx.get(server["base"] + "/whoami", headers=bad).status_code for _ in range(12)]
    assert statuses[:5] == [401] * 5 and statuses[-1] == 429
    # Throttled means throttled: a good token from that address waits too.
    locked = _get(server, "/whoami", "rita")
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1
