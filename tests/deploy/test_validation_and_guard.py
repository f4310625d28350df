"""Unit tests: request body validation and the ASGI request guard (no server)."""

from __future__ import annotations

import asyncio
import json

import pytest

from mlgov.deploy.http_guard import RequestGuard
from mlgov.deploy.manifest import Feature
from mlgov.deploy.validation import RequestRejected, parse_json_body, validate_records

FEATURES = (
    Feature("income", "double"),
    Feature("age", "long"),
    Feature("small", "integer"),
    Feature("owner", "boolean"),
    Feature("region", "string"),
    Feature("note", "string", required=False),
)


def record(**overrides):
    base = {"income": 1.5, "age": 3, "small": 7, "owner": False, "region": "n", "note": "x"}
    base.update(overrides)
    return base


def rejected(payload, max_records=10) -> str:
    with pytest.raises(RequestRejected) as caught:
        validate_records(payload, FEATURES, max_records=max_records)
    assert caught.value.status == 400
    return caught.value.message


def test_valid_records_become_columns_in_signature_order():
    second = record(income=2, note=None)
    del second["note"]
    valid = validate_records({"records": [record(), second]}, FEATURES, max_records=10)
    assert valid.count == 2
    assert list(valid.columns) == [f.name for f in FEATURES]
    assert valid.columns["income"] == [1.5, 2]
    assert valid.columns["note"] == ["x", None]


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("income", "1.5", "must be a number, got a string"),
        ("income", float("nan"), "finite"),
        ("income", float("inf"), "finite"),
        ("income", 10**400, "double range"),
        ("income", True, "got a boolean"),
        ("age", 1.0, "must be an integer, got a number"),
        ("age", 2**63, "64-bit"),
        ("small", 2**31, "32-bit"),
        ("owner", 1, "boolean"),
        ("region", 5, "string"),
        ("region", {"a": 1}, "got an object"),
        ("region", None, "is null"),
    ],
)
def test_wrong_values_name_record_field_and_type_never_the_value(field, value, expected):
    message = rejected({"records": [record(), record(**{field: value})]})
    assert message.startswith(f"record 1: field '{field}'")
    assert expected in message
    if isinstance(value, str):
        assert value not in message


def test_structure_errors():
    assert "missing field 'age'" in rejected({"records": [{"income": 1.0}]})
    assert "unknown field 'zip'" in rejected({"records": [record(zip="x")]})
    assert "empty" in rejected({"records": []})
    assert "too many records: 11 sent, at most 10" in rejected({"records": [record()] * 11})
    assert "record 0: must be an object" in rejected({"records": ["x"]})
    assert "JSON object" in rejected([record()])
    assert "unknown top-level field 'x'" in rejected({"records": [record()], "x": 1})
    assert "missing field 'records'" in rejected({})


def test_client_field_names_are_shortened_and_made_printable():
    message = rejected({"records": [record(**{"z\n" + "y" * 500: 1})]})
    assert "\n" not in message
    assert len(message) < 150


@pytest.mark.parametrize(
    "body, expected",
    [
        (b"", "empty body"),
        (b"{", "not valid JSON"),
        (b"\xff", "not valid JSON"),
        (b"[" * 50_000 + b"]" * 50_000, "nested too deeply"),
        (b"1" * 5000, "longer than 4300 digits"),
    ],
)
def test_parse_json_body(body, expected):
    with pytest.raises(RequestRejected) as caught:
        parse_json_body(body)
    assert expected in caught.value.message


# ---- the ASGI guard, driven directly -------------------------------------------------


class Recorder:
    """A downstream app that records what reached it and how much body it read."""

    def __init__(self):
        self.called = False
        self.body = b""

    async def __call__(self, scope, receive, send):
        self.called = True
        while True:
            message = await receive()
            self.body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def run_guard(headers, chunks, *, limit=100, method="POST"):
    app = Recorder()
    guard = RequestGuard(app, max_body_bytes=limit)
    sent = []
    reads = 0

    async def receive():
        nonlocal reads
        reads += 1
        if reads <= len(chunks):
            return {
                "type": "http.request",
                "body": chunks[reads - 1],
                "more_body": reads < len(chunks),
            }
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": "/predict",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
    }
    asyncio.run(guard(scope, receive, send))
    status = sent[0]["status"]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return status, body, app, reads


def test_guard_passes_json_under_the_limit():
    status, _, app, _ = run_guard(
        {"content-type": "application/json; charset=utf-8", "content-length": "2"}, [b"{}"]
    )
    assert status == 200 and app.called and app.body == b"{}"


@pytest.mark.parametrize(
    "content_type",
    [
        "application/vnd.bentoml+pickle",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "text/plain",
        "",
    ],
)
def test_guard_refuses_non_json_media_types_without_reading(content_type):
    headers = {"content-length": "5"}
    if content_type:
        headers["content-type"] = content_type
    status, body, app, reads = run_guard(headers, [b"\x80\x04K."])
    assert status == 415 and not app.called and reads == 0
    assert "application/json" in json.loads(body)["error"]


@pytest.mark.parametrize("header", ["args-number", "payload-params", "buffer-lengths"])
def test_guard_refuses_bentoml_payload_headers(header):
    status, body, app, reads = run_guard({"content-type": "application/json", header: "1"}, [b"{}"])
    assert status == 400 and not app.called and reads == 0
    assert header in json.loads(body)["error"]


