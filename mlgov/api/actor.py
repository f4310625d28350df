"""Who acts, and how mlgov knows it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mlgov.governance.roles import validate_user_name


class Identification(StrEnum):
    """How the acting user's identity was established."""

    ASSERTED = "asserted"  # embedded mode: --user, $MLGOV_USER or the OS user; not proven
    TOKEN = "token"  # an API token the server checked
    OIDC = "oidc"  # an OIDC subject from the bank's identity provider
    SESSION = "session"  # a signed-in console session
    PROXY = "proxy"  # a trusted reverse proxy's header


@dataclass(frozen=True)
class Actor:
    name: str
    identified_by: Identification = Identification.ASSERTED
    credential: str | None = None  # which credential proved it, e.g. "token:12"; never a secret

    def __post_init__(self) -> None:
        validate_user_name(self.name)

    @classmethod
    def asserted(cls, name: str) -> Actor:
        return cls(name, Identification.ASSERTED)
