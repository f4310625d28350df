"""Use cases of retirement: one version for good, or every version a staleness rule matches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlgov.api.actor import Actor
from mlgov.api.models import Moved
from mlgov.api.platform import Platform
from mlgov.api.results import Result


@dataclass(frozen=True)
class StaleRecord(Result):
    """A version a staleness rule matched, with the rule and its last activity."""

    model: str
    version: str
    stage: str
    rule: str
    detail: str
    last_activity: str
    serving: bool


@dataclass(frozen=True)
class SkippedStale(StaleRecord):
    why: str


@dataclass(frozen=True)
class FailedStale(StaleRecord):
    error: str


@dataclass(frozen=True)
class StaleList(Result):
    """Stale versions found; nothing was retired (a dry run, or none found)."""

    found: tuple[StaleRecord, ...]
    dry_run: bool = False

    def to_json(self) -> Any:
        return [f.to_json() for f in self.found]

    def __len__(self) -> int:
        return len(self.found)


@dataclass(frozen=True)
class StaleRetirement(Result):
    """Each candidate retired on its own: one failure does not stop the others."""

    retired: tuple[StaleRecord, ...]
    skipped: tuple[SkippedStale, ...]
    failed: tuple[FailedStale, ...]


def retire_version(
    platform: Platform, actor: Actor, model: str, version: str, *, reason: str, force: bool = False
) -> Moved:
    """Retire a version for good (it never serves again; evidence is kept). `force` retires it
    even if it is a rollback candidate."""
    gov = platform.governance()
    return Moved.of(gov.retire(actor.name, model, version, reason=reason, force=force))


def find_stale(
    platform: Platform,
    actor: Actor,
    *,
    days: int | None = None,
    model: str | None = None,
    include_serving: bool = False,
) -> StaleList:
    """Versions matched by a staleness rule (`days` without activity, else the policy's)."""
    from mlgov.governance import staleness

    found = staleness.find_stale(
        platform.governance(), actor.name, days=days, model=model, include_serving=include_serving
    )
    return StaleList(tuple(StaleRecord.from_mapping(f.to_dict()) for f in found))


def retire_stale(
    platform: Platform,
    actor: Actor,
    *,
    days: int | None = None,
    model: str | None = None,
    include_serving: bool = False,
    dry_run: bool = False,
    confirm: Callable[[StaleList], None] | None = None,
) -> StaleList | StaleRetirement:
    """Find the stale versions, then (unless `dry_run`, or none is found) retire each one.

    `confirm` is called with what was found before anything is retired; it raises to stop
    (a surface's confirmation prompt). The reason on record is the rule that matched."""
    from mlgov.governance import staleness

    gov = platform.governance()
    if not dry_run:
        # Refused to whoever may not retire, whether or not anything is stale right now.
        from mlgov.governance.roles import Action

        with gov.store.read() as s:
            gov.authorize(s, actor.name, Action.RETIRE)
    found = staleness.find_stale(
        gov, actor.name, days=days, model=model, include_serving=include_serving
    )
    listed = StaleList(tuple(StaleRecord.from_mapping(f.to_dict()) for f in found), dry_run)
    if dry_run or not found:
        return listed
    if confirm is not None:
        confirm(listed)
    done = staleness.retire_stale(gov, actor.name, found, include_serving=include_serving)
    return StaleRetirement.from_mapping(
        done
        | {
            "retired": tuple(StaleRecord.from_mapping(r) for r in done["retired"]),
            "skipped": tuple(SkippedStale.from_mapping(r) for r in done["skipped"]),
            "failed": tuple(FailedStale.from_mapping(r) for r in done["failed"]),
        }
    )


def retire(
    platform: Platform,
    actor: Actor,
    *,
    model: str | None = None,
    version: str | None = None,
    reason: str | None = None,
    force: bool = False,
    stale: bool = False,
    days: int | None = None,
    stale_model: str | None = None,
    include_serving: bool = False,
    dry_run: bool = False,
    confirm: Callable[[StaleList], None] | None = None,
) -> Moved | StaleList | StaleRetirement:
    """`retire`: one version (`model`, `version`, `reason`), or with `stale` the sweep of
    `retire_stale` (optionally only `stale_model`'s versions)."""
    if stale:
        return retire_stale(
            platform,
            actor,
            days=days,
            model=stale_model,
            include_serving=include_serving,
            dry_run=dry_run,
            confirm=confirm,
        )
    from mlgov.api.errors import BadInput

    if not (model and version and reason):
        raise BadInput("retiring needs MODEL, VERSION and a reason saying why")
    return retire_version(platform, actor, model, version, reason=reason, force=force)
