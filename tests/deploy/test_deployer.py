"""The deploy steps governance composes: prepare, activate, set_state (real MLflow/BentoML)."""

from __future__ import annotations

import json

import pytest

from mlgov.deploy.deployer import (
    BentoDeployer,
    activate,
    prepare_deployment,
    set_state,
    target_paths,
)
from mlgov.deploy.manifest import read_manifest
from mlgov.deploy.status import ServingState, read_status
from mlgov.governance.errors import BadInput, ExternalError, NotFound


def test_target_paths_refuse_unsafe_targets(tmp_path):
    with pytest.raises(BadInput):
        target_paths(tmp_path, "../outside")
    paths = target_paths(tmp_path, "t1")
    assert paths.manifest == tmp_path.resolve() / "t1" / "manifest.json"
    with pytest.raises(BadInput):
        paths.version_manifest("../1")


def test_prepare_activate_rollback_and_kill(tmp_path, trained):
    from mlgov.deploy.bento import get_model_info

    prepared = prepare_deployment(
        tmp_path,
        target="scoring",
        model="credit",
        version=trained.version,
        model_uri=trained.model_uri,
        fingerprint_digest="sha256:f1",
        signature=trained.signature,
        approvals={"granted": ["r1", "r2"]},
        build=False,
    )
    assert get_model_info(prepared.manifest.bento_model_tag)["metadata"]["mlgov_version"] == "1"
    assert not prepared.paths.manifest.exists()  # nothing serves before activate
    assert read_manifest(prepared.manifest_path) == prepared.manifest

    status = activate(tmp_path, "scoring", trained.version)
    assert status.state is ServingState.SERVING
    assert status.bento_model_tag == prepared.manifest.bento_model_tag
    assert read_manifest(prepared.paths.manifest) == prepared.manifest

    # A second prepared "version" (same artifacts, new pin) then rollback to the first.
    deployer = BentoDeployer(tmp_path)
    second = deployer.prepare(
        target="scoring",
        model="credit",
        version="2",
        model_uri=trained.model_uri,
        fingerprint_digest="sha256:f2",
        signature=trained.signature,
        build=False,
    )
    deployer.activate("scoring", "2")
    assert read_status(deployer.paths("scoring").status).version == "2"
    activate(tmp_path, "scoring", trained.version)
    assert read_manifest(second.paths.manifest).version == trained.version

    killed = set_state(tmp_path, "scoring", "retired", reason="end of life", stage="retire")
    assert killed.state is ServingState.RETIRED and killed.version == trained.version
    assert json.loads(prepared.paths.status.read_text())["reason"] == "end of life"
    with pytest.raises(NotFound):
        activate(tmp_path, "scoring", "9")
    with pytest.raises(NotFound):
        set_state(tmp_path, "never-deployed", "suspended", reason="x")


def test_prepare_refuses_a_model_without_signature_before_importing(tmp_path, trained):
    with pytest.raises(BadInput, match="signature"):
        prepare_deployment(
            tmp_path,
            target="t",
            model="credit",
            version="1",
            model_uri=trained.model_uri,
            fingerprint_digest="x",
            signature=None,
        )


def test_a_failed_build_removes_the_imported_model(tmp_path, trained, monkeypatch):
    import bentoml

    from mlgov.deploy import bento

    def failing_build(**_kwargs):
        raise ExternalError("BentoML could not build the Bento for target t: boom")

    monkeypatch.setattr(bento, "build_bento", failing_build)
    before = {str(m.tag) for m in bentoml.models.list()}
    with pytest.raises(ExternalError, match="could not build"):
        prepare_deployment(
            tmp_path,
            target="t",
            model="credit",
            version="1",
            model_uri=trained.model_uri,
            fingerprint_digest="x",
            signature=trained.signature,
        )
    assert {str(m.tag) for m in bentoml.models.list()} == before
