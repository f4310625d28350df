"""The kill switch: a per-target status file that governance writes and the server obeys.

Governance calls `write_status` (atomically) on deploy, suspend, undeploy, retire and
rollback. The server process holds a `StatusWatcher` that looks at the file at most once per
`refresh_seconds` (a stat; the file is re-read only when it changed), so the hot path never
touches the governance database and a change is obeyed within about a second.

Rollback: a server never swaps models in place. When the status file names another version
(or BentoML model tag) than the one the server loaded, the server answers 503 "restart
needed" until it is restarted on the new manifest. A half-switched server cannot exist then:
the old version never answers after governance moved away from it, and the new one only
answers from a process that loaded, verified and reported it from the start.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from mlgov.deploy.atomic import atomic_write_text
from mlgov.deploy.manifest import validate_bento_tag, validate_version
from mlgov.governance.errors import BadInput


class ServingState(StrEnum):
    SERVING = "serving"
    SUSPENDED = "suspended"
    UNDEPLOYED = "undeployed"
    RETIRED = "retired"


@dataclass(frozen=True)
class ServingStatus:
    state: ServingState
    reason: str
    version: str | None
    updated_at: str
    bento_model_tag: str | None = None
    stage: str | None = None  # the version's lifecycle stage, shown by /metadata
    op_id: str | None = None  # the governance operation that wrote it (crash recovery)

    def to_dict(self) -> dict[str, str | None]:
        data = asdict(self)
        data["state"] = self.state.value
        return data


def write_status(
    path: str | os.PathLike[str],
    state: ServingState | str,
    *,
    reason: str = "",
    version: str | None = None,
    bento_model_tag: str | None = None,
    stage: str | None = None,
    op_id: str | None = None,
) -> ServingStatus:
    """Atomically replace the target's status file; a running server obeys it within ~1 s.

    A write by an operation (`op_id`) keeps the status it replaced under "previous", so a
    crashed operation's write can be undone; a second write by the same operation keeps the
    first one's "previous".
    """
    try:
        state = ServingState(state)
    except ValueError:
        allowed = ", ".join(s.value for s in ServingState)
        raise BadInput(f"unknown serving state '{state}': use one of {allowed}") from None
    if version is not None:
        validate_version(version)
    if bento_model_tag is not None:
        validate_bento_tag(bento_model_tag)
    if state is ServingState.SERVING and version is None:
        raise BadInput("a 'serving' status must name the version that may serve")
    status = ServingStatus(
        state=state,
        reason=reason,
        version=version,
        updated_at=datetime.now(UTC).isoformat(),
        bento_model_tag=bento_model_tag,
        stage=stage,
        op_id=op_id,
    )
    path = Path(path)
    doc: dict[str, Any] = status.to_dict()
    if op_id is not None:
        before = read_status_document(path)
        if before is not None and before.get("op_id") == op_id:
            doc["previous"] = before.get("previous")
        else:
            doc["previous"] = (
                None if before is None else {k: v for k, v in before.items() if k != "previous"}
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(doc, sort_keys=True), mode=0o644)
    return status


def read_status_document(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The status file's JSON object as written (None when absent or unreadable)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    return data


def read_status(path: str | os.PathLike[str]) -> ServingStatus:
    """Read a status file; raise BadInput when it is missing or malformed."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BadInput(f"status file {path} does not exist") from exc
    except (OSError, ValueError) as exc:
        raise BadInput(f"status file {path} cannot be read as JSON") from exc
    if not isinstance(data, dict):
        raise BadInput(f"status file {path} must hold a JSON object")
    try:
        return ServingStatus(
            state=ServingState(data["state"]),
            reason=str(data.get("reason") or ""),
            version=data.get("version"),
            updated_at=str(data.get("updated_at") or ""),
            bento_model_tag=data.get("bento_model_tag"),
            stage=data.get("stage"),
            op_id=data.get("op_id"),
        )
    except (KeyError, ValueError) as exc:
        raise BadInput(f"status file {path} has no valid 'state'") from exc


def refusal_reason(
    status: ServingStatus | None, *, version: str, bento_model_tag: str
) -> str | None:
    """Why a server that loaded (version, bento_model_tag) must not answer; None = serve."""
    if status is None:
        return "serving status unknown: the status file is missing or unreadable"
    if status.state is not ServingState.SERVING:
        why = f": {status.reason}" if status.reason else ""
        return f"target is {status.state.value}{why}"
    if status.version != version or (
        status.bento_model_tag is not None and status.bento_model_tag != bento_model_tag
    ):
        return (
            f"restart needed: governance now serves version {status.version} on this target, "
            f"this server loaded version {version}"
        )
    return None


class StatusWatcher:
    """Caches a status file; re-reads it only when its inode, mtime or size changed."""

    def __init__(self, path: str | os.PathLike[str], *, refresh_seconds: float = 1.0) -> None:
        self.path = Path(path)
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._stamp: tuple[int, int, int] | None = None
        self._status: ServingStatus | None = None

    def current(self) -> ServingStatus | None:
        """The latest status, or None when the file is missing or unreadable (fail closed)."""
        now = time.monotonic()
        if now - self._checked_at < self.refresh_seconds:
            return self._status
        with self._lock:
            if now - self._checked_at < self.refresh_seconds:
                return self._status
            self._refresh()
            self._checked_at = time.monotonic()
            return self._status

    def _refresh(self) -> None:
        try:
            st = os.stat(self.path)
        except OSError:
            self._stamp, self._status = None, None
            return
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        try:
            self._status = read_status(self.path)
        except BadInput:
            self._status = None
        self._stamp = stamp
