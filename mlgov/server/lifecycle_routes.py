"""Registration, tier sign-off, retirement (one version or the stale sweep) and
reconciliation over HTTP."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from mlgov.api import models as models_api
from mlgov.api import reconcile as reconcile_api
from mlgov.api import retirement as retirement_api
from mlgov.server.deps import MAX_DAYS, AuthenticatedRoute, Body, Plat, Who
from mlgov.server.idempotency import Idem

router = APIRouter(route_class=AuthenticatedRoute)
VERSION = "/models/{model}/versions/{version}"


class NewVersion(Body):
    """Exactly one of `run_id` (with `artifact_path` when not the default) and `model_uri`."""

    risk_tier: str
    purpose: str
    run_id: str | None = None
    model_uri: str | None = None
    artifact_path: str | None = None
    owner: str | None = None
    reinstate: str | None = None
    data_grade: str | None = None  # of the training data: core, important or general
    sensitive: bool | None = None


class TierConfirmation(Body):
    reason: str


class Retirement(Body):
    reason: str
    force: bool = False


class StaleSweep(Body):
    days: int | None = Field(default=None, ge=1, le=MAX_DAYS)
    model: str | None = None
    include_serving: bool = False


class Reconciliation(Body):
    fix: bool = False
    check_artifacts: bool = True


@router.post("/models/{model}/versions", status_code=201)
def register(p: Plat, who: Who, model: str, body: NewVersion, idem: Idem) -> Any:
    return idem.run(p, who, body, lambda: _register(p, who, model, body))


def _register(p: Plat, who: Who, model: str, body: NewVersion) -> Any:
    registered = models_api.register(
        p,
        who,
        model,
        risk_tier=body.risk_tier,
        purpose=body.purpose,
        run_id=body.run_id,
        model_uri=body.model_uri,
        artifact_path=body.artifact_path,
        owner=body.owner,
        reinstate=body.reinstate,
        data_grade=body.data_grade,
        sensitive=body.sensitive,
    )
    return registered.to_json()


@router.post(f"{VERSION}/tier-confirmation")
def confirm_tier(
    p: Plat, who: Who, model: str, version: str, body: TierConfirmation, idem: Idem
) -> Any:
    return idem.run(
        p,
        who,
        body,
        lambda: models_api.confirm_tier(p, who, model, version, reason=body.reason).to_json(),
    )


@router.post(f"{VERSION}/retirement")
def retire(p: Plat, who: Who, model: str, version: str, body: Retirement, idem: Idem) -> Any:
    def work() -> Any:
        return retirement_api.retire_version(
            p, who, model, version, reason=body.reason, force=body.force
        ).to_json()

    return idem.run(p, who, body, work)


@router.get("/stale-versions")
def find_stale(
    p: Plat,
    who: Who,
    days: Annotated[int | None, Query(ge=1, le=MAX_DAYS)] = None,
    model: str | None = None,
    include_serving: bool = False,
) -> Any:
    found = retirement_api.find_stale(
        p, who, days=days, model=model, include_serving=include_serving
    )
    return found.to_json()


@router.post("/stale-versions/retirement")
def retire_stale(p: Plat, who: Who, body: StaleSweep, idem: Idem) -> Any:
    def work() -> Any:
        return retirement_api.retire_stale(
            p, who, days=body.days, model=body.model, include_serving=body.include_serving
        ).to_json()

    return idem.run(p, who, body, work)


@router.post("/reconciliation")
def reconcile(p: Plat, who: Who, body: Reconciliation, idem: Idem) -> Any:
    def work() -> Any:
        return reconcile_api.reconcile(
            p, who, fix=body.fix, check_artifacts=body.check_artifacts
        ).to_json()

    return idem.run(p, who, body, work)
