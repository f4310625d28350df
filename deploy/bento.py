"""BentoML model store and Bento builds for governed versions.

Every import makes a new BentoML tag (`name:<random>`) and moves `name:latest`; mlgov
records and serves the exact tag it got back, never `:latest`. The MLflow name, version and
fingerprint go into the BentoML model's labels and metadata so the store itself says which
governed version each tag holds.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlgov.deploy.manifest import validate_bento_tag, validate_name, validate_version
from mlgov.governance.errors import BadInput, ExternalError, NotFound

SERVICE_IMPORT = "mlgov.deploy.service:GovernedService"
LABEL_PREFIX = "mlgov."
_LABEL_KEY = re.compile(r"[A-Za-z0-9_.-]{1,63}")
_LABEL_VALUE = re.compile(r"[A-Za-z0-9_.:+=-]{0,128}")


def bento_name(model: str, prefix: str = "mlgov-") -> str:
    """A valid BentoML tag name for a model/target name (lower case, at most 63 chars).

    Two names may map to one BentoML name ("Credit" and "credit"); that is harmless because
    mlgov pins exact tags and the labels carry the real name.
    """
    cleaned = re.sub(r"[^a-z0-9_.-]", "-", f"{prefix}{model}".lower())[:63]
    return cleaned.rstrip("_.-") or "mlgov-model"


def telemetry_off() -> None:
    for name in ("DO_NOT_TRACK", "BENTOML_DO_NOT_TRACK", "MLFLOW_DISABLE_TELEMETRY"):
        os.environ.setdefault(name, "true")


def import_model(model_uri: str, *, model: str, version: str, fingerprint_digest: str) -> str:
    """Copy an MLflow model into the BentoML model store; return the exact new tag."""
    validate_name(model, "model")
    validate_version(version)
    telemetry_off()
    import bentoml
    from bentoml.exceptions import BentoMLException

    labels = {
        f"{LABEL_PREFIX}model": model,
        f"{LABEL_PREFIX}version": version,
    }
    metadata = {
        "mlgov_model": model,
        "mlgov_version": version,
        "mlgov_fingerprint": fingerprint_digest,
        "mlflow_model_uri": model_uri,
    }
    try:
        saved = bentoml.mlflow.import_model(
            bento_name(model), model_uri, labels=labels, metadata=metadata
        )
    except BentoMLException as exc:
        raise ExternalError(
            f"BentoML could not import {model_uri} for {model} version {version}: "
            f"{exc.__class__.__name__}: {exc}"
        ) from exc
    except Exception as exc:  # MLflow download errors come in many classes
        raise ExternalError(
            f"could not import {model_uri} for {model} version {version} into BentoML "
            f"({exc.__class__.__name__}): check the MLflow store and the model URI"
        ) from exc
    return str(saved.tag)


def get_model_info(tag: str) -> dict[str, Any]:
    """Labels and metadata of a BentoML model tag; NotFound when the store lacks it."""
    validate_bento_tag(tag)
    telemetry_off()
    import bentoml

    try:
        found = bentoml.models.get(tag)
    except bentoml.exceptions.NotFound as exc:
        raise NotFound(f"BentoML model {tag} is not in the model store") from exc
    return {
        "tag": str(found.tag),
        "labels": dict(found.info.labels),
        "metadata": dict(found.info.metadata),
        "path": found.path,
        # <home>/models/<name>/<version>: the store this process imported into.
        "bentoml_home": str(Path(found.path).parents[2]),
    }


def delete_model(tag: str) -> None:
    """Remove a BentoML model that governance could not record (cleanup after a failure)."""
    validate_bento_tag(tag)
    telemetry_off()
    import bentoml

    try:
        bentoml.models.delete(tag)
    except bentoml.exceptions.NotFound:
        return


def build_bento(
    *,
    target: str,
    bento_model_tag: str,
    model: str,
    version: str,
    fingerprint_digest: str,
    labels: Mapping[str, str] | None = None,
) -> str:
    """Build a Bento of the governed service pinned to one model tag; return its exact tag.

    The Bento holds no source of its own (an empty build context): its service is
    `mlgov.deploy.service:GovernedService` from the installed mlgov, its model is the pinned
    BentoML model, and everything that varies per deployment (limits, status file, log
    folder) comes from the serving manifest at start time.
    """
    validate_name(target, "target")
    validate_name(model, "model")
    validate_version(version)
    validate_bento_tag(bento_model_tag)
    all_labels = {
        f"{LABEL_PREFIX}target": target,
        f"{LABEL_PREFIX}model": model,
        f"{LABEL_PREFIX}version": version,
        f"{LABEL_PREFIX}fingerprint": fingerprint_digest,
        **{k: v for k, v in (labels or {}).items()},
    }
    for key, value in all_labels.items():
        # Labels land in bento.yaml and Dockerfiles: no newline, quote or shell syntax.
        if not _LABEL_KEY.fullmatch(key) or not _LABEL_VALUE.fullmatch(value):
            shown = re.sub(r"[^A-Za-z0-9_.-]", "?", key)[:64]
            raise BadInput(
                f"Bento label '{shown}': keys allow A-Z a-z 0-9 _ . - "
                "and values also : + = (at most 128 characters)"
            )
    telemetry_off()
    import bentoml
    from bentoml.exceptions import BentoMLException

    get_model_info(bento_model_tag)  # NotFound before any build work
    with tempfile.TemporaryDirectory(prefix="mlgov-bento-") as build_ctx:
        try:
            built = bentoml.bentos.build(
                SERVICE_IMPORT,
                name=bento_name(target, prefix="mlgov-svc-"),
                labels=all_labels,
                description=f"mlgov governed service for {model} version {version}",
                models=[bento_model_tag],
                include=[],
                python={"packages": [], "lock_packages": False},
                build_ctx=build_ctx,
            )
        except BentoMLException as exc:
            raise ExternalError(
                f"BentoML could not build the Bento for target {target}: {exc}"
            ) from exc
    return str(built.tag)


def bento_exists(tag: str) -> bool:
    validate_bento_tag(tag, "Bento tag")
    telemetry_off()
    import bentoml

    try:
        bentoml.bentos.get(tag)
    except bentoml.exceptions.NotFound:
        return False
    return True


def store_home(bentoml_home: str | os.PathLike[str] | None = None) -> Path:
    """The BentoML home a server will use: the explicit one, else $BENTOML_HOME, else ~/bentoml."""
    if bentoml_home is not None:
        return Path(bentoml_home)
    return Path(os.environ.get("BENTOML_HOME") or Path.home() / "bentoml")


def _store_entry(home: Path, kind: str, tag: str, marker: str) -> Path:
    name, version = tag.split(":", 1)
    return home / kind / name / version / marker


def require_in_store(
    *,
    bento_model_tag: str,
    bento_tag: str | None = None,
    bentoml_home: str | os.PathLike[str] | None = None,
) -> None:
    """NotFound when the pinned model (or Bento) is missing; reads the store's folders only,
    so the caller needs no BentoML import and checks the same home the server will use."""
    home = store_home(bentoml_home)
    validate_bento_tag(bento_model_tag)
    if not _store_entry(home, "models", bento_model_tag, "model.yaml").is_file():
        raise NotFound(
            f"BentoML model {bento_model_tag} is not in the model store at {home}: deploy again"
        )
    if bento_tag is not None:
        validate_bento_tag(bento_tag, "Bento tag")
        if not _store_entry(home, "bentos", bento_tag, "bento.yaml").is_file():
            raise NotFound(f"Bento {bento_tag} is not in the Bento store at {home}: deploy again")
