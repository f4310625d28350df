"""`mlgov promote` killed (SIGKILL) between MLflow's writes and its commit, then
`mlgov reconcile`: the CLI path of the crash protocol, on the session home's real MLflow."""

from __future__ import annotations

import json
import signal


def test_killed_promote_is_completed_by_reconcile(home) -> None:
    model = "crashcli"
    version = home.new_version(model)  # card complete, reference recorded, in develop
    killed = home.run(
        "dana", "promote", model, version, "--to", "train", expect=None, kill_at="before-commit"
    )
    assert killed.returncode == -signal.SIGKILL
    assert home.json("aud", "models", "show", model, version)["stage"] == "develop"
    tags = home.mlflow_client().get_model_version(model, version).tags
    assert tags["mlgov.stage"] == "train" and tags["mlgov.op_id"]  # MLflow ran ahead

    refused = home.cli("dana", "promote", model, version, "--to", "train", expect=1)
    assert "still pending" in refused.stderr and "mlgov reconcile" in refused.stderr

    settled = home.cli("ada", "reconcile", "--skip-artifacts", "--format", "json", expect=None)
    report = json.loads(settled.stdout)
    [op] = [o for o in report["operations"] if o["subject"] == f"model:{model}/{version}"]
    assert op["outcome"] == "completed" and op["kind"] == "promote"
    assert home.json("aud", "models", "show", model, version)["stage"] == "train"
    again = json.loads(home.cli("ada", "reconcile", "--skip-artifacts", "--format", "json",
                                expect=None).stdout)  # fmt: skip
    assert again["operations"] == []
    assert not [f for f in again["findings"] if f["model"] == model]
    assert home.json("aud", "audit", "verify")["ok"] is True


def test_killed_registration_is_recorded_by_reconcile(home) -> None:
    from support.toy_models import log_toy_model

    model = "crashreg"
    run_id, _ = log_toy_model(
        home.tracking_uri, experiment="integration", artifact_location=str(home.artifact_root)
    )
    register = ("register", model, "--run-id", run_id, "--risk-tier", "high", "--purpose", "p")
    killed = home.run("dana", *register, expect=None, kill_at="before-commit")
    assert killed.returncode == -signal.SIGKILL
    assert home.cli("aud", "models", "show", model, "1", expect=None).exit_code != 0
    tags = home.mlflow_client().get_model_version(model, "1").tags
    assert tags["mlgov.created"] == "true" and tags["mlgov.op_id"]  # MLflow ran ahead

    settled = home.cli("ada", "reconcile", "--skip-artifacts", "--format", "json", expect=None)
    report = json.loads(settled.stdout)
    [op] = [o for o in report["operations"] if o["kind"] == "register"]
    assert op["outcome"] == "completed" and op["subject"] == f"model:{model}"
    shown = home.json("aud", "models", "show", model, "1")
    assert shown["stage"] == "develop" and shown["owner"] == "dana"
    assert not [f for f in report["findings"] if f["model"] == model]
    assert home.json("aud", "audit", "verify")["ok"] is True
