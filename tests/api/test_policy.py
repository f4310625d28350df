"""mlgov.api.policy: show, set and history through the API, as the server will call them."""

from __future__ import annotations

import pytest

from mlgov.api import Actor, users
from mlgov.api import policy as api
from mlgov.api.errors import Conflict, PermissionDenied


def test_set_then_show_then_history(open_platform, admin, tmp_path) -> None:
    users.init(open_platform(), admin)
    users.add_user(open_platform(), admin, "sam", ["data_scientist"])
    file = tmp_path / "policy.toml"
    file.write_text("[tiers.high]\napprovals_required = 3\n")

    before = api.show_policy(open_platform(), admin, tier="high").to_json()
    before_digest = api.show_policy(open_platform(), admin).to_json()["digest"]
    done = api.set_policy(open_platform(), admin, str(file))
    assert done.previous_digest == before_digest != done.digest
    after = api.show_policy(open_platform(), admin, tier="high").to_json()
    assert (before["approvals_required"], after["approvals_required"]) == (2, 3)
    assert api.show_policy(open_platform(), admin).to_json()["digest"] == done.digest

    history = api.policy_history(open_platform(), Actor.asserted("sam"))
    assert [p.id for p in history.policies] == [done.id] and history.policies[0].in_force
    assert history.to_json()[0]["digest"] == done.digest

    with pytest.raises(Conflict):  # the same policy again changes nothing
        api.set_policy(open_platform(), admin, str(file))
    with pytest.raises(PermissionDenied):
        api.set_policy(open_platform(), Actor.asserted("sam"), str(file))
