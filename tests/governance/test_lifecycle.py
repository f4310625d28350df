"""The transition table: every allowed move succeeds, every forbidden one is refused."""

from __future__ import annotations

import itertools

import pytest

from mlgov.governance.errors import GateRefused, IllegalTransition
from mlgov.governance.lifecycle import ALLOWED_MOVES, Stage, check_move, is_allowed

CHAIN = [Stage.DEVELOP, Stage.TRAIN, Stage.DEPLOY, Stage.EVALUATE]
ACTOR_FOR = {Stage.TRAIN: "ds1", Stage.DEPLOY: "eng", Stage.EVALUATE: "eng", Stage.RETIRE: "ro1"}


def test_table_is_the_chain_plus_retire_from_any_nonterminal_stage():
    for i, stage in enumerate(CHAIN):
        expected = {Stage.RETIRE} | ({CHAIN[i + 1]} if i + 1 < len(CHAIN) else set())
        assert ALLOWED_MOVES[stage] == expected
    assert ALLOWED_MOVES[Stage.RETIRE] == frozenset()


@pytest.mark.parametrize("current,target", list(itertools.product(Stage, Stage)))
def test_check_move_matches_table(current, target):
    if target in ALLOWED_MOVES[current]:
        check_move(current, target)
        assert is_allowed(current, target)
    else:
        with pytest.raises(IllegalTransition):
            check_move(current, target)


def _bring_to(gov, stage: Stage) -> str:
    version = gov.register("ds1", "m", risk_tier="low", purpose="p", run_id="r")["version"]
    for step in CHAIN[1 : CHAIN.index(stage) + 1] if stage in CHAIN else []:
        gov.promote(ACTOR_FOR[step], "m", version, step.value)
    if stage is Stage.RETIRE:
        gov.promote("ro1", "m", version, "retire", reason="done")
    return version


@pytest.mark.parametrize("current,target", list(itertools.product(Stage, Stage)))
def test_service_enforces_every_pair(gov, current, target):
    version = _bring_to(gov, current)
    assert gov.show("aud", "m", version)["stage"] == current.value
    events_before = len(gov.audit_log("aud"))
    if target in ALLOWED_MOVES[current]:
        gov.promote(ACTOR_FOR[target], "m", version, target.value, reason="r")
        assert gov.show("aud", "m", version)["stage"] == target.value
        assert len(gov.audit_log("aud")) == events_before + 1
    else:
        actor = ACTOR_FOR.get(target, "ds1")
        with pytest.raises((IllegalTransition, Exception)) as err:
            gov.promote(actor, "m", version, target.value, reason="r")
        assert err.value.exit_code in (1, 2)
        assert gov.show("aud", "m", version)["stage"] == current.value
        assert len(gov.audit_log("aud")) == events_before


def test_retire_is_final(gov, registered):
    gov.retire("ro1", "credit", "1", reason="superseded")
    for target, actor in (("train", "ds1"), ("deploy", "eng"), ("retire", "ro1")):
        with pytest.raises(IllegalTransition, match="final"):
            gov.promote(actor, "credit", "1", target, reason="again")


def test_refused_gate_lists_every_unmet_condition(gov, registered):
    gov.gates.add_check(Stage.TRAIN, "card", lambda ctx: ["field intended_use missing"])
    gov.gates.add_check(Stage.TRAIN, "metrics", lambda ctx: ["roc_auc missing", "ks < 0.3"])
    gov.gates.add_check(Stage.TRAIN, "passing", lambda ctx: [])
    with pytest.raises(GateRefused) as err:
        gov.promote("ds1", "credit", "1", "train")
    assert [(u.check, u.message) for u in err.value.unmet] == [
        ("card", "field intended_use missing"),
        ("metrics", "roc_auc missing"),
        ("metrics", "ks < 0.3"),
    ]
    assert err.value.exit_code == 1
    assert gov.show("aud", "credit", "1")["stage"] == "develop"
