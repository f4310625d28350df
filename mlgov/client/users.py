"""Remote twin of mlgov.api.users."""

from __future__ import annotations

from collections.abc import Sequence

from mlgov.api.actor import Actor
from mlgov.api.errors import BadInput
from mlgov.api.results import revive
from mlgov.api.users import InitResult, UserList, UserRecord
from mlgov.client._paths import seg
from mlgov.client.connection import ServerConnection


def init(conn: ServerConnection, actor: Actor, *, keys: bool = False) -> InitResult:
    raise BadInput(
        "`mlgov init` sets up the governance store on the server's host, not through its API",
        hint="run it there in embedded mode (unset MLGOV_URL)",
    )


def whoami(conn: ServerConnection, actor: Actor) -> UserRecord:
    return revive(UserRecord, conn.get("/whoami"))


def add_user(conn: ServerConnection, actor: Actor, name: str, roles: Sequence[str]) -> UserRecord:
    return revive(UserRecord, conn.post("/users", {"name": name, "roles": list(roles)}))


def remove_user(conn: ServerConnection, actor: Actor, name: str) -> UserRecord:
    return revive(UserRecord, conn.delete(f"/users/{seg(name)}"))


def list_users(conn: ServerConnection, actor: Actor, *, include_removed: bool = False) -> UserList:
    return revive(UserList, conn.get("/users", include_removed=include_removed))
