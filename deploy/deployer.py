"""The deploy steps governance composes: prepare a version for a target, activate it, stop it.

Files per target, under a serving root (e.g. MLGOV_HOME/serving):

    <root>/<target>/manifest.json           the version the target serves now (servers read it)
    <root>/<target>/versions/<version>.json every version prepared for the target (rollback)
    <root>/<target>/status.json             the kill switch (state, reason, version)
    <root>/<target>/predictions/            the prediction log (0700)
    <root>/<target>/server.log              the server's output (0600)

The steps do not decide anything: governance runs its gates, records the deployment, and
calls `activate` (or `set_state`) as part of its own transaction.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgov.deploy.manifest import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_RECORDS,
    ServingManifest,
    features_from_signature,
    read_manifest,
    validate_name,
    validate_version,
    write_manifest,
)
from mlgov.deploy.status import (
    ServingState,
    ServingStatus,
    read_status_document,
    write_status,
)
from mlgov.governance.errors import BadInput, NotFound


@dataclass(frozen=True)
class TargetPaths:
    root: Path
    manifest: Path
    versions: Path
    status: Path
    predictions: Path
    server_log: Path

    def version_manifest(self, version: str) -> Path:
        return self.versions / f"{validate_version(version)}.json"


def target_paths(serving_root: str | os.PathLike[str], target: str) -> TargetPaths:
    root = Path(serving_root).resolve() / validate_name(target, "target")
    return TargetPaths(
        root=root,
        manifest=root / "manifest.json",
        versions=root / "versions",
        status=root / "status.json",
        predictions=root / "predictions",
        server_log=root / "server.log",
    )


@dataclass(frozen=True)
class PreparedDeployment:
    manifest: ServingManifest
    manifest_path: Path  # versions/<version>.json; `activate` makes it the current one
    paths: TargetPaths


def prepare_deployment(
    serving_root: str | os.PathLike[str],
    *,
    target: str,
    model: str,
    version: str,
    model_uri: str,
    fingerprint_digest: str,
    signature: Mapping[str, Any] | None,
    approvals: Mapping[str, Any] | None = None,
    max_records: int = DEFAULT_MAX_RECORDS,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    build: bool = True,
) -> PreparedDeployment:
    """Import the MLflow model into BentoML (a new pinned tag), build the Bento and write
    the version's manifest. Nothing serves it until `activate`. On failure the imported
    BentoML model is removed again and the error is a governance error."""
    from mlgov.deploy.bento import build_bento, delete_model, import_model

    paths = target_paths(serving_root, target)
    validate_name(model, "model")
    validate_version(version)
    features = features_from_signature(signature)  # BadInput before any import work
    model_tag = import_model(
        model_uri, model=model, version=version, fingerprint_digest=fingerprint_digest
    )
    try:
        bento_tag = (
            build_bento(
                target=target,
                bento_model_tag=model_tag,
                model=model,
                version=version,
                fingerprint_digest=fingerprint_digest,
            )
            if build
            else None
        )
        manifest = ServingManifest(
            target=target,
            model=model,
            version=version,
            bento_model_tag=model_tag,
            bento_tag=bento_tag,
            model_uri=model_uri,
            fingerprint_digest=fingerprint_digest,
            features=features,
            status_file=str(paths.status),
            prediction_log_dir=str(paths.predictions),
            max_records=max_records,
            max_body_bytes=max_body_bytes,
            approvals=dict(approvals or {}),
        )
        manifest_path = write_manifest(paths.version_manifest(version), manifest)
    except BaseException:
        delete_model(model_tag)
        raise
    return PreparedDeployment(manifest=manifest, manifest_path=manifest_path, paths=paths)


def activate(
    serving_root: str | os.PathLike[str],
    target: str,
    version: str,
    *,
    stage: str = "deploy",
    op_id: str | None = None,
) -> ServingStatus:
    """Make a prepared version the target's current one (deploy or rollback) and mark it
    serving. A server still running another version answers 503 "restart needed"."""
    paths = target_paths(serving_root, target)
    manifest = read_manifest(paths.version_manifest(version))  # NotFound: never prepared
    # The status first: it names the operation, so a crash before the pointer moves is
    # still undone by restore_status (a server meanwhile answers 503 "restart needed").
    status = write_status(
        paths.status,
        ServingState.SERVING,
        reason=f"version {version} activated",
        version=version,
        bento_model_tag=manifest.bento_model_tag,
        stage=stage,
        op_id=op_id,
    )
    _point_at(paths, version)
    return status


def _point_at(paths: TargetPaths, version: str) -> ServingManifest:
    """Make the target's current manifest that of a prepared version."""
    source = paths.version_manifest(version)
    manifest = read_manifest(source)  # NotFound when this version was never prepared
    tmp = paths.manifest.with_suffix(".json.tmp")
    shutil.copyfile(source, tmp)
    os.chmod(tmp, 0o600)
    os.replace(tmp, paths.manifest)
    return manifest


