"""Process settings MLflow reads from the environment, and one scoped work-around.

Environment defaults are set only where the user has not chosen a value, before the first
client call (MLflow reads them per request).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Fail at once on an unreachable server instead of ~4 minutes of retries; switch off MLflow's
# telemetry (a bank's network is closed) and its progress bars (clean logs).
ENV_DEFAULTS: dict[str, str] = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
}

_GLOBAL_URI_LOCK = threading.RLock()


def apply_env_defaults() -> None:
    for key, value in ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)


@contextmanager
def global_tracking_uri(uri: str) -> Iterator[None]:
    """Point MLflow's process-wide tracking URI at `uri` for the block, then restore it exactly.

    Only for MLflow code paths that ignore the client's URI and build `MlflowClient()` on the
    global one (the SQL model registry store resolving `models:/m-<id>` sources; fluent
    `log_model` in the test helper). `mlflow.set_tracking_uri` cannot be used to restore: it
    rewrites (or deletes) the MLFLOW_TRACKING_URI environment variable.
    """
    from mlflow.tracking._tracking_service import utils as tracking_utils

    with _GLOBAL_URI_LOCK:
        saved_global = tracking_utils._tracking_uri
        saved_env = os.environ.get("MLFLOW_TRACKING_URI")
        # mlflow declares the private global as `_tracking_uri = None`: it holds a URI.
        tracking_utils._tracking_uri = uri  # type: ignore[assignment]
        try:
            yield
        finally:
            tracking_utils._tracking_uri = saved_global
            if saved_env is None:
                os.environ.pop("MLFLOW_TRACKING_URI", None)
            else:
                os.environ["MLFLOW_TRACKING_URI"] = saved_env
