"""Remote twin of mlgov.api.deployments. The BentoML service runs on the server's host."""

from __future__ import annotations

from collections.abc import Callable

from mlgov.api.actor import Actor
from mlgov.api.deployments import Deployed, DeploymentList, DeploymentRecord, Served
from mlgov.api.errors import BadInput
from mlgov.api.results import revive
from mlgov.client._paths import seg
from mlgov.client.connection import ServerConnection


def deploy(
    conn: ServerConnection,
    actor: Actor,
    model: str,
    version: str,
    *,
    target: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Deployed:
    if progress is not None:
        progress(f"deploying {model}/{version} on the server at {conn.url} ...")
    body = {"model": model, "version": version, "target": target}
    return revive(Deployed, conn.post("/deployments", body, long=True))


def serve(conn: ServerConnection, actor: Actor, target: str, **_options: object) -> Served:
    raise BadInput(
        "`mlgov serve` runs the service on the server's host, not through the server's API",
        hint="run it there in embedded mode (unset MLGOV_URL), as the operator of that host",
    )


def rollback(conn: ServerConnection, actor: Actor, target: str) -> DeploymentRecord:
    return revive(DeploymentRecord, conn.post(f"/targets/{seg(target)}/rollback", long=True))


def undeploy(
    conn: ServerConnection, actor: Actor, target: str, *, reason: str | None = None
) -> DeploymentRecord:
    data = conn.post(f"/targets/{seg(target)}/undeploy", {"reason": reason}, long=True)
    return revive(DeploymentRecord, data)


def list_deployments(
    conn: ServerConnection, actor: Actor, *, all_states: bool = False
) -> DeploymentList:
    return revive(DeploymentList, conn.get("/deployments", all_states=all_states))
