"""Shared fixtures: a real MLflow store with a registered sklearn model, a real BentoML store,
and ONE real governed server per session on a free 127.0.0.1 port."""

from __future__ import annotations

import os
import selectors
import socket
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Before anything imports bentoml or mlflow in this process.
for _name, _value in {
    "DO_NOT_TRACK": "true",
    "BENTOML_DO_NOT_TRACK": "true",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}.items():
    os.environ.setdefault(_name, _value)

MODEL = "credit"
TARGET = "credit-scoring"
MAX_RECORDS = 100
MARKER = "ZZ-MLGOV-PRIVATE-7731"  # a value that must never reach a response or the server log


@dataclass(frozen=True)
class TrainedModel:
    root: Path
    tracking_uri: str
    model_uri: str
    version: str
    frame: Any  # pandas DataFrame with the training features
    signature: dict[str, Any]


@dataclass(frozen=True)
class Deployed:
    url: str
    manifest_path: Path
    manifest: Any
    log_file: Path
    bentoml_home: Path
    trained: TrainedModel


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> TrainedModel:
    root = tmp_path_factory.mktemp("deploy-session")
    os.environ.setdefault("BENTOML_HOME", str(root / "bentoml"))

    import mlflow
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(tracking_uri)
    experiment = mlflow.create_experiment("deploy-tests", artifact_location=str(root / "art"))
    rng = np.random.default_rng(7)
    n = 300
    frame = pd.DataFrame(
        {
            "income": rng.normal(50.0, 12.0, n),
            "age": rng.integers(18, 80, n).astype("int64"),
            "owner": rng.integers(0, 2, n).astype(bool),
            "region": rng.choice(["north", "south", "east"], n),
        }
    )
    target = ((frame.income + frame.age / 3 + frame.owner * 5) > 68).astype(int)
    pipeline = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["region"]), remainder="passthrough"
        ),
        LogisticRegression(max_iter=500),
    )
    pipeline.fit(frame, target)
    with warnings.catch_warnings():  # "integer columns cannot hold missing values": known
        warnings.simplefilter("ignore", UserWarning)
        signature = infer_signature(frame, pipeline.predict(frame))
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.sklearn.log_model(
            pipeline, name="model", signature=signature, pip_requirements=["scikit-learn"]
        )
    version = mlflow.register_model(info.model_uri, MODEL).version
    return TrainedModel(
        root=root,
        tracking_uri=tracking_uri,
        model_uri=f"models:/{MODEL}/{version}",
        version=str(version),
        frame=frame,
        signature=signature.to_dict(),
    )


@pytest.fixture(scope="session")
def bento_tags(trained: TrainedModel) -> dict[str, str]:
    from mlgov.deploy import bento

    model_tag = bento.import_model(
        trained.model_uri, model=MODEL, version=trained.version, fingerprint_digest="sha256:abc"
    )
    bento_tag = bento.build_bento(
        target=TARGET,
        bento_model_tag=model_tag,
        model=MODEL,
        version=trained.version,
        fingerprint_digest="sha256:abc",
    )
    home = bento.get_model_info(model_tag)["bentoml_home"]
    return {"model": model_tag, "bento": bento_tag, "home": home}


def _make_manifest(
    trained: TrainedModel,
    directory: Path,
    *,
    bento_model_tag: str,
    bento_tag: str | None,
    max_records: int = MAX_RECORDS,
) -> Any:
    from mlgov.deploy.manifest import ServingManifest, features_from_signature

    return ServingManifest(
        target=TARGET,
        model=MODEL,
        version=trained.version,
        bento_model_tag=bento_model_tag,
        bento_tag=bento_tag,
        model_uri=trained.model_uri,
        fingerprint_digest="sha256:abc",
        features=features_from_signature(trained.signature),
        status_file=str(directory / "status.json"),
        prediction_log_dir=str(directory / "predictions"),
        max_records=max_records,
        approvals={"required": 2, "granted": ["risk-a", "risk-b"]},
    )


