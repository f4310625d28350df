"""Train gate evidence: cards, references, metrics; mirror of tags and aliases (fake registry)."""

from __future__ import annotations

import pytest

from mlgov.governance import cards
from mlgov.governance.errors import BadInput, GateRefused, IllegalTransition
from mlgov.governance.policy import DEFAULT_POLICY, load_policy
from mlgov.governance.references import record_reference


def _policy_with_metric(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text('[tiers.high.required_metrics]\nroc_auc = ">= 0.75"\nks = ">= 0.3"\n')
    return load_policy(f)


def test_train_gate_refuses_with_every_unmet_condition(
    governed, fake_registry, tmp_path, high_card
):
    governed.policy = _policy_with_metric(tmp_path)
    fake_registry.metrics = {"roc_auc": 0.70}
    governed.register("ds1", "credit", risk_tier="high", purpose="p", run_id="r1")
    cards.set_card(governed, "ds1", "credit", "1", {"intended_use": "scoring"})
    with pytest.raises(GateRefused) as err:
        governed.promote("ds1", "credit", "1", "train")
    messages = {(u.check, u.message.split(":")[0].split(" =")[0]) for u in err.value.unmet}
    assert ("card", "model card incomplete") in messages
    assert ("metrics", "metric roc_auc") in messages
    assert any(u.check == "metrics" and "ks is not logged" in u.message for u in err.value.unmet)
    assert any(u.check == "reference" for u in err.value.unmet)
    missing = next(u.message for u in err.value.unmet if u.check == "card")
    assert "fairness_assessment" in missing and "intended_use" not in missing.split("missing")[1]

    cards.set_card(governed, "ds1", "credit", "1", high_card)
    fake_registry.metrics = {"roc_auc": 0.80, "ks": 0.35}
    ref = tmp_path / "ref.csv"
    ref.write_text("x\n1\n")
    record_reference(governed, "ds1", "credit", "1", ref)
    governed.promote("ds1", "credit", "1", "train")
    assert governed.show("aud", "credit", "1")["stage"] == "train"


def test_card_revisions_are_audited_and_logged(governed, fake_registry):
    governed.register("ds1", "credit", risk_tier="low", purpose="p", run_id="r1")
    first = cards.set_card(governed, "ds1", "credit", "1", {"intended_use": "a"})
    second = cards.set_card(governed, "ds1", "credit", "1", {"limitations": "b"})
    assert (first["revision"], second["revision"]) == (1, 2)
    assert second["fields"] == {"intended_use": "a", "limitations": "b"}
    assert fake_registry.cards[("credit", "1")] == second["fields"]
    events = governed.audit_log("aud", action="card.update")
    assert [e["payload"]["changed_fields"] for e in events] == [["intended_use"], ["limitations"]]
    with pytest.raises(BadInput):
        cards.set_card(governed, "ds1", "credit", "1", {"limitations": "b"})
    with pytest.raises(BadInput):
        cards.parse_assignments(["novalue"])


def test_reference_must_match_signature(governed, tmp_path):
    governed.register("ds1", "credit", risk_tier="low", purpose="p", run_id="r1")
    bad = tmp_path / "bad.csv"
    bad.write_text("x,income\n1,2\n")
    with pytest.raises(BadInput, match="extra column"):
        record_reference(governed, "ds1", "credit", "1", bad)
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("x\n1\n")
    with pytest.raises(BadInput, match="CSV or Parquet"):
        record_reference(governed, "ds1", "credit", "1", wrong)
    assert governed.audit_log("aud", action="reference.record") == []
    assert not (governed.home / "references" / "credit").exists() or not any(
        (governed.home / "references" / "credit").rglob("*.csv")
    )


def test_retired_version_evidence_is_frozen(governed):
    governed.register("ds1", "credit", risk_tier="low", purpose="p", run_id="r1")
    governed.retire("ro1", "credit", "1", reason="obsolete")
    with pytest.raises(IllegalTransition):
        cards.set_card(governed, "ds1", "credit", "1", {"intended_use": "x"})


def test_mirror_tags_and_aliases_follow_moves(in_train, fake_registry):
    tags = fake_registry.tags[("credit", "1")]
    assert tags["mlgov.stage"] == "train" and tags["mlgov.risk_tier"] == "high"
    assert fake_registry.aliases["credit"] == {"challenger": "1"}
    in_train.retire("ro1", "credit", "1", reason="withdrawn")
    assert fake_registry.tags[("credit", "1")]["mlgov.stage"] == "retire"
    assert fake_registry.aliases["credit"] == {}


def test_failed_mirror_rolls_back_the_move(governed, fake_registry):
    governed.policy = DEFAULT_POLICY
    governed.register("ds1", "credit", risk_tier="low", purpose="p", run_id="r1")
    fake_registry.fail_on.add("mirror")
    with pytest.raises(Exception, match="refused mirror"):
        governed.retire("ro1", "credit", "1", reason="x")
    assert governed.show("aud", "credit", "1")["stage"] == "develop"


def test_version_deleted_in_mlflow_can_still_be_retired(governed, fake_registry):
    governed.register("ds1", "credit", risk_tier="low", purpose="p", run_id="r1")
    fake_registry.discard("credit", "1")  # gone from the registry, by hand
    governed.retire("ro1", "credit", "1", reason="deleted in MLflow")
    event = governed.audit_log("aud", action="stage.change")[-1]
    assert event["payload"]["mlflow"].startswith("version no longer in MLflow")
