"""Unit tests: the OpenAPI document mlgov serves at /docs.json (no server)."""

from __future__ import annotations

import copy
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlgov.deploy.manifest import Feature
from mlgov.deploy.openapi_doc import PREDICT_ERRORS, example_record, governed_openapi
from mlgov.deploy.validation import (
    DOUBLE_MAX_INT,
    FLOAT32_MAX_INT,
    INT32,
    INT64,
    RequestRejected,
    validate_records,
)

FEATURES = (
    Feature("income", "double"),
    Feature("ratio", "float"),
    Feature("age", "long"),
    Feature("small", "integer"),
    Feature("owner", "boolean"),
    Feature("region", "string"),
    Feature("note", "string", required=False),
)
MAX_RECORDS = 3

# The parts of what BentoML 1.4's generate_spec returns that the rewrite touches.
BENTOML_SPEC: dict[str, Any] = {
    "openapi": "3.0.2",
    "info": {"title": "mlgov_governed", "version": "x"},
    "paths": {
        "/readyz": {"get": {"responses": {"200": {"description": "Successful Response"}}}},
        "/predict": {
            "post": {
                "responses": {
                    200: {"description": "Successful Response"},
                    400: {"$ref": "#/components/schemas/InvalidArgument"},
                    404: {"$ref": "#/components/schemas/NotFound"},
                    500: {"$ref": "#/components/schemas/InternalServerError"},
                },
                "tags": ["Service APIs"],
                "x-bentoml-name": "predict",
                "operationId": "mlgov_governed__predict",
                "requestBody": {"content": {"application/json": {"schema": {}}}},
            }
        },
    },
    "components": {
        "schemas": {
            name: {"type": "object"}
            for name in ("InvalidArgument", "NotFound", "InternalServerError", "Record")
        }
    },
}


def document() -> dict[str, Any]:
    return governed_openapi(
        BENTOML_SPEC, features=FEATURES, max_records=MAX_RECORDS, max_body_bytes=1000
    )


def test_predict_declares_mlgovs_statuses_with_mlgovs_error_body():
    operation = document()["paths"]["/predict"]["post"]
    assert set(operation["responses"]) == {"200", "400", "413", "415", "422", "500", "503"}
    for code in PREDICT_ERRORS:
        schema = operation["responses"][code]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}
    error = document()["components"]["schemas"]["Error"]
    assert error["required"] == ["error"] and error["additionalProperties"] is False
    assert operation["operationId"] == "mlgov_governed__predict"
    assert operation["requestBody"]["required"] is True
    assert list(operation["requestBody"]["content"]) == ["application/json"]


def test_request_body_states_the_limits_and_the_signature():
    schemas = document()["components"]["schemas"]
    records = schemas["PredictInput"]["properties"]["records"]
    assert (records["minItems"], records["maxItems"]) == (1, MAX_RECORDS)
    assert schemas["PredictInput"]["additionalProperties"] is False
    record = schemas["Record"]
    assert record["additionalProperties"] is False
    assert record["required"] == ["income", "ratio", "age", "small", "owner", "region"]
    assert record["properties"]["age"]["maximum"] == INT64[1]
    assert record["properties"]["small"]["minimum"] == INT32[0]
    assert record["properties"]["note"]["nullable"] is True
    assert "1000 bytes" in document()["paths"]["/predict"]["post"]["description"]


def test_metadata_and_readiness_are_declared_and_bentoml_only_schemas_dropped():
    doc = document()
    metadata = doc["paths"]["/metadata"]["get"]["responses"]
    assert metadata["200"]["content"]["application/json"]["schema"]["$ref"].endswith("Metadata")
    assert "503" in metadata
    assert "503" in doc["paths"]["/readyz"]["get"]["responses"]
    for name in ("InvalidArgument", "NotFound", "InternalServerError"):
        assert name not in doc["components"]["schemas"]


def test_the_generated_document_is_left_untouched():
    before = copy.deepcopy(BENTOML_SPEC)
    document()
    assert before == BENTOML_SPEC


# ---- the published schema and the validator agree, value for value --------------------


def _json_schema(doc: dict[str, Any]) -> dict[str, Any]:
    """PredictInput as a standalone Draft 4 schema (OpenAPI 3.0's `nullable` spelled out)."""

    def convert(node: Any) -> Any:
        if isinstance(node, str):
            return node.replace("#/components/schemas/", "#/definitions/")
        if isinstance(node, dict):
            out = {k: convert(v) for k, v in node.items() if k not in ("nullable", "example")}
            if node.get("nullable"):
                out["type"] = [node["type"], "null"]
            return out
        if isinstance(node, list):
            return [convert(v) for v in node]
        return node

    schemas = convert(doc["components"]["schemas"])
    return {"$ref": "#/definitions/PredictInput", "definitions": schemas}


def _validator():
    import jsonschema_rs

    return jsonschema_rs.Draft4Validator(_json_schema(document()))


EDGES = [
    *INT32,
    INT32[0] - 1,
    INT32[1] + 1,
    *INT64,
    INT64[0] - 1,
    INT64[1] + 1,
    DOUBLE_MAX_INT,
    DOUBLE_MAX_INT + 1,
    -DOUBLE_MAX_INT - 1,
    FLOAT32_MAX_INT,
    FLOAT32_MAX_INT + 1,
    2**1024,
    sys.float_info.max,
    3.4028234663852886e38,
    3.5e38,
    -3.5e38,
    1.0,
    0,
    "",
]
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(EDGES),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=4),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)
VALID_VALUES = {
    "double": st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**70), 2**70),
    "float": st.floats(-3.4e38, 3.4e38) | st.integers(-(2**40), 2**40),
    "long": st.integers(*INT64),
    "integer": st.integers(*INT32),
    "boolean": st.booleans(),
    "string": st.text(max_size=5),
}


@st.composite
def records(draw: st.DrawFn) -> Any:
    record = {f.name: draw(VALID_VALUES[f.type]) for f in FEATURES}
    for _ in range(draw(st.integers(0, 2))):  # a few mutations: wrong, missing, extra
        name = draw(st.sampled_from([f.name for f in FEATURES] + ["zz", "records"]))
        if draw(st.booleans()):
            record[name] = draw(VALUES)
        else:
            record.pop(name, None)
    return record


PAYLOADS = st.one_of(
    st.fixed_dictionaries({"records": st.lists(records(), max_size=MAX_RECORDS + 1)}),
    st.fixed_dictionaries({"records": st.lists(records() | VALUES, max_size=2)}),
    st.fixed_dictionaries({"records": VALUES}),
    st.fixed_dictionaries({"records": st.lists(records(), max_size=1), "extra": VALUES}),
    VALUES,
)


def _accepted(payload: Any) -> bool:
    try:
        validate_records(payload, FEATURES, max_records=MAX_RECORDS)
    except RequestRejected:
        return False
    return True


def test_the_documented_example_is_accepted():
    example = document()["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"][
        "example"
    ]
    assert example == {"records": [example_record(FEATURES)]}
    assert _accepted(example) and _validator().is_valid(example)


@pytest.mark.parametrize("value", EDGES, ids=repr)
def test_edge_values_agree(value):
    validator = _validator()
    for feature in FEATURES:
        payload = {"records": [{**example_record(FEATURES), feature.name: value}]}
        assert _accepted(payload) == validator.is_valid(payload), feature


_VALIDATOR = _validator()


@settings(
    max_examples=1500,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(PAYLOADS)
def test_validator_accepts_exactly_what_the_published_schema_allows(payload):
    assert _accepted(payload) == _VALIDATOR.is_valid(payload)
