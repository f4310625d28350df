"""What every command gets: the platform (settings, governance opened lazily) and the caller.

Commands reach the core only through mlgov.api (an import-linter contract), so nothing here
hands out the governance service itself."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from mlgov.api import Actor, Platform
    from mlgov.client.connection import ServerConnection, ServerSettings
    from mlgov.config import Settings

# The use-case areas a command reaches; each exists in mlgov.api and, as its remote twin,
# in mlgov.client.
AREAS = frozenset(
    {"approvals", "audit", "deployments", "findings", "models", "monitoring", "policy"}
    | {"reconcile", "reports", "retirement", "tokens", "users"}
)


@dataclass
class CliState:
    user: str | None
    home: str | None
    debug: bool = False
    _platform: Platform | None = field(default=None, repr=False)
    _server: ServerConnection | None = field(default=None, repr=False)
    _remote: ServerSettings | None | bool = field(default=False, repr=False)

    @property
    def remote(self) -> ServerSettings | None:
        """The server this CLI is pointed at (MLGOV_URL, or `mlgov login`), or None."""
        if self._remote is False:
            from mlgov.client.connection import server_settings

            self._remote = server_settings()
        return self._remote  # type: ignore[return-value]

    @property
    def server(self) -> ServerConnection:
        if self._server is None:
            from mlgov.client.connection import ServerConnection

            settings = self.remote
            assert settings is not None, "server() is only called in remote mode"
            self._server = ServerConnection(settings)
        return self._server

    @property
    def target(self) -> Any:
        """What a use case is called with: the server's connection, or the local platform."""
        return self.server if self.remote is not None else self.platform

    @property
    def platform(self) -> Platform:
        """The local platform (embedded mode, or what runs on the server's own host)."""
        if self._platform is None:
            from mlgov.api import Platform
            from mlgov.config import load_settings

            self._platform = Platform(load_settings(user=self.user, home=self.home))
        return self._platform

    @property
    def settings(self) -> Settings:
        return self.platform.settings

    @property
    def caller(self) -> Actor:
        from mlgov.api import Actor

        if self.remote is not None:
            return self._token_user()
        # Embedded mode: the name is asserted (--user, $MLGOV_USER or the OS user), not proven.
        return Actor.asserted(self.settings.user)

    def _token_user(self) -> Actor:
        """Against a server the token says who acts; a --user naming someone else is refused
        rather than ignored, so nobody believes they acted as that user."""
        from mlgov.api.errors import BadInput

        me = self.server.me()
        if self.user is not None and self.user != me.name:
            raise BadInput(
                f"--user {self.user}: against the server you act as {me.name}, the user "
                "of your token",
                hint="drop --user, or use that user's own token",
            )
        return me

    @property
    def warnings(self) -> list[str]:
        """What the service noted without failing the call; never opens the service."""
        found = list(self._platform.warnings) if self._platform is not None else []
        return found + (list(self._server.warnings) if self._server is not None else [])


def state() -> CliState:
    return click.get_current_context().find_object(CliState)  # type: ignore[return-value]


def platform() -> Any:
    """What the command's use case runs against (see CliState.target)."""
    return state().target


def local_platform() -> Platform:
    """The local platform, for what only runs on this host (the server itself)."""
    return state().platform


def use_cases(area: str) -> ModuleType:
    """mlgov.api.<area>, or against a server its remote twin mlgov.client.<area>: the same
    functions with the same results, so a command is written once."""
    if area not in AREAS:
        raise ValueError(f"no use-case area {area!r}")
    package = "mlgov.client" if state().remote is not None else "mlgov.api"
    return importlib.import_module(f"{package}.{area}")


def caller() -> Actor:
    return state().caller
