"""Use cases of the audit trail: the log, verification (the chain and the state tables, or
signed checkpoints), writing a checkpoint and exporting the trail."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgov.api.actor import Actor
from mlgov.api.platform import Platform
from mlgov.api.results import Result

if TYPE_CHECKING:
    from mlgov.governance.implied_state import Disagreement


@dataclass(frozen=True)
class AuditEvent(Result):
    seq: int
    time: str
    actor: str
    action: str
    subject: str
    payload: Mapping[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditLog(Result):
    events: tuple[AuditEvent, ...]

    def to_json(self) -> Any:
        return [e.to_json() for e in self.events]


@dataclass(frozen=True)
class StateDisagreement(Result):
    """A state table value the audit trail does not support."""

    table: str
    key: str
    column: str
    stored: Any
    implied: Any

    @classmethod
    def of(cls, d: Disagreement) -> StateDisagreement:
        return cls.from_mapping(d.to_dict())

    def describe(self) -> str:
        return (
            f"{self.table} {self.key}: {self.column} is {self.stored!r}, "
            f"the audit trail says {self.implied!r}"
        )


@dataclass(frozen=True)
class ChainVerification(Result):
    """The chain recomputed (and checked against a head kept elsewhere, if given), then the
    state tables against the state the chain implies."""

    ok: bool
    chain_ok: bool
    events: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None
    problem: str | None
    state_disagreements: tuple[StateDisagreement, ...]

    @property
    def problems(self) -> tuple[str, ...]:
        broken = () if self.chain_ok else (f"chain broken at seq {self.first_bad_seq}",)
        return broken + tuple(d.describe() for d in self.state_disagreements)


@dataclass(frozen=True)
class CheckpointVerification(Result):
    """The chain checked against signed checkpoints, then the state tables against it.

    `ok` (a JSON key) is the checkpoints' and chain's verdict; `passed` also needs the state
    tables to agree."""

    ok: bool
    file: str
    checkpoints: int
    verified: int
    covered_seq: int
    uncovered_events: int
    first_bad_seq: int | None
    first_bad_line: int | None
    problem: str | None
    problems: tuple[Mapping[str, Any], ...]
    chain: Mapping[str, Any]
    state_disagreements: tuple[StateDisagreement, ...]

    @property
    def passed(self) -> bool:
        return self.ok and not self.state_disagreements


@dataclass(frozen=True)
class CheckpointWritten(Result):
    checkpoint: Mapping[str, Any]
    files: tuple[str, ...]


@dataclass(frozen=True)
class AuditExport(Result):
    file: str
    events: int
    head_hash: str


def audit_log(
    platform: Platform,
    actor: Actor,
    *,
    model: str | None = None,
    since: str | None = None,
    action: str | None = None,
) -> AuditLog:
    """Events in sequence order; `model` those about it and its versions, `since` (ISO 8601)
    those at or after that time, `action` those of one action."""
    from mlgov.governance.clock import parse_time

    when = parse_time(since) if since else None
    rows = platform.governance().audit_log(actor.name, model=model, since=when, action=action)
    return AuditLog(tuple(AuditEvent.from_mapping(r) for r in rows))


def verify(
    platform: Platform,
    actor: Actor,
    *,
    head: str | None = None,
    checkpoint_file: Path | None = None,
    public_keys: Sequence[Path] = (),
) -> ChainVerification | CheckpointVerification:
    """Recompute the chain and check the state tables against it. `head` is a head hash kept
    elsewhere (detects a cut tail); `checkpoint_file` holds signed checkpoints (detects a
    rehashed chain too), checked with `public_keys` (default: the installation's)."""
    from mlgov.api.errors import BadInput

    if checkpoint_file is not None:
        if head:
            raise BadInput("give --head or --checkpoints, not both")
        return verify_checkpoints(platform, actor, checkpoint_file, public_keys)
    if public_keys:
        raise BadInput("--public-key needs --checkpoints")
    report = platform.governance().audit_verify(actor.name, head=head)
    chain = report.chain
    return ChainVerification(
        ok=report.ok,
        chain_ok=chain.ok,
        events=chain.events,
        head_seq=chain.head_seq,
        head_hash=chain.head_hash,
        first_bad_seq=chain.first_bad_seq,
        problem=report.problem,
        state_disagreements=tuple(StateDisagreement.of(d) for d in report.disagreements),
    )


def verify_checkpoints(
    platform: Platform, actor: Actor, checkpoint_file: Path, public_keys: Sequence[Path] = ()
) -> CheckpointVerification:
    """Every checkpoint's signature, that its seq and head hash are still on the chain, and
    the state tables against the chain."""
    from mlgov.governance.checkpoints import verify_checkpoints as run

    gov = platform.governance()
    keys = list(public_keys) or list(platform.settings.verify_key_files())
    report = run(gov, actor.name, checkpoint_file, keys)
    found = gov.state_disagreements(actor.name)
    data = report.to_dict()
    return CheckpointVerification.from_mapping(
        data
        | {
            "problems": tuple(data["problems"]),
            "state_disagreements": tuple(StateDisagreement.of(d) for d in found),
        }
    )


def write_checkpoint(
    platform: Platform, actor: Actor, *, out: Path | None = None
) -> CheckpointWritten:
    """Sign the chain's head and append it to the checkpoint files (and `out`). Refused when
    the chain contradicts the last checkpoint or no signing key is configured."""
    from mlgov.governance.checkpoints import write_checkpoint as run

    result = run(platform.governance(), actor.name, extra=[out] if out else [])
    return CheckpointWritten(result["checkpoint"], tuple(str(f) for f in result["files"]))


def export(platform: Platform, actor: Actor, out: Path) -> AuditExport:
    """Write every event to `out` as JSON Lines; the head hash is what to keep elsewhere."""
    return AuditExport.from_mapping(platform.governance().audit_export(actor.name, out))
