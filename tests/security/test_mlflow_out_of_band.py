"""MLflow changed behind governance's back, and governance's own moves, against a real MLflow.

Issue 16, items 7-9: a voided or expired approval leaves MLflow in the move that closes it;
a version or run deleted in MLflow is reported by reconcile with its fix and does not block
registering other versions; MLflow's deprecated stage set by hand is reported and cleared.

One embedded (SQLite) MLflow store per module, one governed service per test on it; each test
uses its own model name and compares only its own model's findings.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlgov.governance import approvals, cards
from mlgov.governance.errors import GateRefused
from mlgov.governance.reconcile import reconcile
from mlgov.governance.references import record_reference
from mlgov.governance.service import Governance

pytestmark = pytest.mark.slow

TEAM = {"ds1": ["data_scientist"], "ro1": ["risk_officer"], "eng": ["ml_engineer"]}
CARD = {
    "intended_use": "score retail credit applications",
    "limitations": "not for business loans",
    "training_data": "applications 2019-2023",
    "evaluation_data": "holdout 2024",
    "owner_contact": "ds1@bank.example",
}


@dataclass
class MlflowStore:
    uri: str
    artifacts: str
    toy_run: str

    def client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    def log_toy(self) -> str:
        from support.toy_models import log_toy_model

        return log_toy_model(self.uri, artifact_location=self.artifacts)[0]


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> MlflowStore:
    from support.toy_models import log_toy_model

    root = tmp_path_factory.mktemp("mlflow")
    uri, artifacts = f"sqlite:///{root / 'mlflow.db'}", str(root / "artifacts")
    run_id, _ = log_toy_model(uri, artifact_location=artifacts)
    return MlflowStore(uri, artifacts, run_id)


@pytest.fixture
def gov(store, clock, mlflow_store: MlflowStore, tmp_path: Path) -> Iterator[Governance]:
    """The core's gates over a real MLflow registry (no serving: deploy is not reached)."""
    from mlgov.adapters import MonitoringDatasets
    from mlgov.governance.defaults import core_gates
    from mlgov.governance.roles import Role
    from mlgov.registry.mlflow_registry import MlflowRegistry

    g = Governance(
        store,
        clock=clock,
        gates=core_gates(),
        registry=MlflowRegistry(mlflow_store.uri, artifact_location=mlflow_store.artifacts),
        ports={"datasets": MonitoringDatasets()},
        home=tmp_path / "home",
    )
    g.init("admin")
    for name, roles in TEAM.items():
        g.add_user("admin", name, [Role(r) for r in roles])
    yield g
    store.engine.dispose()


@pytest.fixture
def model() -> str:
    return f"credit-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    from support.toy_models import breast_cancer_frames

    path = tmp_path / "reference.csv"
    breast_cancer_frames()[1].head(60).to_csv(path, index=False)
    return path


def register(gov: Governance, model: str, run_id: str) -> str:
    return gov.register("ds1", model, risk_tier="low", purpose="retail PD", run_id=run_id)[
        "version"
    ]


def to_train(gov: Governance, model: str, version: str, reference: Path) -> None:
    cards.set_card(gov, "ds1", model, version, CARD)
    record_reference(gov, "ds1", model, version, reference)
    gov.promote("ds1", model, version, "train")


def approved(gov: Governance, model: str, version: str) -> None:
    approvals.request_approval(gov, "ds1", model, version)
    approvals.decide(gov, "ro1", model, version, approve=True)


def mlflow_tags(mlflow_store: MlflowStore, model: str, version: str) -> dict[str, str]:
    return dict(mlflow_store.client().get_model_version(model, version).tags)


def findings(report: dict[str, Any], model: str) -> dict[tuple[str, str | None], dict]:
    return {(f["kind"], f["version"]): f for f in report["findings"] if f["model"] == model}


# --- item 7: a closed approval leaves MLflow in the move that closes it --------------------


