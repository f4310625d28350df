"""Use cases of setting up: the store, users and the caller's own identity."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlgov.api.actor import Actor
from mlgov.api.platform import Platform
from mlgov.api.results import Record, Result


@dataclass(frozen=True)
class UserRecord(Result):
    """A user and their roles; removed users keep their history."""

    name: str
    roles: tuple[str, ...]
    active: bool
    created_at: str | None
    created_by: str | None
    removed_at: str | None

    @classmethod
    def of(cls, view: dict[str, Any]) -> UserRecord:
        return cls.from_mapping(view | {"roles": tuple(view["roles"])})


@dataclass(frozen=True)
class UserList(Result):
    users: tuple[UserRecord, ...]

    def to_json(self) -> Any:
        return [u.to_json() for u in self.users]


@dataclass(frozen=True)
class InitResult(Result):
    """What `init` did: the schema before and after, the first admin, the signing key."""

    database: str
    schema_before: str | None
    schema_now: str | None
    admin_created: str | None
    keys: Record | None = None

    def to_json(self) -> Any:
        data = super().to_json()
        if self.keys is None:
            del data["keys"]  # the JSON of `init` without --keys has no such key
        return data


def init(platform: Platform, actor: Actor, *, keys: bool = False) -> InitResult:
    """Create or upgrade the store; with `keys`, also create the checkpoint signing key pair
    and write the first signed checkpoint. Existing keys are never overwritten."""
    from mlgov.governance import checkpoints

    settings = platform.settings
    if keys:
        checkpoints.refuse_existing_keys(settings.signing_key_file, settings.public_key_file)
    gov = platform.governance(initializing=True)
    done = gov.init(actor.name)
    created: Record | None = None
    if keys:
        info = checkpoints.generate_keys(settings.signing_key_file, settings.public_key_file)
        checkpoints.record_new_key(gov, actor.name, info)
        assert gov.checkpointer is not None  # the platform always builds one
        with gov.store.read() as s:
            written = gov.checkpointer.write(s, at=gov.now())
        created = Record(info | written)
    return InitResult(keys=created, **done)


def whoami(platform: Platform, actor: Actor) -> UserRecord:
    return UserRecord.of(platform.governance().whoami(actor.name))


def add_user(platform: Platform, actor: Actor, name: str, roles: Sequence[str]) -> UserRecord:
    """Add a user with roles, restore a removed one, or grant an existing user more roles."""
    from mlgov.governance.roles import parse_role

    parsed = [parse_role(r) for r in roles]
    return UserRecord.of(platform.governance().add_user(actor.name, name, parsed))


def remove_user(platform: Platform, actor: Actor, name: str) -> UserRecord:
    return UserRecord.of(platform.governance().remove_user(actor.name, name))


def list_users(platform: Platform, actor: Actor, *, include_removed: bool = False) -> UserList:
    rows = platform.governance().list_users(actor.name, include_removed=include_removed)
    return UserList(tuple(UserRecord.of(r) for r in rows))
