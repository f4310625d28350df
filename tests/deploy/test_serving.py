"""The governed service on a real BentoML server subprocess (one per session)."""

from __future__ import annotations

import json
import math
import time

import pytest

pytestmark = pytest.mark.slow

MARKER = "ZZ-MLGOV-PRIVATE-7731"
MAX_RECORDS = 100  # as in conftest's manifest


def good_record(**overrides):
    record = {"income": 51.5, "age": 40, "owner": True, "region": "north"}
    record.update(overrides)
    return record


def post_raw(client, body: bytes, content_type: str = "application/json", **headers):
    return client.post("/predict", content=body, headers={"content-type": content_type, **headers})


def test_predictions_equal_mlflow_models_own_predict(deployed, client):
    import mlflow
    import mlflow.sklearn

    rows = deployed.trained.frame.head(60)
    response = client.post("/predict", json={"records": rows.to_dict(orient="records")})
    assert response.status_code == 200, response.text
    body = response.json()
    mlflow.set_tracking_uri(deployed.trained.tracking_uri)
    expected = mlflow.pyfunc.load_model(deployed.trained.model_uri).predict(rows)
    assert body["predictions"] == [int(v) for v in expected]
    assert body["model"] == "credit"
    assert body["version"] == deployed.trained.version
    assert len(body["request_id"]) == 32
    assert response.headers["x-request-id"] == body["request_id"]
    proba = mlflow.sklearn.load_model(deployed.trained.model_uri).predict_proba(rows)
    assert len(body["probabilities"]) == len(rows)
    for got, want in zip(body["probabilities"], proba, strict=True):
        assert set(got) == {"0", "1"}
        assert math.isclose(got["0"], want[0], rel_tol=1e-9)
        assert math.isclose(got["1"], want[1], rel_tol=1e-9)


def test_integral_double_and_max_records_are_accepted(client):
    records = [good_record(income=50) for _ in range(MAX_RECORDS)]
    response = client.post("/predict", json={"records": records})
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == MAX_RECORDS


