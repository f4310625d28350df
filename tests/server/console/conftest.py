"""Console fixtures: one MLGOV_HOME with a real MLflow store and two versions of `credit` in
train, each with a pending approval request from their data scientist, served by a real
`mlgov server` subprocess; everyone's one-time password set with `mlgov users password`."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import pytest
from click.testing import CliRunner

from mlgov.cli.main import cli
from mlgov.config import TELEMETRY_OFF

# dana also holds the risk officer's role: maker-checker, not her role, keeps her from
# deciding on her own versions.
TEAM = {
    "dana": ("data_scientist", "risk_officer"),
    "rita": ("risk_officer",),
    "omar": ("risk_officer",),
    "olga": ("risk_officer",),
    "aud": ("auditor",),
}
MODEL = "credit"
CARD = {
    "intended_use": "flag suspicious biopsy results for a second reading",
    "limitations": "tabular features of one clinic; not for other populations",
    "training_data": "sklearn breast_cancer, stratified 75% split (seed 0)",
    "evaluation_data": "the 25% holdout split",
    "owner_contact": "dana@bank.example",
    "fairness_assessment": "no protected attributes among the features",
    "fallback_plan": "manual review by a specialist",
}
FOREIGN_ENV = ("MLGOV_DB_URL", "MLFLOW_TRACKING_URI", "BENTOML_HOME", "MLGOV_USER")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')


@dataclass
class ConsoleHome:
    root: Path
    files: Path
    passwords: dict[str, str] = field(default_factory=dict)
    versions: list[str] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
        env.update(TELEMETRY_OFF)
        env.update(MLGOV_HOME=str(self.root))
        return env

    def cli(self, user: str, *args: str, stdin: str | None = None) -> str:
        with mock.patch.dict(os.environ, self.env(), clear=True):
            result = CliRunner().invoke(cli, ["--user", user, *args], input=stdin)
        assert result.exit_code == 0, f"mlgov {' '.join(args)}: {result.output}"
        return result.stdout

    def json(self, user: str, *args: str) -> Any:
        return json.loads(self.cli(user, *args, "--format", "json"))

    def new_version(self) -> str:
        from support.toy_models import log_toy_model

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
            run_id, _ = log_toy_model(
                f"sqlite:///{self.root / 'mlflow.db'}",
                experiment="console",
                artifact_location=str(self.root / "mlartifacts"),
            )
        registered = self.json(
            "dana", "register", MODEL, "--run-id", run_id, "--risk-tier", "high",
            "--purpose", "second reading of biopsy results",
        )  # fmt: skip
        version = str(registered["version"])
        card = [arg for k, v in CARD.items() for arg in ("--set", f"{k}={v}")]
        self.cli("dana", "models", "card", MODEL, version, *card)
        self.cli("dana", "models", "reference", MODEL, version, str(self.files / "ref.csv"))
        self.cli("dana", "promote", MODEL, version, "--to", "train")
        self.cli("dana", "approvals", "request", MODEL, version, "--note", "holdout AUC 0.99")
        return version


def build_home(base: Path, versions: int = 2) -> ConsoleHome:
    from support.toy_models import breast_cancer_frames

    files = base / "files"
    files.mkdir(parents=True)
    x_train, _, _, _ = breast_cancer_frames(0)
    x_train.to_csv(files / "ref.csv", index=False)
    h = ConsoleHome(root=base / "home", files=files)
    h.cli("ada", "init")
    for name, roles in TEAM.items():
        h.cli("ada", "users", "add", name, *[a for r in roles for a in ("--role", r)])
    for _ in range(versions):
        h.versions.append(h.new_version())
    for name in ("ada", *TEAM):
        h.passwords[name] = h.json("ada", "users", "password", name)["password"]
    return h


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    home: ConsoleHome
    proc: subprocess.Popen[str]

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kw)


def start_server(h: ConsoleHome, **env: str) -> Server:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlgov.cli.main", "server", "--port", str(port)],
        env=h.env() | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/api/v1/openapi.json", timeout=1)
            break
        except httpx.TransportError:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            time.sleep(0.2)
    return Server(url, h, proc)


def stop_server(server: Server) -> str:
    server.proc.terminate()
    return server.proc.communicate(timeout=20)[0]


@pytest.fixture(scope="package")
def console_home(tmp_path_factory: pytest.TempPathFactory) -> ConsoleHome:
    return build_home(tmp_path_factory.mktemp("console"))


@pytest.fixture(scope="package")
def console(console_home: ConsoleHome) -> Iterator[Server]:
    # 127.0.0.1 plays a trusted reverse proxy: a test that sends X-Forwarded-For is throttled
    # as that address, and X-Forwarded-Proto: https makes cookies Secure.
    # Single sign-on is on too: a request naming a user in X-Remote-User (from that "proxy")
    # is that user's.
    server = start_server(
        console_home, MLGOV_TRUSTED_PROXIES="127.0.0.1", MLGOV_CONSOLE_SSO_HEADER="X-Remote-User"
    )
    yield server
    output = stop_server(server)
    for secret in console_home.passwords.values():  # no password ever reaches the log
        assert secret not in output


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def decision_form(html: str, decision: str, comment: str = "") -> dict[str, str]:
    """What the page's decision form sends: its hidden fields, the button and the comment."""
    form = html.split("data-decision", 1)[1].split("</form>", 1)[0]
    return dict(HIDDEN.findall(form)) | {"decision": decision, "comment": comment}


def sign_in(client: httpx.Client, user: str, password: str) -> httpx.Response:
    form = client.get("/signin")
    return client.post(
        "/signin", data={"user": user, "password": password, "csrf": csrf_of(form.text)}
    )


def signed_in(server: Server, user: str, new_password: str | None = None) -> httpx.Client:
    """A client signed in as `user`, their one-time password already replaced."""
    client = server.client()
    home = server.home
    r = sign_in(client, user, home.passwords[user])
    if r.headers.get("location") == "/password":
        page = client.get("/password")
        chosen = new_password or f"{user}-chosen-passphrase"
        done = client.post(
            "/password",
            data={
                "current": home.passwords[user],
                "new": chosen,
                "confirm": chosen,
                "csrf": csrf_of(page.text),
            },
        )
        assert done.status_code == 303, done.text
        home.passwords[user] = chosen
    else:
        assert r.status_code == 303, r.text
    return client
