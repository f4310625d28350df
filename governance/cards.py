"""Model cards: versioned with the model version, each change audited and sent to MLflow."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mlgov.governance.errors import BadInput, IllegalTransition
from mlgov.governance.lifecycle import Stage
from mlgov.governance.roles import Action
from mlgov.governance.tables import ModelCard, ModelVersion

if TYPE_CHECKING:
    from mlgov.governance.service import Governance

MAX_FIELD_CHARS = 20_000


def parse_assignments(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise BadInput(f"--set takes KEY=VALUE, got {item!r}")
        fields[key.strip()] = value
    return fields


def read_card_file(path: Path) -> dict[str, str]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"card file {path} not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BadInput(f"card file {path} is not readable TOML: {exc}") from None
    bad = [k for k, v in data.items() if not isinstance(v, str)]
    if bad:
        raise BadInput(f"card file {path}: key '{bad[0]}' must be a string (text of the field)")
    return data


def _validate(fields: Mapping[str, str]) -> None:
    if not fields:
        raise BadInput("no card fields given: use --set KEY=VALUE or --file CARD.toml")
    for key, value in fields.items():
        if not key.replace("_", "").isalnum() or not key[0].isalpha() or len(key) > 64:
            raise BadInput(f"card field name {key!r}: use letters, digits and '_' (max 64)")
        if "\x00" in value:
            raise BadInput(f"card field '{key}' contains a NUL character")
        if len(value) > MAX_FIELD_CHARS:
            raise BadInput(f"card field '{key}' is longer than {MAX_FIELD_CHARS} characters")


def current_card(session: Session, version: ModelVersion) -> ModelCard | None:
    return session.scalar(
        select(ModelCard)
        .where(ModelCard.version_id == version.id)
        .order_by(ModelCard.revision.desc())
        .limit(1)
    )


def card_fields(session: Session, version: ModelVersion) -> dict[str, str]:
    card = current_card(session, version)
    return dict(card.fields) if card else {}


def missing_fields(fields: Mapping[str, str], required: tuple[str, ...]) -> list[str]:
    return [f for f in required if not str(fields.get(f, "")).strip()]


def set_card(
    gov: Governance,
    actor: str,
    model: str,
    version: str,
    fields: Mapping[str, str],
    *,
    replace: bool = False,
) -> dict[str, Any]:
    """Write a new card revision: the given fields merged over the current ones."""
    _validate(fields)
    with gov.store.transaction() as s:
        gov.authorize(s, actor, Action.EDIT_EVIDENCE)
        v = gov.version(s, model, version, lock=True)
        if v.stage == Stage.RETIRE.value:
            raise IllegalTransition(f"{v.label} is retired: its card is kept as it was")
        old = current_card(s, v)
        merged = dict(fields) if replace or old is None else {**old.fields, **fields}
        if old is not None and old.fields == merged:
            raise BadInput(f"{v.label}: the card already says exactly that")
        card = ModelCard(
            version_id=v.id,
            revision=(old.revision + 1) if old else 1,
            fields=merged,
            created_at=gov.now(),
            created_by=actor,
        )
        s.add(card)
        gov.touch(v)
        changed = sorted(
            k
            for k in set(merged) | set(old.fields if old else {})
            if (old.fields if old else {}).get(k) != merged.get(k)
        )
        gov.audit(
            s,
            actor,
            "card.update",
            f"model:{model}/{v.version}",
            {"revision": card.revision, "changed_fields": changed},
        )
        s.flush()
        registry = gov.ports.get("registry")
        if registry is not None:
            registry.log_card(model, v.version, merged)
        tier = gov.policy.for_tier(v.risk_tier)
        return {
            "model": model,
            "version": v.version,
            "revision": card.revision,
            "fields": merged,
            "missing_required": missing_fields(merged, tier.required_card_fields),
        }


def show_card(gov: Governance, actor: str, model: str, version: str) -> dict[str, Any]:
    with gov.store.read() as s:
        gov.authorize(s, actor, Action.READ)
        v = gov.version(s, model, version)
        card = current_card(s, v)
        tier = gov.policy.for_tier(v.risk_tier)
        fields = dict(card.fields) if card else {}
        return {
            "model": model,
            "version": v.version,
            "revision": card.revision if card else 0,
            "fields": fields,
            "missing_required": missing_fields(fields, tier.required_card_fields),
        }


def card_section(
    session: Session, version: ModelVersion, required: tuple[str, ...]
) -> dict[str, Any]:
    card = current_card(session, version)
    fields = dict(card.fields) if card else {}
    return {
        "revision": card.revision if card else 0,
        "complete": not missing_fields(fields, required),
        "missing_required": missing_fields(fields, required),
    }
