"""Unit tests of the adapter's pure parts: names, URIs, fingerprints, tags, settings."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mlgov.governance.errors import BadInput
from mlgov.registry.fingerprint import compare_fingerprints, hash_tree
from mlgov.registry.locations import default_artifact_location, local_path_of, sqlite_path
from mlgov.registry.mlflow_env import ENV_DEFAULTS, apply_env_defaults
from mlgov.registry.names import parse_source_uri, redact_uri, validate_model_name
from mlgov.registry.tags import MAX_TAG_VALUE, card_tags, version_artifact_dir

RUN = "a" * 32
MODEL_ID = "m-" + "b" * 32


@pytest.mark.parametrize("name", ["credit", "Credit_Score.v2", "a", "9lives", "x" * 128])
def test_good_model_names_pass(name):
    assert validate_model_name(name) == name


@pytest.mark.parametrize("name", ["", "a/b", "a:b", "../a", "a..b", "_a", "x" * 129, "a b"])
def test_bad_model_names_are_refused(name):
    with pytest.raises(BadInput, match="model name"):
        validate_model_name(name)


@pytest.mark.parametrize(
    "uri, expected",
    [
        ("models:/credit/3", ("version", "credit", "3", None, None, None, None)),
        ("models:/credit@champion", ("alias", "credit", None, "champion", None, None, None)),
        (f"models:/{MODEL_ID}", ("logged_model", None, None, None, MODEL_ID, None, None)),
        (f"runs:/{RUN}/model", ("run", None, None, None, None, RUN, "model")),
        (f"runs:/{RUN}/nested/path/", ("run", None, None, None, None, RUN, "nested/path")),
    ],
)
def test_source_uris_are_parsed(uri, expected):
    parsed = parse_source_uri(uri)
    got = (
        parsed.kind, parsed.name, parsed.version, parsed.alias,
        parsed.model_id, parsed.run_id, parsed.path,
    )  # fmt: skip
    assert got == expected


@pytest.mark.parametrize(
    "uri", ["", "models:/", "models:/a/b/c", "runs:/short/model", f"runs:/{RUN}", "s3://b/k"]
)
def test_unsupported_uris_are_refused(uri):
    with pytest.raises(BadInput, match="not supported"):
        parse_source_uri(uri)


def test_redact_uri_hides_credentials_only():
    assert redact_uri("https://u:p@host:5000/x") == "https://***@host:5000/x"
    assert redact_uri("http://127.0.0.1:5000") == "http://127.0.0.1:5000"


def test_hash_tree_hashes_every_file_but_registered_model_meta(tmp_path):
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "w.bin").write_bytes(b"\x00")
    (tmp_path / "registered_model_meta").write_text("model_name: x\n")

    fingerprint = hash_tree(tmp_path)

    assert set(fingerprint) == {"MLmodel", "sub/w.bin"}
    assert fingerprint["sub/w.bin"] == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )


def test_compare_fingerprints_names_changed_missing_and_added_paths():
    recorded = {"MLmodel": "1", "model.skops": "2", "conda.yaml": "3"}
    now = {"MLmodel": "1", "model.skops": "X", "extra.py": "4"}

    diff = compare_fingerprints(recorded, now)

    assert (diff.changed, diff.missing, diff.added) == (
        ("model.skops",), ("conda.yaml",), ("extra.py",),
    )  # fmt: skip
    assert not diff.matches
    assert diff.describe() == "changed: model.skops; missing: conda.yaml; added: extra.py"
    assert compare_fingerprints(recorded, dict(recorded)).matches


def test_card_tags_point_long_fields_at_the_artifact():
    tags = card_tags({"a": "short", "b": "y" * (MAX_TAG_VALUE + 1)}, "runs:/r/card.json")
    assert tags["mlgov.card.a"] == "short"
    assert "runs:/r/card.json" in tags["mlgov.card.b"]
    with pytest.raises(BadInput, match="no MLflow run"):
        card_tags({"b": "y" * (MAX_TAG_VALUE + 1)}, None)


def test_version_artifact_dir_refuses_escapes():
    assert version_artifact_dir("credit", "2", "drift/2026") == "mlgov/credit/v2/drift/2026"
    assert version_artifact_dir("c", "1", "/leading") == "mlgov/c/v1/leading"  # stays inside
    for bad in ("../x", "", "a/../b", "a b"):
        with pytest.raises(BadInput):
            version_artifact_dir("c", "1", bad)


def test_embedded_artifacts_default_beside_the_database(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    assert sqlite_path(uri) == tmp_path / "mlflow.db"
    assert default_artifact_location(uri) == (tmp_path / "mlartifacts").as_uri()
    assert default_artifact_location("http://127.0.0.1:5000") is None
    assert local_path_of((tmp_path / "x").as_uri()) == tmp_path / "x"
    assert local_path_of("mlflow-artifacts:/1/x") is None


def test_env_defaults_never_override_the_users_choice(monkeypatch):
    for key in ENV_DEFAULTS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")

    apply_env_defaults()

    import os

    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "30"
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "0"
    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "true"


def test_importing_the_adapter_loads_no_heavy_library():
    code = (
        "import sys, mlgov.registry, mlgov.registry.mlflow_registry;"
        "heavy = [m for m in ('mlflow', 'sklearn', 'pandas', 'pyarrow', 'scipy') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_vendor_errors_are_translated_and_bugs_are_not():
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import (
        INTERNAL_ERROR,
        INVALID_PARAMETER_VALUE,
        RESOURCE_DOES_NOT_EXIST,
    )

    from mlgov.governance.errors import ExternalError, NotFound, Unavailable
    from mlgov.registry.mlflow_errors import mlflow_errors

    def raising(exc):
        with mlflow_errors("read things", "http://h:1", not_found="thing is missing"):
            raise exc

    with pytest.raises(NotFound, match="^thing is missing$"):
        raising(MlflowException("x", error_code=RESOURCE_DOES_NOT_EXIST))
    with pytest.raises(BadInput, match="MLflow refused to read things: bad value"):
        raising(MlflowException("bad value", error_code=INVALID_PARAMETER_VALUE))
    with pytest.raises(Unavailable, match="http://h:1 is unreachable while trying to read"):
        raising(MlflowException("API request failed: Max retries exceeded with url"))
    with pytest.raises(ExternalError, match="MLflow at http://h:1 failed to read things: boom"):
        raising(MlflowException("boom", error_code=INTERNAL_ERROR))
    with pytest.raises(AttributeError):
        raising(AttributeError("a bug stays a bug"))
