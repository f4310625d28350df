"""OIDC bearer tokens: JWTs from the bank's identity provider (ADFS, Keycloak, Azure AD).

This is transport-level authentication, like reading the Authorization header: it proves
that the provider signed the token for us (signature, issuer, audience, times). Whether the
named user is one of mlgov's, and with which roles, is decided by mlgov.api from mlgov's own
table; nothing in a token's claims grants a role.

The algorithm is never the token's to choose: only RS256 and ES256 are accepted, each only
with a key of its own type from the provider's JWKS, picked by `kid`. `alg: none`, every
HMAC algorithm and anything else are refused before any key is looked up, so a public key
can never be used as an HMAC secret. Keys named in the token itself (`jku`, `x5u`, `jwk`)
are never fetched or used.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeGuard

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mlgov.api import errors
from mlgov.config import OidcSettings

log = logging.getLogger("mlgov.server.oidc")

# The accepted algorithms and the key type each must be verified with.
ALGORITHMS: dict[str, str] = {"RS256": "RSA", "ES256": "EC"}
MAX_TOKEN_CHARS = 8192  # a provider's access token is 1-2 KB; more is not worth parsing
MIN_RSA_BITS = 2048
MAX_JWKS_BYTES = 1024 * 1024
_MAX_ID_CHARS = 255  # sub and jti go into audit events
_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def looks_like_jwt(credential: str) -> bool:
    """Three base64url parts: a JWT. mlgov's own tokens (`mlgov_<prefix>_<secret>`) have no
    dots, so the shape alone tells the two apart, before anything is verified."""
    return _JWT_SHAPE.fullmatch(credential) is not None


class Refused(Exception):
    """A token that proves no one. The reason is for the server's log, never the client's
    answer (which is the same for every failure); it never contains the token."""


@dataclass(frozen=True)
class VerifiedToken:
    """What a verified token says: the mlgov user it names, and who the provider says it is."""

    user: str
    subject: str
    jti: str | None


@dataclass(frozen=True)
class Key:
    alg: str
    key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey


class KeySource(Protocol):
    def key(self, kid: str) -> Key | None:
        """The signing key with this id, or None if the provider publishes none."""
        ...


def shown(value: object) -> str:
    """A value from a token, safe to log: quoted (no line breaks) and short."""
    return repr(value)[:80]


def parse_jwks(document: Any) -> dict[str, Key]:
    """The RS256/ES256 signing keys of a JWKS document, by kid. Keys without a kid, not for
    signatures, of another type or algorithm, with private parts, or weaker than 2048-bit RSA
    or P-256 are left out: they cannot verify a token we accept."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document: no 'keys' list")
    keys: dict[str, Key] = {}
    for entry in document["keys"]:
        key = _signing_key(entry)
        if key is not None and entry["kid"] not in keys:
            keys[entry["kid"]] = key
    return keys


def _signing_key(entry: Any) -> Key | None:
    if not isinstance(entry, dict):
        return None
    kid, kty = entry.get("kid"), entry.get("kty")
    if not isinstance(kid, str) or not kid or entry.get("use", "sig") != "sig" or "d" in entry:
        return None
    alg = entry.get("alg") or {"RSA": "RS256", "EC": "ES256"}.get(str(kty))
    if alg not in ALGORITHMS or ALGORITHMS[alg] != kty:
        return None
    try:
        loaded = jwt.PyJWK(entry, algorithm=alg).key
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    if alg == "RS256" and isinstance(loaded, rsa.RSAPublicKey):
        return Key(alg, loaded) if loaded.key_size >= MIN_RSA_BITS else None
    if (
        alg == "ES256"
        and isinstance(loaded, ec.EllipticCurvePublicKey)
        and isinstance(loaded.curve, ec.SECP256R1)
    ):
        return Key(alg, loaded)
    return None


class FileKeys:
    """Keys from a JWKS file: read at start (a missing or unusable file, or one that group or
    others may write, stops the server there, with the reason) and again whenever the file
    changes, so keys are rotated by replacing the file. A file that cannot be used later
    (half-written, say) keeps the keys read before, with a warning in the log."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            self._stamp, self._keys = self._read()
        except (OSError, ValueError) as exc:
            raise errors.BadInput(f"MLGOV_OIDC_JWKS {path}: {_reason(exc)}") from None
        if not self._keys:
            raise errors.BadInput(
                f"MLGOV_OIDC_JWKS {path}: no usable RS256 or ES256 signing key with a kid"
            )

    def _stat(self) -> tuple[int, ...]:
        """What changes when the file is rewritten, or its permissions are."""
        st = self.path.stat()
        return st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_mode

    def _read(self) -> tuple[tuple[int, ...], dict[str, Key]]:
        stamp = self._stat()
        if stamp[3] & 0o022:
            # Whoever may write the file may add a key and sign in as any mlgov user.
            raise ValueError("writable by group or others (chmod go-w)")
        if stamp[2] > MAX_JWKS_BYTES:
            raise ValueError("larger than 1 MB")
        return stamp, parse_jwks(json.loads(self.path.read_text(encoding="utf-8")))

    def _stat_or(self, known: tuple[int, ...]) -> tuple[int, ...]:
        try:
            return self._stat()
        except OSError:
            return known

    def key(self, kid: str) -> Key | None:
        with self._lock:
            try:
                changed = self._stat() != self._stamp
            except OSError:
                changed = False
                log.warning("JWKS file %s cannot be read: keeping the keys read before", self.path)
            if changed:
                try:
                    self._stamp, self._keys = self._read()
                except (OSError, ValueError) as exc:
                    self._stamp = self._stat_or(self._stamp)  # warn once per change
                    log.warning(
                        "JWKS file %s unusable (%s): keeping the keys read before",
                        self.path,
                        _reason(exc),
                    )
            return self._keys.get(kid)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return "not JSON"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return str(exc) or type(exc).__name__


Fetch = Callable[[str, float], Any]


def fetch_jwks(url: str, timeout_s: float) -> Any:
    """GET the provider's JWKS: certificates verified, no redirects, at most 1 MB."""
    import httpx

    with httpx.stream("GET", url, timeout=timeout_s, follow_redirects=False) as response:
        response.raise_for_status()
        body = b""
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > MAX_JWKS_BYTES:
                raise ValueError("the JWKS is larger than 1 MB")
    return json.loads(body)


