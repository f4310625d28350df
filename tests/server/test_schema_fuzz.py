"""schemathesis against the authenticated API (issue 18, item 5): every operation of the
published OpenAPI document, with an admin's token and a risk officer's, in-process over a
real SQLite home of its own (the fuzzer changes state: users, tokens, retirements).

Each generated case is sent with one of the two tokens, in turn, and must give no 5xx, a
documented status, a documented content type, and a body and headers that match the document.
`MLGOV_FUZZ_EXAMPLES` sets the examples per operation and generation mode (default 14, about
1,100 cases in all); benchmarks/api_fuzz.py runs the same with many more.

Nothing is skipped. Two operations change what the fuzzer itself stands on, and are handled:
- DELETE /tokens/{token_id}: a generated id may be the fuzzer's own token; when a case
  revokes it, a new one is made (counted in `REMINTED`), so later cases still authenticate.
- DELETE /users/{name}: the fuzzing users have names no generator guesses (see FUZZ_USERS).
Deploy, rollback and undeploy cannot start a BentoML build here: neither role may deploy or
operate (segregation of duties), so they are fuzzed up to their 403.
"""

from __future__ import annotations

import collections
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from support.server_home import MODEL, ROLE_USERS, Governed, build, operations

from mlgov.api import Actor, Platform
from mlgov.api import tokens as tokens_api
from mlgov.server.app import PREFIX

pytestmark = pytest.mark.slow
DEFAULT_EXAMPLES = 14
EXAMPLES = int(os.environ.get("MLGOV_FUZZ_EXAMPLES", DEFAULT_EXAMPLES))
FUZZ_ROLES = ("admin", "risk_officer")
OPERATIONS = operations()


@dataclass
class Fuzzing:
    governed: Governed
    schema: Any
    tokens: dict[str, str]
    token_ids: dict[str, int]
    cases: int = 0
    requests: int = 0
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    operations: set[tuple[str, str]] = field(default_factory=set)
    reminted: int = 0
    seconds: float = 0.0

    def secrets(self) -> list[str]:
        return [*self.tokens.values(), *self.governed.tokens.values()]

    def remint(self, role: str) -> None:
        """The fuzzer revoked its own token: make a new one, as its user would."""
        g = self.governed
        with mock.patch.dict(os.environ, g.env, clear=True):
            p = Platform(g.settings)
            made = tokens_api.create_token(p, Actor.asserted("ada"), ROLE_USERS[role], name="fuzz")
            p.governance().store.engine.dispose()
        self.tokens[role], self.token_ids[role] = made.token, made.id
        self.reminted += 1


@pytest.fixture(scope="module")
def fuzzing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzing]:
    import schemathesis

    from mlgov.config import load_settings
    from mlgov.server.app import create_app
    from mlgov.server.auth import FailureThrottle

    for g in build(tmp_path_factory.mktemp("fuzz")):
        app = create_app(
            lambda home=str(g.home): load_settings(home=home),
            throttle=FailureThrottle(limit=10**9),
        )
        schema = schemathesis.openapi.from_asgi(f"{PREFIX}/openapi.json", app)
        state = Fuzzing(
            g,
            schema,
            tokens={r: g.tokens[r] for r in FUZZ_ROLES},
            token_ids={r: g.token_ids[r] for r in FUZZ_ROLES},
        )
        with mock.patch.dict(os.environ, g.env, clear=True):
            yield state
        summary = {
            "cases": state.cases,
            "requests": state.requests,
            "operations": len(state.operations),
            "request_seconds": round(state.seconds, 1),
            "statuses": {str(k): v for k, v in sorted(state.statuses.items())},
            "token_reminted": state.reminted,
            "examples_per_mode": EXAMPLES,
        }
        if report := os.environ.get("MLGOV_FUZZ_REPORT"):  # benchmarks/api_fuzz.py reads it
            Path(report).write_text(json.dumps(summary))
        print(
            f"\nschema fuzz: {state.cases} cases, {state.requests} requests over "
            f"{len(state.operations)} operations in {state.seconds:.1f} s; statuses "
            f"{dict(sorted(state.statuses.items()))}; own token re-made {state.reminted} times"
        )


def _checks() -> list[Any]:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    return [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]


def _scrubbed(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "<token>")
    return text


def _strategy(fuzz: Fuzzing, method: str, path: str) -> Any:
    from schemathesis import GenerationMode

    operation = fuzz.schema[path][method]
    strategies = [operation.as_strategy(generation_mode=m) for m in GenerationMode]
    if "{model}" in path:
        # Also aim at a version that exists, so cases get past "not found".
        pinned = {"model": MODEL}
        if "{version}" in path:
            pinned["version"] = fuzz.governed.in_review
        strategies.append(operation.as_strategy(path_parameters=pinned))
    return st.one_of(strategies)


@pytest.mark.parametrize("op", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_the_api_answers_as_its_schema_says(fuzzing: Fuzzing, op: tuple[str, str]) -> None:
    method, path = op
    checks = _checks()
    strategy = _strategy(fuzzing, method, path)
    fuzzing.operations.add(op)

    @settings(
        max_examples=EXAMPLES * 2,  # positive and negative, shared with the pinned cases
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def fuzz(case: Any) -> None:
        # Each case with one of the tokens, in turn: half the cases as each role.
        role = FUZZ_ROLES[fuzzing.cases % len(FUZZ_ROLES)]
        fuzzing.cases += 1
        # The document declares the bearer scheme, so schemathesis generates Authorization
        # headers of its own (mostly invalid ones, 401): the matrix covers those; here every
        # case carries the role's real token.
        case.headers = {
            k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"
        } | {"Authorization": f"Bearer {fuzzing.tokens[role]}"}
        started = time.monotonic()
        try:
            response = case.call()
            fuzzing.requests += 1
            fuzzing.statuses[response.status_code] += 1
            case.validate_response(response, checks=checks)
        except Exception as exc:  # scrub the tokens, should a message ever carry one
            notes = "\n".join(getattr(exc, "__notes__", []))
            told = f"{role}: {type(exc).__name__}: {exc}\n{notes}"
            raise AssertionError(_scrubbed(told, fuzzing.secrets())) from None
        finally:
            fuzzing.seconds += time.monotonic() - started
        if method == "DELETE" and path.endswith("{token_id}") and response.status_code == 200:
            for owner, token_id in list(fuzzing.token_ids.items()):
                if token_id == response.json().get("id"):
                    fuzzing.remint(owner)

    fuzz()


def test_enough_cases_were_generated(fuzzing: Fuzzing) -> None:
    if len(fuzzing.operations) < len(OPERATIONS):
        pytest.skip("only part of the module ran")
    assert fuzzing.cases >= 1000 or EXAMPLES < DEFAULT_EXAMPLES, fuzzing.cases
    assert fuzzing.statuses and max(fuzzing.statuses) < 500
