"""Domain errors. Each class carries its exit code; the CLI turns them into one line on stderr.

Exit codes: 1 = refused (gate, policy, permission, conflict, external system refused);
2 = bad usage or bad input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class MlgovError(Exception):
    """Base of every expected error."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class BadInput(MlgovError):
    """The request itself is wrong: unknown names, malformed values, unreadable files."""

    exit_code = 2


class NotFound(BadInput):
    """A model, version, user or file that does not exist."""


class NotInitialized(BadInput):
    """The governance store is missing or its schema is older than this code."""


class TooLarge(BadInput):
    """An uploaded file or a request body exceeds the configured limit."""


class IdempotencyKeyReused(BadInput):
    """An Idempotency-Key already used by the same caller for a different request."""


class PolicyError(BadInput):
    """A policy file that cannot be used; the message names the file, key and reason."""


class Refused(MlgovError):
    """A well-formed request that governance refuses."""

    exit_code = 1


class ProblemsFound(Refused):
    """A check or a batch ran to the end and found problems, already reported in its output
    (a broken chain, unmet conditions, failed items): exit 1 with nothing more to say."""

    def __init__(self) -> None:
        super().__init__("")


class PermissionDenied(Refused):
    """The acting user lacks the role for this action."""


class NotAuthenticated(PermissionDenied):
    """Presented credentials prove no one (the server answers 401)."""


class UnknownUser(PermissionDenied):
    """The acting user is not registered in the governance database."""


class StateTampered(Refused):
    """A state table says what the audit trail does not: nothing acts on it until resolved."""


class IllegalTransition(Refused):
    """A stage move the lifecycle does not allow (e.g. anything out of retire)."""


class Conflict(Refused):
    """The request collides with current state (duplicate decision, concurrent change)."""


class RequestInProgress(Conflict):
    """A request with the same Idempotency-Key is still being processed."""


class ExternalError(Refused):
    """An outside system (MLflow, BentoML, a server) failed or refused; nothing was recorded."""


class Unavailable(ExternalError):
    """A system mlgov depends on could not be reached (down, unreachable, busy); nothing was
    recorded. Its own exit code, so a scheduled job can retry instead of raising an alert."""

    exit_code = 3


class SourcesUnavailable(Unavailable):
    """A batch ran to the end; some of its data sources could not be read, as its output
    already says: exit 3 with nothing more to say, so a scheduler retries."""

    def __init__(self) -> None:
        super().__init__("")


@dataclass(frozen=True)
class Unmet:
    """One condition of a gate that is not met, named by the check that found it."""

    check: str
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.message}"


class GateRefused(Refused):
    """A gate refused a move; carries every unmet condition, not only the first."""

    def __init__(self, target: str, unmet: Sequence[Unmet]) -> None:
        self.target = target
        self.unmet = tuple(unmet)
        lines = "; ".join(str(u) for u in self.unmet)
        super().__init__(f"gate '{target}' refused: {len(self.unmet)} unmet condition(s): {lines}")
