"""OIDC bearer tokens (issue 18, item 2): JWTs signed by a key pair made here, published in a
JWKS file or by a small HTTP server on 127.0.0.1; no outside identity provider.

The verifier is tested on its own first, then through a real `mlgov server` subprocess."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from support.jwt_tokens import (
    AUDIENCE,
    ISSUER,
    Signer,
    StaticKeys,
    b64url,
    claims_of,
    hand_made,
    jwks,
    tampered_payload,
    tampered_signature,
)

from mlgov.api import errors
from mlgov.cli.main import cli
from mlgov.config import OidcSettings, load_oidc_settings
from mlgov.server import oidc

MLGOV = [sys.executable, "-m", "mlgov.cli.main"]


@pytest.fixture(scope="module")
def rs() -> Signer:
    return Signer("RS256", "rsa-1")


@pytest.fixture(scope="module")
def es() -> Signer:
    return Signer("ES256", "ec-1")


SETTINGS = OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks="unused", leeway_s=0)


# --- the verifier on its own -------------------------------------------------------------


def test_a_jwt_is_told_from_a_personal_token_by_its_shape(rs):
    assert oidc.looks_like_jwt(rs.token())
    assert oidc.looks_like_jwt("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")  # alg none: no signature
    assert not oidc.looks_like_jwt("mlgov_0123abcd_" + "a" * 43)
    assert not oidc.looks_like_jwt("a.b")
    assert not oidc.looks_like_jwt("a.b.c.d")


def test_valid_rs256_and_es256_tokens_name_their_user(rs, es):
    verifier = oidc.Verifier(SETTINGS, StaticKeys(jwks(rs, es)))
    token = rs.token("rita")
    verified = verifier.verify(token)
    assert verified == oidc.VerifiedToken("rita", "sub-rita", claims_of(token)["jti"])
    assert verifier.verify(es.token("sam", jti=None)) == oidc.VerifiedToken("sam", "sub-sam", None)
    # aud may be a list that contains ours
    assert verifier.verify(rs.token(aud=["other", AUDIENCE])).user == "rita"
    # another claim may name the user
    upn = OidcSettings(ISSUER, AUDIENCE, "unused", user_claim="upn", leeway_s=0)
    assert oidc.Verifier(upn, StaticKeys(jwks(rs))).verify(rs.token(upn="olga")).user == "olga"


def _failures(rs: Signer, es: Signer) -> dict[str, tuple[str, str]]:
    """Every way a token must fail: name -> (token, the reason the server logs)."""
    now = int(time.time())
    good = rs.token()
    claims = claims_of(good)
    return {
        "expired": (rs.token(exp=now - 120, iat=now - 600, nbf=now - 600), "expired"),
        "not yet valid": (rs.token(nbf=now + 600, exp=now + 900), "not yet valid"),
        "issued in the future": (rs.token(iat=now + 600, exp=now + 900), "not yet valid"),
        "wrong issuer": (rs.token(iss=ISSUER + "/evil"), "wrong issuer"),
        "issuer prefix": (rs.token(iss=ISSUER[:-1]), "wrong issuer"),
        "wrong audience": (rs.token(aud="someone-else"), "wrong audience"),
        "no expiry": (rs.token(exp=None), "missing claim 'exp'"),
        "no audience": (rs.token(aud=None), "missing claim 'aud'"),
        "no subject": (rs.token(sub=None), "missing claim 'sub'"),
        "no user claim": (rs.token(preferred_username=None), "no preferred_username claim"),
        "tampered payload": (tampered_payload(good, preferred_username="admin"), "bad signature"),
        "tampered signature": (tampered_signature(good), "bad signature"),
        "alg none": (hand_made({"alg": "none", "kid": rs.kid}, claims), "algorithm 'none'"),
        "HS256 with the public key": (
            hand_made({"alg": "HS256", "kid": rs.kid, "typ": "JWT"}, claims, rs.public_pem),
            "algorithm 'HS256'",
        ),
        "unknown kid": (rs.token(kid="rsa-unknown"), "unknown key id 'rsa-unknown'"),
        "no kid": (hand_made({"alg": "RS256"}, claims), "no key id"),
        "ES256 header on an RSA key": (
            jwt.encode(claims, es.private, algorithm="ES256", headers={"kid": rs.kid}),
            "is for RS256",
        ),
        "signed by another key": (
            Signer("RS256", "rsa-1").token(),
            "bad signature",
        ),
        "garbage": ("eyJhbGciOi.eyJzdWIiOiJ4In0.c2ln", "malformed token"),
    }


def test_every_failure_is_refused_with_its_reason_for_the_log(rs, es):
    verifier = oidc.Verifier(SETTINGS, StaticKeys(jwks(rs, es)))
    for name, (token, reason) in _failures(rs, es).items():
        with pytest.raises(oidc.Refused) as refused:
            verifier.verify(token)
        assert reason in str(refused.value), name
        assert token not in str(refused.value) and token.split(".")[1] not in str(refused.value)


def test_leeway_allows_a_little_clock_skew(rs):
    late = rs.token(exp=int(time.time()) - 20)
    with pytest.raises(oidc.Refused):
        oidc.Verifier(SETTINGS, StaticKeys(jwks(rs))).verify(late)
    lenient = OidcSettings(ISSUER, AUDIENCE, "unused", leeway_s=60)
    assert oidc.Verifier(lenient, StaticKeys(jwks(rs))).verify(late).user == "rita"


def test_an_overlong_or_odd_subject_is_refused(rs):
    verifier = oidc.Verifier(SETTINGS, StaticKeys(jwks(rs)))
    for claims in ({"sub": "x" * 300}, {"sub": "a\nb"}, {"jti": "j\x00"}):
        with pytest.raises(oidc.Refused):
            verifier.verify(rs.token(**claims))
    with pytest.raises(oidc.Refused, match="longer than"):
        verifier.verify(rs.token(pad="x" * 9000))


def test_the_jwks_yields_only_keys_that_can_verify_what_we_accept(rs, es):
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    p384 = ec.generate_private_key(ec.SECP384R1())
    extra = [
        {"kty": "oct", "kid": "hmac", "k": b64url(b"secret"), "alg": "HS256"},
        RSAAlgorithm.to_jwk(weak.public_key(), as_dict=True) | {"kid": "weak"},
        ECAlgorithm.to_jwk(p384.public_key(), as_dict=True) | {"kid": "p384"},
        rs.jwk | {"kid": "for-encryption", "use": "enc"},
        rs.jwk | {"kid": "ps256", "alg": "PS256"},
        es.jwk | {"kid": "mislabelled", "alg": "RS256"},
        RSAAlgorithm.to_jwk(rs.private, as_dict=True) | {"kid": "private"},
        {k: v for k, v in rs.jwk.items() if k != "kid"},
        "not a key",
    ]
    keys = oidc.parse_jwks(jwks(rs, es, extra=extra))
    assert sorted(keys) == ["ec-1", "rsa-1"]
    assert (keys["rsa-1"].alg, keys["ec-1"].alg) == ("RS256", "ES256")
    with pytest.raises(ValueError):
        oidc.parse_jwks({"no": "keys"})


def test_a_jwks_file_is_read_at_start_and_again_when_it_changes(tmp_path, rs, es):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks(rs)))
    path.chmod(0o644)  # whatever the umask: group and others may not write it
    keys = oidc.FileKeys(path)
    assert keys.key("rsa-1") is not None and keys.key("ec-1") is None
    path.write_text(json.dumps(jwks(rs, es)))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert keys.key("ec-1") is not None
    path.write_text("{half written")  # a broken rewrite keeps the keys read before
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 2 * 10**9))
    assert keys.key("ec-1") is not None
    path.write_text(json.dumps(jwks(es)))
    path.chmod(0o666)  # anyone could have written it: not trusted, the old keys stay
    assert keys.key("rsa-1") is not None
    path.chmod(0o644)  # fixed: read again
    assert keys.key("rsa-1") is None and keys.key("ec-1") is not None


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "No such file"),
        ("not json", "not JSON"),
        ('{"keys": []}', "no usable"),
        ("writable", "writable by group or others"),
    ],
)
def test_an_unusable_jwks_file_stops_the_server_at_start(tmp_path, content, reason):
    path = tmp_path / "jwks.json"
    if content == "writable":
        path.write_text(json.dumps(jwks(Signer("ES256", "ec-w"))))
        path.chmod(0o664)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(errors.BadInput, match=reason) as refused:
        oidc.FileKeys(path)
    assert refused.value.exit_code == 2 and "MLGOV_OIDC_JWKS" in str(refused.value)


class FakeProvider:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document: dict[str, Any] | None = document
        self.fetches = 0

    def __call__(self, url: str, timeout_s: float) -> Any:
        self.fetches += 1
        if self.document is None:
            raise httpx.ConnectError("down")
        return self.document


def test_jwks_by_url_is_cached_and_refetched_once_for_an_unknown_kid(rs, es):
    provider, now = FakeProvider(jwks(rs)), [1000.0]
    keys = oidc.UrlKeys(
        "https://idp/jwks", ttl_s=600, refetch_every_s=30, fetch=provider, clock=lambda: now[0]
    )
    assert keys.key("rsa-1") is not None and keys.key("rsa-1") is not None
    assert provider.fetches == 1  # cached
    provider.document = jwks(rs, es)  # the provider rotates: a new kid appears
    assert keys.key("ec-1") is not None and provider.fetches == 2
    assert keys.key("made-up-1") is None and keys.key("made-up-2") is None
    assert provider.fetches == 2  # unknown kids refetch at most once per 30 s
    now[0] += 31
    assert keys.key("made-up-3") is None and provider.fetches == 3
    provider.document = None  # the provider is down: the keys we have still verify
    now[0] += 600
    assert keys.key("rsa-1") is not None and provider.fetches == 4
    assert keys.key("rsa-1") is not None and provider.fetches == 4  # no retry storm


def test_jwks_by_url_never_fetched_is_unavailable_not_a_bad_token():
    provider = FakeProvider(jwks())
    provider.document = None
    keys = oidc.UrlKeys("https://idp/jwks", fetch=provider)
    with pytest.raises(errors.Unavailable):
        keys.key("rsa-1")
    with pytest.raises(errors.Unavailable):
        keys.key("rsa-1")
    assert provider.fetches == 1


def test_oidc_settings_are_all_or_nothing():
    full = {
        "MLGOV_OIDC_ISSUER": ISSUER,
        "MLGOV_OIDC_AUDIENCE": AUDIENCE,
        "MLGOV_OIDC_JWKS": "https://idp/jwks",
    }
    assert load_oidc_settings({}) is None
    loaded = load_oidc_settings(full)
    assert loaded is not None and loaded.jwks_is_url
    assert (loaded.user_claim, loaded.leeway_s) == ("preferred_username", 60)
    tuned = load_oidc_settings(full | {"MLGOV_OIDC_USER_CLAIM": "upn", "MLGOV_OIDC_LEEWAY_S": "5"})
    assert tuned is not None and (tuned.user_claim, tuned.leeway_s) == ("upn", 5)
    for missing in full:
        partial = {k: v for k, v in full.items() if k != missing}
        with pytest.raises(errors.BadInput, match=f"^{missing} is not set"):
            load_oidc_settings(partial)
    for leeway in ("-1", "301", "a minute"):
        with pytest.raises(errors.BadInput, match="MLGOV_OIDC_LEEWAY_S"):
            load_oidc_settings(full | {"MLGOV_OIDC_LEEWAY_S": leeway})


def test_a_jwt_when_oidc_is_off_is_refused_like_any_bad_token(rs, caplog):
    from mlgov.server import auth

    throttle = auth.FailureThrottle(limit=1)
    token = rs.token()
    with pytest.raises(errors.NotAuthenticated) as refused:
        # No verifier: nothing is verified, and the store is never opened for it.
        auth.authenticate(None, throttle, f"Bearer {token}", "10.0.0.1")  # type: ignore[arg-type]
    assert "not authenticated: the token is unknown, expired or revoked" == str(refused.value)
    assert "OIDC is not configured" in caplog.text and token not in caplog.text
    with pytest.raises(auth.TooManyFailures):
        throttle.check("10.0.0.1")


def test_a_plain_http_jwks_url_off_this_host_is_warned_about(caplog):
    on = OidcSettings(ISSUER, AUDIENCE, "http://idp.bank.test/jwks")
    assert isinstance(oidc.verifier(on).keys, oidc.UrlKeys)  # nothing fetched yet
    assert "plain http" in caplog.text
    caplog.clear()
    oidc.verifier(OidcSettings(ISSUER, AUDIENCE, "http://127.0.0.1:9/jwks"))
    oidc.verifier(OidcSettings(ISSUER, AUDIENCE, "https://idp.bank.test/jwks"))
    assert "plain http" not in caplog.text


# --- through a real server ---------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(home: Path, user: str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--home", str(home), "--user", user, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def _oidc_env(jwks_source: str) -> dict[str, str]:
    return {
        "MLGOV_OIDC_ISSUER": ISSUER,
        "MLGOV_OIDC_AUDIENCE": AUDIENCE,
        "MLGOV_OIDC_JWKS": jwks_source,
    }


def _new_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("oidc") / "home"
    _cli(home, "admin", "init")
    for name, role in (("rita", "risk_officer"), ("sam", "data_scientist")):
        _cli(home, "admin", "users", "add", name, "--role", role)
    _cli(home, "admin", "users", "add", "gone", "--role", "auditor")
    _cli(home, "admin", "users", "remove", "gone")
    return home


def _start(home: Path, jwks_source: str, *options: str) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    env = {**os.environ, "MLGOV_HOME": str(home), **_oidc_env(jwks_source)}
    proc = subprocess.Popen(
        [*MLGOV, "server", "--port", str(port), *options],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/openapi.json", timeout=1)
            return proc, base
        except httpx.TransportError:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("the server did not start")


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    return proc.communicate(timeout=20)[0]


@pytest.fixture(scope="module")
def server(tmp_path_factory, rs, es):
    home = _new_home(tmp_path_factory)
    jwks_file = home.parent / "jwks.json"
    jwks_file.write_text(json.dumps(jwks(rs, es)))
    jwks_file.chmod(0o644)  # whatever the umask: group and others may not write it
    proc, base = _start(home, str(jwks_file))
    presented: list[str] = []
    yield {"base": base, "home": home, "presented": presented}
    output = _stop(proc)
    if os.environ.get("SHOW_SERVER_LOG"):
        print(output)
    # Failures are logged with their reason; no presented token, nor its payload, ever is.
    assert "OIDC token refused: expired" in output
    assert "OIDC token refused: wrong audience" in output
    for token in presented:
        assert token not in output
        if oidc.looks_like_jwt(token):
            assert token.split(".")[1] not in output


_ADDRESS = itertools.count()


def _call(
    server, method: str, path: str, token: str | None, *, address: str | None = None, **kw
) -> httpx.Response:
    """A request with `token`, from a loopback address of its own unless one is given, so
    that failed attempts of one test do not reach the throttle's limit for another."""
    if token is not None:
        server["presented"].append(token)
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    n = next(_ADDRESS)
    source = address or f"127.{9 + n // 250}.9.{2 + n % 250}"
    with httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=10) as c:
        return c.request(method, server["base"] + path, headers=headers, **kw)


