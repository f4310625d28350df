"""The authorization matrix (issue 18, item 5), generated from the app's own route table.

Every `APIRoute` under /api/v1 (the OpenAPI document is a plain route, not an operation) is
called with every bad credential, and once per role. `EXPECTED` below is the table of who may
do what, written out by hand from governance/roles.py's `PERMISSIONS` (an Action's roles) or,
where the rule is not an Action, stated explicitly; a route missing from it fails
`test_the_table_lists_every_route`, so a new endpoint cannot skip the matrix.

The calls go in-process through `TestClient` to the real app over a real SQLite store (see
support/server_home.py); `test_a_real_server_process` checks the same on one subprocess.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from support.jwt_tokens import (
    ISSUER,
    Signer,
    claims_of,
    hand_made,
    tampered_payload,
    tampered_signature,
    verifier,
)
from support.server_home import LEAVER, MODEL, ROLE_USERS, VICTIM, Governed, api_routes, operations

from mlgov.governance.roles import Action, Role, roles_for
from mlgov.server.app import PREFIX
from mlgov.server.deps import AuthenticatedRoute

pytestmark = pytest.mark.slow
ROLES = [r.value for r in Role]
assert sorted(ROLES) == sorted(ROLE_USERS)


OPERATIONS = operations()


# ---- what each route needs to reach its authorization check ------------------------------


@dataclass(frozen=True)
class Call:
    """How to call a route so that authorization, not missing input, decides the answer:
    path parameters naming objects that exist, a minimal valid body."""

    params: Callable[[Governed], dict[str, str]] = lambda g: {}
    query: dict[str, str] = field(default_factory=dict)
    body: Callable[[Governed, str], Any] | None = None  # (home, role) -> JSON body
    csv: bool = False  # the body is the reference CSV (uploads)


def _version(g: Governed) -> dict[str, str]:
    return {"model": MODEL, "version": g.version}


def _spare(g: Governed) -> dict[str, str]:
    return {"model": MODEL, "version": g.spare_version}


def _in_review(g: Governed) -> dict[str, str]:
    return {"model": MODEL, "version": g.in_review}


def _finding(g: Governed) -> dict[str, str]:
    return {"finding_id": str(g.finding_id)}


FINDING_KEEPERS = frozenset({Role.DATA_SCIENTIST, Role.RISK_OFFICER})


@dataclass(frozen=True)
class Expect:
    roles: frozenset[Role]
    call: Call = Call()
    why: str = ""  # when the roles are not an Action's


ANYONE = frozenset(Role)
ADMIN_ONLY = frozenset({Role.ADMIN})
V = f"{PREFIX}/models/{{model}}/versions/{{version}}"


def _by(action: Action, call: Call = Call()) -> Expect:
    return Expect(roles_for(action), call)


EXPECTED: dict[tuple[str, str], Expect] = {
    # identity, users, tokens, policy
    ("GET", f"{PREFIX}/whoami"): Expect(ANYONE, why="any proven caller may ask who they are"),
    ("GET", f"{PREFIX}/users"): _by(Action.READ),
    ("POST", f"{PREFIX}/users"): _by(
        Action.MANAGE_USERS,
        Call(body=lambda g, role: {"name": f"new-{role.replace('_', '-')}", "roles": ["auditor"]}),
    ),
    ("DELETE", f"{PREFIX}/users/{{name}}"): _by(
        Action.MANAGE_USERS, Call(params=lambda g: {"name": LEAVER})
    ),
    ("GET", f"{PREFIX}/tokens"): Expect(ANYONE, why="without ?user=, a caller's own tokens"),
    ("POST", f"{PREFIX}/tokens"): Expect(
        ADMIN_ONLY,
        Call(body=lambda g, role: {"user": VICTIM, "name": f"by-{role}", "expires_days": 1}),
        why="a token for someone else: only an admin (anyone may make their own)",
    ),
    ("DELETE", f"{PREFIX}/tokens/{{token_id}}"): Expect(
        ADMIN_ONLY,
        Call(params=lambda g: {"token_id": str(g.victim_token_id)}),
        why="someone else's token: only an admin (anyone may revoke their own)",
    ),
    ("GET", f"{PREFIX}/policy"): _by(Action.READ),
    ("GET", f"{PREFIX}/policy/history"): _by(Action.READ),
    # An unknown tier: refused as bad input for an admin, so the matrix's policy stays as is.
    ("PUT", f"{PREFIX}/policy"): _by(
        Action.MANAGE_POLICY,
        Call(body=lambda g, role: {"document": "[tiers.nosuch]\n", "source": "matrix"}),
    ),
    # models and versions
    ("GET", f"{PREFIX}/models"): _by(Action.READ),
    ("GET", f"{PREFIX}/models/{{model}}"): _by(
        Action.READ, Call(params=lambda g: {"model": MODEL})
    ),
    ("GET", V): _by(Action.READ, Call(params=_version)),
    ("GET", f"{V}/gate"): _by(Action.READ, Call(params=_version, query={"to": "train"})),
    ("POST", f"{V}/moves"): Expect(
        roles_for(Action.PROMOTE_TRAIN),
        Call(params=_version, body=lambda g, role: {"to": "train"}),
        why="a move's Action depends on its target stage: into train, PROMOTE_TRAIN",
    ),
    ("POST", f"{PREFIX}/models/{{model}}/versions"): _by(
        Action.REGISTER,
        Call(
            params=lambda g: {"model": MODEL},
            body=lambda g, role: {"risk_tier": "low", "purpose": "matrix", "run_id": g.run_id},
        ),
    ),
    ("POST", f"{V}/tier-confirmation"): _by(
        Action.APPROVE, Call(params=_version, body=lambda g, role: {"reason": "matrix"})
    ),
    ("POST", f"{V}/retirement"): _by(
        Action.RETIRE, Call(params=_spare, body=lambda g, role: {"reason": "matrix"})
    ),
    ("GET", f"{PREFIX}/stale-versions"): _by(Action.READ),
    ("POST", f"{PREFIX}/stale-versions/retirement"): _by(
        Action.RETIRE, Call(body=lambda g, role: {"model": MODEL})
    ),
    ("POST", f"{PREFIX}/reconciliation"): _by(
        Action.RECONCILE, Call(body=lambda g, role: {"check_artifacts": False})
    ),
    # evidence
    ("GET", f"{V}/card"): _by(Action.READ, Call(params=_version)),
    ("PUT", f"{V}/card"): _by(
        Action.EDIT_EVIDENCE,
        Call(params=_version, body=lambda g, role: {"fields": {"intended_use": "matrix"}}),
    ),
    ("PUT", f"{V}/reference"): _by(Action.EDIT_EVIDENCE, Call(params=_version, csv=True)),
    ("POST", f"{V}/drift-checks"): _by(Action.MONITOR, Call(params=_version, csv=True)),
    ("GET", f"{V}/drift-checks"): _by(Action.READ, Call(params=_version)),
    ("GET", f"{V}/drift-checks/{{result_id}}/report"): _by(
        Action.READ, Call(params=lambda g: _version(g) | {"result_id": "1"})
    ),
    ("POST", f"{V}/review-acknowledgements"): _by(
        Action.ACK_REVIEW, Call(params=_version, body=lambda g, role: {"comment": "matrix"})
    ),
    ("POST", f"{V}/evidence-packs"): _by(Action.READ, Call(params=_version)),
    # approvals
    ("POST", f"{V}/approval-requests"): _by(
        Action.REQUEST_APPROVAL, Call(params=_version, body=lambda g, role: {})
    ),
    ("GET", f"{V}/approval-request"): _by(Action.READ, Call(params=_in_review)),
    ("POST", f"{V}/approval-request/decisions"): Expect(
        roles_for(Action.APPROVE),
        Call(params=_in_review, body=lambda g, role: {"decision": "approve"}),
        why="the policy's approver role (risk_officer for every tier by default)",
    ),
    ("GET", f"{V}/approval-binding"): _by(Action.READ, Call(params=_in_review)),
    ("GET", f"{PREFIX}/approval-requests"): _by(Action.READ),
    # deployments
    ("GET", f"{PREFIX}/deployments"): _by(Action.READ),
    ("POST", f"{PREFIX}/deployments"): _by(
        Action.DEPLOY, Call(body=lambda g, role: {"model": MODEL, "version": g.version})
    ),
    ("POST", f"{PREFIX}/targets/{{target}}/rollback"): _by(
        Action.OPERATE, Call(params=lambda g: {"target": MODEL})
    ),
    ("POST", f"{PREFIX}/targets/{{target}}/undeploy"): _by(
        Action.OPERATE, Call(params=lambda g: {"target": MODEL}, body=lambda g, role: {})
    ),
    # inventory, monitoring, audit
    ("GET", f"{PREFIX}/inventory"): _by(Action.READ),
    ("POST", f"{PREFIX}/monitoring/runs"): _by(Action.MONITOR),
    ("POST", f"{PREFIX}/targets/{{target}}/performance-checks"): _by(
        Action.MONITOR, Call(params=lambda g: {"target": MODEL}, csv=True)
    ),
    ("GET", f"{PREFIX}/audit/events"): _by(Action.READ),
    ("GET", f"{PREFIX}/audit/verification"): _by(Action.VERIFY_AUDIT),
    ("POST", f"{PREFIX}/audit/checkpoints"): _by(Action.VERIFY_AUDIT),
    ("GET", f"{PREFIX}/audit/export"): _by(Action.READ),
    # findings (a low one on the version, owned by its registrant dana, the data scientist)
    ("GET", f"{PREFIX}/findings"): _by(Action.READ),
    ("POST", f"{PREFIX}/findings"): _by(
        Action.RAISE_FINDING,
        Call(
            body=lambda g, role: {
                "model": MODEL,
                "version": g.version,
                "severity": "low",
                "title": f"by {role}",
            }
        ),
    ),
    ("GET", f"{PREFIX}/findings/{{finding_id}}"): _by(Action.READ, Call(params=_finding)),
    ("POST", f"{PREFIX}/findings/{{finding_id}}/comments"): _by(
        Action.RAISE_FINDING, Call(params=_finding, body=lambda g, role: {"text": "matrix"})
    ),
    ("POST", f"{PREFIX}/findings/{{finding_id}}/assignment"): Expect(
        FINDING_KEEPERS,
        Call(params=_finding, body=lambda g, role: {"owner": ROLE_USERS["risk_officer"]}),
        why="the finding's owner, the model's owner or registrant (dana), or a risk officer",
    ),
    ("POST", f"{PREFIX}/findings/{{finding_id}}/closing"): Expect(
        FINDING_KEEPERS,
        Call(params=_finding, body=lambda g, role: {"resolution": "matrix"}),
        why="a low finding: its owner, the model's owner or registrant, or a risk officer",
    ),
    ("POST", f"{PREFIX}/findings/{{finding_id}}/acceptances"): _by(
        Action.ACCEPT_RISK,
        Call(params=_finding, body=lambda g, role: {"reason": "matrix", "until": "2099-01-01"}),
    ),
}


def _request(
    client: Any, g: Governed, op: tuple[str, str], headers: dict[str, str], role: str = "admin"
) -> httpx.Response:
    method, template = op
    call = EXPECTED[op].call if op in EXPECTED else Call()
    path = template.format(**call.params(g)) if "{" in template else template
    kwargs: dict[str, Any] = {"params": call.query, "headers": dict(headers)}
    if call.csv:
        kwargs["content"] = g.reference_csv.read_bytes()
        kwargs["headers"]["Content-Type"] = "text/csv"
    elif call.body is not None:
        kwargs["json"] = call.body(g, role)
    return client.request(method, path, **kwargs)


def _shown(r: httpx.Response) -> str:
    """A response for a failure message, without any token secret it may carry."""
    return SECRET.sub("<token>", r.text[:300])


SECRET = re.compile(r"mlgov_[0-9a-f]{8}_[A-Za-z0-9_-]{43}")


# ---- credentials that prove no one ----------------------------------------------------------


@dataclass(frozen=True)
class BadCredential:
    """A request that proves no one. `header` makes the Authorization value (None: no header)
    from the test home; `family` names the 401 body it must give: "missing" when no bearer
    credential was presented, "refused" when one was and it proves no one (the same body for
    every reason, so a caller cannot tell unknown from expired or revoked).

    The matrix's app has OIDC on (IDP below), so the JWT cases run on every route too."""

    name: str
    header: Callable[[Governed], str | None]
    family: str = "refused"


