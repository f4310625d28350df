"""Use cases of deployment: deploy, serve, roll back, undeploy, list serving targets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlgov.api.actor import Actor
from mlgov.api.platform import Platform
from mlgov.api.results import Record, Result


@dataclass(frozen=True)
class DeploymentRecord(Result):
    """A version serving (or that served) on a target."""

    id: int
    target: str
    model: str
    version: str
    state: str
    since: str
    by: str
    verified_at: str | None
    health: str | None
    stage: str
    bento_model_tag: str | None
    bento_tag: str | None
    fingerprint_digest: str | None
    previous_id: int | None
    ended_at: str | None
    end_reason: str | None


@dataclass(frozen=True)
class DeploymentList(Result):
    deployments: tuple[DeploymentRecord, ...]

    def to_json(self) -> Any:
        return [d.to_json() for d in self.deployments]


@dataclass(frozen=True)
class Deployed(Record):
    """The version after its move into deploy (as `models show` has it) with the target and
    the BentoML tags it was built under."""

    @property
    def target(self) -> str:
        return str(self.data["target"])

    @property
    def bento_model_tag(self) -> str:
        return str(self.data["bento_model_tag"])


@dataclass(frozen=True)
class Served(Result):
    """A server that ran until it was interrupted or stopped."""

    target: str
    exit_code: int


def deploy(
    platform: Platform,
    actor: Actor,
    model: str,
    version: str,
    *,
    target: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Deployed:
    """Deploy an approved version: the deploy gate first, then the service is built and the
    version moves into deploy. `progress` hears what is slow (the build)."""
    from mlgov.governance.deployments import deploy as run

    return Deployed(
        run(platform.governance(), actor.name, model, version, target=target, progress=progress)
    )


def serve(
    platform: Platform,
    actor: Actor,
    target: str,
    *,
    host: str = "127.0.0.1",
    port: int = 3000,
    workers: int = 1,
    verify: bool = True,
    announce: Callable[[str], None] | None = None,
) -> Served:
    """Run the HTTP service of the target's current version until interrupted (blocks).

    Once it answers ready and a probe prediction succeeds (unless not `verify`), the version
    moves deploy -> evaluate. `announce` hears where it serves and the verification."""
    from mlgov.adapters import serve_target
    from mlgov.governance.errors import BadInput

    if not 1 <= port <= 65535:
        raise BadInput(f"port {port} is not in 1..65535")
    if not 1 <= workers <= 64:
        raise BadInput(f"workers {workers} is not in 1..64")
    code = serve_target(
        platform.governance(),
        platform.settings,
        actor.name,
        target,
        host=host,
        port=port,
        workers=workers,
        verify=verify,
        announce=announce if announce is not None else (lambda _msg: None),
    )
    return Served(target=target, exit_code=code)


def rollback(platform: Platform, actor: Actor, target: str) -> DeploymentRecord:
    """Switch the target back to its previous version (still approved and bound)."""
    from mlgov.governance.deployments import rollback as run

    return DeploymentRecord.from_mapping(run(platform.governance(), actor.name, target))


def undeploy(
    platform: Platform, actor: Actor, target: str, *, reason: str | None = None
) -> DeploymentRecord:
    """Stop the target serving; its server answers 503 within seconds."""
    from mlgov.governance.deployments import undeploy as run

    return DeploymentRecord.from_mapping(
        run(platform.governance(), actor.name, target, reason=reason)
    )


def list_deployments(
    platform: Platform, actor: Actor, *, all_states: bool = False
) -> DeploymentList:
    """Active targets (with `all_states`, ended deployments too), oldest first per target."""
    from mlgov.governance.deployments import list_deployments as run

    rows = run(platform.governance(), actor.name, all_states=all_states)
    return DeploymentList(tuple(DeploymentRecord.from_mapping(r) for r in rows))
