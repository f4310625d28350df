"""mlgov.api.deployments: deploy, serve, rollback, undeploy and list, called without the CLI.

On the core's fake deployer and drift checker (tests/conftest.py `operated`); the real
BentoML build and server are the CLI's, exercised end to end in
tests/integration/test_serving_flow.py.
"""

from __future__ import annotations

import json

import pytest

from mlgov.api import Actor, Platform
from mlgov.api import deployments as api
from mlgov.api.errors import BadInput, GateRefused, NotFound, PermissionDenied, Refused

ENG = Actor.asserted("eng")
AUD = Actor.asserted("aud")


class OnService(Platform):
    """A platform on an already open governance service (fake adapters)."""

    def __init__(self, gov, settings=None) -> None:
        super().__init__(settings=settings)
        self._gov = gov


@pytest.fixture
def ready(operated, ops):
    """credit/1 approved and drift-checked: the deploy gate passes."""
    from mlgov.governance.drift_checks import record_drift

    ops.approve()
    record_drift(operated, "eng", "credit", "1", ops.current())
    return OnService(operated)


def test_deploy_list_rollback_undeploy(ready, ops) -> None:
    said: list[str] = []
    done = api.deploy(ready, ENG, "credit", "1", target="scoring", progress=said.append)
    assert isinstance(done, api.Deployed)
    assert done.target == "scoring" and done.bento_model_tag == done.to_json()["bento_model_tag"]
    data = done.to_json()
    assert (data["stage"], data["from"], data["model"]) == ("deploy", "train", "credit")
    assert said and "deploy gate passed" in said[0]
    json.dumps(data)

    listed = api.list_deployments(ready, AUD)
    assert [(d.target, d.version, d.state) for d in listed.deployments] == [
        ("scoring", "1", "active")
    ]
    assert set(listed.to_json()[0]) == set(api.DeploymentRecord.__dataclass_fields__)

    ops.second_version()  # credit/2 now serves on scoring
    back = api.rollback(ready, ENG, "scoring")
    assert isinstance(back, api.DeploymentRecord)
    assert (back.target, back.version, back.state) == ("scoring", "1", "active")

    ended = api.undeploy(ready, ENG, "scoring", reason="maintenance")
    assert (ended.state, ended.end_reason) == ("undeployed", "maintenance")
    assert api.list_deployments(ready, AUD).deployments == ()
    everything = api.list_deployments(ready, AUD, all_states=True).to_json()
    assert [d["version"] for d in everything] == ["1", "2", "1"]
    assert "active" not in {d["state"] for d in everything}


def test_refusals_are_the_core_error_family(ready) -> None:
    with pytest.raises(PermissionDenied):
        api.deploy(ready, Actor.asserted("ds1"), "credit", "1")
    with pytest.raises(NotFound, match="unknown target"):
        api.rollback(ready, ENG, "nowhere")
    with pytest.raises(NotFound, match="unknown target"):
        api.undeploy(ready, ENG, "nowhere")
    api.deploy(ready, ENG, "credit", "1", target="scoring")
    api.undeploy(ready, ENG, "scoring")
    with pytest.raises(Refused, match="serves nothing"):
        api.rollback(ready, ENG, "scoring")


def test_deploy_gate_refuses_before_building(operated) -> None:
    with pytest.raises(GateRefused):
        api.deploy(OnService(operated), ENG, "credit", "1")
    assert operated.ports["deployer"].prepared == []


def test_serve_runs_the_target_and_refuses_bad_numbers(operated, monkeypatch) -> None:
    import mlgov.adapters

    settings = object()
    calls = []

    def fake_serve_target(gov, s, actor, target, **kw):
        calls.append((gov, s, actor, target, kw))
        kw["announce"]("serving")
        return 0

    monkeypatch.setattr(mlgov.adapters, "serve_target", fake_serve_target)
    platform = OnService(operated, settings)
    served = api.serve(platform, ENG, "scoring", port=3001, verify=False)
    assert served.to_json() == {"target": "scoring", "exit_code": 0}
    gov, s, actor, target, kw = calls[0]
    assert (gov, s, actor, target) == (operated, settings, "eng", "scoring")
    assert {k: kw[k] for k in ("host", "port", "workers", "verify")} == {
        "host": "127.0.0.1",
        "port": 3001,
        "workers": 1,
        "verify": False,
    }
    with pytest.raises(BadInput, match="port"):
        api.serve(platform, ENG, "scoring", port=0)
    with pytest.raises(BadInput, match="workers"):
        api.serve(platform, ENG, "scoring", workers=65)
    assert len(calls) == 1
