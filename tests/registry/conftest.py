"""Real MLflow stores for the registry adapter's tests: an embedded SQLite store and a real
`mlflow server` subprocess, each started once per session."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

SERVER_START_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Store:
    """One MLflow store under test and a toy run logged into it."""

    kind: str
    uri: str
    artifact_root: Path  # where the artifact files of this store live on disk
    artifact_location: str | None
    _toy: tuple[str, str] | None = None

    def registry(self) -> Any:
        from mlgov.registry.mlflow_registry import MlflowRegistry

        return MlflowRegistry(self.uri, artifact_location=self.artifact_location)

    def log_toy(self, **kwargs: Any) -> tuple[str, str]:
        from support.toy_models import log_toy_model

        return log_toy_model(self.uri, artifact_location=self.artifact_location, **kwargs)

    @property
    def toy(self) -> tuple[str, str]:
        """A shared (run_id, model_uri) for tests that do not modify the model's files."""
        if self._toy is None:
            self._toy = self.log_toy(
                metrics={"roc_auc": 0.91, "accuracy": 0.88}, git_commit="c0ffee"
            )
        return self._toy

    def client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)


@pytest.fixture(scope="session")
def sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    root = tmp_path_factory.mktemp("mlflow-sqlite")
    artifacts = root / "artifacts"
    artifacts.mkdir()
    return Store(
        kind="sqlite",
        uri=f"sqlite:///{root / 'mlflow.db'}",
        artifact_root=artifacts,
        artifact_location=str(artifacts),
    )


@pytest.fixture(scope="session")
def server_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    root = tmp_path_factory.mktemp("mlflow-server")
    artifacts = root / "artifacts"
    port = free_port()
    log = (root / "server.log").open("wb")
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{root / 'server.db'}",
        "--artifacts-destination", str(artifacts),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    # MLflow 3.17's server also starts a job runner with seven huey consumers by default:
    # slower start and stop on two cores, and nothing here uses jobs.
    env = {
        **os.environ,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    process = subprocess.Popen(
        command, cwd=root, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(uri, process, root / "server.log")
        yield Store(kind="server", uri=uri, artifact_root=artifacts, artifact_location=None)
    finally:
        _stop(process)
        log.close()


def _wait_healthy(uri: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited early:\n{log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"mlflow server not healthy in {SERVER_START_TIMEOUT_S}s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    pgid = os.getpgid(process.pid)
    os.killpg(pgid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(pgid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(params=["sqlite", "server"])
def store(request: pytest.FixtureRequest) -> Store:
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture
def model_name() -> str:
    return f"credit-{uuid.uuid4().hex[:10]}"


def registry_snapshot(store: Store) -> dict[str, Any]:
    """Every registered model with its tags and aliases, every version with its tags and source."""
    client = store.client()
    snapshot: dict[str, Any] = {}
    for rm in client.search_registered_models(max_results=1000):
        versions = client.search_model_versions(f"name = '{rm.name}'", max_results=10000)
        snapshot[rm.name] = {
            "tags": dict(rm.tags),
            "aliases": dict(rm.aliases),
            "versions": {mv.version: (mv.source, dict(mv.tags)) for mv in versions},
        }
    return snapshot


def hash_downloaded_model(client: Any, tracking_uri: str, model_id: str) -> dict[str, str]:
    """Download a logged model's files with MLflow and hash them with hashlib."""
    from mlflow.artifacts import download_artifacts

    location = client.get_logged_model(model_id).artifact_location
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(
            download_artifacts(artifact_uri=location, dst_path=tmp, tracking_uri=tracking_uri)
        )
        return {
            p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*")
            if p.is_file() and p.name != "registered_model_meta"
        }


def stored_model_dir(artifact_root: Path, model_id: str) -> Path:
    """Folder of a logged model's files inside a store's artifact root, on disk."""
    found = [p for p in artifact_root.rglob(model_id) if p.is_dir()]
    assert len(found) == 1, f"expected one folder for {model_id}, found {found}"
    artifacts = found[0] / "artifacts"
    return artifacts if artifacts.is_dir() else found[0]


@pytest.fixture
def snapshot() -> Any:
    return registry_snapshot


@pytest.fixture
def hash_model() -> Any:
    return hash_downloaded_model


@pytest.fixture
def model_dir() -> Any:
    return stored_model_dir