def _tampered(g: Governed) -> str:
    token = g.tokens["admin"]  # the admin's real prefix, another secret
    return f"Bearer {token[:-6]}{'AAAAAA' if not token.endswith('AAAAAA') else 'BBBBBB'}"


BAD_CREDENTIALS: list[BadCredential] = [
    BadCredential("no Authorization header", lambda g: None, "missing"),
    BadCredential("empty header", lambda g: "", "missing"),
    BadCredential("scheme without a value", lambda g: "Bearer", "missing"),
    BadCredential("basic auth", lambda g: "Basic YWRhOmFkYQ==", "missing"),
    BadCredential("token without the scheme", lambda g: g.tokens["admin"], "missing"),
    BadCredential("malformed token", lambda g: "Bearer not-a-token"),
    BadCredential("unknown token", lambda g: "Bearer mlgov_00000000_" + "a" * 43),
    BadCredential("real prefix, wrong secret", _tampered),
    BadCredential("expired token", lambda g: f"Bearer {g.expired}"),
    BadCredential("revoked token", lambda g: f"Bearer {g.revoked}"),
    BadCredential("token of a removed user", lambda g: f"Bearer {g.of_removed_user}"),
    BadCredential("token with trailing garbage", lambda g: f"Bearer {g.tokens['admin']}x"),
    BadCredential("two tokens in one header", lambda g: f"Bearer {g.tokens['admin']} x"),
    # JWTs naming the admin, each wrong in one way; a fresh token (own jti) per request.
    BadCredential("JWT expired", lambda g: _jwt(exp=int(time.time()) - 120)),
    BadCredential("JWT not yet valid", lambda g: _jwt(nbf=int(time.time()) + 600)),
    BadCredential("JWT wrong issuer", lambda g: _jwt(iss=ISSUER + "/evil")),
    BadCredential("JWT wrong audience", lambda g: _jwt(aud="someone-else")),
    BadCredential("JWT without expiry", lambda g: _jwt(exp=None)),
    BadCredential("JWT tampered signature", lambda g: f"Bearer {tampered_signature(_raw())}"),
    BadCredential(
        "JWT tampered payload",
        lambda g: (
            f"Bearer {tampered_payload(_raw(ROLE_USERS['auditor']), preferred_username=ADMIN_NAME)}"
        ),
    ),
    BadCredential(
        "JWT alg none", lambda g: f"Bearer {hand_made({'alg': 'none', 'kid': IDP.kid}, _payload())}"
    ),
    BadCredential(
        "JWT HS256 keyed with the public key",
        lambda g: (
            f"Bearer {hand_made({'alg': 'HS256', 'kid': IDP.kid}, _payload(), IDP.public_pem)}"
        ),
    ),
    BadCredential("JWT signed by a key not published", lambda g: f"Bearer {STRANGER.token()}"),
    BadCredential("JWT of no mlgov user", lambda g: _jwt(user="nobody-here")),
    BadCredential("JWT of a removed user", lambda g: _jwt(user=REMOVED_USER)),
]


