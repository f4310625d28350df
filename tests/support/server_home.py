"""One real governed home for the server's security tests (tests/server/conftest.py builds
it): a SQLite store in a temporary MLGOV_HOME, a user per role, real tokens (and an expired
and a revoked one), and model versions registered from a real MLflow run. Tests call the
real app in-process through `fastapi.testclient.TestClient`; the state is arranged through
mlgov.api and the governance layer, never by a mock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from mlgov.api import Actor, Platform
from mlgov.api import approvals as approvals_api
from mlgov.api import models as models_api
from mlgov.api import tokens as tokens_api
from mlgov.api import users as users_api
from mlgov.config import TELEMETRY_OFF, Settings, load_settings
from mlgov.server import oidc
from mlgov.server.app import PREFIX, create_app
from mlgov.server.auth import FailureThrottle

ADMIN = "ada"
# One user per role; the role's name is the key the tests use.
ROLE_USERS = {
    "data_scientist": "dana",
    "risk_officer": "rita",
    "ml_engineer": "eve",
    "auditor": "aud",
    "admin": ADMIN,
}
# Objects other users' requests aim at: a token of someone else, a user to remove.
VICTIM = "victor"
LEAVER = "leo"
MODEL = "credit"
CARD = {
    "intended_use": "flag applications for a second reading",
    "limitations": "synthetic test data only",
    "training_data": "sklearn breast_cancer, stratified 75% split (seed 0)",
    "evaluation_data": "the 25% holdout split",
    "owner_contact": "dana@bank.example",
    "fairness_assessment": "no protected attributes among the features",
    "fallback_plan": "manual review",
}
FOREIGN_ENV = ("MLGOV_DB_URL", "MLFLOW_TRACKING_URI", "BENTOML_HOME", "MLGOV_USER")


@dataclass
class Governed:
    home: Path
    settings: Settings
    tokens: dict[str, str]  # role -> secret
    token_ids: dict[str, int]
    expired: str
    revoked: str
    of_removed_user: str  # a live token whose user was removed
    victim_token_id: int
    version: str  # registered by dana from a real MLflow run, in develop
    spare_version: str  # owned by VICTIM, for requests that end a version (retirement)
    in_review: str  # in train, its approval request pending
    run_id: str  # the MLflow run both were registered from
    reference_csv: Path  # the model's training features as CSV (outside the home)
    env: dict[str, str] = field(default_factory=dict)
    finding_id: int = 0  # a low finding on `version`, owned by dana (its registrant)

    def app(
        self, *, throttle: FailureThrottle | None = None, verifier: oidc.Verifier | None = None
    ) -> TestClient:
        home = str(self.home)
        app = create_app(
            lambda: load_settings(home=home),
            # The matrix sends hundreds of bad credentials from one address on purpose.
            throttle=throttle or FailureThrottle(limit=10**9),
            verifier=verifier,
        )
        return TestClient(app, raise_server_exceptions=False)

    def bearer(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def api_routes() -> list[tuple[APIRoute, str]]:
    """Every APIRoute under /api/v1 (not the console's pages) with the path it is served at.
    FastAPI 0.165 includes
    routers lazily (`app.routes` holds an `_IncludedRouter` per router):
    `iter_route_contexts` walks what is actually served, as the OpenAPI generator does."""
    app = create_app(lambda: None)  # type: ignore[arg-type, return-value]  # never called
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and str(context.path).startswith(PREFIX):
            found.append((route, str(context.path)))
    return found


def operations() -> list[tuple[str, str]]:
    """(method, path template) of every operation the app serves under /api/v1."""
    found = []
    for route, path in api_routes():
        if path.startswith(PREFIX + "/"):
            found += [(m, path) for m in sorted(route.methods)]
    return sorted(found)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
    return env | dict(TELEMETRY_OFF) | {"MLGOV_HOME": str(home)}


def build(root: Path) -> Iterator[Governed]:
    from mlgov.app import open_governance
    from mlgov.governance import tokens as gov_tokens
    from mlgov.governance.clock import FixedClock
    from support.toy_models import log_toy_model

    home = root / "home"
    env = _env(home)
    # The platform points MLflow and BentoML at the home through os.environ: restore it after.
    with mock.patch.dict(os.environ, env, clear=True):
        settings = load_settings(home=str(home), user=ADMIN)
        admin = Actor.asserted(ADMIN)
        p = Platform(settings)
        users_api.init(p, admin)
        for role, name in ROLE_USERS.items():
            if name != ADMIN:
                users_api.add_user(p, admin, name, [role])
        users_api.add_user(p, admin, VICTIM, ["data_scientist"])
        users_api.add_user(p, admin, LEAVER, ["auditor"])
        created = {
            role: tokens_api.create_token(p, admin, name) for role, name in ROLE_USERS.items()
        }
        victim = tokens_api.create_token(p, admin, VICTIM, name="victim")
        revoked = tokens_api.create_token(p, admin, "dana", name="revoked")
        tokens_api.revoke_token(p, admin, revoked.id)
        users_api.add_user(p, admin, "gone", ["auditor"])
        of_removed = tokens_api.create_token(p, admin, "gone", name="of-a-removed-user")
        users_api.remove_user(p, admin, "gone")
        # Expired: made by a clock two days back, valid one day.
        past = open_governance(settings, clock=FixedClock(datetime.now(UTC) - timedelta(days=2)))
        expired = gov_tokens.create_token(past, ADMIN, "dana", name="expired", days=1)
        past.store.engine.dispose()

        from support.toy_models import breast_cancer_frames

        reference_csv = root / "reference.csv"
        breast_cancer_frames(0)[0].to_csv(reference_csv, index=False)
        tracking = f"sqlite:///{home / 'mlflow.db'}"
        run_id, _ = log_toy_model(
            tracking, experiment="security", artifact_location=str(home / "mlartifacts")
        )
        dana = Actor.asserted("dana")

        def register(**extra: str) -> str:
            return str(
                models_api.register(
                    p,
                    dana,
                    MODEL,
                    risk_tier="low",
                    purpose="security tests",
                    run_id=run_id,
                    **extra,
                )["version"]
            )

        target, spare, in_review = register(), register(owner=VICTIM), register()
        # in_review: in train with a pending approval request, so that deciding is refused by
        # role, not by "there is no request".
        models_api.write_card(p, dana, MODEL, in_review, fields=CARD)
        models_api.record_reference(p, dana, MODEL, in_review, str(reference_csv))
        models_api.move(p, dana, MODEL, in_review, to="train")
        approvals_api.request_approval(p, dana, MODEL, in_review)
        from mlgov.api import findings as findings_api

        finding = findings_api.open_finding(
            p, Actor.asserted(ROLE_USERS["risk_officer"]), MODEL, target, severity="low", title="m"
        )
        p.governance().store.engine.dispose()
        yield Governed(
            home=home,
            settings=settings,
            tokens={role: t.token for role, t in created.items()},
            token_ids={role: t.id for role, t in created.items()},
            expired=expired.token,
            revoked=revoked.token,
            of_removed_user=of_removed.token,
            victim_token_id=victim.id,
            version=target,
            spare_version=spare,
            in_review=in_review,
            run_id=run_id,
            reference_csv=reference_csv,
            env=env,
            finding_id=finding.id,
        )
