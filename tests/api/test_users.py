"""mlgov.api.users: the store, users and whoami, called without the CLI."""

from __future__ import annotations

import json

import pytest

from mlgov.api import Actor, Identification
from mlgov.api import users as api
from mlgov.api.errors import BadInput, Conflict, PermissionDenied


def test_init_then_users_round_trip(open_platform, admin) -> None:
    done = api.init(open_platform(), admin)
    assert done.schema_before is None and done.admin_created == "admin"
    assert "keys" not in done.to_json()

    added = api.add_user(open_platform(), admin, "rita", ["risk_officer"])
    assert added.roles == ("risk_officer",) and added.active
    json.dumps(added.to_json())  # JSON-ready as is

    listed = api.list_users(open_platform(), admin)
    assert [u.name for u in listed.users] == ["admin", "rita"]
    assert listed.to_json()[1]["roles"] == ["risk_officer"]

    me = api.whoami(open_platform(), Actor.asserted("rita"))
    assert me.name == "rita" and me.created_by == "admin"


def test_init_with_keys_reports_the_key_and_first_checkpoint(open_platform, admin) -> None:
    done = api.init(open_platform(), admin, keys=True)
    keys = done.to_json()["keys"]
    assert keys["key_id"] and keys["checkpoint"]["seq"] >= 1
    with pytest.raises(BadInput, match="refusing to overwrite"):
        api.init(open_platform(), admin, keys=True)


def test_refusals_are_the_core_error_family(open_platform, admin) -> None:
    api.init(open_platform(), admin)
    api.add_user(open_platform(), admin, "sam", ["data_scientist"])
    with pytest.raises(PermissionDenied):
        api.add_user(open_platform(), Actor.asserted("sam"), "eve", ["admin"])
    with pytest.raises(BadInput):
        api.add_user(open_platform(), admin, "eve", ["wizard"])
    with pytest.raises(Conflict):
        api.remove_user(open_platform(), admin, "admin")  # the last admin
    assert [u.name for u in api.list_users(open_platform(), admin).users] == ["admin", "sam"]


def test_an_actor_says_how_it_was_identified() -> None:
    assert Actor.asserted("rita").identified_by is Identification.ASSERTED
    assert Actor("rita", Identification.TOKEN).identified_by == "token"
    with pytest.raises(BadInput):
        Actor.asserted("rita; drop table users")
