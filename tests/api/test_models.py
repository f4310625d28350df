"""mlgov.api.models, .retirement and .reconcile called without the CLI.

The registry is the core's in-memory FakeRegistry behind the real wiring (mlgov.app), as in
tests/cli; the real MLflow path of register/card/reference/promote/retire/reconcile is run by
tests/integration through the CLI, and once here by the slow test at the end.
"""

from __future__ import annotations

import json

import pytest

from mlgov.api import Actor, Record, retirement, users
from mlgov.api import models as api
from mlgov.api import reconcile as reconciling
from mlgov.api.errors import (
    BadInput,
    Conflict,
    GateRefused,
    NotFound,
    PermissionDenied,
)

DANA, RITA, AUD = Actor.asserted("dana"), Actor.asserted("rita"), Actor.asserted("aud")
CARD = ("intended_use=scoring", "limitations=none known")


@pytest.fixture
def fake_registry(monkeypatch):
    from mlgov import app
    from mlgov.governance.testing import FakeRegistry

    registry = FakeRegistry()
    monkeypatch.setattr(app, "build_registry", lambda settings: registry)
    return registry


@pytest.fixture
def team(open_platform, admin, fake_registry):
    users.init(open_platform(), admin)
    for name, role in {"dana": "data_scientist", "rita": "risk_officer", "aud": "auditor"}.items():
        users.add_user(open_platform(), admin, name, [role])
    return open_platform


def _register(make, tier: str = "low") -> Record:
    return api.register(make(), DANA, "credit", run_id="r1", risk_tier=tier, purpose="scoring")


def test_register_list_show(team) -> None:
    done = _register(team)
    assert (done["model"], done["version"], done["stage"]) == ("credit", "1", "develop")
    assert done.to_json()["lineage"]["run_id"] == "r1"
    assert "tier_confirmation_required" not in done.data

    listed = api.list_versions(team(), AUD, stage="develop")
    assert [(v.model, v.version, v.owner) for v in listed.versions] == [("credit", "1", "dana")]
    assert set(listed.to_json()[0]) == {
        "model", "version", "stage", "health", "risk_tier", "owner", "registered_by",
        "purpose", "review_required", "created_at", "stage_changed_at", "last_activity_at",
    }  # fmt: skip
    assert api.list_versions(team(), AUD, tier="high").versions == ()

    versions = api.show(team(), AUD, "credit")
    assert isinstance(versions, api.ModelVersions)
    assert versions.to_json() == {"model": "credit", "versions": listed.to_json()}
    detail = api.show(team(), AUD, "credit", "1")
    assert detail["history"][0]["to"] == "develop" and detail["fingerprint_digest"]
    json.dumps(detail.to_json())


def test_evidence_then_gate_then_promote(team, tmp_path) -> None:
    _register(team)
    before = api.check_gate(team(), DANA, "credit", "1", to="train")
    assert {u.check for u in before.unmet} >= {"card", "reference"}
    assert before.to_json()[0].keys() == {"check", "message"}

    card_file = tmp_path / "card.toml"
    card_file.write_text('training_data = "bureau data 2020-2023"\n')
    card = api.card(team(), DANA, "credit", "1", assignments=CARD, card_file=str(card_file))
    assert card.revision == 1 and card.fields["training_data"].startswith("bureau")
    assert isinstance(card.missing_required, tuple)
    shown = api.card(team(), AUD, "credit", "1", show=True)
    assert shown.to_json() == card.to_json()
    with pytest.raises(BadInput, match="already says exactly that"):
        api.write_card(team(), DANA, "credit", "1", assignments=CARD, card_file=str(card_file))

    csv = tmp_path / "ref.csv"
    csv.write_text("x\n" + "\n".join(str(i / 10) for i in range(50)) + "\n")
    ref = api.record_reference(team(), DANA, "credit", "1", str(csv))
    assert (ref.file, ref.rows, ref.model, ref.version) == ("ref.csv", 50, "credit", "1")
    assert set(ref.to_json()["columns"]) == {"x"}

    fill = tuple(f"{k}=text" for k in card.missing_required)
    if fill:
        api.write_card(team(), DANA, "credit", "1", assignments=fill)
    assert api.promote(team(), DANA, "credit", "1", to="train", check=True).unmet == ()
    moved = api.promote(team(), DANA, "credit", "1", to="train")
    assert isinstance(moved, api.Moved)
    assert (moved.from_stage, moved.stage, moved.version) == ("develop", "train", "1")
    data = moved.to_json()
    assert data["from"] == "develop" and "from_stage" not in data and data["audit_seq"] > 0


def test_model_refusals(team) -> None:
    with pytest.raises(PermissionDenied):
        api.register(team(), AUD, "credit", run_id="r1", risk_tier="low", purpose="scoring")
    with pytest.raises(BadInput, match="risk tier|tier"):
        api.register(team(), DANA, "credit", run_id="r1", risk_tier="huge", purpose="scoring")
    with pytest.raises(NotFound):
        api.show(team(), AUD, "nope")
    _register(team)
    with pytest.raises(GateRefused):
        api.move(team(), DANA, "credit", "1", to="train")
    with pytest.raises(BadInput):
        api.list_versions(team(), AUD, stage="production")
    with pytest.raises(BadInput, match="KEY=VALUE"):
        api.write_card(team(), DANA, "credit", "1", assignments=("no equals sign",))
    with pytest.raises(BadInput, match="CSV or Parquet"):
        api.record_reference(team(), DANA, "credit", "1", "ref.txt")