slow = pytest.mark.slow


@slow
def test_valid_tokens_sign_in_with_mlgov_roles(server, rs, es):
    rita = _call(server, "GET", "/whoami", rs.token("rita", roles=["admin"], groups=["admin"]))
    assert rita.status_code == 200, rita.text
    body = rita.json()
    assert (body["name"], body["identified_by"]) == ("rita", "oidc")
    assert body["roles"] == ["risk_officer"]  # mlgov's table; the token's "roles" play no part
    assert body["credential"].startswith("oidc:sub-rita:")
    sam = _call(server, "GET", "/whoami", es.token("sam", jti=None))
    assert sam.status_code == 200, sam.text
    assert (sam.json()["name"], sam.json()["roles"]) == ("sam", ["data_scientist"])
    assert sam.json()["credential"] == "oidc:sub-sam:-"
    # A personal token still works beside OIDC.
    secret = json.loads(
        _cli(server["home"], "admin", "tokens", "create", "rita", "--format", "json")
    )["token"]
    assert _call(server, "GET", "/whoami", secret).json()["identified_by"] == "token"


@slow
def test_every_refused_token_gets_the_same_answer(server, rs, es):
    reference = _call(server, "GET", "/whoami", "mlgov_00000000_" + "a" * 43)
    assert reference.status_code == 401
    cases = {name: token for name, (token, _) in _failures(rs, es).items()}
    cases["user not in mlgov"] = rs.token("mallory")
    cases["removed user"] = rs.token("gone")
    cases["malformed user name"] = rs.token("bad name!")
    for name, token in cases.items():
        r = _call(server, "GET", "/whoami", token)
        assert r.status_code == 401, (name, r.text)
        assert r.content == reference.content, name
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["www-authenticate"] == "Bearer"


