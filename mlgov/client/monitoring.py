"""Remote twin of mlgov.api.monitoring: the current file is uploaded, the check runs on the
server against the version's recorded reference."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mlgov.api.actor import Actor
from mlgov.api.errors import BadInput
from mlgov.api.monitoring import (
    DriftCheck,
    DriftHistory,
    MonitorRun,
    PerformanceCheck,
    ReviewAck,
    check_html_out,
)
from mlgov.api.results import revive
from mlgov.client._paths import seg, version_path
from mlgov.client.connection import ServerConnection


def check_drift(
    conn: ServerConnection,
    actor: Actor,
    model: str,
    version: str,
    current: Path,
    *,
    reference: Path | None = None,
    html_out: Path | None = None,
    overwrite_html: bool = False,
    sample: int | None = None,
    seed: int | None = None,
    engine: str | None = None,
    cross_check: bool = False,
    progress: Callable[[str], None] | None = None,
) -> DriftCheck:
    if reference is not None:
        raise BadInput(
            "--reference is not taken by a server: a check compares with the reference on record",
            hint="record it with `mlgov models reference MODEL VERSION FILE`",
        )
    if html_out is not None:
        check_html_out(html_out, overwrite_html, current)
    if progress is not None:
        progress(f"uploading {current.name} to {conn.url} for the drift check ...")
    path = f"{version_path(model, version)}/drift-checks"
    data = conn.upload(
        "POST", path, current, sample=sample, seed=seed, engine=engine, cross_check=cross_check
    )
    checked = revive(DriftCheck, data)
    if html_out is not None:
        conn.download("GET", f"{path}/{checked.result_id}/report", html_out)
    return checked


def run_monitoring(conn: ServerConnection, actor: Actor, *, model: str | None = None) -> MonitorRun:
    return revive(MonitorRun, conn.post("/monitoring/runs", long=True, model=model))


def check_performance(
    conn: ServerConnection,
    actor: Actor,
    target: str,
    labels: Path,
    *,
    id_column: str = "prediction_id",
    label_column: str = "label",
    task: str | None = None,
) -> PerformanceCheck:
    path = f"/targets/{seg(target)}/performance-checks"
    data = conn.upload(
        "POST", path, labels, id_column=id_column, label_column=label_column, task=task
    )
    return revive(PerformanceCheck, data)


def drift_history(conn: ServerConnection, actor: Actor, model: str, version: str) -> DriftHistory:
    return revive(DriftHistory, conn.get(f"{version_path(model, version)}/drift-checks"))


def acknowledge_review(
    conn: ServerConnection, actor: Actor, model: str, version: str, *, comment: str
) -> ReviewAck:
    path = f"{version_path(model, version)}/review-acknowledgements"
    return revive(ReviewAck, conn.post(path, {"comment": comment}))
