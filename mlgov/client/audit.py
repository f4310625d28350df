"""Remote twin of mlgov.api.audit: the chain lives with the server's store; a signed
checkpoint may also be kept on this machine (`out`)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from mlgov.api.actor import Actor
from mlgov.api.audit import (
    AuditEvent,
    AuditExport,
    AuditLog,
    ChainVerification,
    CheckpointVerification,
    CheckpointWritten,
)
from mlgov.api.errors import BadInput
from mlgov.api.results import revive
from mlgov.client.connection import ServerConnection

PAGE = 1000


def audit_log(
    conn: ServerConnection,
    actor: Actor,
    *,
    model: str | None = None,
    since: str | None = None,
    action: str | None = None,
) -> AuditLog:
    events: list[AuditEvent] = []
    cursor: str | None = None
    while True:
        page = conn.get(
            "/audit/events", model=model, since=since, action=action, limit=PAGE, cursor=cursor
        )
        events.extend(revive(AuditEvent, e) for e in page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return AuditLog(tuple(events))


def verify(
    conn: ServerConnection,
    actor: Actor,
    *,
    head: str | None = None,
    checkpoint_file: Path | None = None,
    public_keys: Sequence[Path] = (),
) -> ChainVerification | CheckpointVerification:
    if checkpoint_file is not None or public_keys:
        raise BadInput(
            "--checkpoints and --public-key check a file against the store's chain: run that "
            "on the server's host",
            hint="against the server, `mlgov audit verify [--head HASH]` checks the chain there",
        )
    return revive(ChainVerification, conn.get("/audit/verification", head=head))


def verify_checkpoints(
    conn: ServerConnection, actor: Actor, checkpoint_file: Path, public_keys: Sequence[Path] = ()
) -> CheckpointVerification:
    raise BadInput("checkpoint files are verified on the server's host, against its store")


def write_checkpoint(
    conn: ServerConnection, actor: Actor, *, out: Path | None = None
) -> CheckpointWritten:
    if out is not None and not out.parent.is_dir():
        raise BadInput(f"cannot write {out}: directory {out.parent} does not exist")
    written = revive(CheckpointWritten, conn.post("/audit/checkpoints"))
    if out is None:
        return written
    # The same line format the server's own checkpoint files hold, appended.
    line = json.dumps(dict(written.checkpoint), sort_keys=True, separators=(",", ":")) + "\n"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode("ascii"))
    finally:
        os.close(fd)
    return CheckpointWritten(written.checkpoint, (*written.files, str(out)))


def export(conn: ServerConnection, actor: Actor, out: Path) -> AuditExport:
    if not out.parent.is_dir():
        raise BadInput(f"cannot write {out}: directory {out.parent} does not exist")
    partial = out.with_name(out.name + ".partial")
    try:
        headers = conn.download("GET", "/audit/export", partial)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return AuditExport(
        file=str(out),
        events=int(headers.get("x-mlgov-events", "0")),
        head_hash=headers.get("x-mlgov-head-hash", ""),
    )
