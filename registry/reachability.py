"""A fast probe of the tracking server, before any slower client call."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

from mlgov.governance.errors import BadInput, ExternalError, Unavailable
from mlgov.registry.locations import sqlite_path
from mlgov.registry.names import redact_uri

DEFAULT_TIMEOUT_S = 5.0


def check_reachable(tracking_uri: str, timeout: float = DEFAULT_TIMEOUT_S) -> None:
    """Raise ExternalError naming the URI when an http(s) server does not answer /health.

    For a sqlite: store, check that the folder of the database file exists (MLflow would
    otherwise fail deep inside SQLAlchemy). Other schemes are not probed.
    """
    parsed = urllib.parse.urlsplit(tracking_uri)
    shown = redact_uri(tracking_uri)
    if parsed.scheme in ("http", "https"):
        _probe_health(tracking_uri, shown, timeout)
    elif parsed.scheme == "sqlite":
        db_path = sqlite_path(tracking_uri)
        if db_path is not None and not db_path.parent.is_dir():
            raise BadInput(
                f"MLflow store {shown}: folder '{db_path.parent}' does not exist",
                hint="create it or point MLFLOW_TRACKING_URI elsewhere",
            )


def _probe_health(tracking_uri: str, shown: str, timeout: float) -> None:
    parsed = urllib.parse.urlsplit(tracking_uri)
    netloc = parsed.netloc.rpartition("@")[2]  # /health needs no credentials
    url = urllib.parse.urlunsplit(parsed._replace(netloc=netloc)).rstrip("/") + "/health"
    request = urllib.request.Request(url, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise Unavailable(
            f"MLflow tracking server at {shown} is unreachable ({reason})",
            hint="check MLFLOW_TRACKING_URI and that the server is running",
        ) from exc
    if status != 200:
        # 502/503/504: a proxy or the server says "not now"; anything else is not MLflow.
        failure = Unavailable if status in (502, 503, 504) else ExternalError
        raise failure(
            f"MLflow tracking server at {shown} answered HTTP {status} to /health",
            hint="check MLFLOW_TRACKING_URI points at an MLflow server",
        )
