"""Who may own a model, one model per name regardless of case, a retired artifact does not
come back, a lower tier waits for a risk officer (issue 16: defect 2 and the smaller finds)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from mlgov.governance.errors import BadInput, Conflict, GateRefused, PermissionDenied, Refused
from mlgov.governance.ports import RegisteredVersion
from mlgov.governance.roles import Role
from mlgov.governance.tables import AuditEvent, ModelVersion


def _reg(model: str, version: str, files: str = "a") -> RegisteredVersion:
    return RegisteredVersion(
        model=model,
        version=version,
        source_uri=f"models:/m-{model}-{version}",
        run_id=f"run-{version}",
        experiment_id="0",
        fingerprint={"MLmodel": files * 64},
    )


def _count(gov, table=ModelVersion) -> int:
    with gov.store.read() as s:
        return s.scalar(select(func.count()).select_from(table))


def _record(gov, reg, tier="high", **kw):
    return gov.record_registration(
        "ds1", reg, risk_tier=tier, purpose="credit scoring", owner=kw.pop("owner", "ds1"), **kw
    )


def test_an_auditor_may_not_own_a_model(gov):
    with pytest.raises(PermissionDenied, match="auditor and may not own a model"):
        gov.register("ds1", "credit", risk_tier="low", purpose="p", run_id="r1", owner="aud")
    assert _count(gov) == 0 and gov.registry.files == {}


def test_an_admin_only_user_may_not_own_a_model(gov):
    gov.add_user("admin", "boss", [Role.ADMIN])
    with pytest.raises(PermissionDenied, match="an owner needs role"):
        gov.register("ds1", "credit", risk_tier="low", purpose="p", run_id="r1", owner="boss")


@pytest.mark.parametrize("owner", ["ds2", "ro1", "eng"])
def test_data_scientists_engineers_and_risk_officers_may_own(gov, owner):
    v = gov.register("ds1", "credit", risk_tier="low", purpose="p", run_id="r1", owner=owner)
    assert v["owner"] == owner


def test_model_names_are_unique_regardless_of_case(gov):
    gov.register("ds1", "credit", risk_tier="low", purpose="p", run_id="r1")
    before = dict(gov.registry.files)
    with pytest.raises(BadInput, match="only in case") as info:
        gov.register("ds1", "CREDIT", risk_tier="low", purpose="p", run_id="r2")
    assert "register it as 'credit'" in str(info.value)
    assert gov.registry.files == before  # refused before MLflow was touched
    with pytest.raises(BadInput, match="only in case"):
        _record(gov, _reg("Credit", "1", "b"))
    assert _count(gov) == 1


def test_a_retired_artifact_is_refused_under_any_name(gov):
    _record(gov, _reg("credit", "1"))
    gov.retire("ro1", "credit", "1", reason="replaced")
    events = _count(gov, AuditEvent)
    for name in ("credit", "credit-copy"):
        with pytest.raises(Refused, match="credit/1's, retired on") as info:
            _record(gov, _reg(name, "2"), tier="low")
        assert "--reinstate REASON" in str(info.value)
    assert _count(gov) == 1 and _count(gov, AuditEvent) == events


def test_a_reinstatement_keeps_the_retired_tier_and_is_audited(gov):
    _record(gov, _reg("credit", "1"))
    gov.retire("ro1", "credit", "1", reason="replaced")
    with pytest.raises(Refused, match="keeps its high tier"):
        _record(gov, _reg("credit", "2"), tier="medium", reinstate="asked back")
    with pytest.raises(BadInput, match="--reinstate must not be empty"):
        _record(gov, _reg("credit", "2"), tier="high", reinstate="  ")
    _record(gov, _reg("credit", "2"), tier="high", reinstate="asked back by the regulator")
    with gov.store.read() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "version.register")).all()[
            -1
        ]
    assert event.payload["reinstates"]["version"] == "credit/1"
    assert event.payload["reinstates"]["reason"] == "asked back by the regulator"


def test_reinstate_for_an_artifact_never_retired_is_a_usage_error(gov):
    with pytest.raises(BadInput, match="this one is not"):
        _record(gov, _reg("credit", "1"), reinstate="why not")


def test_an_empty_fingerprint_is_not_mistaken_for_a_retired_artifact(gov):
    empty = _reg("credit", "1")
    empty = RegisteredVersion(**{**empty.__dict__, "fingerprint": {}})
    _record(gov, empty)
    gov.retire("ro1", "credit", "1", reason="replaced")
    second = RegisteredVersion(**{**_reg("other", "1").__dict__, "fingerprint": {}})
    _record(gov, second, tier="low")  # no files, nothing to recognise: no refusal


def test_a_lower_tier_waits_for_a_risk_officer_who_is_not_a_maker(governed):
    from mlgov.governance import cards, tier_history
    from mlgov.governance.references import record_reference

    governed.register("ds1", "credit", risk_tier="high", purpose="p", run_id="r1")
    result = governed.register("ds1", "credit", risk_tier="low", purpose="p", run_id="r2")
    assert result["tier_confirmation_required"] == "high"
    assert any("lower than an earlier version, credit/1" in w for w in governed.warnings)
    cards.set_card(governed, "ds1", "credit", "2", {f: "x" for f in _card_fields(governed)})
    ref = governed.home / "ref.csv"
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text("x\n1.0\n")
    record_reference(governed, "ds1", "credit", "2", ref)
    with pytest.raises(GateRefused, match=r"\[tier\] risk tier low is lower"):
        governed.promote("ds1", "credit", "2", "train")

    governed.add_user("admin", "ro_owner", [Role.RISK_OFFICER])
    with pytest.raises(PermissionDenied, match="may not approve"):
        tier_history.confirm_tier(governed, "ds2", "credit", "2", reason="r")
    with pytest.raises(BadInput, match="--reason must not be empty"):
        tier_history.confirm_tier(governed, "ro1", "credit", "2", reason=" ")
    with pytest.raises(Conflict, match="nothing to confirm"):
        tier_history.confirm_tier(governed, "ro1", "credit", "1", reason="r")
    done = governed.confirm_tier("ro1", "credit", "2", reason="smaller segment")
    assert (done["earlier_version"], done["confirmed_by"]) == ("credit/1", "ro1")
    governed.promote("ds1", "credit", "2", "train")
    assert governed.audit_verify("aud").ok


def test_the_owner_may_not_confirm_their_own_models_tier(governed):
    governed.register("ds1", "credit", risk_tier="high", purpose="p", run_id="r1")
    governed.register("ds1", "credit", risk_tier="medium", purpose="p", run_id="r2", owner="ro2")
    with pytest.raises(PermissionDenied, match="registered or owns credit/2"):
        governed.confirm_tier("ro2", "credit", "2", reason="r")


def test_the_same_or_a_stricter_tier_needs_no_confirmation(governed):
    from mlgov.governance import tier_history

    governed.register("ds1", "credit", risk_tier="medium", purpose="p", run_id="r1")
    for run, tier in (("r2", "medium"), ("r3", "high")):
        result = governed.register("ds1", "credit", risk_tier=tier, purpose="p", run_id=run)
        assert "tier_confirmation_required" not in result
    with governed.store.read() as s:
        for v in s.scalars(select(ModelVersion)):
            assert tier_history.earlier_tier(s, v) is None


def _card_fields(gov) -> tuple[str, ...]:
    return gov.policy.for_tier("low").required_card_fields
