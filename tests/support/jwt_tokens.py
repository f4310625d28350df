"""JWTs for tests: a key pair of a test identity provider made here, the JWKS it publishes,
and the malformed tokens no library would make. No outside identity provider."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from mlgov.config import OidcSettings
from mlgov.server import oidc

ISSUER = "https://idp.bank.test/realms/models"
AUDIENCE = "mlgov"


# --- keys and tokens ---------------------------------------------------------------------


class Signer:
    """A key pair of the test's identity provider, and the JWK it publishes."""

    def __init__(self, alg: str, kid: str) -> None:
        self.alg, self.kid = alg, kid
        if alg == "RS256":
            self.private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            jwk = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        else:
            self.private = ec.generate_private_key(ec.SECP256R1())
            jwk = ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.jwk = jwk | {"kid": kid, "use": "sig", "alg": alg}

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def token(self, user: str | None = "rita", *, kid: str | None = None, **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": f"sub-{user}",
            "jti": uuid.uuid4().hex,
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "preferred_username": user,
        } | claims
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(
            payload, self.private, algorithm=self.alg, headers={"kid": kid or self.kid}
        )


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def claims_of(token: str) -> dict[str, Any]:
    return json.loads(unb64url(token.split(".")[1]))


def hand_made(header: dict[str, Any], payload: dict[str, Any], key: bytes | None = None) -> str:
    """A token no library would make: `alg: none` (no signature) or HS256 keyed with bytes."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    if key is None:
        return signing_input + "."
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def tampered_payload(token: str, **changes: Any) -> str:
    header, _, signature = token.split(".")
    payload = b64url(json.dumps(claims_of(token) | changes).encode())
    return f"{header}.{payload}.{signature}"


def tampered_signature(token: str) -> str:
    header, payload, signature = token.split(".")
    raw = bytearray(unb64url(signature))
    raw[len(raw) // 2] ^= 0x01
    return f"{header}.{payload}.{b64url(bytes(raw))}"


def jwks(*signers: Signer, extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"keys": [s.jwk for s in signers] + (extra or [])}


class StaticKeys:
    def __init__(self, document: dict[str, Any]) -> None:
        self.keys = oidc.parse_jwks(document)

    def key(self, kid: str) -> oidc.Key | None:
        return self.keys.get(kid)


def verifier(*signers: Signer, leeway_s: int = 0) -> oidc.Verifier:
    """A verifier for ISSUER/AUDIENCE that trusts these signers' keys."""
    settings = OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks="unused", leeway_s=leeway_s)
    return oidc.Verifier(settings, StaticKeys(jwks(*signers)))
