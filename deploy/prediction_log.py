"""The prediction log: every served request's features and predictions, as JSON Lines.

One line per request, columnar ({"features": {col: [v, ...]}, "outputs": {col: [...]}}), so
the server encodes each request with one `json.dumps` call; `read_prediction_log` is the
only reader and turns lines back into one row per record. Files are per server process and
per UTC day (`predictions-YYYYMMDD-<pid>.jsonl`), appended with one `write` per line on an
O_APPEND descriptor, in a folder only the serving user may read (0700, files 0600): the
features are customers' data. mlgov's own probe requests (the verification after `serve`)
are logged too, marked `"probe": true`, and left out when the log is read for monitoring.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgov.governance.errors import BadInput

if TYPE_CHECKING:
    import pandas as pd

META_COLUMNS = ("_model", "_version", "_request_id", "_time")
PREDICTION_PREFIX = "_prediction"
_FILE_PREFIX = "predictions-"


def ensure_private_dir(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


class PredictionLogWriter:
    """Appends one JSON line per request; safe to share between the threads of one process."""

    def __init__(self, directory: str | os.PathLike[str], *, model: str, version: str) -> None:
        self.directory = ensure_private_dir(directory)
        self.model = model
        self.version = version
        self._lock = threading.Lock()
        self._day: str | None = None
        self._fd: int | None = None

    def _fd_for(self, day: str) -> int:
        if self._fd is None or day != self._day:
            if self._fd is not None:
                os.close(self._fd)
            name = f"{_FILE_PREFIX}{day}-{os.getpid()}.jsonl"
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
            self._fd = os.open(self.directory / name, flags, 0o600)
            self._day = day
        return self._fd

    def write(
        self,
        *,
        request_id: str,
        features: Mapping[str, list[Any]],
        outputs: Mapping[str, list[Any]],
        count: int,
        probe: bool = False,
    ) -> None:
        now = datetime.now(UTC)
        entry: dict[str, Any] = {
            "time": now.isoformat(),
            "model": self.model,
            "version": self.version,
            "request_id": request_id,
            "count": count,
            "features": features,
            "outputs": outputs,
        }
        if probe:
            entry["probe"] = True
        line = json.dumps(
            entry,
            separators=(",", ":"),
            allow_nan=True,
            default=str,
        ).encode("utf-8")
        with self._lock:
            os.write(self._fd_for(now.strftime("%Y%m%d")), line + b"\n")

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def _log_files(directory: Path, since: datetime | None) -> list[Path]:
    files = sorted(directory.glob(f"{_FILE_PREFIX}*.jsonl"))
    if since is None:
        return files
    first_day = since.astimezone(UTC).strftime("%Y%m%d")
    return [f for f in files if f.name[len(_FILE_PREFIX) : len(_FILE_PREFIX) + 8] >= first_day]


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                break  # a line still being written by a live server
            try:
                entry = json.loads(raw)
            except ValueError:
                continue  # a torn line after a crash: skip it, keep the rest
            if isinstance(entry, dict):
                yield entry


def read_prediction_log(
    directory: str | os.PathLike[str],
    *,
    since: datetime | None = None,
    model: str | None = None,
    version: str | None = None,
    include_probes: bool = False,
) -> pd.DataFrame:
    """One row per served record: the features as columns, `_model`, `_version`,
    `_request_id`, `_time` (UTC) and the outputs as `_prediction...` columns. Probe
    requests are left out unless `include_probes`."""
    import pandas as pd

    directory = Path(directory)
    if not directory.is_dir():
        raise BadInput(f"prediction log folder {directory} does not exist")
    if since is not None and since.tzinfo is None:
        raise BadInput("'since' must be timezone-aware (UTC), e.g. datetime.now(UTC)")
    columns: dict[str, list[Any]] = {name: [] for name in META_COLUMNS}
    rows = 0
    for path in _log_files(directory, since):
        for entry in _lines(path):
            if model is not None and entry.get("model") != model:
                continue
            if version is not None and entry.get("version") != version:
                continue
            if entry.get("probe") is True and not include_probes:
                continue
            time = datetime.fromisoformat(entry["time"])
            if since is not None and time < since:
                continue
            count = int(entry["count"])
            meta = {
                "_model": entry.get("model"),
                "_version": entry.get("version"),
                "_request_id": entry.get("request_id"),
                "_time": time,
            }
            for name, value in meta.items():
                columns[name].extend([value] * count)
            for group in ("features", "outputs"):
                for name, values in entry.get(group, {}).items():
                    column = columns.setdefault(name, [None] * rows)
                    column.extend(values)
            rows += count
            for column in columns.values():  # a column absent from this entry
                if len(column) < rows:
                    column.extend([None] * (rows - len(column)))
    frame = pd.DataFrame(columns)
    frame["_time"] = pd.to_datetime(frame["_time"], utc=True)
    ordered = [c for c in frame.columns if not c.startswith("_")]
    ordered += list(META_COLUMNS)
    ordered += [c for c in frame.columns if c.startswith(PREDICTION_PREFIX)]
    return frame[ordered]
