"""Keep request values out of the server log.

BentoML logs every exception of an API call at ERROR with its traceback, and a pydantic
ValidationError's text quotes the input (`input_value=...`): customers' features in the log.
mlgov's /predict never raises on bad input, but any other path might, so every handler of
the server's loggers gets a filter that replaces a traceback with the exception's type and,
for a pydantic error, the locations and error types only.

BentoML's access log prints each request's path as the client sent it, and a path (or a
query string, where a client puts one) can carry personal data: the access logger gets a
filter that keeps the service's own routes and replaces any other path with a placeholder.
"""

from __future__ import annotations

import logging
import re

_LOGGERS = ("", "bentoml", "uvicorn", "uvicorn.error", "mlgov")
ACCESS_LOGGER = "bentoml.access"
# The routes the governed service answers; every other path a client sends is its own text.
KNOWN_PATHS = frozenset(
    {
        "/predict",
        "/metadata",
        "/docs.json",
        "/docs",
        "/readyz",
        "/livez",
        "/healthz",
        "/metrics",
        "/",
    }
)
REDACTED_PATH = "<other>"
_PATH_FIELD = re.compile(r"path=([^,)]*)")


def _describe(exc: BaseException) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors) and type(exc).__name__ == "ValidationError":
        try:
            parts = [
                f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('type')}"
                for e in errors(include_input=False, include_context=False, include_url=False)
            ]
        except Exception:
            parts = []
        return f"ValidationError ({'; '.join(parts[:10])})"
    return type(exc).__name__


class RedactExceptions(logging.Filter):
    """Drop tracebacks (their messages may hold request data); keep the exception type."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            exc = record.exc_info[1]
            if exc is not None:
                record.msg = f"{record.getMessage()} [{_describe(exc)}; traceback withheld]"
                record.args = None
            record.exc_info = None
            record.exc_text = None
        record.stack_info = None
        return True


def shown_path(path: str) -> str:
    """The path as the access log may show it: a known route (without any query), or not."""
    bare = path.split("?", 1)[0].split("#", 1)[0]
    return bare if bare in KNOWN_PATHS else REDACTED_PATH


class RedactAccessPaths(logging.Filter):
    """BentoML's access lines carry the path as `path=...` inside an argument (HTTP) or as
    an argument of its own (websocket): keep known routes only."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(arg) for arg in record.args)
        return True


def _redact_arg(arg: object) -> object:
    if not isinstance(arg, str):
        return arg
    if arg.startswith("/"):
        return shown_path(arg)
    if "path=" in arg:
        return _PATH_FIELD.sub(lambda m: f"path={shown_path(m.group(1))}", arg)
    return arg


def redact_server_logs() -> None:
    """Attach the filters to the server's loggers and their handlers (idempotent)."""
    access = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactAccessPaths) for f in access.filters):
        access.addFilter(RedactAccessPaths())
    for name in _LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactExceptions) for f in handler.filters):
                handler.addFilter(RedactExceptions())