@slow
def test_a_state_change_by_jwt_records_the_subject_and_jti(server, rs):
    token = rs.token("admin", sub="8d1f-admin-subject", jti="jti-42")
    added = _call(
        server,
        "POST",
        "/users",
        token,
        json={"name": "olga", "roles": ["auditor"]},
        address="127.0.6.1",
    )
    assert added.status_code == 201, added.text
    events = _call(server, "GET", "/audit/events", token, params={"action": "user.add"}).json()
    event = next(e for e in events["items"] if e["subject"] == "user:olga")
    assert event["actor"] == "admin"
    assert event["payload"]["via"] == {
        "identified_by": "oidc",
        "credential": "oidc:8d1f-admin-subject:jti-42",
        "address": "127.0.6.1",
        "request_id": added.headers["x-request-id"],
    }
    verified = _call(server, "GET", "/audit/verification", token).json()
    assert verified["ok"] is True


@slow
def test_a_removed_user_is_refused_on_the_next_request(server, rs):
    _cli(server["home"], "admin", "users", "add", "temp", "--role", "auditor")
    token = rs.token("temp")
    assert _call(server, "GET", "/whoami", token).status_code == 200
    _cli(server["home"], "admin", "users", "remove", "temp")
    assert _call(server, "GET", "/whoami", token).status_code == 401


