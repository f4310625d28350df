"""Counted attacks on the real governed server (conftest's session server on 127.0.0.1).

Each test prints what it tried and what was caught: pickle bodies under every BentoML media
type and internal header, 100 MB bodies, hostile JSON, and schemathesis against /docs.json.
"""

from __future__ import annotations

import collections
import importlib.util
import json
import pickle
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote_from_bytes, urlparse

import pytest

pytestmark = pytest.mark.slow

MIB = 1024 * 1024


# ---- raw HTTP: exact headers (repeated ones too), chunked framing, streamed bodies -----


def _address(url: str) -> tuple[str, int]:
    parsed = urlparse(url)
    return parsed.hostname or "127.0.0.1", parsed.port or 80


def _frame(
    method: str,
    path: str,
    headers: list[tuple[str, str]],
    body: bytes,
    *,
    chunked: bool = False,
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        half = len(body) // 2
        pieces = [p for p in (body[:half], body[half:]) if p]
        payload = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    else:
        lines.append(f"Content-Length: {len(body)}")
        payload = body
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


def _exchange(url: str, request: bytes, timeout: float = 30.0) -> tuple[int, bytes]:
    """Send one request on a new connection; return (status, body) of the answer."""
    with socket.create_connection(_address(url), timeout=timeout) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered and closed early: read what was sent back
        answer = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    match = re.match(rb"HTTP/1\.1 (\d{3})", head)
    assert match, f"no HTTP answer: {answer[:200]!r}"
    return int(match.group(1)), body


# ---- 1. pickle bodies under every media type and internal header -----------------------


class _CreatesMarker:
    """Unpickling this object creates a file: proof that a pickle was (or was not) loaded."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


BOUNDARY = "mlgovfuzz"
PICKLE_CONTENT_TYPES: list[list[str]] = [
    [],  # no Content-Type at all
    ["application/vnd.bentoml+pickle"],  # _bentoml_impl.serde.PickleSerde
    ["APPLICATION/VND.BENTOML+PICKLE"],
    ["application/vnd.bentoml+pickle; charset=utf-8"],
    ["application/vnd.bentoml.DefaultContainer"],  # legacy runner containers
    ["application/vnd.bentoml.NdarrayContainer"],
    ["application/vnd.bentoml.PandasDataFrameContainer"],
    ["application/vnd.bentoml.multiple_outputs"],
    [f"multipart/form-data; boundary={BOUNDARY}"],  # _bentoml_impl.serde.MultipartSerde
    ["application/x-www-form-urlencoded"],  # mapped to MultipartSerde
    ["application/octet-stream"],
    ["application/python-pickle"],
    ["application/x-python-pickle"],
    ["text/plain"],
    ["application/json"],  # the right type with a pickle body: must fail as JSON
    ["application/json; charset=utf-8"],
    ["application/json; format=pickle"],
    ["application/json+pickle"],
    ["application/vnd.bentoml+pickle", "application/json"],  # repeated header
    ["application/json", "application/vnd.bentoml+pickle"],
]
HEADER_SETS: list[dict[str, str]] = [
    {},
    {"Args-Number": "1"},
    {"args-number": "2"},
    {"Payload-Params": '{"format": "pickle"}'},
    {"Buffer-Lengths": "{n}"},
    {"Payload-Container": "DefaultContainer", "Payload-Meta": "{}", "Batch-Size": "-1"},
    {"Kwarg-Name": "records"},
    {"Runner-Name": "mlgov_governed"},
    {"Bento-Payload-Meta": "{}"},
    {
        "Args-Number": "1",
        "Payload-Params": "{}",
        "Buffer-Lengths": "{n}",
        "Payload-Container": "DefaultContainer",
        "Payload-Meta": "{}",
        "Batch-Size": "-1",
    },
]
OTHER_PATHS = ["/", "/predict/", "/metadata", "/docs.json", "/schema.json", "/readyz"]


def _pickle_body(content_types: list[str], payload: bytes) -> bytes:
    media = content_types[0].lower() if content_types else ""
    if media.startswith("multipart/"):
        return (
            (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="records"; '
                f'filename="records.pkl"\r\nContent-Type: application/vnd.bentoml+pickle\r\n\r\n'
            ).encode()
            + payload
            + f"\r\n--{BOUNDARY}--\r\n".encode()
        )
    if media.startswith("application/x-www-form-urlencoded"):
        return b"records=" + quote_from_bytes(payload).encode()
    return payload


def _pickle_requests(marker: Path) -> Iterator[tuple[str, bytes]]:
    """(label, raw request) for every combination; pickle protocols 0-5 in turn."""
    n = 0
    variants = [
        ("POST", "/predict", cts, headers, chunked)
        for cts in PICKLE_CONTENT_TYPES
        for headers in HEADER_SETS
        for chunked in (False, True)
    ]
    variants += [
        (method, path, cts, {}, False)
        for path in OTHER_PATHS
        for method in ("POST", "PUT", "GET")
        for cts in PICKLE_CONTENT_TYPES[1:3] + PICKLE_CONTENT_TYPES[8:9]
    ]
    for method, path, cts, extra, chunked in variants:
        payload = pickle.dumps(_CreatesMarker(str(marker)), protocol=n % 6)
        n += 1
        body = _pickle_body(cts, payload)
        headers = [("Content-Type", ct) for ct in cts]
        headers += [(k, v.replace("{n}", str(len(payload)))) for k, v in extra.items()]
        label = f"{method} {path} {cts} {sorted(extra)} {'chunked' if chunked else 'length'}"
        yield label, _frame(method, path, headers, body, chunked=chunked)


def test_pickle_payloads_are_refused_under_every_media_type_and_header(deployed, tmp_path):
    marker = tmp_path / "unpickled-on-the-server"
    control = tmp_path / "unpickled-here"
    pickle.loads(pickle.dumps(_CreatesMarker(str(control))))  # the payload does bite
    assert control.exists()

    statuses: collections.Counter[int] = collections.Counter()
    bad: list[str] = []
    tried = 0
    for label, request in _pickle_requests(marker):
        tried += 1
        status, _ = _exchange(deployed.url, request)
        statuses[status] += 1
        if not 400 <= status < 500 or marker.exists():
            bad.append(f"{label} -> {status}, marker {'created' if marker.exists() else 'absent'}")
    time.sleep(0.3)
    refused = sum(count for status, count in statuses.items() if 400 <= status < 500)
    print(
        f"\npickle variants: {tried} tried, {refused} refused "
        f"({', '.join(f'{s}: {c}' for s, c in sorted(statuses.items()))}), "
        f"marker file {'CREATED' if marker.exists() else 'never created'}"
    )
    assert not bad, bad[:10]
    assert tried >= 400 and refused == tried
    assert not marker.exists()


# ---- 2. 100 MB bodies: 413 within a second, without the body being read ----------------

HUNDRED_MB = 100 * MIB
PIECE = b" " * (64 * 1024)


def _plain_pieces() -> Iterator[bytes]:
    yield b'{"records": ['
    for _ in range(HUNDRED_MB // len(PIECE)):
        yield PIECE


def _chunked_pieces() -> Iterator[bytes]:
    for piece in _plain_pieces():
        yield b"%x\r\n%s\r\n" % (len(piece), piece)
    yield b"0\r\n\r\n"


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_100_mb_body_gets_413_within_a_second(deployed, framing, stream_http):
    limit = deployed.manifest.max_body_bytes
    if framing == "content-length":
        length = len(b'{"records": [') + HUNDRED_MB
        framing_header, pieces = f"Content-Length: {length}", _plain_pieces()
    else:
        framing_header, pieces = "Transfer-Encoding: chunked", _chunked_pieces()
    head = (
        "POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"{framing_header}\r\n\r\n"
    ).encode()
    status, elapsed, sent = stream_http(deployed.url, head, pieces)
    print(
        f"\n100 MB body ({framing}): {status.decode()!r} after {elapsed:.3f} s, "
        f"{sent / MIB:.1f} MB of 100 MB sent (limit {limit / MIB:.0f} MB)"
    )
    assert status.startswith(b"HTTP/1.1 413"), status
    assert elapsed < 1.0
    assert sent < HUNDRED_MB / 2  # refused long before the end, not after reading it all


# ---- 3. hostile JSON: 400, never 500, and nothing of it in the server log --------------

GOOD = {"income": 51.5, "age": 40, "owner": True, "region": "north"}


def _hostile_bodies() -> list[tuple[str, bytes, str]]:
    """(case, body, marker in it) for bodies that must get 400."""
    cases: list[tuple[str, bytes]] = []

    def add(name: str, body: str | bytes) -> None:
        cases.append((name, body.encode() if isinstance(body, str) else body))

    def record(**changes: object) -> str:
        return json.dumps({"records": [{**GOOD, "region": "{M}", **changes}]})

    def raw_record(field: str, text: str) -> str:
        """A record whose `field` is the JSON text `text`, written as is."""
        values = {**GOOD, "region": "{M}"}
        parts = [f'"{k}": {text if k == field else json.dumps(v)}' for k, v in values.items()]
        return '{"records": [{' + ", ".join(parts) + "}]}"

    for depth in (1_000, 100_000):
        add(f"arrays {depth} deep", "[" * depth + '"{M}"' + "]" * depth)
        add(f"objects {depth} deep", '{"a":' * depth + '"{M}"' + "}" * depth)
    add("nested value 500 deep", raw_record("income", "[" * 500 + '"{M}"' + "]" * 500))
    add("nested value 50000 deep", raw_record("income", "[" * 50_000 + "1" + "]" * 50_000))
    add("record 50000 deep", '{"records": ' + "[" * 50_000 + '"{M}"' + "]" * 50_000 + "}")
    for field in ("income", "age"):
        for literal in ("NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e999999999"):
            add(f"{field}={literal}", raw_record(field, literal))
    strings = {
        "income": ["51.5", "1e3", "NaN", "Infinity", "0x1F", " 42 ", "", "{M}"],
        "age": ["41", "4.1e1", "-0"],
        "owner": ["true", "1"],
    }
    for field, values in strings.items():
        for value in values:
            add(f"{field} as string {value!r}", record(**{field: value}))
    add("owner as number", record(owner=1))
    add("age as float", record(age=40.5))
    add("age over int64", record(age=2**63))
    add("age under int64", record(age=-(2**63) - 1))
    add("income over double", raw_record("income", "1" + "0" * 309))
    add("integer literal of 5000 digits", raw_record("income", "9" * 5000))
    add("10^6 empty records", b'{"records": [' + b",".join([b"{}"] * 1_000_000) + b"]}")
    add("10^6 numbers", b'{"records": [' + b",".join([b"1"] * 1_000_000) + b"]}")
    add(
        "10^6 records, one real",
        record()[:-2] + ", " + ",".join(["null"] * 999_999) + "]}",
    )
    add("empty list", '{"records": []}')
    add("empty object", "{}")
    add("empty record", '{"records": [{}]}')
    for name, value in [
        ("null", "null"),
        ("true", "true"),
        ("number", "7"),
        ("string", '"{M}"'),
        ("array of records", json.dumps([{**GOOD, "region": "{M}"}])),
        ("empty array", "[]"),
    ]:
        add(f"top level {name}", value)
    for name, value in [
        ("null", "null"),
        ("string", '"{M}"'),
        ("number", "1"),
        ("object", json.dumps({**GOOD, "region": "{M}"})),
        ("array of strings", '["{M}"]'),
        ("array of arrays", '[["{M}"]]'),
        ("array of nulls", "[null]"),
    ]:
        add(f"records as {name}", '{"records": ' + value + "}")
    add("unknown field", record(zip_code="{M}"))
    add("unknown top-level field", json.dumps({"records": [GOOD], "note": "{M}"}))
    add("missing field", json.dumps({"records": [{"income": 1.0, "region": "{M}"}]}))
    add("null for required", record(income=None))
    add("duplicate key", record()[:-1] + ', "records": "{M}"}')
    add("trailing garbage", record() + " {M}")
    add("two documents", record() + record())
    add("truncated", record()[:-3])
    add("single quotes", record().replace('"', "'"))
    add("comment", "/* {M} */" + record())
    add("raw control character", record().replace("{M}", "{M}\x01"))
    add("not UTF-8", record().encode() + b"\xff\xfe")
    add("latin-1 text", record().replace("{M}", "{M}\xe9").encode("latin-1"))
    add("form body", "income=51.5&region={M}")
    add("empty body", b"")
    bodies = []
    for i, (name, body) in enumerate(cases):
        marker = f"ZZFUZZ{i:04d}Q"
        bodies.append((name, body.replace(b"{M}", marker.encode()), marker))
    return bodies


def test_hostile_json_gets_400_never_500_and_stays_out_of_the_log(deployed):
    statuses: collections.Counter[int] = collections.Counter()
    bad: list[str] = []
    echoed: list[str] = []
    bodies = _hostile_bodies()
    for name, body, marker in bodies:
        request = _frame("POST", "/predict", [("Content-Type", "application/json")], body)
        status, answer = _exchange(deployed.url, request)
        statuses[status] += 1
        if status != 400:
            bad.append(f"{name} -> {status} {answer[:120]!r}")
        if marker.encode() in answer:
            echoed.append(name)
    time.sleep(0.5)  # let the access log flush
    log = deployed.log_file.read_bytes()
    logged = [marker for _, _, marker in bodies if marker.encode() in log]
    server_errors = sum(c for s, c in statuses.items() if s >= 500)
    print(
        f"\nhostile JSON bodies: {len(bodies)} tried, {statuses[400]} got 400, "
        f"{server_errors} server errors; markers echoed in answers: {len(echoed)}, "
        f"in the server log: {len(logged)}"
    )
    assert not bad, bad
    assert not echoed and not logged
    assert len(bodies) >= 60


def test_header_and_query_values_stay_out_of_the_log(deployed):
    marker = "ZZFUZZHEADER"
    body = json.dumps({"records": [GOOD]}).encode()
    requests = [
        ("/predict", [("Content-Type", f"application/json; {marker}=1")]),
        ("/predict", [("Content-Type", f"application/vnd.bentoml+pickle; x={marker}")]),
        (f"/predict?token={marker}", [("Content-Type", "application/json")]),
        ("/predict", [("Content-Type", "application/json"), ("User-Agent", marker)]),
        ("/predict", [("Content-Type", "application/json"), ("Referer", marker)]),
        ("/predict", [("Content-Type", "application/json"), ("X-Forwarded-For", marker)]),
        ("/predict", [("Content-Type", "application/json"), ("Authorization", marker)]),
        ("/predict", [("Content-Type", "application/json"), ("Args-Number", marker)]),
    ]
    statuses = [
        _exchange(deployed.url, _frame("POST", path, headers, body))[0]
        for path, headers in requests
    ]
    time.sleep(0.5)
    logged = deployed.log_file.read_bytes().count(marker.encode())
    print(f"\nheader/query markers: {len(requests)} sent ({statuses}), {logged} in the log")
    assert statuses == [415, 415, 200, 200, 200, 200, 200, 400]
    assert logged == 0


# ---- 4. schemathesis against the served OpenAPI document -------------------------------

SCHEMATHESIS_SEED = 20261123
SCHEMATHESIS_MAX_EXAMPLES = 1000  # per operation; /predict takes almost all of them


def _fuzz_benchmark():
    """benchmarks/fuzz_serving.py: the long run's schemathesis call and request counter."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "fuzz_serving.py"
    spec = importlib.util.spec_from_file_location("mlgov_fuzz_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_schemathesis_finds_no_server_errors_and_no_schema_violations(deployed, tmp_path):
    fuzz = _fuzz_benchmark()
    before = fuzz.requests_by_status(deployed.url)
    started = time.monotonic()
    report = fuzz.run_schemathesis(
        deployed.url,
        tmp_path,
        max_examples=SCHEMATHESIS_MAX_EXAMPLES,
        seed=SCHEMATHESIS_SEED,
        timeout=170,
    )
    elapsed = time.monotonic() - started
    after = fuzz.requests_by_status(deployed.url)
    made = after - before
    server_errors = sum(c for s, c in made.items() if s >= 500)
    cases = report["test_cases"]
    print(
        f"\nschemathesis: {cases['generated']} cases generated over "
        f"{report['operations']['tested']} operations in {elapsed:.1f} s (seed "
        f"{SCHEMATHESIS_SEED}); server saw {sum(made.values())} requests "
        f"({', '.join(f'{s}: {c}' for s, c in sorted(made.items()))}); "
        f"{server_errors} server errors, {len(report['failures'])} failure kinds"
    )
    assert report["complete"], report["_output"]
    assert report["failures"] == [] and report["errors"] == [], report["_output"]
    assert cases["generated"] >= 1000 and cases["errored"] == 0
    assert sum(made.values()) >= 1000
    assert server_errors == 0
    assert report["operations"]["tested"] == report["operations"]["total"] >= 6


def test_served_document_declares_mlgovs_contract(client, deployed):
    doc = client.get("/docs.json").json()
    predict = doc["paths"]["/predict"]["post"]
    assert {"400", "413", "415", "422", "503"} <= set(predict["responses"])
    record = doc["components"]["schemas"]["Record"]
    assert set(record["properties"]) == {"income", "age", "owner", "region"}
    records = doc["components"]["schemas"]["PredictInput"]["properties"]["records"]
    assert records["maxItems"] == deployed.manifest.max_records
    assert "/metadata" in doc["paths"]
