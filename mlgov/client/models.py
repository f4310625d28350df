"""Remote twin of mlgov.api.models (registration, cards, references, stage moves)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from mlgov.api.actor import Actor
from mlgov.api.errors import BadInput
from mlgov.api.models import (
    Card,
    GatePreview,
    ModelVersions,
    Moved,
    Reference,
    TierConfirmation,
    VersionList,
    card_fields,
)
from mlgov.api.results import Record, revive
from mlgov.client._paths import seg, version_path
from mlgov.client.connection import ServerConnection


def register(
    conn: ServerConnection,
    actor: Actor,
    model: str,
    *,
    risk_tier: str,
    purpose: str,
    run_id: str | None = None,
    model_uri: str | None = None,
    artifact_path: str | None = None,
    owner: str | None = None,
    reinstate: str | None = None,
    data_grade: str | None = None,
    sensitive: bool | None = None,
) -> Record:
    body = {
        "risk_tier": risk_tier,
        "purpose": purpose,
        "run_id": run_id,
        "model_uri": model_uri,
        "artifact_path": artifact_path,
        "owner": owner,
        "reinstate": reinstate,
        "data_grade": data_grade,
        "sensitive": sensitive,
    }
    return Record(conn.post(f"/models/{seg(model)}/versions", body))


def confirm_tier(
    conn: ServerConnection, actor: Actor, model: str, version: str, *, reason: str
) -> TierConfirmation:
    data = conn.post(f"{version_path(model, version)}/tier-confirmation", {"reason": reason})
    return revive(TierConfirmation, data)


def list_versions(
    conn: ServerConnection,
    actor: Actor,
    *,
    stage: str | None = None,
    tier: str | None = None,
    owner: str | None = None,
) -> VersionList:
    return revive(VersionList, conn.get("/models", stage=stage, tier=tier, owner=owner))


def show(
    conn: ServerConnection, actor: Actor, model: str, version: str | None = None
) -> ModelVersions | Record:
    if version is None:
        return revive(ModelVersions, conn.get(f"/models/{seg(model)}"))
    return Record(conn.get(version_path(model, version)))


def show_card(conn: ServerConnection, actor: Actor, model: str, version: str) -> Card:
    return revive(Card, conn.get(f"{version_path(model, version)}/card"))


def write_card(
    conn: ServerConnection,
    actor: Actor,
    model: str,
    version: str,
    *,
    assignments: Sequence[str] = (),
    card_file: str | None = None,
    fields: Mapping[str, str] | None = None,
    replace: bool = False,
) -> Card:
    merged = card_fields(card_file, assignments, fields)
    if not merged:
        raise BadInput("no card fields given: use --set KEY=VALUE or --file CARD.toml")
    body = {"fields": merged, "replace": replace}
    return revive(Card, conn.put(f"{version_path(model, version)}/card", body))


def card(
    conn: ServerConnection,
    actor: Actor,
    model: str,
    version: str,
    *,
    show: bool = False,
    assignments: Sequence[str] = (),
    card_file: str | None = None,
    replace: bool = False,
) -> Card:
    if show:
        return show_card(conn, actor, model, version)
    return write_card(
        conn,
        actor,
        model,
        version,
        assignments=assignments,
        card_file=card_file,
        replace=replace,
    )


def record_reference(
    conn: ServerConnection,
    actor: Actor,
    model: str,
    version: str,
    file: str,
    *,
    data_grade: str | None = None,
    sensitive: bool | None = None,
) -> Reference:
    # "false" is sent as such: the server refuses a sensitivity mark without a grade.
    mark = None if sensitive is None else str(sensitive).lower()
    data = conn.upload(
        "PUT",
        f"{version_path(model, version)}/reference",
        Path(file),
        data_grade=data_grade,
        sensitive=mark,
    )
    return revive(Reference, data)


def check_gate(
    conn: ServerConnection, actor: Actor, model: str, version: str, *, to: str
) -> GatePreview:
    return revive(GatePreview, conn.get(f"{version_path(model, version)}/gate", to=to))


def move(
    conn: ServerConnection,
    actor: Actor,
    model: str,
    version: str,
    *,
    to: str,
    reason: str | None = None,
) -> Moved:
    data = conn.post(f"{version_path(model, version)}/moves", {"to": to, "reason": reason})
    return revive(Moved, data)


def promote(
    conn: ServerConnection,
    actor: Actor,
    model: str,
    version: str,
    *,
    to: str,
    reason: str | None = None,
    check: bool = False,
) -> Moved | GatePreview:
    if check:
        return check_gate(conn, actor, model, version, to=to)
    return move(conn, actor, model, version, to=to, reason=reason)