def set_state(
    serving_root: str | os.PathLike[str],
    target: str,
    state: ServingState | str,
    *,
    reason: str,
    stage: str | None = None,
    op_id: str | None = None,
) -> ServingStatus:
    """Suspend, undeploy or retire the target's current version (the kill switch)."""
    paths = target_paths(serving_root, target)
    if not paths.manifest.exists():
        raise NotFound(f"target '{target}' has no deployment")
    current = read_manifest(paths.manifest)
    return write_status(
        paths.status,
        state,
        reason=reason,
        version=current.version,
        bento_model_tag=current.bento_model_tag,
        stage=stage,
        op_id=op_id,
    )


def _pointed_version(paths: TargetPaths) -> str | None:
    try:
        return read_manifest(paths.manifest).version
    except (NotFound, BadInput):
        return None


def status_operation(serving_root: str | os.PathLike[str], target: str) -> str | None:
    doc = read_status_document(target_paths(serving_root, target).status)
    return None if doc is None else doc.get("op_id")


def restore_status(serving_root: str | os.PathLike[str], target: str, op_id: str) -> bool:
    """Undo operation `op_id`'s write of the target's status and serving pointer."""
    paths = target_paths(serving_root, target)
    doc = read_status_document(paths.status)
    if doc is None or doc.get("op_id") != op_id:
        return False
    previous = doc.get("previous")
    if not previous:
        # The target had no status before: nothing may serve it.
        write_status(
            paths.status,
            ServingState.UNDEPLOYED,
            reason="the deployment that wrote this status was never recorded (undone)",
            version=doc.get("version"),
            bento_model_tag=doc.get("bento_model_tag"),
            stage=None,
        )
        return True
    version = previous.get("version")
    if version and version != _pointed_version(paths) and paths.version_manifest(version).exists():
        _point_at(paths, version)
    write_status(
        paths.status,
        previous.get("state") or ServingState.UNDEPLOYED,
        reason=str(previous.get("reason") or ""),
        version=version,
        bento_model_tag=previous.get("bento_model_tag"),
        stage=previous.get("stage"),
    )
    return True


class BentoDeployer:
    """The deploy steps bound to one serving root: the shape a `Deployer` port could take."""

    def __init__(self, serving_root: str | os.PathLike[str]) -> None:
        self.serving_root = Path(serving_root)

    def paths(self, target: str) -> TargetPaths:
        return target_paths(self.serving_root, target)

    def prepare(self, **kwargs: Any) -> PreparedDeployment:
        return prepare_deployment(self.serving_root, **kwargs)

    def activate(self, target: str, version: str, *, stage: str = "deploy") -> ServingStatus:
        return activate(self.serving_root, target, version, stage=stage)

    def set_state(
        self, target: str, state: ServingState | str, *, reason: str, stage: str | None = None
    ) -> ServingStatus:
        return set_state(self.serving_root, target, state, reason=reason, stage=stage)

    def discard(self, bento_model_tag: str) -> None:
        """Remove an imported model that governance could not record."""
        from mlgov.deploy.bento import delete_model

        delete_model(bento_model_tag)