@pytest.fixture(scope="session")
def deployed(
    trained: TrainedModel, bento_tags: dict[str, str], tmp_path_factory: pytest.TempPathFactory
):
    from mlgov.deploy.manifest import write_manifest
    from mlgov.deploy.server import find_free_port, start_server, wait_ready
    from mlgov.deploy.status import write_status

    directory = tmp_path_factory.mktemp("target")
    manifest = _make_manifest(
        trained, directory, bento_model_tag=bento_tags["model"], bento_tag=bento_tags["bento"]
    )
    manifest_path = write_manifest(directory / "manifest.json", manifest)
    write_status(
        manifest.status_file,
        "serving",
        version=trained.version,
        bento_model_tag=bento_tags["model"],
        stage="deploy",
    )
    log_file = directory / "server.log"
    server = start_server(
        manifest_path,
        port=find_free_port(),
        log_file=log_file,
        bentoml_home=bento_tags["home"],
    )
    try:
        wait_ready(server.url, timeout=90, server=server)
        yield Deployed(
            url=server.url,
            manifest_path=manifest_path,
            manifest=manifest,
            log_file=log_file,
            bentoml_home=Path(bento_tags["home"]),
            trained=trained,
        )
    finally:
        server.stop()


@pytest.fixture(scope="session")
def client(deployed: Deployed):
    import httpx

    with httpx.Client(base_url=deployed.url, timeout=30) as http:
        yield http


@pytest.fixture(scope="session")
def make_manifest(trained: TrainedModel):
    """make_manifest(directory, bento_model_tag=..., bento_tag=None, max_records=...)."""

    def make(directory: Path, **kwargs: Any) -> Any:
        kwargs.setdefault("bento_tag", None)
        return _make_manifest(trained, directory, **kwargs)

    return make


def _address_of(url: str) -> tuple[str, int]:
    from urllib.parse import urlparse

    parsed = urlparse(url)
    return parsed.hostname or "127.0.0.1", parsed.port or 80


def _stream_http(url: str, head: bytes, body: Iterable[bytes], limit: float = 10.0):
    """Send `head`, then body pieces as fast as the server takes them, until it answers.

    Returns (status line, seconds from the first byte sent to the answer, body bytes sent).
    The body comes from an iterator, so a 100 MB body is never held in memory."""
    pieces: Iterator[bytes] = iter(body)
    pending = memoryview(head)
    sent_body = -len(head)
    answer = b""
    with socket.create_connection(_address_of(url), timeout=limit) as sock:
        sock.setblocking(False)
        selector = selectors.DefaultSelector()
        selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
        started = time.monotonic()
        sending = True
        while b"\r\n" not in answer and time.monotonic() - started < limit:
            for _, events in selector.select(timeout=0.5):
                if events & selectors.EVENT_READ:
                    try:
                        chunk = sock.recv(65536)
                    except ConnectionResetError:
                        chunk = b""
                    answer += chunk
                    if not chunk:
                        sending = False
                        break
                if sending and events & selectors.EVENT_WRITE:
                    if not pending:
                        piece = next(pieces, None)
                        if piece is None:
                            sending = False
                            selector.modify(sock, selectors.EVENT_READ)
                            continue
                        pending = memoryview(piece)
                    try:
                        n = sock.send(pending)
                    except (BrokenPipeError, ConnectionResetError):
                        sending = False
                        selector.modify(sock, selectors.EVENT_READ)
                        continue
                    pending = pending[n:]
                    sent_body += n
            if not answer and not sending and time.monotonic() - started > 1:
                break
        elapsed = time.monotonic() - started
        selector.close()
    return answer.split(b"\r\n", 1)[0], elapsed, max(sent_body, 0)


@pytest.fixture
def stream_http():
    """Send a request while reading: an early answer (413) is caught before the server's
    close can reset the connection and discard it."""
    return _stream_http
