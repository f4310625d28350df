"""Use cases of the policy in force: show it, put a new one in force, list what was."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlgov.api.actor import Actor
from mlgov.api.platform import Platform
from mlgov.api.results import Record, Result


@dataclass(frozen=True)
class PolicyRecord(Result):
    """One policy that was put in force."""

    id: int
    digest: str
    document_sha256: str
    source: str
    set_at: str
    set_by: str
    audit_seq: int
    in_force: bool


@dataclass(frozen=True)
class PolicySet(PolicyRecord):
    previous_digest: str


@dataclass(frozen=True)
class PolicyHistory(Result):
    policies: tuple[PolicyRecord, ...]

    def to_json(self) -> Any:
        return [p.to_json() for p in self.policies]


def show_policy(platform: Platform, actor: Actor, *, tier: str | None = None) -> Record:
    """The policy in force (built-in defaults with the stored policy applied), or one tier."""
    from mlgov.governance.lifecycle import parse_tier

    data = platform.governance().effective_policy(actor.name)
    if tier:
        name = parse_tier(tier).value
        data = {"tier": name, **data["tiers"][name]}
    return Record(data)


def set_policy(
    platform: Platform, actor: Actor, file: str, *, source: str | None = None
) -> PolicySet:
    """Put the policy TOML file in force (admin), audited with the policy's SHA-256 and where
    it came from (`source`, default the file's path)."""
    from mlgov.governance.policy import read_policy_file

    document = read_policy_file(file)
    return PolicySet.from_mapping(
        platform.governance().set_policy(actor.name, document, source=source or file)
    )


def set_policy_document(
    platform: Platform, actor: Actor, document: str, *, source: str
) -> PolicySet:
    """Put a policy given as TOML text in force (admin; a server's client sends the file's
    text), audited with its SHA-256 and `source` (where the text came from)."""
    return PolicySet.from_mapping(
        platform.governance().set_policy(actor.name, document, source=source)
    )


def policy_history(platform: Platform, actor: Actor) -> PolicyHistory:
    rows = platform.governance().policy_history(actor.name)
    return PolicyHistory(tuple(PolicyRecord.from_mapping(r) for r in rows))
