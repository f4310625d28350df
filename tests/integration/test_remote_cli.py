"""The CLI as the server's client: the demo's lifecycle through `mlgov` with MLGOV_URL and
four users' tokens against a real `mlgov server` subprocess (real MLflow run, Evidently check
on an uploaded file, BentoML build), ending in a served prediction. Nothing is read from a
local MLGOV_HOME: the remote commands point at an empty one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.server_process import (
    drop_database,
    free_port,
    own_database,
    start_server,
    stop_server,
)

from .conftest import ADMIN, CARD, POLICY, TEAM, Home, Servers  # noqa: TID252

pytestmark = pytest.mark.slow
ORDERED_STEPS = True
MODEL = "remote"


class Remote:
    """`mlgov` subprocesses pointed at the server, each with one user's token."""

    def __init__(self, url: str, tokens: dict[str, str], scratch: Path, files: Path) -> None:
        self.url, self.tokens, self.scratch, self.files = url, tokens, scratch, files

    def env(self, user: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLGOV_", "MLFLOW_"))}
        return env | {
            "MLGOV_URL": self.url,
            "MLGOV_TOKEN": self.tokens[user],
            "MLGOV_HOME": str(self.scratch / "no-home"),  # never created: nothing local
            "XDG_CONFIG_HOME": str(self.scratch / "config"),
            "MLGOV_USER": "somebody-else",  # plays no part against a server
        }

    def run(self, user: str, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "mlgov.cli.main", *args],
            env=self.env(user),
            capture_output=True,
            text=True,
            timeout=600,
            cwd=self.files,
        )
        assert done.returncode == expect, (args, done.returncode, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def json(self, user: str, *args: str) -> Any:
        return json.loads(self.run(user, *args, "--format", "json").stdout)


PG_URL = os.environ.get("MLGOV_TEST_PG_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(scope="module", params=BACKENDS)
def remote(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The server's governance store on SQLite, and on PostgreSQL when one is given."""
    from support.toy_models import breast_cancer_frames, log_toy_model

    base = tmp_path_factory.mktemp(f"remote-cli-{request.param}")
    files = base / "files"
    files.mkdir()
    policy = files / "policy.toml"
    policy.write_text(POLICY)
    h = Home(root=base / "home", files=files, policy=policy)
    if request.param == "postgresql":
        assert PG_URL is not None
        db_url = own_database(PG_URL, "remote_cli")
        server_env = h.env() | {"MLGOV_DB_URL": db_url}
        h.env = lambda: server_env  # type: ignore[method-assign]
    x_train, x_test, _, _ = breast_cancer_frames(0)
    x_train.to_csv(files / "ref.csv", index=False)
    x_test.to_csv(files / "cur.csv", index=False)
    # On the server's host: the store, its keys and the people, set up by its admin.
    h.cli(ADMIN, "init", "--keys")
    for name, role in TEAM.items():
        h.cli(ADMIN, "users", "add", name, "--role", role)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        run_id, _ = log_toy_model(
            h.tracking_uri, experiment="remote", artifact_location=str(h.artifact_root)
        )
    users = (ADMIN, "dana", "rita", "omar", "eve", "aud")
    tokens = {u: h.json(ADMIN, "tokens", "create", u)["token"] for u in users}
    proc, url = start_server(h.env())
    servers = Servers(h)
    state = {
        "remote": Remote(url, tokens, base, files),
        "home": h,
        "run_id": run_id,
        "files": files,
        "servers": servers,
        "test_x": x_test,
    }
    try:
        yield state
    finally:
        servers.stop_all()
        output = stop_server(proc)
        if request.param == "postgresql":
            drop_database(server_env["MLGOV_DB_URL"])
        for secret in tokens.values():
            assert secret not in output
    assert not (base / "no-home").exists()


def test_whoami_is_the_token_user_and_the_policy_is_put_in_force_remotely(remote) -> None:
    r: Remote = remote["remote"]
    assert r.json("dana", "whoami")["name"] == "dana"
    assert r.json("dana", "whoami")["roles"] == ["data_scientist"]
    denied = r.run("dana", "policy", "set", str(remote["files"] / "policy.toml"), expect=1)
    assert "not permitted" in denied.stderr or "may not" in denied.stderr
    made = r.json(ADMIN, "tokens", "create", "sam", "--name", "remote")
    assert made["token"].startswith("mlgov_") and made["user"] == "sam"
    done = r.json(ADMIN, "policy", "set", str(remote["files"] / "policy.toml"))
    assert done["source"] == "http:policy.toml"
    assert r.json("aud", "policy", "show", "--tier", "high")["drift_share"] == 0.05


def test_the_data_scientist_registers_and_prepares_the_version(remote) -> None:
    r: Remote = remote["remote"]
    registered = r.json(
        "dana",
        "register",
        MODEL,
        "--run-id",
        remote["run_id"],
        "--risk-tier",
        "high",
        "--purpose",
        "second reading of biopsy results",
        "--data-grade",
        "important",
        "--sensitive",
    )
    version = str(registered["version"])
    remote["version"] = version
    card = [arg for k, v in CARD.items() for arg in ("--set", f"{k}={v}")]
    r.run("dana", "models", "card", MODEL, version, *card)
    ref_file = str(remote["files"] / "ref.csv")
    bad = r.run(
        "dana", "models", "reference", MODEL, version, ref_file, "--data-grade", "x", expect=2
    )
    assert "--data-grade must be one of core, important, general" in bad.stderr
    half = r.run(
        "dana", "models", "reference", MODEL, version, ref_file, "--not-sensitive", expect=2
    )
    assert "--data-grade is missing" in half.stderr
    ref = r.json(
        "dana", "models", "reference", MODEL, version, ref_file, "--data-grade", "general",
        "--not-sensitive",
    )  # fmt: skip
    assert ref["file"] == "ref.csv" and ref["rows"] > 100
    assert (ref["grade"], ref["sensitive"]) == ("general", False)
    r.run("dana", "promote", MODEL, version, "--to", "train")
    r.run("dana", "approvals", "request", MODEL, version, "--note", "remote")
    shown = r.json("aud", "models", "show", MODEL, version)
    assert shown["stage"] == "train"
    assert shown["lineage"]["data_grade"] == {"grade": "important", "sensitive": True}


def test_user_flag_never_chooses_who_acts(remote) -> None:
    r: Remote = remote["remote"]
    v = remote["version"]
    forged = r.run("dana", "--user", "rita", "approve", MODEL, v, expect=2)
    assert "you act as dana" in forged.stderr
    own = r.run("dana", "approve", MODEL, v, expect=1)  # maker-checker, as in embedded mode
    assert "mlgov: error:" in own.stderr
    assert r.json("rita", "approvals", "show", MODEL, v)["approvals_count"] == 0


def test_two_risk_officers_approve_and_the_gate_lists_what_is_missing(remote) -> None:
    r: Remote = remote["remote"]
    v = remote["version"]
    refused = r.run("eve", "deploy", MODEL, v, "--target", "remote", expect=1)
    assert "unmet condition" in refused.stderr
    r.run("rita", "approve", MODEL, v, "--comment", "holdout ok")
    second = r.run("omar", "approve", MODEL, v, "--comment", "second line")
    assert "approved by omar" in second.stdout and "approved (2/2)" in second.stdout
    assert r.json("eve", "approvals", "verify", MODEL, v)["ok"] is True


def test_the_operator_checks_drift_deploys_and_it_serves(remote, tmp_path: Path) -> None:
    r: Remote = remote["remote"]
    v = remote["version"]
    html = tmp_path / "drift.html"
    cur = str(remote["files"] / "cur.csv")
    check = r.json("eve", "monitor", "drift", MODEL, v, "--current", cur, "--html", str(html))
    assert check["drift_detected"] is False and html.stat().st_size > 10_000
    again = r.run(
        "eve", "monitor", "drift", MODEL, v, "--current", cur, "--html", str(html), expect=2
    )
    assert "already exists" in again.stderr  # refused before any upload
    deployed = r.json("eve", "deploy", MODEL, v, "--target", "remote")
    assert (deployed["target"], deployed["stage"]) == ("remote", "deploy")
    served = remote["servers"].start("remote")  # BentoML runs on the server's host
    row = remote["servers"].wait_verified(served)
    assert row["version"] == v
    records = remote["test_x"].head(3).to_dict(orient="records")
    answer = httpx.post(served.url + "/predict", json={"records": records}, timeout=60)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["predictions"]) == 3
    listed = r.json("aud", "deployments", "list")
    assert [(d["target"], d["version"], d["state"]) for d in listed] == [("remote", v, "active")]


def test_the_auditor_verifies_and_takes_the_evidence_home(remote, tmp_path: Path) -> None:
    r: Remote = remote["remote"]
    h: Home = remote["home"]
    v = remote["version"]
    assert r.json("aud", "audit", "verify")["ok"] is True
    events = r.json("aud", "audit", "log", "--model", MODEL)
    decided = [e for e in events if e["action"] == "approval.decide"]
    assert [e["actor"] for e in decided] == ["rita", "omar"]
    assert {e["payload"]["via"]["identified_by"] for e in decided} == {"token"}
    exported = r.json("aud", "audit", "export", "--out", str(tmp_path / "audit.jsonl"))
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert (
        exported["events"] == len(lines) and json.loads(lines[-1])["hash"] == exported["head_hash"]
    )
    pack = tmp_path / "pack"
    made = r.json("aud", "report", "create", MODEL, v, "--out", str(pack))
    assert made["listed_files"] > 3 and made["signed_by_key"]
    public = h.root / "keys" / "audit-signing.pub"
    verified = r.json("aud", "report", "verify", str(pack), "--public-key", str(public))
    assert verified["ok"] is True and verified["signed_by_key"] == made["signed_by_key"]
    rows = r.json("aud", "inventory")
    assert [(x["model"], x["stage"]) for x in rows] == [(MODEL, "evaluate")]


def test_errors_keep_their_exit_codes_and_a_dead_server_is_3(remote) -> None:
    r: Remote = remote["remote"]
    unknown = r.run("aud", "models", "show", "nosuchmodel", expect=2)
    assert "nosuchmodel" in unknown.stderr
    init = r.run(ADMIN, "init", expect=2)
    assert "server's host" in init.stderr
    dead = subprocess.run(
        [sys.executable, "-m", "mlgov.cli.main", "whoami"],
        env=r.env("aud") | {"MLGOV_URL": f"http://127.0.0.1:{free_port()}"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dead.returncode == 3 and "could not be reached" in dead.stderr, dead.stderr
    bad_token = subprocess.run(
        [sys.executable, "-m", "mlgov.cli.main", "whoami"],
        env=r.env("aud") | {"MLGOV_TOKEN": "mlgov_bogus"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad_token.returncode == 1 and "did not accept your token" in bad_token.stderr


def test_login_keeps_the_token_in_a_private_file(remote) -> None:
    r: Remote = remote["remote"]
    env = r.env("rita")
    del env["MLGOV_URL"], env["MLGOV_TOKEN"]
    login = subprocess.run(
        [sys.executable, "-m", "mlgov.cli.main", "login", "--url", r.url, "--token-stdin"],
        env=env,
        input=r.tokens["rita"] + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert login.returncode == 0 and "as rita" in login.stdout, login.stderr
    kept = Path(env["XDG_CONFIG_HOME"]) / "mlgov" / "login.json"
    assert oct(kept.stat().st_mode & 0o777) == "0o600"
    me = subprocess.run(
        [sys.executable, "-m", "mlgov.cli.main", "whoami", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert json.loads(me.stdout)["name"] == "rita"
    out = subprocess.run(
        [sys.executable, "-m", "mlgov.cli.main", "logout"], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0 and not kept.exists()