def test_voiding_an_approval_on_changed_evidence_removes_its_approvers_from_mlflow(
    gov, mlflow_store, model, reference, tmp_path
):
    version = register(gov, model, mlflow_store.toy_run)
    to_train(gov, model, version, reference)
    approved(gov, model, version)
    assert mlflow_tags(mlflow_store, model, version)["mlgov.approved_by"] == "ro1"
    # The evidence changes after the approval: a new reference dataset.
    from support.toy_models import breast_cancer_frames

    newer = tmp_path / "newer.csv"
    breast_cancer_frames()[1].tail(60).to_csv(newer, index=False)
    record_reference(gov, "ds1", model, version, newer)

    with pytest.raises(GateRefused):  # the deploy attempt records the void, then is refused
        gov.promote("eng", model, version, "deploy")

    request = approvals.show_request(gov, "ro1", model, version)
    assert request["state"] == "void" and "evidence changed" in request["closed_reason"]
    tags = mlflow_tags(mlflow_store, model, version)
    assert "mlgov.approved_by" not in tags
    assert tags["mlgov.stage"] == "train"  # only the approval tag was touched
    report = reconcile(gov, "admin", check_artifacts=False)
    assert findings(report, model) == {}  # nothing left for reconcile --fix to repair


def test_an_expired_approval_is_removed_from_mlflow_when_its_expiry_is_recorded(
    gov, mlflow_store, model, reference, clock
):
    version = register(gov, model, mlflow_store.toy_run)
    to_train(gov, model, version, reference)
    approved(gov, model, version)
    clock.advance(days=gov.policy.for_tier("low").approval_valid_days + 1)

    approvals.request_approval(gov, "ds1", model, version)  # records the expiry first

    assert "mlgov.approved_by" not in mlflow_tags(mlflow_store, model, version)
    assert approvals.show_request(gov, "ro1", model, version)["state"] == "pending"


# --- item 8: deletions in MLflow ----------------------------------------------------------


def test_a_version_deleted_in_mlflow_does_not_block_registering_another_and_is_reported(
    gov, mlflow_store, model, reference
):
    first = register(gov, model, mlflow_store.toy_run)
    to_train(gov, model, first, reference)  # holds the challenger alias
    mlflow_store.client().delete_model_version(model, first)

    second = register(gov, model, mlflow_store.toy_run)

    assert (first, second) == ("1", "2")
    assert gov.show("ds1", model, second)["stage"] == "develop"
    report = reconcile(gov, "admin", check_artifacts=False)
    found = findings(report, model)
    assert set(found) == {("version_deleted", first)}
    detail = found[("version_deleted", first)]["detail"]
    assert f"mlgov retire {model} {first} --reason" in detail
    assert found[("version_deleted", first)]["fixable"] is False
    fixed = reconcile(gov, "admin", fix=True, check_artifacts=False)  # nothing to point at v1
    assert set(findings(fixed, model)) == {("version_deleted", first)}


def test_reconcile_reports_a_deleted_run_with_the_command_that_restores_it(
    gov, mlflow_store, model
):
    run_id = mlflow_store.log_toy()
    version = register(gov, model, run_id)
    mlflow_store.client().delete_run(run_id)  # a soft delete: the run is restorable

    report = reconcile(gov, "admin", check_artifacts=False)

    found = findings(report, model)
    assert set(found) == {("run_deleted", version)}
    assert f"mlflow runs restore --run-id {run_id}" in found[("run_deleted", version)]["detail"]
    assert report["remaining"] == len(report["findings"])  # not fixed: reported
    mlflow_store.client().restore_run(run_id)
    after = reconcile(gov, "admin", check_artifacts=False)
    assert findings(after, model) == {}
    cleared = gov.audit_log("admin", action="reconcile.cleared")
    assert [(e["subject"], e["payload"]["kind"]) for e in cleared] == [
        (f"model:{model}/{version}", "run_deleted")
    ]


# --- item 9: MLflow's legacy stage ----------------------------------------------------------


def test_reconcile_reports_a_legacy_mlflow_stage_and_fix_clears_it_without_warnings(
    gov, mlflow_store, model
):
    version = register(gov, model, mlflow_store.toy_run)
    client = mlflow_store.client()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # deprecated in MLflow, still settable
        client.transition_model_version_stage(model, version, "Production")

    report = reconcile(gov, "admin", check_artifacts=False)
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        fixed = reconcile(gov, "admin", fix=True, check_artifacts=False)

    found = findings(report, model)
    assert set(found) == {("legacy_stage", version)}
    assert "'Production'" in found[("legacy_stage", version)]["detail"]
    assert findings(fixed, model)[("legacy_stage", version)]["fixed"] is True
    assert client.get_model_version(model, version).current_stage == "None"
    assert not [w for w in shown if issubclass(w.category, FutureWarning | DeprecationWarning)]
    assert findings(reconcile(gov, "admin", check_artifacts=False), model) == {}