# The identity provider the matrix's app trusts, and one it does not.
IDP = Signer("RS256", "matrix-idp")
STRANGER = Signer("RS256", "matrix-idp")  # the same kid, another key


def _raw(user: str | None = None, **claims: Any) -> str:
    return IDP.token(user or ROLE_USERS["admin"], **claims)


def _jwt(user: str | None = None, **claims: Any) -> str:
    return f"Bearer {_raw(user, **claims)}"


def _payload() -> dict[str, Any]:
    return claims_of(_raw())


def _promoted(token: str) -> str:
    """The auditor's real token with the payload changed to name the admin."""
    return tampered_payload(token, preferred_username=ROLE_USERS["admin"])


PUBLIC_PEM = IDP.public_pem
REMOVED_USER = "gone"  # removed by the test home after a token was made for it


@pytest.fixture(scope="module")
def client(governed: Governed) -> Any:
    with governed.app(verifier=verifier(IDP)) as c:
        yield c


@pytest.fixture(scope="module")
def reference_bodies(client: Any, governed: Governed) -> dict[str, Any]:
    """The one 401 body of each family, as GET /whoami answers it."""
    bodies = {}
    for family, header in (("missing", None), ("refused", f"Bearer {governed.revoked}")):
        r = client.get(f"{PREFIX}/whoami", headers={"Authorization": header} if header else {})
        assert r.status_code == 401, r.text
        bodies[family] = r.json()
    assert bodies["missing"] != bodies["refused"]
    return bodies


