"""What every command gets: settings and a lazily opened governance service."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from mlgov.config import Settings
    from mlgov.governance.service import Governance


@dataclass
class CliState:
    user: str | None
    home: str | None
    debug: bool = False
    _settings: Settings | None = field(default=None, repr=False)
    _gov: Governance | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from mlgov.config import load_settings

            self._settings = load_settings(user=self.user, home=self.home)
        return self._settings

    @property
    def actor(self) -> str:
        return self.settings.user

    def governance(self, *, initializing: bool = False) -> Governance:
        if self._gov is None:
            from mlgov.app import open_governance

            self._gov = open_governance(self.settings, initializing=initializing)
        return self._gov

    @property
    def warnings(self) -> list[str]:
        """What the service noted without failing the call; never opens the service."""
        return list(self._gov.warnings) if self._gov is not None else []


def state() -> CliState:
    return click.get_current_context().find_object(CliState)  # type: ignore[return-value]


def gov() -> Governance:
    return state().governance()


def actor() -> str:
    return state().actor