def test_guard_answers_413_from_content_length_without_reading():
    status, body, app, reads = run_guard(
        {"content-type": "application/json", "content-length": "101"}, [b"x" * 101]
    )
    assert status == 413 and not app.called and reads == 0
    assert "100 bytes" in json.loads(body)["error"]


def test_guard_counts_chunked_bodies_and_stops_at_the_limit():
    chunks = [b"x" * 40] * 10  # 400 bytes, limit 100: stop after the third chunk
    status, _, app, reads = run_guard({"content-type": "application/json"}, chunks)
    assert status == 413 and not app.called and reads == 3


def test_guard_replays_chunked_bodies_under_the_limit():
    status, _, app, _ = run_guard({"content-type": "application/json"}, [b'{"a"', b": 1}"])
    assert status == 200 and app.body == b'{"a": 1}'


def test_guard_lets_get_requests_through():
    status, _, app, _ = run_guard({}, [b""], method="GET")
    assert status == 200 and app.called


def test_guard_lets_bodyless_requests_of_any_method_reach_the_app():
    # No Content-Length and no Transfer-Encoding: no body, so the app's 405 answers a TRACE.
    for method in ("TRACE", "PUT", "PATCH", "POST"):
        status, _, app, _ = run_guard({}, [b""], method=method)
        assert status == 200 and app.called, method


@pytest.mark.parametrize(
    "content_type, accepted",
    [
        ("application/json", True),
        ("Application/JSON", True),
        ("application/json;charset=UTF-8", True),
        ("application/json; charset=utf-8", True),
        ('application/json; charset="utf-8"', True),
        ("application/json; charset=latin-1", False),
        ("application/json; format=pickle", False),
        ("application/json; ZZ-MLGOV-PRIVATE-7731", False),
        ("application/json+pickle", False),
        ("application/jsonl", False),
        ("application/vnd.bentoml.DefaultContainer", False),
    ],
)
def test_guard_accepts_only_plain_json_content_types(content_type, accepted):
    status, _, app, reads = run_guard(
        {"content-type": content_type, "content-length": "2"}, [b"{}"]
    )
    assert (status == 200 and app.called) if accepted else (status == 415 and reads == 0)


def test_guard_refuses_a_non_json_content_type_even_without_a_body():
    status, _, app, _ = run_guard(
        {"content-type": "application/vnd.bentoml+pickle", "content-length": "0"}, [b""]
    )
    assert status == 415 and not app.called


@pytest.mark.parametrize(
    "header",
    [
        "payload-container",
        "payload-meta",
        "batch-size",
        "kwarg-name",
        "runner-name",
        "bento-payload-meta",
    ],
)
def test_guard_refuses_the_legacy_runner_headers(header):
    status, _, app, reads = run_guard({"content-type": "application/json", header: "1"}, [b"{}"])
    assert status == 400 and not app.called and reads == 0


def test_guard_refuses_repeated_framing_headers():
    # The guard and BentoML might read different copies of a repeated header.
    for name, first, second in [
        ("content-type", b"application/vnd.bentoml+pickle", b"application/json"),
        ("content-type", b"application/json", b"application/vnd.bentoml+pickle"),
        ("content-length", b"2", b"2"),
    ]:
        app = Recorder()
        sent: list = []

        async def receive():
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def send(message, sent=sent):
            sent.append(message)

        headers = [(name.encode(), first), (name.encode(), second)]
        scope = {"type": "http", "method": "POST", "path": "/predict", "headers": headers}
        asyncio.run(RequestGuard(app, max_body_bytes=100)(scope, receive, send))
        assert sent[0]["status"] == 400 and not app.called
        assert b"sent twice" in sent[1]["body"]


def test_guard_refuses_compressed_bodies():
    status, body, app, _ = run_guard(
        {"content-type": "application/json", "content-length": "2", "content-encoding": "gzip"},
        [b"{}"],
    )
    assert status == 415 and not app.called
    assert "compressed" in json.loads(body)["error"]


@pytest.mark.parametrize("length", ["9" * 5000, "0" * 30 + "101", "18446744073709551616"])
def test_guard_answers_413_for_absurd_content_lengths(length):
    status, _, app, reads = run_guard(
        {"content-type": "application/json", "content-length": length}, [b"{}"]
    )
    assert status == 413 and not app.called and reads == 0


def test_guard_takes_leading_zeros_in_content_length_at_their_value():
    status, _, app, _ = run_guard(
        {"content-type": "application/json", "content-length": "0" * 40 + "2"}, [b"{}"]
    )
    assert status == 200 and app.body == b"{}"


def test_float32_features_refuse_values_that_would_become_infinity():
    features = (Feature("x", "float"),)
    assert validate_records({"records": [{"x": 3.4e38}]}, features, max_records=1).count == 1
    for value in (3.5e38, -1e39, 10**39):
        with pytest.raises(RequestRejected, match="32-bit float range"):
            validate_records({"records": [{"x": value}]}, features, max_records=1)


def test_integers_for_doubles_are_held_to_the_published_bound_exactly():
    from mlgov.deploy.validation import DOUBLE_MAX_INT

    features = (Feature("x", "double"),)
    for value in (DOUBLE_MAX_INT, -DOUBLE_MAX_INT):
        assert validate_records({"records": [{"x": value}]}, features, max_records=1).count == 1
    for value in (DOUBLE_MAX_INT + 1, -DOUBLE_MAX_INT - 1, 2**1024):
        with pytest.raises(RequestRejected, match="double range"):
            validate_records({"records": [{"x": value}]}, features, max_records=1)
