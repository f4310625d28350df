"""The OpenAPI document the governed service serves at /docs.json.

BentoML builds one from the API's IO descriptors, but it declares BentoML's error bodies
(400/404/500 with `{"error", "detail"}`) instead of what mlgov answers, leaves the request
body open (extra fields, any number of records, any number size) and knows nothing of
/metadata. `governed_openapi` rewrites that document so clients and fuzzers see the real
contract: the records the signature accepts, the limits, and every status mlgov sends.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any

from mlgov.deploy.manifest import Feature
from mlgov.deploy.validation import DOUBLE_MAX, FLOAT32_MAX, INT32, INT64

_REF = "#/components/schemas/{}"
_BENTOML_ONLY_SCHEMAS = ("InvalidArgument", "NotFound", "InternalServerError", "TaskStatusResponse")

# What /predict answers besides 200, all with the Error body.
PREDICT_ERRORS = {
    "400": "Malformed JSON or records that do not match the signature (the message names the "
    "record index and the field, never a value), or a BentoML internal header",
    "413": "Body over the size limit; refused before it is read",
    "415": "Content-Type is not application/json (pickle, multipart and form bodies are never "
    "decoded)",
    "422": "Well-typed records the model could not score (e.g. values unlike its training data)",
    "500": "The model raised an unexpected error",
    "503": "Not serving: the target is suspended or retired, governance names another version, "
    "the model failed to load, or the prediction log is unavailable",
}


def _feature_schema(feature: Feature) -> dict[str, Any]:
    if feature.type in ("double", "float"):
        bound = DOUBLE_MAX if feature.type == "double" else FLOAT32_MAX
        schema: dict[str, Any] = {"type": "number", "minimum": -bound, "maximum": bound}
    elif feature.type in ("long", "integer"):
        low, high = INT64 if feature.type == "long" else INT32
        schema = {"type": "integer", "minimum": low, "maximum": high}
    else:
        schema = {"type": feature.type}
    schema["description"] = f"MLflow signature type '{feature.type}'"
    if not feature.required:
        schema["nullable"] = True
    return schema


def record_schema(features: Sequence[Feature]) -> dict[str, Any]:
    """One record as /predict validates it (mlgov.deploy.validation)."""
    schema: dict[str, Any] = {
        "type": "object",
        "title": "Record",
        "properties": {f.name: _feature_schema(f) for f in features},
        "additionalProperties": False,
    }
    required = [f.name for f in features if f.required]
    if required:
        schema["required"] = required
    return schema


_EXAMPLE_VALUES = {"double": 0.5, "float": 0.5, "long": 1, "integer": 1, "boolean": False}


def example_record(features: Sequence[Feature]) -> dict[str, Any]:
    """A record of made-up values with the right types (the model may score it oddly)."""
    return {f.name: _EXAMPLE_VALUES.get(f.type, "example") for f in features}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


def _schemas(features: Sequence[Feature], max_records: int) -> dict[str, Any]:
    string = {"type": "string"}
    return {
        "Record": record_schema(features),
        "PredictInput": {
            "type": "object",
            "title": "PredictInput",
            "required": ["records"],
            "properties": {
                "records": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": max_records,
                    "items": {"$ref": _REF.format("Record")},
                }
            },
            "additionalProperties": False,
        },
        "PredictOutput": {
            "type": "object",
            "title": "PredictOutput",
            "required": ["predictions", "model", "version", "request_id"],
            "properties": {
                "predictions": {"type": "array", "items": {}},
                "probabilities": {
                    "type": "array",
                    "items": {"type": "object", "additionalProperties": {"type": "number"}},
                },
                "model": string,
                "version": string,
                "request_id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
            },
            "additionalProperties": False,
        },
        "Error": {
            "type": "object",
            "title": "Error",
            "description": "mlgov's error body: what is wrong and how to fix it, never a "
            "request value",
            "required": ["error"],
            "properties": {"error": string, "request_id": string},
            "additionalProperties": False,
        },
        "Metadata": {
            "type": "object",
            "title": "Metadata",
            "required": [
                "target",
                "model",
                "version",
                "serving",
                "bento_model_tag",
                "features",
                "max_records",
                "max_body_bytes",
            ],
            "properties": {
                "target": string,
                "model": string,
                "version": string,
                "stage": _nullable(string),
                "status": _nullable({"type": "object"}),
                "serving": {"type": "boolean"},
                "reason": _nullable(string),
                "load_error": _nullable(string),
                "bento_model_tag": string,
                "bento_tag": _nullable(string),
                "model_uri": string,
                "fingerprint_digest": string,
                "approvals": {"type": "object"},
                "features": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "type"],
                        "properties": {"name": string, "type": string},
                    },
                },
                "max_records": {"type": "integer", "minimum": 1},
                "max_body_bytes": {"type": "integer", "minimum": 1},
            },
        },
    }


def _json_response(description: str, schema_name: str, **extra: Any) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": _REF.format(schema_name)}}},
        **extra,
    }


def _predict_operation(
    original: Mapping[str, Any],
    *,
    features: Sequence[Feature],
    max_records: int,
    max_body_bytes: int,
) -> dict[str, Any]:
    operation = {
        key: value
        for key, value in original.items()
        if key in ("tags", "operationId", "x-bentoml-name")
    }
    operation["summary"] = "Score records with the governed model version"
    operation["description"] = (
        f'Send `{{"records": [...]}}` as `application/json`: 1 to {max_records} records, '
        f"at most {max_body_bytes} bytes. Each record has exactly the signature's fields; "
        "numbers must be finite, integers within their type's range, no value as a string."
    )
    operation["requestBody"] = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"$ref": _REF.format("PredictInput")},
                "example": {"records": [example_record(features)]},
            }
        },
    }
    responses: dict[str, Any] = {
        "200": _json_response(
            "Predictions, with probabilities when the model has them",
            "PredictOutput",
            headers={
                "X-Request-ID": {
                    "description": "Also in the body and in the prediction log",
                    "schema": {"type": "string"},
                }
            },
        )
    }
    responses.update({code: _json_response(text, "Error") for code, text in PREDICT_ERRORS.items()})
    operation["responses"] = responses
    return operation


def _metadata_operation() -> dict[str, Any]:
    return {
        "tags": ["Infrastructure"],
        "summary": "The version served and its governance facts",
        "operationId": "mlgov_metadata",
        "responses": {
            "200": _json_response("Target, model version, approvals and state", "Metadata"),
            "503": _json_response("The service is still starting", "Error"),
        },
    }


def governed_openapi(
    spec: Mapping[str, Any],
    *,
    features: Sequence[Feature],
    max_records: int,
    max_body_bytes: int,
    predict_route: str = "/predict",
) -> dict[str, Any]:
    """BentoML's generated OpenAPI document with mlgov's real contract put in (a copy)."""
    doc = copy.deepcopy(dict(spec))
    paths = doc.setdefault("paths", {})
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    components.update(_schemas(features, max_records))
    original = paths.get(predict_route, {}).get("post", {})
    paths[predict_route] = {
        "post": _predict_operation(
            original, features=features, max_records=max_records, max_body_bytes=max_body_bytes
        )
    }
    paths["/metadata"] = {"get": _metadata_operation()}
    readyz = paths.get("/readyz", {}).get("get")
    if readyz is not None:
        readyz.setdefault("responses", {})["503"] = {
            "description": "Not ready: the model failed to load or governance stopped serving"
        }
    used = json.dumps(paths)
    for name in _BENTOML_ONLY_SCHEMAS:
        if _REF.format(name) not in used:
            components.pop(name, None)
    return doc