class UrlKeys:
    """Keys from the provider's JWKS URL, cached for `ttl_s`. An unknown kid fetches again at
    once (the provider rotated its keys), but at most once per `refetch_every_s`, so a stream
    of made-up kids cannot turn the server into a fetch loop against the provider. A failed
    fetch keeps the keys fetched before and is retried no sooner than `refetch_every_s`."""

    def __init__(
        self,
        url: str,
        *,
        ttl_s: float = 600.0,
        refetch_every_s: float = 30.0,
        timeout_s: float = 5.0,
        fetch: Fetch = fetch_jwks,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url, self.ttl_s, self.refetch_every_s, self.timeout_s = (
            url,
            ttl_s,
            refetch_every_s,
            timeout_s,
        )
        self._fetch, self._clock = fetch, clock
        self._lock = threading.Lock()
        self._keys: dict[str, Key] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._failed_at: float | None = None  # last failed fetch
        self._forced_at: float | None = None  # last fetch for an unknown kid

    def _recently(self, then: float | None, now: float) -> bool:
        return then is not None and now - then < self.refetch_every_s

    def _refresh(self, now: float) -> None:
        try:
            keys = parse_jwks(self._fetch(self.url, self.timeout_s))
        except Exception as exc:  # any failure of the provider keeps the keys we have
            self._failed_at = now
            log.warning("JWKS %s could not be fetched: %s", self.url, type(exc).__name__)
            return
        if not keys:
            self._failed_at = now
            log.warning("JWKS %s has no usable RS256 or ES256 signing key", self.url)
            return
        self._keys, self._fetched_at, self._failed_at = keys, now, None

    def key(self, kid: str) -> Key | None:
        with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at >= self.ttl_s
            if stale and not self._recently(self._failed_at, now):
                self._refresh(now)
            found = self._keys.get(kid)
            if found is None and not self._recently(self._forced_at, now):
                if not self._recently(self._failed_at, now):
                    self._forced_at = now
                    self._refresh(now)
                    found = self._keys.get(kid)
            if found is None and self._fetched_at is None:
                # Not the caller's fault: no key has ever been fetched (503, retry-able).
                raise errors.Unavailable("the identity provider's signing keys are unavailable")
            return found


class Verifier:
    """Checks a JWT against the configured provider; `verify` returns what it proves or
    raises Refused with the reason for the log."""

    def __init__(self, settings: OidcSettings, keys: KeySource) -> None:
        self.settings, self.keys = settings, keys

    def verify(self, token: str) -> VerifiedToken:
        if len(token) > MAX_TOKEN_CHARS:
            raise Refused(f"token longer than {MAX_TOKEN_CHARS} characters")
        key = self._key_for(_header(token))
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[key.alg],  # the key's own algorithm, checked against the header
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_s,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise Refused(_claim_failure(exc)) from None
        return self._identity(claims)

    def _key_for(self, header: dict[str, Any]) -> Key:
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise Refused(f"algorithm {shown(alg)} is not accepted (only RS256 and ES256)")
        if "crit" in header:
            raise Refused("critical header extensions are not supported")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Refused("no key id (kid) in the header")
        key = self.keys.key(kid)
        if key is None:
            raise Refused(f"unknown key id {shown(kid)}")
        if key.alg != alg:
            raise Refused(f"key {shown(kid)} is for {key.alg}, the token says {alg}")
        return key

    def _identity(self, claims: dict[str, Any]) -> VerifiedToken:
        claim = self.settings.user_claim
        user, subject, jti = claims.get(claim), claims.get("sub"), claims.get("jti")
        if not isinstance(user, str) or not user:
            raise Refused(f"no {claim} claim naming the user")
        if not _short_printable(subject):
            raise Refused("sub is not a short printable string")
        if jti is not None and not _short_printable(jti):
            raise Refused("jti is not a short printable string")
        return VerifiedToken(user, subject, jti)


def _header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Refused("malformed token") from None


def _short_printable(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) <= _MAX_ID_CHARS and value.isprintable()


def _claim_failure(exc: jwt.PyJWTError) -> str:
    """A fixed description of what failed: PyJWT's own messages are not logged, so no part
    of a token can reach the log through them."""
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "expired"
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "not yet valid (nbf or iat in the future)"
    if isinstance(exc, jwt.InvalidAudienceError):
        return "wrong audience"
    if isinstance(exc, jwt.InvalidIssuerError):
        return "wrong issuer"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"missing claim {shown(exc.claim)}"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "bad signature"
    return f"invalid token ({type(exc).__name__})"


def verifier(settings: OidcSettings) -> Verifier:
    """The verifier for the configured provider. A JWKS file is read now (BadInput if it is
    unusable, before the server binds its port); a URL is fetched on first use."""
    if settings.jwks_is_url:
        if _plain_http_elsewhere(settings.jwks):
            log.warning(
                "MLGOV_OIDC_JWKS %s is plain http: anyone on the path can substitute the "
                "identity provider's keys; use https",
                settings.jwks,
            )
        return Verifier(settings, UrlKeys(settings.jwks))
    return Verifier(settings, FileKeys(Path(settings.jwks).expanduser()))


def _plain_http_elsewhere(url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1")