@slow
def test_failed_jwts_from_one_address_are_throttled(server, rs):
    address = "127.0.8.1"
    expired = rs.token(exp=int(time.time()) - 3600, iat=None, nbf=None)
    statuses = [_call(server, "GET", "/whoami", expired, address=address) for _ in range(11)]
    assert [r.status_code for r in statuses[:10]] == [401] * 10
    assert statuses[10].status_code == 429
    # A valid token from that address waits too; another address is not affected.
    assert _call(server, "GET", "/whoami", rs.token(), address=address).status_code == 429
    assert _call(server, "GET", "/whoami", rs.token()).status_code == 200


@slow
@pytest.mark.parametrize(
    ("unset", "extra"),
    [("MLGOV_OIDC_AUDIENCE", {}), ("MLGOV_OIDC_JWKS", {}), (None, {"MLGOV_OIDC_LEEWAY_S": "9999"})],
)
def test_a_partial_or_bad_configuration_stops_the_server(tmp_path, unset, extra):
    home = tmp_path / "home"
    _cli(home, "admin", "init")
    env = {k: v for k, v in _oidc_env(str(tmp_path / "jwks.json")).items() if k != unset}
    result = subprocess.run(
        [*MLGOV, "server", "--port", str(_free_port())],
        env={**os.environ, "MLGOV_HOME": str(home), **env, **extra},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert (unset or "MLGOV_OIDC_LEEWAY_S") in result.stderr
    assert "Traceback" not in result.stderr


@slow
def test_a_missing_jwks_file_stops_the_server(tmp_path):
    home = tmp_path / "home"
    _cli(home, "admin", "init")
    result = subprocess.run(
        [*MLGOV, "server", "--port", str(_free_port())],
        env={**os.environ, "MLGOV_HOME": str(home), **_oidc_env(str(tmp_path / "none.json"))},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "MLGOV_OIDC_JWKS" in result.stderr, result.stderr


# --- JWKS from a URL ---------------------------------------------------------------------


class JwksServer:
    """The identity provider's JWKS endpoint on 127.0.0.1, counting its fetches."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document, self.fetches = document, 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                outer.fetches += 1
                body = json.dumps(outer.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@slow
def test_jwks_by_url_accepts_a_rotated_key_after_one_refetch(tmp_path_factory, rs, es):
    provider = JwksServer(jwks(rs))
    home = _new_home(tmp_path_factory)
    proc, base = _start(home, provider.url)
    try:
        state = {"base": base, "presented": []}
        assert _call(state, "GET", "/whoami", rs.token("rita")).status_code == 200
        assert _call(state, "GET", "/whoami", rs.token("rita")).status_code == 200
        assert provider.fetches == 1  # cached, not fetched per request
        provider.document = jwks(rs, es)  # the provider publishes a new key
        rotated = _call(state, "GET", "/whoami", es.token("sam"))
        assert rotated.status_code == 200, rotated.text
        assert rotated.json()["identified_by"] == "oidc" and provider.fetches == 2
        for kid in ("made-up-1", "made-up-2", "made-up-3"):
            assert _call(state, "GET", "/whoami", rs.token(kid=kid)).status_code == 401
        assert provider.fetches == 2  # unknown kids do not make the server fetch again
    finally:
        output = _stop(proc)
        provider.close()
    assert "unknown key id 'made-up-1'" in output


@slow
def test_several_workers_verify_jwts_too(tmp_path_factory, rs, es):
    home = _new_home(tmp_path_factory)
    jwks_file = home.parent / "jwks.json"
    jwks_file.write_text(json.dumps(jwks(rs, es)))
    jwks_file.chmod(0o644)  # whatever the umask: group and others may not write it
    proc, base = _start(home, str(jwks_file), "--workers", "2")
    try:
        state = {"base": base, "presented": []}
        for _ in range(4):  # whichever worker answers
            me = _call(state, "GET", "/whoami", es.token("sam"))
            assert me.status_code == 200 and me.json()["identified_by"] == "oidc", me.text
            assert _call(state, "GET", "/whoami", rs.token(aud="other")).status_code == 401
    finally:
        _stop(proc)


@slow
def test_an_unreachable_jwks_url_is_503_and_personal_tokens_still_work(tmp_path_factory, rs):
    home = _new_home(tmp_path_factory)
    secret = json.loads(_cli(home, "admin", "tokens", "create", "rita", "--format", "json"))
    proc, base = _start(home, f"http://127.0.0.1:{_free_port()}/jwks.json")
    try:
        state = {"base": base, "presented": []}
        address = "127.0.7.1"
        for _ in range(12):  # not the caller's fault: not counted towards the throttle
            down = _call(state, "GET", "/whoami", rs.token(), address=address)
            assert down.status_code == 503, down.text
            assert down.headers["content-type"] == "application/problem+json"
        mine = _call(state, "GET", "/whoami", secret["token"], address=address)
        assert mine.status_code == 200 and mine.json()["identified_by"] == "token"
    finally:
        output = _stop(proc)
    assert "could not be fetched: ConnectError" in output