BAD_BODIES = {
    "missing column": (
        {"records": [good_record(), {k: v for k, v in good_record().items() if k != "age"}]},
        ["record 1", "'age'", "missing"],
    ),
    "unknown column": (
        {"records": [{**good_record(), "zip_code": MARKER}]},
        ["record 0", "'zip_code'", "unknown"],
    ),
    "string for double": ({"records": [good_record(income=MARKER)]}, ["record 0", "'income'"]),
    "number as string": ({"records": [good_record(age="41")]}, ["record 0", "'age'", "string"]),
    "bool for double": ({"records": [good_record(income=True)]}, ["'income'", "boolean"]),
    "float for long": ({"records": [good_record(age=40.5)]}, ["'age'", "integer"]),
    "number for string": ({"records": [good_record(region=7)]}, ["'region'", "string"]),
    "string for boolean": ({"records": [good_record(owner="yes")]}, ["'owner'", "boolean"]),
    "null for required": ({"records": [good_record(region=None)]}, ["'region'", "null"]),
    "long out of range": ({"records": [good_record(age=2**70)]}, ["'age'", "64-bit"]),
    "nested value": ({"records": [good_record(income=[[MARKER]])]}, ["'income'", "array"]),
    "empty list": ({"records": []}, ["empty"]),
    "records not a list": ({"records": {"income": 1}}, ["'records'", "array"]),
    "record not an object": ({"records": [good_record(), [1, 2]]}, ["record 1", "object"]),
    "too many records": ({"records": [good_record()] * (MAX_RECORDS + 1)}, ["too many"]),
    "missing records": ({"rows": [good_record()]}, ["'rows'"]),
    "top-level array": ([good_record()], ["JSON object"]),
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_bad_json_bodies_get_400_naming_record_and_field(client, case):
    payload, expected = BAD_BODIES[case]
    response = client.post("/predict", json=payload)
    assert response.status_code == 400, response.text
    message = response.json()["error"]
    for fragment in expected:
        assert fragment in message
    assert MARKER not in response.text


RAW_BAD_BODIES = {
    "NaN": (b'{"records": [{"income": NaN, "age": 1, "owner": true, "region": "n"}]}', "finite"),
    "Infinity": (
        b'{"records": [{"income": -Infinity, "age": 1, "owner": true, "region": "n"}]}',
        "finite",
    ),
    "1e400": (
        b'{"records": [{"income": 1e400, "age": 1, "owner": true, "region": "n"}]}',
        "finite",
    ),
    "not JSON": (b"income=1&age=" + MARKER.encode(), "not valid JSON"),
    "truncated JSON": (b'{"records": [{"income": 1', "not valid JSON"),
    "not UTF-8": (b'{"records": "\xff\xfe"}', "not valid JSON"),
    "deeply nested": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    "empty body": (b"", "empty body"),
    "huge integer literal": (
        b'{"records": [{"age": ' + b"9" * 5000 + b"}]}",
        "longer than 4300 digits",
    ),
}


@pytest.mark.parametrize("case", sorted(RAW_BAD_BODIES))
def test_malformed_json_gets_400(client, case):
    body, expected = RAW_BAD_BODIES[case]
    response = post_raw(client, body)
    assert response.status_code == 400, response.text
    assert expected in response.json()["error"]
    assert MARKER not in response.text


def test_a_million_records_get_400_not_500(client):
    body = b'{"records": [' + b",".join([b"{}"] * 1_000_000) + b"]}"
    response = post_raw(client, body)
    assert response.status_code == 400
    assert "too many records" in response.json()["error"]


def test_no_request_value_reaches_the_server_log(deployed, client):
    for payload, _ in BAD_BODIES.values():
        client.post("/predict", json=payload)
    post_raw(client, b"income=" + MARKER.encode())
    ok = client.post("/predict", json={"records": [good_record(region=MARKER)]})
    assert ok.status_code == 200  # an unknown category is a valid string
    # A path or a query string is client text too: the access log shows neither.
    client.get(f"/customers/{MARKER}")
    client.post(f"/predict?national_id={MARKER}", json={"records": [good_record()]})
    time.sleep(0.5)  # let the access log flush
    log = deployed.log_file.read_text(encoding="utf-8", errors="replace")
    assert "POST" in log or "/predict" in log  # the log is being written at all
    assert MARKER not in log
    assert "input_value" not in log
    assert "path=<other>" in log  # the unknown path was logged, without its text


class _CreatesMarker:
    """Unpickling this object creates a file: proof that a pickle was (not) loaded."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


PICKLE_VARIANTS = [
    {"content-type": "application/vnd.bentoml+pickle"},
    {"content-type": "application/vnd.bentoml+pickle", "buffer-lengths": "{n}"},
    {"content-type": "application/json", "buffer-lengths": "{n}"},
    {"content-type": "application/json", "args-number": "1"},
    {"content-type": "application/json", "payload-params": '{"format": "pickle"}'},
    {"content-type": "application/vnd.bentoml+pickle", "args-number": "1"},
    {"content-type": "multipart/form-data; boundary=xyz"},
    {"content-type": "application/x-www-form-urlencoded"},
    {"content-type": "application/octet-stream"},
    {"content-type": "application/python-pickle"},
    {},
]


@pytest.mark.parametrize("headers", PICKLE_VARIANTS, ids=lambda h: ",".join(h) or "no-headers")
def test_pickle_bodies_are_refused_and_never_unpickled(client, tmp_path, headers):
    import pickle

    marker = tmp_path / "unpickled"
    payload = pickle.dumps(_CreatesMarker(str(marker)))
    headers = {k: v.replace("{n}", str(len(payload))) for k, v in headers.items()}
    if headers.get("content-type", "").startswith("multipart"):
        payload = (
            b'--xyz\r\nContent-Disposition: form-data; name="records"; filename="r"\r\n'
            b"Content-Type: application/vnd.bentoml+pickle\r\n\r\n" + payload + b"\r\n--xyz--\r\n"
        )
    response = client.post("/predict", content=payload, headers=headers)
    assert 400 <= response.status_code < 500, response.text
    time.sleep(0.2)
    assert not marker.exists()


def _raw_http(deployed, request: bytes, *, read_timeout: float = 5.0) -> tuple[bytes, float]:
    import socket
    from urllib.parse import urlparse

    url = urlparse(deployed.url)
    started = time.monotonic()
    with socket.create_connection((url.hostname, url.port), timeout=read_timeout) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered (e.g. 413) and closed before the body was all sent: read the answer
        answer = b""
        while b"\r\n\r\n" not in answer:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            answer += chunk
    return answer, time.monotonic() - started


def test_oversized_body_gets_413_at_once_without_being_read(deployed):
    head = (
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 104857600\r\n\r\n"
    )
    answer, elapsed = _raw_http(deployed, head + b'{"records": [' + b" " * 65536)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert elapsed < 1.0


def test_oversized_chunked_body_gets_413(deployed, stream_http):
    limit = deployed.manifest.max_body_bytes
    chunk = b" " * (1024 * 1024)
    chunks = [b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(limit // len(chunk) + 2)]
    head = (
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    answer, elapsed, _ = stream_http(deployed.url, head, chunks)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert elapsed < 5.0


def test_chunked_body_under_the_limit_is_served(deployed):
    body = json.dumps({"records": [good_record()]}).encode()
    head = (
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    answer, _ = _raw_http(deployed, head + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


def test_metadata_names_the_version_and_governance_facts(deployed, client):
    response = client.get("/metadata")
    assert response.status_code == 200
    data = response.json()
    assert data["model"] == "credit"
    assert data["version"] == deployed.trained.version
    assert data["target"] == "credit-scoring"
    assert data["stage"] == "deploy"
    assert data["bento_model_tag"] == deployed.manifest.bento_model_tag
    assert data["bento_tag"] == deployed.manifest.bento_tag
    assert data["fingerprint_digest"] == "sha256:abc"
    assert data["approvals"]["granted"] == ["risk-a", "risk-b"]
    assert data["serving"] is True


def test_bentoml_health_and_metrics_endpoints_still_work(client):
    assert client.get("/livez").status_code == 200
    assert client.get("/readyz").status_code == 200
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert "bentoml_service_request" in metrics.text


def _wait_for(client, method, path, status, timeout=5.0, **kwargs):
    deadline = time.monotonic() + timeout
    while True:
        response = client.request(method, path, **kwargs)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


def test_kill_switch_stops_and_restores_serving_within_5_seconds(deployed, client):
    from mlgov.deploy.server import wait_ready
    from mlgov.deploy.status import write_status
    from mlgov.governance.errors import ExternalError

    manifest = deployed.manifest
    payload = {"json": {"records": [good_record()]}}
    try:
        started = time.monotonic()
        write_status(
            manifest.status_file, "retired", reason="retired by alice: drift breach", version="1"
        )
        refused = _wait_for(client, "POST", "/predict", 503, **payload)
        assert refused.status_code == 503
        assert time.monotonic() - started < 5.0
        assert "retired" in refused.json()["error"]
        assert "drift breach" in refused.json()["error"]
        assert client.get("/readyz").status_code == 503
        assert client.get("/metadata").json()["serving"] is False
        with pytest.raises(ExternalError, match="not ready after 1 s .*retired by alice"):
            wait_ready(deployed.url, timeout=1)

        # Rollback: governance now names another version; this server must not answer.
        write_status(manifest.status_file, "serving", version="2", stage="deploy")
        restart = _wait_for(client, "POST", "/predict", 503, **payload)
        time.sleep(1.2)  # past the cache: still refused, and it says why
        restart = client.post("/predict", **payload)
        assert restart.status_code == 503
        assert "restart needed" in restart.json()["error"]
    finally:
        started = time.monotonic()
        write_status(
            manifest.status_file,
            "serving",
            version=manifest.version,
            bento_model_tag=manifest.bento_model_tag,
            stage="deploy",
        )
    assert _wait_for(client, "POST", "/predict", 200, **payload).status_code == 200
    assert time.monotonic() - started < 5.0
    assert client.get("/readyz").status_code == 200


def test_prediction_log_holds_requests_with_model_version_and_request_id(deployed, client):
    from datetime import UTC, datetime, timedelta

    from mlgov.deploy.prediction_log import read_prediction_log

    since = datetime.now(UTC) - timedelta(seconds=1)
    rows = deployed.trained.frame.iloc[100:105]
    response = client.post("/predict", json={"records": rows.to_dict(orient="records")})
    assert response.status_code == 200
    request_id = response.json()["request_id"]
    log = read_prediction_log(
        deployed.manifest.prediction_log_dir, since=since, model="credit", version="1"
    )
    mine = log[log["_request_id"] == request_id]
    assert len(mine) == 5
    assert set(mine["_model"]) == {"credit"}
    assert set(mine["_version"]) == {"1"}
    assert list(mine["income"]) == list(rows["income"])
    assert list(mine["region"]) == list(rows["region"])
    assert list(mine["_prediction"]) == response.json()["predictions"]
    assert {"_prediction_proba_0", "_prediction_proba_1", "_time"} <= set(log.columns)
    assert str(mine["_time"].dt.tz) == "UTC"
    assert read_prediction_log(deployed.manifest.prediction_log_dir, model="other").empty
    later = read_prediction_log(
        deployed.manifest.prediction_log_dir, since=datetime.now(UTC) + timedelta(seconds=5)
    )
    assert later.empty


def test_prediction_log_folder_is_private(deployed):
    import os
    import stat

    folder = deployed.manifest.prediction_log_dir
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    files = os.listdir(folder)
    assert files
    for name in files:
        assert stat.S_IMODE(os.stat(os.path.join(folder, name)).st_mode) == 0o600


def test_openapi_document_describes_the_records(client):
    schema = client.get("/docs.json").json()
    assert "/predict" in schema["paths"]
    text = json.dumps(schema)
    assert "income" in text and "region" in text
