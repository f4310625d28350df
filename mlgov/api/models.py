"""Use cases of governed models: register, confirm a tier, list, show, card, reference, promote."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mlgov.api.actor import Actor
from mlgov.api.platform import Platform
from mlgov.api.results import Record, Result


@dataclass(frozen=True)
class VersionSummary(Result):
    """One governed version as lists show it (no lineage, evidence or history)."""

    model: str
    version: str
    stage: str
    health: str
    risk_tier: str
    owner: str
    registered_by: str
    purpose: str
    review_required: bool
    created_at: str | None
    stage_changed_at: str | None
    last_activity_at: str | None


@dataclass(frozen=True)
class VersionList(Result):
    versions: tuple[VersionSummary, ...]

    def to_json(self) -> Any:
        return [v.to_json() for v in self.versions]


@dataclass(frozen=True)
class ModelVersions(Result):
    """A model and its versions, oldest first."""

    model: str
    versions: tuple[VersionSummary, ...]


@dataclass(frozen=True)
class TierConfirmation(Result):
    """A risk officer's sign-off of a tier lower than an earlier version's."""

    model: str
    version: str
    tier: str
    earlier_tier: str
    earlier_version: str
    confirmed_by: str
    audit_seq: int


@dataclass(frozen=True)
class Moved(VersionSummary):
    """A version after a stage move; `from_stage` is the JSON key `from`."""

    from_stage: str
    audit_seq: int

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Moved:
        rest = {k: v for k, v in data.items() if k != "from"}
        return cls.from_mapping(rest | {"from_stage": data["from"]})

    def to_json(self) -> Any:
        data = super().to_json()
        data["from"] = data.pop("from_stage")
        return data


@dataclass(frozen=True)
class UnmetCondition(Result):
    check: str
    message: str


@dataclass(frozen=True)
class GatePreview(Result):
    """What the gate to a stage would say now; empty when the move would pass."""

    unmet: tuple[UnmetCondition, ...]

    def to_json(self) -> Any:
        return [u.to_json() for u in self.unmet]


@dataclass(frozen=True)
class Card(Result):
    """A version's model card (revision 0: none yet) and the required fields it lacks."""

    model: str
    version: str
    revision: int
    fields: Mapping[str, str]
    missing_required: tuple[str, ...]

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Card:
        return cls.from_mapping(dict(data) | {"missing_required": tuple(data["missing_required"])})


@dataclass(frozen=True)
class Reference(Result):
    """A version's reference dataset: the drift baseline, kept as a copy in MLGOV_HOME."""

    file: str
    stored_at: str
    sha256: str
    rows: int
    columns: Mapping[str, Any]
    recorded_at: str
    recorded_by: str
    model: str
    version: str
    grade: str | None = None  # core, important or general; None where none was recorded
    sensitive: bool | None = None


