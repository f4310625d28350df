"""The platform a surface runs against: settings and the governance service, opened once."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlgov.api.actor import Actor
    from mlgov.config import Settings
    from mlgov.governance.service import Governance


class Platform:
    """Opens the governance service on first use; a command that fails before it needs the
    store never touches it."""

    def __init__(self, settings: Settings, *, shared_store: bool = False) -> None:
        """`shared_store`: a long-running process (the server) reuses one store per database
        across its platforms instead of opening (and closing) one each."""
        self.settings = settings
        self.shared_store = shared_store
        self._gov: Governance | None = None
        self._principal: dict[str, str] | None = None

    def identify(
        self, actor: Actor, *, address: str | None = None, request_id: str | None = None
    ) -> None:
        """The caller was proven (not asserted): its events record how, with which credential,
        from which address and in which request."""
        self._principal = {"user": actor.name, "identified_by": actor.identified_by.value}
        if actor.credential:
            self._principal["credential"] = actor.credential
        if address:
            self._principal["address"] = address
        if request_id:
            self._principal["request_id"] = request_id
        if self._gov is not None:
            self._gov.principal = dict(self._principal)

    def governance(self, *, initializing: bool = False) -> Governance:
        if self._gov is None:
            from mlgov.app import open_governance

            self._gov = open_governance(
                self.settings, initializing=initializing, shared_store=self.shared_store
            )
            if self._principal is not None:
                self._gov.principal = dict(self._principal)
        return self._gov

    @property
    def opened(self) -> bool:
        return self._gov is not None

    @property
    def warnings(self) -> list[str]:
        """What the service noted without failing the call; never opens the service."""
        return list(self._gov.warnings) if self._gov is not None else []
