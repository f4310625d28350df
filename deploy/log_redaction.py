"""Keep request values out of the server log.

BentoML logs every exception of an API call at ERROR with its traceback, and a pydantic
ValidationError's text quotes the input (`input_value=...`): customers' features in the log.
mlgov's /predict never raises on bad input, but any other path might, so every handler of
the server's loggers gets a filter that replaces a traceback with the exception's type and,
for a pydantic error, the locations and error types only.
"""

from __future__ import annotations

import logging

_LOGGERS = ("", "bentoml", "uvicorn", "uvicorn.error", "mlgov")


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


def redact_server_logs() -> None:
    """Attach the filter to every handler of the server's loggers (idempotent)."""
    for name in _LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactExceptions) for f in handler.filters):
                handler.addFilter(RedactExceptions())