def test_the_table_lists_every_route() -> None:
    unlisted = sorted(set(OPERATIONS) - set(EXPECTED))
    stale = sorted(set(EXPECTED) - set(OPERATIONS))
    assert not unlisted, f"routes the authorization matrix does not list: {unlisted}"
    assert not stale, f"the matrix lists routes the app does not serve: {stale}"
    assert len(OPERATIONS) >= 40


def test_every_operation_authenticates_before_reading_its_input() -> None:
    routes = api_routes()
    assert len(routes) >= 40
    for route, path in routes:
        assert isinstance(route, AuthenticatedRoute), path


@pytest.mark.parametrize("op", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_valid_credential_is_401_with_one_body(
    client: Any, governed: Governed, reference_bodies: dict[str, Any], op: tuple[str, str]
) -> None:
    wrong = []
    for bad in BAD_CREDENTIALS:
        value = bad.header(governed)
        headers = {} if value is None else {"Authorization": value}
        r = _request(client, governed, op, headers)
        if (
            r.status_code != 401
            or r.headers.get("content-type") != "application/problem+json"
            or r.headers.get("www-authenticate") != "Bearer"
            or r.json() != reference_bodies[bad.family]
        ):
            wrong.append(f"{bad.name}: {r.status_code} {_shown(r)}")
    assert not wrong, wrong


@pytest.mark.parametrize("op", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_an_unauthenticated_request_with_a_bad_body_is_401_not_422(
    client: Any, governed: Governed, op: tuple[str, str]
) -> None:
    method, template = op
    path = template.replace("{", "x").replace("}", "x")  # not even valid path parameters
    for credential in ({}, {"Authorization": f"Bearer {governed.expired}"}):
        for content in (b"{not json", b'{"unexpected": ["field"]}', b"\xff\xfe"):
            r = client.request(
                method,
                path,
                params={"limit": "-5", "to": "", "days": "x"},
                content=content,
                headers={"Content-Type": "application/json"} | credential,
            )
            assert r.status_code == 401, (content, r.status_code, r.text[:200])


@pytest.mark.parametrize("op", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_each_role_is_allowed_or_refused_as_the_table_says(
    client: Any, governed: Governed, op: tuple[str, str]
) -> None:
    expect = EXPECTED[op]
    # Refused roles first: an allowed call may change the state the others see.
    order = sorted(ROLES, key=lambda r: Role(r) in expect.roles)
    wrong = []
    for role in order:
        r = _request(client, governed, op, governed.bearer(role), role)
        allowed = Role(role) in expect.roles
        if r.status_code >= 500:
            wrong.append(f"{role}: server error {r.status_code} {_shown(r)}")
        elif allowed and r.status_code in (401, 403):
            wrong.append(f"{role} should be allowed: {r.status_code} {_shown(r)}")
        elif not allowed and (r.status_code != 403 or r.json()["title"] != "not permitted"):
            wrong.append(f"{role} should be refused: {r.status_code} {_shown(r)}")
    assert not wrong, wrong


# ---- identity is the token's, never a name the client sends -----------------------------


def test_a_token_acts_only_as_its_own_user(client: Any, governed: Governed) -> None:
    for role, name in ROLE_USERS.items():
        for other in ROLE_USERS.values():
            r = client.get(
                f"{PREFIX}/whoami",
                params={"user": other, "as": other},
                headers=governed.bearer(role)
                | {"X-Mlgov-User": other, "X-Forwarded-User": other, "X-Remote-User": other},
            )
            assert r.status_code == 200 and r.json()["name"] == name, (role, other, r.text)
            assert r.json()["credential"] == f"token:{governed.token_ids[role]}"
    # Two Authorization headers: neither the first nor the second is taken for another user.
    both = client.get(
        f"{PREFIX}/whoami",
        headers=[
            ("Authorization", f"Bearer {governed.tokens['auditor']}"),
            ("Authorization", f"Bearer {governed.tokens['admin']}"),
        ],
    )
    assert both.status_code in (200, 401)
    if both.status_code == 200:
        assert both.json()["name"] == ROLE_USERS["auditor"]


def test_what_a_token_does_is_recorded_as_its_user(client: Any, governed: Governed) -> None:
    r = client.post(
        f"{PREFIX}/tokens",
        json={"user": ROLE_USERS["auditor"], "name": "own"},
        headers=governed.bearer("auditor") | {"X-Mlgov-User": ADMIN_NAME},
    )
    assert r.status_code == 201 and r.json()["user"] == ROLE_USERS["auditor"], r.text
    events = client.get(
        f"{PREFIX}/audit/events",
        params={"action": "token.create", "limit": 1000},
        headers=governed.bearer("auditor"),
    ).json()["items"]
    mine = [e for e in events if e["subject"] == f"token:{r.json()['id']}"]
    assert len(mine) == 1 and mine[0]["actor"] == ROLE_USERS["auditor"]
    assert mine[0]["payload"]["via"]["credential"] == f"token:{governed.token_ids['auditor']}"


def test_a_jwt_acts_as_the_user_it_names(client: Any, governed: Governed) -> None:
    for role, name in ROLE_USERS.items():
        r = client.get(
            f"{PREFIX}/whoami", headers={"Authorization": _jwt(name), "X-Mlgov-User": ADMIN_NAME}
        )
        assert r.status_code == 200 and r.json()["name"] == name, (role, r.text)
        allowed = Role(role) in EXPECTED[("GET", f"{PREFIX}/audit/verification")].roles
        verify = client.get(f"{PREFIX}/audit/verification", headers={"Authorization": _jwt(name)})
        assert verify.status_code == (200 if allowed else 403), (role, verify.text[:200])


ADMIN_NAME = ROLE_USERS["admin"]


# ---- one real server process ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_real_server_process(governed: Governed) -> None:
    """The same answers from `mlgov server` on 127.0.0.1: a bad credential with a malformed
    body is 401, a refused role 403, an allowed one not; no secret in its output."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlgov.cli.main", "server", "--port", str(port)],
        env=governed.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}{PREFIX}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        bad = httpx.post(
            f"{base}/users",
            content=b"{not json",
            headers={"Authorization": f"Bearer {governed.expired}"},
        )
        assert bad.status_code == 401 and bad.headers["content-type"] == "application/problem+json"
        refused = httpx.post(
            f"{base}/users",
            json={"name": "x-by-auditor", "roles": ["auditor"]},
            headers=governed.bearer("auditor"),
        )
        assert refused.status_code == 403, refused.text
        me = httpx.get(f"{base}/whoami", headers=governed.bearer("risk_officer"))
        assert me.status_code == 200 and me.json()["name"] == ROLE_USERS["risk_officer"]
        # A client cannot pick its own address: a new X-Forwarded-For per attempt does not
        # escape the throttle (uvicorn trusts the header from 127.0.0.1 unless told not to).
        statuses = [
            httpx.get(
                f"{base}/whoami",
                headers={
                    "Authorization": f"Bearer {governed.revoked}",
                    "X-Forwarded-For": f"203.0.113.{i}",
                    "Forwarded": f"for=198.51.100.{i}",
                },
            ).status_code
            for i in range(12)
        ]
        assert statuses[0] == 401 and statuses[-1] == 429, statuses
    finally:
        proc.terminate()
        output = proc.communicate(timeout=20)[0]
    for secret in [*governed.tokens.values(), governed.expired]:
        assert secret not in output
