"""The error family every surface maps: the CLI to exit codes, the server to HTTP statuses."""

from __future__ import annotations

from mlgov.governance.errors import (
    BadInput,
    Conflict,
    ExternalError,
    GateRefused,
    IdempotencyKeyReused,
    MlgovError,
    NotAuthenticated,
    NotFound,
    NotInitialized,
    PermissionDenied,
    PolicyError,
    ProblemsFound,
    Refused,
    RequestInProgress,
    SourcesUnavailable,
    StateTampered,
    TooLarge,
    Unavailable,
    UnknownUser,
)

__all__ = [
    "BadInput",
    "Conflict",
    "ExternalError",
    "GateRefused",
    "IdempotencyKeyReused",
    "MlgovError",
    "NotFound",
    "NotAuthenticated",
    "NotInitialized",
    "PermissionDenied",
    "PolicyError",
    "ProblemsFound",
    "Refused",
    "RequestInProgress",
    "SourcesUnavailable",
    "StateTampered",
    "TooLarge",
    "Unavailable",
    "UnknownUser",
]
