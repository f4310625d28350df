"""Each bad input is one clear error and leaves the MLflow registry exactly as it was."""

from __future__ import annotations

import socket
import time
import uuid

import pytest

from mlgov.governance.errors import BadInput, ExternalError, NotFound, Unavailable
from mlgov.registry.mlflow_registry import MlflowRegistry

pytestmark = pytest.mark.slow

BAD_NAMES = ["a/b", "a:b", "../x", "x..y", "", " lead", "-dash", "x" * 129, "tab\tname"]


@pytest.fixture
def existing(store, model_name):
    """A model with one good version, so refusals are checked next to real content."""
    store.registry().register(model_name, run_id=store.toy[0])
    return model_name


def _assert_refused_unchanged(store, snapshot, error, match, call):
    before = snapshot(store)
    with pytest.raises(error, match=match):
        call()
    assert snapshot(store) == before


def test_unknown_run_id_is_not_found(store, existing, snapshot):
    unknown = uuid.uuid4().hex
    registry = store.registry()
    _assert_refused_unchanged(
        store,
        snapshot,
        NotFound,
        f"run '{unknown}' does not exist at MLflow {store.uri}",
        lambda: registry.register(existing, run_id=unknown),
    )


def test_malformed_run_id_is_bad_input(store, existing, snapshot):
    registry = store.registry()
    _assert_refused_unchanged(
        store, snapshot, BadInput, "run id 'nope' is malformed",
        lambda: registry.register(existing, run_id="nope"),
    )  # fmt: skip


def test_run_without_a_logged_model_is_bad_input(store, existing, snapshot):
    client = store.client()
    experiment_id = client.get_run(store.toy[0]).info.experiment_id
    empty_run = client.create_run(experiment_id).info.run_id
    client.set_terminated(empty_run)
    registry = store.registry()
    _assert_refused_unchanged(
        store, snapshot, BadInput, f"run '{empty_run}' has no logged model",
        lambda: registry.register(existing, run_id=empty_run),
    )  # fmt: skip


@pytest.mark.parametrize(
    "uri_template, match",
    [
        ("models:/{name}/7", "models:/{name}/7 does not exist"),
        ("models:/{name}-missing/1", "models:/{name}-missing/1 does not exist"),
        ("models:/{name}@nosuchalias", "models:/{name}@nosuchalias does not exist"),
        ("models:/m-" + "0" * 32, "logged model models:/m-0+ does not exist"),
        ("runs:/" + "0" * 32 + "/model", "run '0+' does not exist"),
    ],
)
def test_a_models_uri_that_does_not_exist_is_not_found(
    store, existing, snapshot, uri_template, match
):
    registry = store.registry()
    uri = uri_template.format(name=existing)
    _assert_refused_unchanged(
        store, snapshot, NotFound, match.format(name=existing),
        lambda: registry.register(existing, model_uri=uri),
    )  # fmt: skip


@pytest.mark.parametrize("uri", ["s3://bucket/model", "models:/", "runs:/abc", "/tmp/model"])
def test_an_unsupported_uri_is_bad_input(store, existing, snapshot, uri):
    registry = store.registry()
    _assert_refused_unchanged(
        store, snapshot, BadInput, "is not supported",
        lambda: registry.register(existing, model_uri=uri),
    )  # fmt: skip


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_name_mlflow_would_reject_is_bad_input(sqlite_store, snapshot, name):
    # Names are checked before any MLflow call, so one backend is enough.
    registry = sqlite_store.registry()
    _assert_refused_unchanged(
        sqlite_store, snapshot, BadInput, "model name",
        lambda: registry.register(name, run_id=sqlite_store.toy[0]),
    )  # fmt: skip


def test_run_id_and_uri_together_or_neither_is_bad_input(store, existing, snapshot):
    registry = store.registry()
    _assert_refused_unchanged(
        store, snapshot, BadInput, "exactly one",
        lambda: registry.register(existing, run_id=store.toy[0], model_uri=store.toy[1]),
    )  # fmt: skip
    _assert_refused_unchanged(
        store, snapshot, BadInput, "exactly one", lambda: registry.register(existing)
    )


@pytest.mark.parametrize(
    "new_model, mlmodel, match",
    [
        (True, None, "has no MLmodel file"),
        (False, None, "has no MLmodel file"),
        (False, "flavors: {unclosed", "MLmodel file cannot be read"),
    ],
    ids=["new-model", "existing-model", "broken-mlmodel"],
)
def test_a_failure_after_creating_the_version_removes_it(
    store, existing, snapshot, tmp_path, new_model, mlmodel, match
):
    """A logged model that is not a usable MLflow model: the version is created (MLflow does
    not look inside), then refused when mlgov reads it, and removed."""
    client = store.client()
    source_run = store.toy[0]
    experiment_id = client.get_run(source_run).info.experiment_id
    run_id = client.create_run(experiment_id).info.run_id
    logged = client.create_logged_model(experiment_id, name="model", source_run_id=run_id)
    (tmp_path / "weights.bin").write_bytes(b"\x00\x01")
    if mlmodel is not None:
        (tmp_path / "MLmodel").write_text(mlmodel)
    client.log_model_artifacts(logged.model_id, str(tmp_path))
    client.finalize_logged_model(logged.model_id, "READY")
    client.set_terminated(run_id)
    target = f"{existing}-new" if new_model else existing
    registry = store.registry()

    _assert_refused_unchanged(
        store, snapshot, BadInput, match,
        lambda: registry.register(target, run_id=run_id),
    )  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_server_fails_fast_naming_the_uri():
    uri = f"http://127.0.0.1:{_free_port()}"
    registry = MlflowRegistry(uri)

    started = time.monotonic()
    with pytest.raises(Unavailable, match=f"{uri}.*unreachable"):
        registry.register("credit", run_id=uuid.uuid4().hex)
    with pytest.raises(Unavailable, match=f"{uri}.*unreachable"):
        registry.check_reachable()
    assert time.monotonic() - started < 10


def test_a_silent_server_times_out_within_seconds():
    """A socket that accepts connections but never answers: MLflow's timeout, not its retries."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        uri = f"http://127.0.0.1:{listener.getsockname()[1]}"
        registry = MlflowRegistry(uri)
        started = time.monotonic()
        with pytest.raises(ExternalError, match=uri):
            registry.state("credit")
        with pytest.raises(ExternalError, match=uri):
            registry.check_reachable(timeout=1)
        assert time.monotonic() - started < 12


def test_credentials_in_the_uri_are_not_repeated_in_errors():
    uri = f"http://alice:s3cret@127.0.0.1:{_free_port()}"
    with pytest.raises(ExternalError) as caught:
        MlflowRegistry(uri).list_models()
    assert "s3cret" not in str(caught.value) and "***@127.0.0.1" in str(caught.value)