def register(
    platform: Platform,
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
    """Register a version from an MLflow run or URI (or adopt one); it starts in develop.

    The record is the version's detail; `tier_confirmation_required` is set when its tier is
    lower than an earlier version's (the train gate then waits for `confirm_tier`).
    `data_grade` (core, important, general) and `sensitive` describe the training data."""
    from mlgov.governance.data_grade import parse_data_grade

    grade = parse_data_grade(data_grade, sensitive, option="--data-grade")
    return Record(
        platform.governance().register(
            actor.name,
            model,
            run_id=run_id,
            model_uri=model_uri,
            artifact_path=artifact_path,
            risk_tier=risk_tier,
            purpose=purpose,
            owner=owner,
            reinstate=reinstate,
            data_grade=grade,
        )
    )


def confirm_tier(
    platform: Platform, actor: Actor, model: str, version: str, *, reason: str
) -> TierConfirmation:
    """Sign off a tier lower than an earlier version's (risk officer, not registrant/owner)."""
    result = platform.governance().confirm_tier(actor.name, model, version, reason=reason)
    return TierConfirmation.from_mapping(result)


def list_versions(
    platform: Platform,
    actor: Actor,
    *,
    stage: str | None = None,
    tier: str | None = None,
    owner: str | None = None,
) -> VersionList:
    rows = platform.governance().list_versions(actor.name, stage=stage, tier=tier, owner=owner)
    return VersionList(tuple(VersionSummary.from_mapping(r) for r in rows))


def show(
    platform: Platform, actor: Actor, model: str, version: str | None = None
) -> ModelVersions | Record:
    """A model's versions, or one version in detail (stage, lineage, evidence, history)."""
    data = platform.governance().show(actor.name, model, version)
    if version is None:
        versions = tuple(VersionSummary.from_mapping(v) for v in data["versions"])
        return ModelVersions(model=data["model"], versions=versions)
    return Record(data)


def show_card(platform: Platform, actor: Actor, model: str, version: str) -> Card:
    from mlgov.governance import cards

    return Card.of(cards.show_card(platform.governance(), actor.name, model, version))


def write_card(
    platform: Platform,
    actor: Actor,
    model: str,
    version: str,
    *,
    assignments: Sequence[str] = (),
    card_file: str | None = None,
    fields: Mapping[str, str] | None = None,
    replace: bool = False,
) -> Card:
    """A new audited card revision: the TOML file's fields, then `fields`, then KEY=VALUE
    assignments, merged over the current card (or replacing it)."""
    from mlgov.governance import cards

    gov = platform.governance()
    fields = card_fields(card_file, assignments, fields)
    return Card.of(cards.set_card(gov, actor.name, model, version, fields, replace=replace))


def card(
    platform: Platform,
    actor: Actor,
    model: str,
    version: str,
    *,
    show: bool = False,
    assignments: Sequence[str] = (),
    card_file: str | None = None,
    replace: bool = False,
) -> Card:
    """`models card`: show the card (`show`), or write a revision."""
    if show:
        return show_card(platform, actor, model, version)
    return write_card(
        platform,
        actor,
        model,
        version,
        assignments=assignments,
        card_file=card_file,
        replace=replace,
    )


def card_fields(
    card_file: str | None = None,
    assignments: Sequence[str] = (),
    fields: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The fields a card revision sets: the TOML file's, then `fields`, then KEY=VALUE
    assignments (each later one wins). Reads only the file: a server's client uses it too."""
    from pathlib import Path

    from mlgov.governance import cards

    merged = cards.read_card_file(Path(card_file)) if card_file else {}
    merged.update(fields or {})
    merged.update(cards.parse_assignments(list(assignments)))
    return merged


def record_reference(
    platform: Platform,
    actor: Actor,
    model: str,
    version: str,
    file: str,
    *,
    data_grade: str | None = None,
    sensitive: bool | None = None,
) -> Reference:
    """Record a CSV or Parquet file as the version's reference dataset (the drift baseline),
    with its data grade (core, important, general) and sensitivity when given."""
    from pathlib import Path

    from mlgov.governance.data_grade import parse_data_grade
    from mlgov.governance.references import record_reference as record

    grade = parse_data_grade(data_grade, sensitive, option="--data-grade")
    return Reference.from_mapping(
        record(platform.governance(), actor.name, model, version, Path(file), data_grade=grade)
    )


def check_gate(
    platform: Platform, actor: Actor, model: str, version: str, *, to: str
) -> GatePreview:
    """What the gate to stage `to` would say now, without moving."""
    unmet = platform.governance().gate_preview(actor.name, model, version, to)
    return GatePreview(tuple(UnmetCondition.from_mapping(u) for u in unmet))


def move(
    platform: Platform,
    actor: Actor,
    model: str,
    version: str,
    *,
    to: str,
    reason: str | None = None,
) -> Moved:
    """Move a version to stage `to` if the lifecycle allows it and the gate passes."""
    return Moved.of(platform.governance().promote(actor.name, model, version, to, reason=reason))


def promote(
    platform: Platform,
    actor: Actor,
    model: str,
    version: str,
    *,
    to: str,
    reason: str | None = None,
    check: bool = False,
) -> Moved | GatePreview:
    """`promote`: the move, or with `check` only the gate's preview (nothing moves)."""
    if check:
        return check_gate(platform, actor, model, version, to=to)
    return move(platform, actor, model, version, to=to, reason=reason)
