"""What every command gets: the platform (settings, governance opened lazily) and the caller.

Commands reach the core only through mlgov.api (an import-linter contract), so nothing here
hands out the governance service itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from mlgov.api import Actor, Platform
    from mlgov.config import Settings


@dataclass
class CliState:
    user: str | None
    home: str | None
    debug: bool = False
    _platform: Platform | None = field(default=None, repr=False)

    @property
    def platform(self) -> Platform:
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

        # Embedded mode: the name is asserted (--user, $MLGOV_USER or the OS user), not proven.
        return Actor.asserted(self.settings.user)

    @property
    def warnings(self) -> list[str]:
        """What the service noted without failing the call; never opens the service."""
        return self._platform.warnings if self._platform is not None else []


def state() -> CliState:
    return click.get_current_context().find_object(CliState)  # type: ignore[return-value]


def platform() -> Platform:
    return state().platform


def caller() -> Actor:
    return state().caller
