"""Unit tests: the serving manifest and the kill-switch status file (no server)."""

from __future__ import annotations

import json
import os
import stat
import time

import pytest

from mlgov.deploy.manifest import (
    Feature,
    ServingManifest,
    features_from_signature,
    read_manifest,
    validate_name,
    write_manifest,
)
from mlgov.deploy.status import (
    ServingState,
    StatusWatcher,
    read_status,
    refusal_reason,
    write_status,
)
from mlgov.governance.errors import BadInput, NotFound

SIGNATURE = {
    "inputs": [
        {"name": "income", "type": "double", "required": True},
        {"name": "age", "type": "long", "required": True},
        {"name": "note", "type": "string", "required": False},
    ]
}


def manifest(tmp_path, **overrides) -> ServingManifest:
    fields = dict(
        target="credit-scoring",
        model="credit",
        version="3",
        bento_model_tag="mlgov-credit:abc123",
        model_uri="models:/credit/3",
        fingerprint_digest="sha256:00ff",
        features=features_from_signature(SIGNATURE),
        status_file=str(tmp_path / "status.json"),
        prediction_log_dir=str(tmp_path / "predictions"),
    )
    fields.update(overrides)
    return ServingManifest(**fields)


BAD_NAMES = [
    "",
    "../etc",
    "..",
    "a/b",
    "a\\b",
    "a;rm -rf",
    "a b",
    "a\nb",
    "a\0b",
    "-leading-dash",
    ".hidden",
    "x" * 129,
    "%2e%2e",
    "crédit",
    "сredit",  # Cyrillic 'с'
    "a..b",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_unsafe_names_are_refused(name):
    with pytest.raises(BadInput) as caught:
        validate_name(name, "target")
    assert "target" in str(caught.value)


@pytest.mark.parametrize("name", ["credit", "Credit_Risk.v2", "a", "x" * 128, "9lives"])
def test_safe_names_pass(name):
    assert validate_name(name, "model") == name


def test_manifest_round_trips_through_json(tmp_path):
    original = manifest(tmp_path, approvals={"granted": ["risk-a"]}, bento_tag="mlgov-svc-c:v1")
    path = write_manifest(tmp_path / "m" / "manifest.json", original)
    assert read_manifest(path) == original
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(path.read_text())["features"][2] == {
        "name": "note",
        "type": "string",
        "required": False,
    }


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"target": "../x"}, "target"),
        ({"model": "a/b"}, "model"),
        ({"version": "latest"}, "version"),
        ({"bento_model_tag": "mlgov-credit:latest"}, "latest"),
        ({"bento_model_tag": "mlgov-credit"}, "tag"),
        ({"bento_tag": "x:y\nz"}, "Bento tag"),
        ({"max_records": 0}, "max_records"),
        ({"max_body_bytes": -1}, "max_body_bytes"),
        ({"status_file": "relative/status.json"}, "status_file"),
        ({"features": ()}, "features"),
        ({"approvals": {"when": object()}}, "approvals"),
    ],
)
def test_manifest_refuses_bad_fields(tmp_path, overrides, fragment):
    with pytest.raises(BadInput) as caught:
        manifest(tmp_path, **overrides)
    assert fragment in str(caught.value)


def test_features_from_signature_refuses_what_serving_cannot_check():
    with pytest.raises(BadInput, match="no input signature"):
        features_from_signature(None)
    with pytest.raises(BadInput, match="tensor"):
        features_from_signature({"inputs": [{"type": "tensor", "tensor-spec": {}}]})
    with pytest.raises(BadInput, match="datetime"):
        features_from_signature({"inputs": [{"name": "when", "type": "datetime"}]})
    with pytest.raises(BadInput, match="reserves"):
        features_from_signature({"inputs": [{"name": "_model", "type": "string"}]})
    with pytest.raises(BadInput, match="twice"):
        features_from_signature({"inputs": [{"name": "a", "type": "long"}] * 2})
    as_json = {"inputs": json.dumps(SIGNATURE["inputs"])}  # MLflow's string form
    assert features_from_signature(as_json)[1] == Feature("age", "long")


def test_read_manifest_errors_are_domain_errors(tmp_path):
    with pytest.raises(NotFound):
        read_manifest(tmp_path / "absent.json")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(BadInput, match="not valid JSON"):
        read_manifest(tmp_path / "bad.json")
    (tmp_path / "extra.json").write_text(json.dumps({"surprise": 1}))
    with pytest.raises(BadInput, match="surprise"):
        read_manifest(tmp_path / "extra.json")


