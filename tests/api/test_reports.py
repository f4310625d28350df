"""mlgov.api.reports: the inventory (now and `at` a past moment) and evidence packs (create,
verify alone and against the audit trail), called without the CLI.

The registry is the core's FakeRegistry behind the real wiring (mlgov.app), as in
tests/api/test_models.py; packs with real MLflow runs are built end to end in tests/integration.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from mlgov.api import Actor, audit, users
from mlgov.api import models as models_api
from mlgov.api import reports as api
from mlgov.api.errors import BadInput, NotFound

DANA, AUD = Actor.asserted("dana"), Actor.asserted("aud")


@pytest.fixture
def fake_registry(monkeypatch):
    from mlgov import app
    from mlgov.governance.testing import FakeRegistry

    registry = FakeRegistry()
    monkeypatch.setattr(app, "build_registry", lambda settings: registry)
    return registry


def _team(open_platform, admin, *, keys: bool):
    users.init(open_platform(), admin, keys=keys)
    for name, role in {"dana": "data_scientist", "aud": "auditor"}.items():
        users.add_user(open_platform(), admin, name, [role])
    models_api.register(
        open_platform(), DANA, "credit", run_id="r1", risk_tier="low", purpose="scoring"
    )
    return open_platform


@pytest.fixture
def team(open_platform, admin, fake_registry):
    return _team(open_platform, admin, keys=False)


@pytest.fixture
def keyed(open_platform, admin, fake_registry):
    return _team(open_platform, admin, keys=True)


def test_inventory_now_and_at_a_past_moment(team) -> None:
    before = datetime.now(UTC) - timedelta(days=1)
    now = api.inventory(team(), AUD)
    assert now.at is None
    assert [(r["model"], r["version"], r["stage"]) for r in now.rows] == [
        ("credit", "1", "develop")
    ]
    assert set(now.to_json()[0]) == set(api.INVENTORY_FIELDS)
    assert api.inventory(team(), AUD, stage="train").rows == ()

    past = api.inventory(team(), AUD, at=before.date().isoformat())
    assert past.rows == () and past.at is not None and past.at.endswith("T00:00:00.000000Z")
    replayed = api.inventory(team(), AUD, at=datetime.now(UTC).isoformat())
    assert replayed.to_json() == now.to_json()  # the trail alone rebuilds today's state
    with pytest.raises(BadInput, match="in the future"):
        api.inventory(team(), AUD, at=(datetime.now(UTC) + timedelta(days=2)).isoformat())
    with pytest.raises(BadInput):
        api.inventory(team(), AUD, stage="production")


def test_an_unsigned_pack_verifies_internally_and_against_the_audit_trail(team, tmp_path) -> None:
    out = tmp_path / "pack"
    pack = api.create_report(team(), AUD, "credit", "1", out)
    assert (pack.model, pack.version, pack.signed_by_key) == ("credit", "1", None)
    assert pack.files == pack.listed_files + 1  # the manifest itself
    events = audit.audit_log(team(), AUD, action="report.export").events
    assert [e.seq for e in events] == [pack.export_event_seq]

    alone = api.verify_report(team(), AUD, out)
    assert alone.ok and alone.assurance == api.INTERNAL_ONLY and alone.checked == pack.listed_files
    assert "audit" not in alone.to_json()  # the key exists only with with_audit
    bound = api.verify_report(team(), AUD, out, with_audit=True)
    assert bound.ok and bound.audit == api.AuditCheck(pack.export_event_seq, pack.audit_head["seq"])
    assert bound.to_json()["audit"] == {
        "export_event_seq": pack.export_event_seq,
        "head_seq": pack.audit_head["seq"],
    }
    json.dumps(bound.to_json())

    (out / "evidence.json").write_text("{}")
    (out / "extra.txt").write_text("x")
    broken = api.verify_report(team(), AUD, out)
    assert not broken.ok
    assert (broken.changed, broken.missing, broken.added) == (
        ("evidence.json",),
        (),
        ("extra.txt",),
    )


def test_a_signed_pack_needs_its_key_and_a_rewritten_manifest_fails(keyed, tmp_path) -> None:
    out = tmp_path / "pack"
    pack = api.create_report(keyed(), AUD, "credit", "1", out)
    assert pack.signed_by_key and pack.files == pack.listed_files + 2
    good = api.verify_report(keyed(), AUD, out)  # the installation's public key
    assert good.ok and good.assurance == "signature" and good.signed_by_key == pack.signed_by_key

    manifest = json.loads((out / "manifest.json").read_text())
    manifest["exported_by"] = "mallory"
    (out / "manifest.json").write_text(json.dumps(manifest))
    forged = api.verify_report(keyed(), AUD, out, with_audit=True)
    assert not forged.ok and forged.problems
    assert forged.audit is not None and forged.audit.export_event_seq is None


def test_report_refusals(team, tmp_path) -> None:
    with pytest.raises(NotFound):
        api.create_report(team(), AUD, "credit", "9", tmp_path / "p")
    assert not (tmp_path / "p").exists()
    with pytest.raises(BadInput, match="not a directory"):
        api.verify_report(team(), AUD, tmp_path / "nothing")
    platform = team()
    (tmp_path / "empty").mkdir()
    unverified = api.verify_report(platform, AUD, tmp_path / "empty")
    assert not unverified.ok and "manifest.json is missing" in unverified.problems[0]
    assert not platform.opened  # verifying a pack alone needs no governance store
