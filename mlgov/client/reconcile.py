"""Remote twin of mlgov.api.reconcile: the server settles its own operations and stores."""

from __future__ import annotations

from collections.abc import Callable

from mlgov.api.actor import Actor
from mlgov.api.reconcile import Reconciliation
from mlgov.api.results import revive
from mlgov.client.connection import ServerConnection


def reconcile(
    conn: ServerConnection,
    actor: Actor,
    *,
    fix: bool = False,
    check_artifacts: bool = True,
    progress: Callable[[str], None] | None = None,
) -> Reconciliation:
    if progress is not None:
        progress(f"reconciling on the server at {conn.url} ...")
    body = {"fix": fix, "check_artifacts": check_artifacts}
    return revive(Reconciliation, conn.post("/reconciliation", body, long=True))