def test_a_lower_tier_waits_for_a_risk_officer(team) -> None:
    _register(team, "high")
    lower = _register(team, "low")
    assert lower["tier_confirmation_required"] == "high"
    with pytest.raises(PermissionDenied):  # the registrant may not sign off their own tier
        api.confirm_tier(team(), DANA, "credit", "2", reason="smaller exposure")
    done = api.confirm_tier(team(), RITA, "credit", "2", reason="smaller exposure")
    assert (done.tier, done.earlier_tier, done.earlier_version) == ("low", "high", "credit/1")
    assert done.to_json()["confirmed_by"] == "rita"
    with pytest.raises(Conflict):
        api.confirm_tier(team(), RITA, "credit", "2", reason="again")


def test_retire_one_version(team) -> None:
    _register(team)
    with pytest.raises(BadInput):
        retirement.retire(team(), RITA, model="credit", version="1")  # no reason
    with pytest.raises(PermissionDenied):
        retirement.retire_version(team(), AUD, "credit", "1", reason="obsolete")
    done = retirement.retire(team(), RITA, model="credit", version="1", reason="obsolete")
    assert isinstance(done, api.Moved)
    assert (done.from_stage, done.stage) == ("develop", "retire")
    assert done.to_json()["from"] == "develop"


def test_retire_stale_dry_run_confirm_and_sweep(team) -> None:
    _register(team)
    _register(team)
    dry = retirement.retire(team(), RITA, stale=True, days=0, dry_run=True)
    assert isinstance(dry, retirement.StaleList) and dry.dry_run and len(dry) == 2
    assert [(f.version, f.rule, f.serving) for f in dry.found] == [
        ("1", "no_activity", False),
        ("2", "no_activity", False),
    ]
    assert dry.to_json()[0].keys() == {
        "model", "version", "stage", "rule", "detail", "last_activity", "serving",
    }  # fmt: skip
    assert retirement.find_stale(team(), AUD, days=0, model="credit").to_json() == dry.to_json()

    asked: list[int] = []

    def refuse(found: retirement.StaleList) -> None:
        asked.append(len(found))
        raise RuntimeError("not confirmed")

    with pytest.raises(RuntimeError):
        retirement.retire_stale(team(), RITA, days=0, confirm=refuse)
    assert asked == [2]
    assert len(retirement.find_stale(team(), AUD, days=0)) == 2  # nothing retired

    with pytest.raises(PermissionDenied):  # a sweep is for those who may retire anything
        retirement.retire_stale(team(), DANA, days=0)
    swept = retirement.retire_stale(team(), RITA, days=0, confirm=asked.append)
    assert isinstance(swept, retirement.StaleRetirement)
    assert [r.version for r in swept.retired] == ["1", "2"] and not swept.failed
    assert swept.to_json().keys() == {"retired", "skipped", "failed"}
    nothing = retirement.retire_stale(team(), RITA, days=0)
    assert isinstance(nothing, retirement.StaleList) and not nothing.dry_run
    assert nothing.to_json() == []
    with pytest.raises(BadInput, match="--days"):
        retirement.find_stale(team(), AUD, days=-1)


def test_reconcile(team, admin, fake_registry) -> None:
    _register(team)
    fake_registry.tags[("credit", "1")]["mlgov.stage"] = "deploy"  # changed out of band
    found = reconciling.reconcile(team(), admin)
    assert found.remaining == len(found.findings) > 0 and found.fixed == 0
    assert found.findings[0].model == "credit" and not found.findings[0].fixed
    data = found.to_json()
    assert data.keys() == {"operations", "findings", "fixed", "remaining"}
    assert data["findings"][0].keys() == {"kind", "model", "version", "detail", "fixable", "fixed"}
    fixed = reconciling.reconcile(team(), admin, fix=True, progress=print)
    assert fixed.remaining == 0 and fixed.fixed == len(fixed.findings)
    with pytest.raises(PermissionDenied):
        reconciling.reconcile(team(), DANA)


@pytest.mark.slow
def test_register_a_real_mlflow_model(open_platform, admin) -> None:
    from support.toy_models import log_toy_model

    users.init(open_platform(), admin)
    users.add_user(open_platform(), admin, "dana", ["data_scientist"])
    settings = open_platform().settings
    run_id, _ = log_toy_model(settings.tracking_uri, artifact_location=str(settings.artifact_root))
    done = api.register(
        open_platform(), DANA, "toy", run_id=run_id, risk_tier="medium", purpose="a toy"
    )
    assert done["run_id"] == run_id and done["artifact_files"] > 0
    assert done.to_json()["lineage"]["metrics"]["roc_auc"] > 0.5
    assert api.show(open_platform(), DANA, "toy").versions[0].risk_tier == "medium"
