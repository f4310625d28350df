"""Translate MLflow and transport failures into mlgov's domain errors, at the boundary."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from mlgov.governance.errors import BadInput, ExternalError, MlgovError, NotFound, Unavailable

_NOT_FOUND_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"})
_BAD_INPUT_CODES = frozenset({"INVALID_PARAMETER_VALUE", "BAD_REQUEST"})
_CONNECTION_MARKERS = (
    "Max retries exceeded",
    "Connection refused",
    "ConnectionError",
    "ConnectTimeout",
    "Read timed out",
    "Name or service not known",
    "Failed to establish a new connection",
    "NewConnectionError",
    "RemoteDisconnected",
)


def reason_of(exc: BaseException, limit: int = 200) -> str:
    """First line of a vendor message, shortened: enough to act on, not a wall of text."""
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    line = str(text).strip().splitlines()[0] if str(text).strip() else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."


def is_connection_failure(exc: BaseException) -> bool:
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    requests = sys.modules.get("requests")
    if requests is not None and isinstance(exc, requests.exceptions.RequestException):
        return True
    text = str(exc)
    return any(marker in text for marker in _CONNECTION_MARKERS)


def error_code_of(exc: BaseException) -> str | None:
    return getattr(exc, "error_code", None)


@contextmanager
def mlflow_errors(action: str, uri: str, *, not_found: str | None = None) -> Iterator[None]:
    """Run MLflow calls for `action`; raise NotFound/BadInput/ExternalError naming the URI.

    `not_found` replaces MLflow's wording when the thing looked up does not exist.
    """
    try:
        yield
    except MlgovError:
        raise
    except Exception as exc:
        if not is_vendor_error(exc):
            raise  # a bug here, not an MLflow failure: keep its traceback
        raise translate(exc, action, uri, not_found=not_found) from exc


def is_vendor_error(exc: BaseException) -> bool:
    """MLflow's own exceptions and transport/file failures; not programming errors."""
    if isinstance(exc, OSError):  # includes ConnectionError, TimeoutError
        return True
    exceptions = sys.modules.get("mlflow.exceptions")
    if exceptions is not None and isinstance(exc, exceptions.MlflowException):
        return True
    requests = sys.modules.get("requests")
    return requests is not None and isinstance(exc, requests.exceptions.RequestException)


def translate(
    exc: BaseException, action: str, uri: str, *, not_found: str | None = None
) -> MlgovError:
    if is_connection_failure(exc):
        return Unavailable(
            f"MLflow tracking server at {uri} is unreachable while trying to {action}",
            hint="check MLFLOW_TRACKING_URI and that the server is running",
        )
    code = error_code_of(exc)
    # Some lookups (an alias) answer INVALID_PARAMETER_VALUE "... not found" for a missing thing.
    missing = code in _NOT_FOUND_CODES or (
        not_found is not None and "not found" in reason_of(exc).lower()
    )
    if missing:
        return NotFound(not_found or f"MLflow could not {action}: {reason_of(exc)}")
    if code in _BAD_INPUT_CODES:
        return BadInput(f"MLflow refused to {action}: {reason_of(exc)}")
    return ExternalError(f"MLflow at {uri} failed to {action}: {reason_of(exc)}")
