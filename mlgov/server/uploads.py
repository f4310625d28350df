"""Files sent to the server: streamed to disk under MLGOV_HOME/uploads in chunks (never held
in memory, never unpickled), refused past the configured size, removed once used."""

from __future__ import annotations

import re
import secrets
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Request

from mlgov.api.errors import BadInput, TooLarge

# The data formats a use case reads (pandas/pyarrow CSV and Parquet readers, no pickle).
DATA_TYPES = {
    "text/csv": ".csv",
    "application/csv": ".csv",
    "application/vnd.apache.parquet": ".parquet",
    "application/x-parquet": ".parquet",
}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def _file_name(name: str | None, suffix: str) -> str:
    """The client's name for the file, reduced to a safe base name with the type's suffix (it
    is recorded as where the data came from; it never chooses a path)."""
    base = _SAFE_NAME.sub("_", Path(name or "upload").name).strip("._") or "upload"
    stem = base[:100]
    return stem if stem.lower().endswith(suffix) else f"{stem}{suffix}"


def data_suffix(request: Request) -> str:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in DATA_TYPES:
        raise BadInput(
            f"Content-Type {content_type or '(none)'} is not a data file type",
            hint="send CSV as text/csv or Parquet as application/vnd.apache.parquet",
        )
    return DATA_TYPES[content_type]


@asynccontextmanager
async def received(
    request: Request, *, directory: Path, limit: int, suffix: str, name: str | None = None
) -> AsyncIterator[Path]:
    """The request body as a file of its own (a fresh folder per upload), deleted on exit."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(_too_large(limit), hint="set MLGOV_MAX_UPLOAD_MB on the server to raise it")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder = directory / secrets.token_hex(8)
    folder.mkdir(mode=0o700)
    target = folder / _file_name(name, suffix)
    try:
        size = 0
        with target.open("wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise TooLarge(
                        _too_large(limit), hint="set MLGOV_MAX_UPLOAD_MB on the server to raise it"
                    )
                out.write(chunk)
        if size == 0:
            raise BadInput("the request body is empty: send the file's bytes as the body")
        yield target
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _too_large(limit: int) -> str:
    return f"the upload exceeds this server's limit of {limit // (1024 * 1024)} MB"
