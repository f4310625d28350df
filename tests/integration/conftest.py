"""End-to-end fixtures: ONE embedded MLGOV_HOME per session, built through the `mlgov` CLI.

Real parts only: MLflow (SQLite store inside the home), Evidently and the fast engine for
drift, BentoML servers started by `mlgov serve` as subprocesses. Commands run in-process with
click's CliRunner, except `deploy` and `serve`, which run as subprocesses: BentoML fixes its
home the first time it is used in a process (other test folders may have used it already),
and a server must outlive a command anyway.

The session home holds the team and model `credit` with two versions (v1 logistic regression,
v2 gradient boosting, both on sklearn's bundled breast-cancer data), high tier, cards,
references, in train, approved by two risk officers, with a clean pre-deployment drift check.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from click.testing import CliRunner, Result

from mlgov.cli.main import cli
from mlgov.config import TELEMETRY_OFF

ADMIN = "ada"
TEAM = {
    "dana": "data_scientist",
    "sam": "data_scientist",
    "rita": "risk_officer",
    "omar": "risk_officer",
    "eve": "ml_engineer",
    "aud": "auditor",
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
# The bank's policy for the tests: at the deploy gate, drift in 2 of the 30 features is
# drift (the default share 0.5 would need 15); health levels keep their defaults (0.25, 0.5).
POLICY = """
[tiers.high]
drift_share = 0.05
"""
# Variables that would point the commands away from the session home.
FOREIGN_ENV = ("MLGOV_DB_URL", "MLFLOW_TRACKING_URI", "BENTOML_HOME", "MLGOV_USER")
SERVER_READY_TIMEOUT_S = 150

# `python -c` with the fault point armed, then the real CLI (sys.argv[1:] are its arguments).
_ARMED_CLI = (
    "from mlgov.governance import faults; faults.arm({point!r}, kill=True); "
    "from mlgov.cli.main import main; main()"
)


# --- ordered steps: in a module with ORDERED_STEPS = True, a failed step skips the rest ------


def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> None:
    if getattr(item.module, "ORDERED_STEPS", False) and call.excinfo is not None:
        if call.when == "call" and not call.excinfo.errisinstance(pytest.skip.Exception):
            item.module._failed_step = item.name  # type: ignore[attr-defined]


def pytest_runtest_setup(item: pytest.Item) -> None:
    failed = getattr(item.module, "_failed_step", None)
    if getattr(item.module, "ORDERED_STEPS", False) and failed is not None:
        pytest.skip(f"an earlier step failed: {failed}")


# --- the session home ------------------------------------------------------------------------


@dataclass
class Home:
    """An MLGOV_HOME and the ways to drive it: the CLI in-process or as a subprocess."""

    root: Path
    files: Path
    policy: Path
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def card(self) -> dict[str, str]:
        return dict(CARD)

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.root / 'mlflow.db'}"

    @property
    def artifact_root(self) -> Path:
        return self.root / "mlartifacts"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
        env.update(TELEMETRY_OFF)
        env.update(MLGOV_HOME=str(self.root))
        return env

    def cli(self, user: str, *args: str, expect: int | None = 0) -> Result:
        """One `mlgov --user USER ARGS...` in this process; the environment is restored after
        (the CLI points MLflow and BentoML at the home through os.environ)."""
        with mock.patch.dict(os.environ, self.env(), clear=True):
            result = CliRunner().invoke(cli, ["--user", user, *args])
        if expect is not None and result.exit_code != expect:
            raise AssertionError(
                f"`mlgov --user {user} {' '.join(args)}` exited {result.exit_code}, expected "
                f"{expect}:\n{result.output}"
                + (f"\n{result.exception!r}" if result.exception else "")
            )
        return result

    def json(self, user: str, *args: str, expect: int = 0) -> Any:
        return json.loads(self.cli(user, *args, "--format", "json", expect=expect).stdout)

    def run(
        self,
        user: str,
        *args: str,
        expect: int | None = 0,
        timeout: float = 300,
        kill_at: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """`mlgov` as a subprocess (its own BentoML home, like any real invocation); with
        `kill_at`, the process SIGKILLs itself at that fault point (armed by this harness)."""
        launch = ["-m", "mlgov.cli.main"]
        if kill_at is not None:
            launch = ["-c", _ARMED_CLI.format(point=kill_at)]
        done = subprocess.run(
            [sys.executable, *launch, "--user", user, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.files,
        )
        if expect is not None and done.returncode != expect:
            raise AssertionError(
                f"`mlgov --user {user} {' '.join(args)}` exited {done.returncode}, expected "
                f"{expect}:\n{done.stdout}\n{done.stderr}"
            )
        return done

    def table_dump(self, db: str = "governance.db") -> list[str]:
        """Every table's schema and rows, as SQL, of one of the home's SQLite databases."""
        connection = sqlite3.connect(f"file:{self.root / db}?mode=ro", uri=True)
        try:
            return list(connection.iterdump())
        finally:
            connection.close()

    def mlflow_client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def registry_snapshot(self) -> dict[str, Any]:
        """Every registered model with its tags and aliases, every version with its tags."""
        client = self.mlflow_client()
        snapshot: dict[str, Any] = {}
        for rm in client.search_registered_models(max_results=1000):
            versions = client.search_model_versions(f"name = '{rm.name}'", max_results=1000)
            snapshot[rm.name] = {
                "tags": dict(rm.tags),
                "aliases": dict(rm.aliases),
                "versions": {
                    mv.version: {
                        "source": mv.source,
                        "tags": dict(mv.tags),
                        "aliases": sorted(mv.aliases),
                        "updated": mv.last_updated_timestamp,
                    }
                    for mv in versions
                },
            }
        return snapshot

    def new_version(self, model: str, *, kind: str = "logreg", reference: bool = True) -> str:
        """Log a toy model, register it (high tier), complete its card; return its version."""
        from support.toy_models import log_toy_model

        with warnings.catch_warnings():
            # MLflow hints that the inferred output schema (class labels) is integer: known.
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
            run_id, _ = log_toy_model(
                self.tracking_uri,
                kind=kind,  # type: ignore[arg-type]
                experiment="integration",
                artifact_location=str(self.artifact_root),
            )
        registered = self.json(
            "dana",
            "register",
            model,
            "--run-id",
            run_id,
            "--risk-tier",
            "high",
            "--purpose",
            "second reading of biopsy results",
        )
        version = str(registered["version"])
        card = [arg for k, v in CARD.items() for arg in ("--set", f"{k}={v}")]
        self.cli("dana", "models", "card", model, version, *card)
        if reference:
            self.cli("dana", "models", "reference", model, version, str(self.files / "ref.csv"))
        return version

    def approve_for_deploy(self, model: str, version: str) -> None:
        """train, approval by two risk officers and a clean pre-deployment drift check."""
        self.cli("dana", "promote", model, version, "--to", "train")
        self.cli("dana", "approvals", "request", model, version)
        self.cli("rita", "approve", model, version, "--comment", "validated on holdout")
        self.cli("omar", "approve", model, version, "--comment", "second line review")
        check = self.json(
            "eve", "monitor", "drift", model, version, "--current", str(self.files / "cur.csv")
        )
        assert check["drift_detected"] is False, check


@pytest.fixture(scope="session")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    from support.toy_models import breast_cancer_frames

    base = tmp_path_factory.mktemp("integration")
    files = base / "files"
    files.mkdir()
    policy = files / "policy.toml"
    policy.write_text(POLICY)
    h = Home(root=base / "home", files=files, policy=policy)

    x_train, x_test, _, _ = breast_cancer_frames(0)
    x_train.to_csv(files / "ref.csv", index=False)  # the drift baseline: training features
    x_test.to_csv(files / "cur.csv", index=False)  # newer data of the same population
    h.data.update(reference=x_train, current=x_test)

    h.cli(ADMIN, "init")
    h.cli(ADMIN, "policy", "set", str(policy))
    for name, role in TEAM.items():
        h.cli(ADMIN, "users", "add", name, "--role", role)
    for kind in ("logreg", "gbm"):
        version = h.new_version(MODEL, kind=kind)
        h.approve_for_deploy(MODEL, version)
    shown = [h.json("aud", "models", "show", MODEL, v) for v in ("1", "2")]
    assert [s["stage"] for s in shown] == ["train", "train"]
    assert all(s["approval"]["state"] == "approved" for s in shown)
    return h


# --- servers -----------------------------------------------------------------------------


@dataclass
class Served:
    """`mlgov serve TARGET` running as a subprocess in its own process group."""

    target: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    _tree: dict[int, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def remember_tree(self) -> None:
        """`mlgov serve` starts BentoML in a session of its own: keep its pids for stop()."""
        import psutil

        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:
            return
        self._tree.update({p.pid: p for p in children})

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def stop(self) -> None:
        """SIGTERM to `mlgov serve` (it stops its BentoML server), then make sure."""
        import psutil

        self.remember_tree()
        if self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        left = [p for p in self._tree.values() if p.is_running()]
        for p in left:
            _quietly(p.terminate)
        _, alive = psutil.wait_procs(left, timeout=10)
        for p in alive:
            _quietly(p.kill)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _quietly(action: Any) -> None:
    import psutil

    try:
        action()
    except psutil.Error:
        pass


def free_port() -> int:
    from mlgov.deploy.server import find_free_port

    return find_free_port()


class Servers:
    """Starts `mlgov serve` subprocesses and stops every one of them at teardown."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self.started: list[Served] = []

    def start(self, target: str, user: str = "eve") -> Served:
        port = free_port()
        log = self.home.files / f"serve-{target}-{len(self.started)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "mlgov.cli.main", "--user", user, "serve", target]
                + ["--port", str(port)],
                env=self.home.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.home.files,
                start_new_session=True,
            )
        served = Served(target=target, port=port, process=process, log=log)
        self.started.append(served)
        return served

    def wait_verified(self, served: Served, *, timeout: float = SERVER_READY_TIMEOUT_S) -> dict:
        """Until the target's active deployment is verified (ready + probe prediction, the
        version moved out of deploy) and the server answers ready; returns the deployment as
        `deployments list` shows it."""
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            served.remember_tree()
            if served.process.poll() is not None:
                raise AssertionError(
                    f"mlgov serve {served.target} exited {served.process.returncode}:\n"
                    + served.log_tail()
                )
            rows = self.home.json("aud", "deployments", "list")
            active = [r for r in rows if r["target"] == served.target]
            # Verification commits first, then moves a version in deploy into evaluate.
            if active and active[0]["verified_at"] and active[0]["stage"] != "deploy":
                try:
                    if httpx.get(served.url + "/readyz", timeout=2).status_code == 200:
                        return active[0]
                except httpx.HTTPError:
                    pass
            time.sleep(0.5)
        raise AssertionError(
            f"target {served.target} not verified within {timeout:.0f} s:\n" + served.log_tail()
        )

    def stop_all(self) -> None:
        for served in self.started:
            served.stop()


@pytest.fixture(scope="session")
def servers(home: Home) -> Iterator[Servers]:
    running = Servers(home)
    try:
        yield running
    finally:
        running.stop_all()