def test_status_round_trip_and_validation(tmp_path):
    path = tmp_path / "s" / "status.json"
    written = write_status(path, "suspended", reason="drift breach", version="3", stage="evaluate")
    assert read_status(path) == written
    assert written.state is ServingState.SUSPENDED
    with pytest.raises(BadInput, match="unknown serving state"):
        write_status(path, "paused")
    with pytest.raises(BadInput, match="must name the version"):
        write_status(path, "serving")
    with pytest.raises(BadInput):
        write_status(path, "serving", version="3", bento_model_tag="x:latest")
    assert [p.name for p in path.parent.iterdir()] == ["status.json"]  # no temp files left


def test_refusal_reason_covers_every_state():
    def status(state, version="3", tag=None, reason=""):
        return read_status_like(state, version, tag, reason)

    loaded = {"version": "3", "bento_model_tag": "m:a"}
    assert refusal_reason(status("serving"), **loaded) is None
    assert refusal_reason(status("serving", tag="m:a"), **loaded) is None
    assert "unknown" in refusal_reason(None, **loaded)
    assert "suspended: drift" in refusal_reason(status("suspended", reason="drift"), **loaded)
    assert "undeployed" in refusal_reason(status("undeployed"), **loaded)
    assert "retired" in refusal_reason(status("retired"), **loaded)
    assert "restart needed" in refusal_reason(status("serving", version="2"), **loaded)
    assert "restart needed" in refusal_reason(status("serving", tag="m:b"), **loaded)


def read_status_like(state, version, tag, reason):
    from mlgov.deploy.status import ServingStatus

    return ServingStatus(ServingState(state), reason, version, "now", bento_model_tag=tag)


def test_watcher_caches_and_sees_changes_and_fails_closed(tmp_path):
    path = tmp_path / "status.json"
    watcher = StatusWatcher(path, refresh_seconds=0.2)
    assert watcher.current() is None  # missing file: not serving
    write_status(path, "serving", version="3")
    assert watcher.current() is None  # still cached
    time.sleep(0.25)
    assert watcher.current().state is ServingState.SERVING
    write_status(path, "retired", reason="end of life", version="3")
    time.sleep(0.25)
    assert watcher.current().state is ServingState.RETIRED
    path.write_text("{torn")
    time.sleep(0.25)
    assert watcher.current() is None


def _target_serving_3(tmp_path):
    from mlgov.deploy.deployer import activate, target_paths

    root = tmp_path / "serving"
    paths = target_paths(root, "credit-scoring")
    for version in ("3", "4"):
        write_manifest(
            paths.version_manifest(version),
            manifest(tmp_path, version=version, status_file=str(paths.status)),
        )
    activate(root, "credit-scoring", "3")
    return root, paths


@pytest.mark.parametrize("stopped_after", ["status written", "pointer moved"])
def test_an_operations_activation_is_undone_wherever_it_stopped(tmp_path, stopped_after):
    from mlgov.deploy.deployer import activate, restore_status, status_operation

    root, paths = _target_serving_3(tmp_path)
    if stopped_after == "status written":  # killed between activate's two steps
        write_status(paths.status, "serving", version="4", op_id="op1")
    else:
        activate(root, "credit-scoring", "4", op_id="op1")
    assert status_operation(root, "credit-scoring") == "op1"

    assert restore_status(root, "credit-scoring", "op2") is False  # not its write
    assert restore_status(root, "credit-scoring", "op1") is True

    status = read_status(paths.status)
    assert (status.state, status.version, status.op_id) == (ServingState.SERVING, "3", None)
    assert read_manifest(paths.manifest).version == "3"
    assert restore_status(root, "credit-scoring", "op1") is False  # nothing left to undo


def test_an_undone_first_deployment_leaves_the_target_undeployed(tmp_path):
    from mlgov.deploy.deployer import activate, restore_status, target_paths

    root = tmp_path / "serving"
    paths = target_paths(root, "fresh")
    write_manifest(paths.version_manifest("1"), manifest(tmp_path, target="fresh", version="1"))
    activate(root, "fresh", "1", op_id="op1")
    assert restore_status(root, "fresh", "op1") is True
    assert read_status(paths.status).state is ServingState.UNDEPLOYED
