"""Remote twin of mlgov.api.retirement."""

from __future__ import annotations

from collections.abc import Callable

from mlgov.api.actor import Actor
from mlgov.api.errors import BadInput
from mlgov.api.models import Moved
from mlgov.api.results import revive
from mlgov.api.retirement import StaleList, StaleRetirement
from mlgov.client._paths import version_path
from mlgov.client.connection import ServerConnection


def retire_version(
    conn: ServerConnection,
    actor: Actor,
    model: str,
    version: str,
    *,
    reason: str,
    force: bool = False,
) -> Moved:
    body = {"reason": reason, "force": force}
    return revive(Moved, conn.post(f"{version_path(model, version)}/retirement", body))


def find_stale(
    conn: ServerConnection,
    actor: Actor,
    *,
    days: int | None = None,
    model: str | None = None,
    include_serving: bool = False,
) -> StaleList:
    data = conn.get("/stale-versions", days=days, model=model, include_serving=include_serving)
    return revive(StaleList, data)


def retire_stale(
    conn: ServerConnection,
    actor: Actor,
    *,
    days: int | None = None,
    model: str | None = None,
    include_serving: bool = False,
    dry_run: bool = False,
    confirm: Callable[[StaleList], None] | None = None,
) -> StaleList | StaleRetirement:
    """As in embedded mode: what is found is shown (and confirmed) before anything retires;
    the server then sweeps what is stale at that moment."""
    found = find_stale(conn, actor, days=days, model=model, include_serving=include_serving)
    listed = StaleList(found.found, dry_run)
    if dry_run or not found.found:
        return listed
    if confirm is not None:
        confirm(listed)
    body = {"days": days, "model": model, "include_serving": include_serving}
    data = conn.post("/stale-versions/retirement", body, long=True)
    if isinstance(data, list):  # nothing was stale any more when the server looked
        return revive(StaleList, data)
    return revive(StaleRetirement, data)


def retire(
    conn: ServerConnection,
    actor: Actor,
    *,
    model: str | None = None,
    version: str | None = None,
    reason: str | None = None,
    force: bool = False,
    stale: bool = False,
    days: int | None = None,
    stale_model: str | None = None,
    include_serving: bool = False,
    dry_run: bool = False,
    confirm: Callable[[StaleList], None] | None = None,
) -> Moved | StaleList | StaleRetirement:
    if stale:
        return retire_stale(
            conn,
            actor,
            days=days,
            model=stale_model,
            include_serving=include_serving,
            dry_run=dry_run,
            confirm=confirm,
        )
    if not (model and version and reason):
        raise BadInput("retiring needs MODEL, VERSION and a reason saying why")
    return retire_version(conn, actor, model, version, reason=reason, force=force)
