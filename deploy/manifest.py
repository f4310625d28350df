"""The serving manifest: what governance tells a server process to serve, as one JSON file.

Governance writes it when a version is deployed; the server process reads it once at start.
It carries only names, paths and limits (never customer data), and every name that ends up
in a path or a BentoML tag is checked against an allow-list before it is written or used.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlgov.deploy.atomic import atomic_write_text
from mlgov.governance.errors import BadInput, NotFound
from mlgov.governance.validate import is_name

# BentoML tags: name:version, both lower-case-ish; versions are BentoML's own random ids.
BENTO_TAG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}:[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
FEATURE_TYPES = ("double", "float", "long", "integer", "boolean", "string")
DEFAULT_MAX_RECORDS = 1000
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
# Columns the prediction log adds; a feature may not shadow them.
RESERVED_COLUMN_PREFIX = "_"


def validate_name(value: object, what: str) -> str:
    """Return value when it is a safe target/model name, else raise BadInput naming `what`."""
    # The core's name rule (mlgov.governance.validate); this message never echoes the value.
    if not is_name(value):
        raise BadInput(
            f"invalid {what} name: use 1-128 characters from A-Z a-z 0-9 _ . - "
            "starting with a letter or digit (no '..', '/', spaces or control characters)"
        )
    return value


def validate_version(value: object) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{1,12}", value):
        raise BadInput("invalid version: use the MLflow version number, e.g. '3'")
    return value


def validate_bento_tag(value: object, what: str = "BentoML model tag") -> str:
    if not isinstance(value, str) or not BENTO_TAG_PATTERN.fullmatch(value):
        raise BadInput(f"invalid {what}: expected an exact 'name:version' tag")
    if value.endswith(":latest"):
        raise BadInput(f"invalid {what}: pin the exact tag, never ':latest'")
    return value


@dataclass(frozen=True)
class Feature:
    """One input column as the MLflow signature declares it."""

    name: str
    type: str
    required: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or len(self.name) > 256:
            raise BadInput("invalid feature name in the model signature: empty or over-long")
        if any(ord(c) < 32 for c in self.name):
            raise BadInput("invalid feature name in the model signature: control characters")
        if self.name.startswith(RESERVED_COLUMN_PREFIX):
            raise BadInput(
                f"feature '{self.name}' starts with '_', which the prediction log reserves "
                "for its own columns: rename the column in the model signature"
            )
        if self.type not in FEATURE_TYPES:
            raise BadInput(
                f"feature '{self.name}' has type '{self.type}', which serving does not support: "
                f"use one of {', '.join(FEATURE_TYPES)}"
            )


def features_from_signature(signature: Mapping[str, Any] | None) -> tuple[Feature, ...]:
    """Features from an MLflow signature dict ({"inputs": [{"name", "type", "required"}]})."""
    if not signature or not signature.get("inputs"):
        raise BadInput(
            "the model has no input signature: log it with signature=infer_signature(X, y)"
        )
    inputs = signature["inputs"]
    if isinstance(inputs, str):
        inputs = json.loads(inputs)
    features = []
    for i, column in enumerate(inputs):
        name = column.get("name") if isinstance(column, Mapping) else None
        if name is None:
            raise BadInput(
                f"signature input {i} has no column name: serving needs a column-based "
                "signature (tensor signatures are not supported)"
            )
        features.append(
            Feature(name=name, type=column.get("type"), required=column.get("required", True))
        )
    names = [f.name for f in features]
    if len(set(names)) != len(names):
        raise BadInput("the model signature names a column twice")
    return tuple(features)


@dataclass(frozen=True)
class ServingManifest:
    target: str
    model: str
    version: str
    bento_model_tag: str
    model_uri: str
    fingerprint_digest: str
    features: tuple[Feature, ...]
    status_file: str
    prediction_log_dir: str
    max_records: int = DEFAULT_MAX_RECORDS
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    bento_tag: str | None = None  # the built Bento, when one was built
    approvals: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_name(self.target, "target")
        validate_name(self.model, "model")
        validate_version(self.version)
        validate_bento_tag(self.bento_model_tag)
        if self.bento_tag is not None:
            validate_bento_tag(self.bento_tag, "Bento tag")
        if not self.features:
            raise BadInput("the serving manifest lists no features")
        object.__setattr__(
            self,
            "features",
            tuple(f if isinstance(f, Feature) else Feature(**f) for f in self.features),
        )
        for limit in ("max_records", "max_body_bytes"):
            value = getattr(self, limit)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise BadInput(f"serving manifest: {limit} must be a positive integer")
        for path_field in ("status_file", "prediction_log_dir"):
            value = getattr(self, path_field)
            if not isinstance(value, str) or not os.path.isabs(value) or "\0" in value:
                raise BadInput(f"serving manifest: {path_field} must be an absolute path")
        try:
            json.dumps(dict(self.approvals))
        except (TypeError, ValueError) as exc:
            raise BadInput("serving manifest: approvals must be plain JSON data") from exc

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["features"] = [asdict(f) for f in self.features]
        data["approvals"] = dict(self.approvals)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServingManifest:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise BadInput(f"serving manifest: unknown key(s) {', '.join(unknown)}")
        try:
            features = tuple(Feature(**f) for f in data.get("features", ()))
            return cls(**{**data, "features": features})
        except TypeError as exc:
            raise BadInput(f"serving manifest: missing or malformed key ({exc})") from exc


def write_manifest(path: str | os.PathLike[str], manifest: ServingManifest) -> Path:
    """Write the manifest atomically (temp file + rename) so a server never reads half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(manifest.to_dict(), indent=2, sort_keys=True))
    return path


def read_manifest(path: str | os.PathLike[str]) -> ServingManifest:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise NotFound(f"serving manifest {path} does not exist: deploy the target first") from exc
    except OSError as exc:
        raise BadInput(f"serving manifest {path} cannot be read: {exc.strerror}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise BadInput(f"serving manifest {path} is not valid JSON") from exc
    if not isinstance(data, dict):
        raise BadInput(f"serving manifest {path} must hold a JSON object")
    return ServingManifest.from_dict(data)
