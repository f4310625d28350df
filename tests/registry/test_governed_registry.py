"""Issue 4 end to end: the `mlgov` CLI over a real MLflow store -- the embedded SQLite store and a
real `mlflow server` -- with the governance database in a temporary MLGOV_HOME.

Serving and drift are not what is under test here: BentoML is replaced by the core's fake
deployer and the drift engine by a fake checker, so a version can reach `deploy` (and MLflow's
`champion` alias) in a second. Everything MLflow sees is real.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text

from mlgov.cli.main import cli
from mlgov.governance import faults

pytestmark = pytest.mark.slow

TEAM = {
    "ds": "data_scientist",
    "ro": "risk_officer",
    "eng": "ml_engineer",
    "aud": "auditor",
}
# Medium tier: what the moves below need. High tier: the train gate test's thresholds.
POLICY = """
[tiers.medium.required_metrics]
roc_auc = ">= 0.7"

[tiers.high.required_metrics]
roc_auc = ">= 0.7"
accuracy = ">= 0.95"
ks = ">= 0.3"
"""
CARD = {
    "intended_use": "score retail credit applications",
    "limitations": "not for business loans",
    "training_data": "applications 2019-2023",
    "evaluation_data": "holdout 2024",
    "owner_contact": "ds@bank.example",
}
HIGH_CARD = CARD | {
    "fairness_assessment": "no disparate impact found",
    "fallback_plan": "manual underwriting",
}
GOVERNED_TAGS = ("mlgov.stage", "mlgov.health", "mlgov.risk_tier", "mlgov.approved_by")


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def governed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialized MLGOV_HOME with the team and POLICY in force; copied for each test
    (init runs migrations)."""
    home = tmp_path_factory.mktemp("governed-template") / "home"
    policy = home.parent / "policy.toml"
    policy.write_text(POLICY)
    runner = CliRunner()
    # `mlgov` points MLFLOW_TRACKING_URI at its home: keep the session's environment clean.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", "sqlite:///never-used.db")
        result = runner.invoke(cli, ["--home", str(home), "--user", "admin", "init"])
        assert result.exit_code == 0, result.output
        for name, role in TEAM.items():
            args = ["--home", str(home), "--user", "admin", "users", "add", name, "--role", role]
            assert runner.invoke(cli, args).exit_code == 0
        args = ["--home", str(home), "--user", "admin", "policy", "set", str(policy)]
        assert runner.invoke(cli, args).exit_code == 0
    return home


@dataclass
class Mlgov:
    """Runs `mlgov --home HOME --user USER ...` in process."""

    home: Path

    def __call__(self, *args: str, user: str = "ds") -> Result:
        full = ["--home", str(self.home), "--user", user, *args]
        return CliRunner().invoke(cli, full)

    def ok(self, *args: str, user: str = "ds") -> Any:
        """Run with --format json, expect exit 0, return the parsed output."""
        result = self(*args, "--format", "json", user=user)
        assert result.exit_code == 0, f"mlgov {' '.join(args)}: {result.output}"
        return json.loads(result.stdout)

    def show(self, model: str, version: str) -> dict[str, Any]:
        return self.ok("models", "show", model, version)

    def audit(self, model: str) -> list[dict[str, Any]]:
        return self.ok("audit", "log", "--model", model, user="aud")


@pytest.fixture
def mlgov(store, governed_template: Path, tmp_path: Path, monkeypatch) -> Mlgov:
    from mlgov import app
    from mlgov.governance.testing import FakeDeployer, FakeDriftChecker

    home = tmp_path / "home"
    shutil.copytree(governed_template, home)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.uri)
    for var in ("MLGOV_DB_URL", "MLGOV_POLICY", "MLGOV_USER", "MLGOV_HOME"):
        monkeypatch.delenv(var, raising=False)
    # Built as the real port is (targets folder, the home's MLflow URI).
    monkeypatch.setattr(app, "BentoDeployerPort", lambda root, tracking_uri: FakeDeployer(root))
    monkeypatch.setattr(app, "drift_checker", FakeDriftChecker())
    return Mlgov(home)


@pytest.fixture
def data(tmp_path: Path) -> dict[str, Path]:
    """Files the commands take: complete cards, a reference matching the toy model's signature,
    current data for the drift check."""
    from support.toy_models import breast_cancer_frames

    x_test = breast_cancer_frames()[1]
    files = {
        "card": tmp_path / "card.toml",
        "high_card": tmp_path / "high_card.toml",
        "reference": tmp_path / "reference.csv",
        "current": tmp_path / "current.csv",
    }
    files["card"].write_text(_toml(CARD))
    files["high_card"].write_text(_toml(HIGH_CARD))
    x_test.head(60).to_csv(files["reference"], index=False)
    x_test.tail(60).to_csv(files["current"], index=False)
    return files


def _toml(fields: dict[str, str]) -> str:
    return "".join(f"{key} = {json.dumps(value)}\n" for key, value in fields.items())


@pytest.fixture
def empty_registry(store) -> None:
    """Reconcile compares the whole registry: start these tests from one without registered
    models (earlier tests' models are deleted; their runs and logged models stay)."""
    client = store.client()
    for rm in client.search_registered_models(max_results=1000):
        client.delete_registered_model(rm.name)


# --- helpers ------------------------------------------------------------------------------


def digest_of(files: dict[str, str]) -> str:
    """The registration fingerprint's digest, computed independently of mlgov."""
    lines = "".join(f"{path}\0{sha}\n" for path, sha in sorted(files.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def mlflow_view(store, model: str) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """What MLflow shows of the governed state: mlgov's version tags, and the model's aliases."""
    client = store.client()
    versions = client.search_model_versions(f"name = '{model}'")
    tags = {
        str(mv.version): {k: v for k, v in mv.tags.items() if k in GOVERNED_TAGS} for mv in versions
    }
    aliases = client.get_registered_model(model).aliases
    return tags, {alias: str(version) for alias, version in aliases.items()}


def governance_dump(home: Path) -> list[tuple[str, list]]:
    engine = create_engine(f"sqlite:///{home / 'governance.db'}")
    try:
        with engine.connect() as conn:
            query = text("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
            tables = [r[0] for r in conn.execute(query)]
            return [
                (t, conn.execute(text(f'SELECT * FROM "{t}" ORDER BY 1')).all()) for t in tables
            ]
    finally:
        engine.dispose()


def run_record(store, run_id: str) -> tuple[list, list]:
    """A run's dataset inputs and mlgov's artifact folder (what log_reference would add)."""
    client = store.client()
    run = client.get_run(run_id)
    inputs = sorted(d.dataset.name for d in run.inputs.dataset_inputs)
    return inputs, sorted(a.path for a in client.list_artifacts(run_id, "mlgov"))


def register(mlgov: Mlgov, model: str, *, tier: str = "medium", **source: str) -> str:
    options = [f"--{k.replace('_', '-')}={v}" for k, v in source.items()]
    result = mlgov.ok("register", model, *options, "--risk-tier", tier, "--purpose", "retail PD")
    return result["version"]


def to_train(mlgov: Mlgov, data: dict[str, Path], model: str, version: str) -> None:
    mlgov.ok("models", "card", model, version, "--file", str(data["card"]))
    mlgov.ok("models", "reference", model, version, str(data["reference"]))
    mlgov.ok("promote", model, version, "--to", "train")


def to_deploy(mlgov: Mlgov, data: dict[str, Path], model: str, version: str) -> dict[str, Any]:
    mlgov.ok("approvals", "request", model, version)
    mlgov.ok("approve", model, version, user="ro")
    mlgov.ok("monitor", "drift", model, version, "--current", str(data["current"]), user="eng")
    return mlgov.ok("deploy", model, version, user="eng")


def findings_of(report: dict[str, Any], model: str) -> set[tuple[str, str | None]]:
    return {(f["kind"], f["version"]) for f in report["findings"] if f["model"] == model}


# --- 1. register, lineage, fingerprints ---------------------------------------------------


def test_register_from_run_id_records_lineage_and_fingerprint(store, mlgov, model_name, hash_model):
    run_id, model_uri = store.toy
    client = store.client()
    run = client.get_run(run_id)

    version = register(mlgov, model_name, run_id=run_id)

    shown = mlgov.show(model_name, version)
    assert (version, shown["stage"], shown["risk_tier"], shown["owner"]) == (
        "1", "develop", "medium", "ds",
    )  # fmt: skip
    assert shown["run_id"] == run_id and shown["source_uri"] == model_uri
    assert shown["experiment_id"] == run.info.experiment_id
    lineage = shown["lineage"]
    assert lineage["run_id"] == run_id and lineage["source_uri"] == model_uri
    assert lineage["git_commit"] == "c0ffee" and lineage["adopted"] is False
    assert {"sklearn", "python_function"} <= set(lineage["flavors"])
    assert [c["name"] for c in lineage["signature"]["inputs"]] == _signature_inputs(
        store, model_uri
    )
    training = next(d for d in lineage["datasets"] if d["context"] == "training")
    assert training["digest"] == next(
        d.dataset.digest for d in run.inputs.dataset_inputs if d.dataset.name == "breast_cancer"
    )
    assert lineage["metrics"] == {"roc_auc": pytest.approx(0.91), "accuracy": pytest.approx(0.88)}
    files = hash_model(client, store.uri, model_uri.removeprefix("models:/"))
    assert shown["fingerprint_digest"] == digest_of(files)
    assert shown["artifact_files"] == len(files) and "model.skops" in files
    # MLflow shows the version, from the logged model, with the governed state mirrored.
    mv = client.get_model_version(model_name, version)
    assert (mv.source, mv.run_id) == (model_uri, run_id)
    tags, aliases = mlflow_view(store, model_name)
    assert tags == {
        "1": {"mlgov.stage": "develop", "mlgov.health": "ok", "mlgov.risk_tier": "medium"}
    }
    assert aliases == {}
    (event,) = [e for e in mlgov.audit(model_name) if e["action"] == "version.register"]
    assert event["actor"] == "ds"
    assert event["payload"]["fingerprint_digest"] == digest_of(files)
    assert event["payload"]["run_id"] == run_id


def _signature_inputs(store, model_uri: str) -> list[str]:
    """The logged model's input column names as MLflow itself reports them."""
    from mlflow.models import get_model_info

    from mlgov.registry.mlflow_env import global_tracking_uri

    with global_tracking_uri(store.uri):
        info = get_model_info(model_uri)
    return info.signature.inputs.input_names()


def test_register_from_logged_model_uri_and_adopt_an_existing_version(
    store, mlgov, model_name, hash_model
):
    import mlflow

    from mlgov.registry.mlflow_env import global_tracking_uri

    run_id, model_uri = store.toy
    files = hash_model(store.client(), store.uri, model_uri.removeprefix("models:/"))

    created = register(mlgov, model_name, model_uri=model_uri)
    # A data scientist registers a version in MLflow directly; mlgov then adopts it as is.
    with global_tracking_uri(store.uri):
        by_hand = mlflow.register_model(model_uri, model_name)
    versions_before = len(store.client().search_model_versions(f"name = '{model_name}'"))
    adopted = register(mlgov, model_name, model_uri=f"models:/{model_name}/{by_hand.version}")

    assert (created, str(by_hand.version), adopted) == ("1", "2", "2")
    assert len(store.client().search_model_versions(f"name = '{model_name}'")) == versions_before
    first, second = mlgov.show(model_name, "1"), mlgov.show(model_name, "2")
    assert first["lineage"]["adopted"] is False and second["lineage"]["adopted"] is True
    for shown in (first, second):
        assert shown["stage"] == "develop"
        assert shown["run_id"] == run_id and shown["source_uri"] == model_uri
        assert shown["fingerprint_digest"] == digest_of(files)
    tags, _ = mlflow_view(store, model_name)
    assert tags["2"]["mlgov.stage"] == "develop" and tags["2"]["mlgov.risk_tier"] == "medium"
    # Adopting a governed version again is a conflict, and changes nothing.
    before = governance_dump(mlgov.home)
    again = mlgov("register", model_name, "--model-uri", f"models:/{model_name}/2",
                  "--risk-tier", "medium", "--purpose", "again")  # fmt: skip
    assert again.exit_code == 1 and "already governed" in again.stderr
    assert governance_dump(mlgov.home) == before


# --- train gate ---------------------------------------------------------------------------


def test_train_gate_lists_every_unmet_condition_then_passes(store, mlgov, model_name, data):
    run_id, _ = store.log_toy(metrics={"roc_auc": 0.91, "accuracy": 0.88})
    version = register(mlgov, model_name, tier="high", run_id=run_id)
    mlgov.ok("models", "card", model_name, version, "--set", "intended_use=retail PD",
             "--set", "limitations=retail only")  # fmt: skip

    refused = mlgov("promote", model_name, version, "--to", "train")
    preview = mlgov("promote", model_name, version, "--to", "train", "--check", "--format", "json")

    assert refused.exit_code == 1, refused.output
    message = refused.stderr
    assert "4 unmet condition(s)" in message
    assert (
        "missing training_data, evaluation_data, owner_contact, fairness_assessment, "
        "fallback_plan" in message
    )
    assert "metric accuracy = 0.88 does not meet the policy's >= 0.95" in message
    assert f"metric ks is not logged on run {run_id}" in message
    assert "no reference dataset recorded" in message
    assert "roc_auc" not in message  # met: not listed
    assert preview.exit_code == 1
    assert sorted(u["check"] for u in json.loads(preview.stdout)) == [
        "card", "metrics", "metrics", "reference",
    ]  # fmt: skip
    assert mlgov.show(model_name, version)["stage"] == "develop"
    assert mlflow_view(store, model_name) == (
        {"1": {"mlgov.stage": "develop", "mlgov.health": "ok", "mlgov.risk_tier": "high"}},
        {},
    )

    # Meet each condition; the gate reads the run's latest metrics at the move.
    client = store.client()
    client.log_metric(run_id, "accuracy", 0.97)
    client.log_metric(run_id, "ks", 0.42)
    card = mlgov.ok("models", "card", model_name, version, "--file", str(data["high_card"]))
    reference = mlgov.ok("models", "reference", model_name, version, str(data["reference"]))
    moved = mlgov.ok("promote", model_name, version, "--to", "train")

    assert card["missing_required"] == [] and reference["rows"] == 60
    assert (moved["from"], moved["stage"]) == ("develop", "train")
    assert mlflow_view(store, model_name) == (
        {"1": {"mlgov.stage": "train", "mlgov.health": "ok", "mlgov.risk_tier": "high"}},
        {"challenger": "1"},
    )
    # The card and the reference travel with the model in MLflow.
    mv = client.get_model_version(model_name, version)
    assert {k.removeprefix("mlgov.card.") for k in mv.tags if k.startswith("mlgov.card.")} == set(
        HIGH_CARD
    )
    inputs, artifacts = run_record(store, run_id)
    assert f"{model_name}-v1-reference" in inputs
    assert artifacts == [f"mlgov/{model_name}"]
    shown = mlgov.show(model_name, version)
    assert shown["card"]["complete"] is True
    assert (
        shown["reference"]["sha256"] == hashlib.sha256(data["reference"].read_bytes()).hexdigest()
    )


# --- mirror -------------------------------------------------------------------------------


def test_tags_and_aliases_mirror_each_move(store, mlgov, model_name, data):
    run_id, _ = store.toy
    base = {"mlgov.health": "ok", "mlgov.risk_tier": "medium"}
    v1 = register(mlgov, model_name, run_id=run_id)
    v2 = register(mlgov, model_name, run_id=run_id)
    assert mlflow_view(store, model_name) == (
        {v1: base | {"mlgov.stage": "develop"}, v2: base | {"mlgov.stage": "develop"}},
        {},
    )

    to_train(mlgov, data, model_name, v1)
    after_first_train = mlflow_view(store, model_name)
    to_train(mlgov, data, model_name, v2)
    after_second_train = mlflow_view(store, model_name)
    deployed = to_deploy(mlgov, data, model_name, v1)
    after_deploy = mlflow_view(store, model_name)
    mlgov.ok("retire", model_name, v2, "--reason", "superseded", user="ro")
    after_retire_v2 = mlflow_view(store, model_name)
    mlgov.ok("retire", model_name, v1, "--reason", "end of life", user="ro")
    after_retire_v1 = mlflow_view(store, model_name)

    train, deploy, retire = ({"mlgov.stage": s} | base for s in ("train", "deploy", "retire"))
    approved = {"mlgov.approved_by": "ro"}
    assert after_first_train == (
        {v1: train, v2: base | {"mlgov.stage": "develop"}}, {"challenger": v1},
    )  # fmt: skip
    assert after_second_train == ({v1: train, v2: train}, {"challenger": v2})
    assert deployed["stage"] == "deploy" and deployed["target"] == model_name
    assert after_deploy == (
        {v1: deploy | approved, v2: train}, {"champion": v1, "challenger": v2},
    )  # fmt: skip
    assert after_retire_v2 == ({v1: deploy | approved, v2: retire}, {"champion": v1})
    # Retiring voids the approval: its tag goes (the decisions stay in governance and audit).
    assert after_retire_v1 == ({v1: retire, v2: retire}, {})
    client = store.client()
    assert client.get_model_version(model_name, v1).aliases == []
    history = [(h["from"], h["to"]) for h in mlgov.show(model_name, v1)["history"]]
    assert history == [(None, "develop"), ("develop", "train"), ("train", "deploy"),
                       ("deploy", "retire")]  # fmt: skip


# --- 2. reconcile -------------------------------------------------------------------------


def test_reconcile_finds_each_kind_of_drift_and_fix_repairs_tags_and_aliases(
    store, empty_registry, mlgov, model_name, data, model_dir, snapshot
):
    import mlflow

    from mlgov.registry.mlflow_env import global_tracking_uri

    run_id, model_uri = store.toy
    v1, v2, v3, v4 = (register(mlgov, model_name, run_id=run_id) for _ in range(4))
    own_run, own_uri = store.log_toy()
    v5 = register(mlgov, model_name, run_id=own_run)
    to_train(mlgov, data, model_name, v2)
    to_train(mlgov, data, model_name, v3)
    to_deploy(mlgov, data, model_name, v3)
    governed_view = mlflow_view(store, model_name)
    assert governed_view[1] == {"champion": v3, "challenger": v2}
    with global_tracking_uri(store.uri):
        v6 = str(mlflow.register_model(model_uri, model_name).version)
        mlflow.register_model(model_uri, f"{model_name}-shadow")
    client = store.client()
    client.set_model_version_tag(model_name, v1, "mlgov.stage", "deploy")
    client.delete_model_version_tag(model_name, v2, "mlgov.risk_tier")
    client.set_registered_model_alias(model_name, "champion", v1)
    client.delete_registered_model_alias(model_name, "challenger")
    client.delete_model_version(model_name, v4)
    weights = model_dir(store.artifact_root, own_uri.removeprefix("models:/")) / "model.skops"
    weights.write_bytes(weights.read_bytes() + b"tampered")
    before = snapshot(store)

    found = mlgov("reconcile", "--format", "json", user="admin")

    assert found.exit_code == 1, found.output
    report = json.loads(found.stdout)
    assert findings_of(report, model_name) == {
        ("tag_changed", v1),
        ("tag_changed", v2),
        ("alias_changed", v3),  # champion: governance says v3
        ("alias_changed", v2),  # challenger: governance says v2
        ("version_deleted", v4),
        ("artifact_changed", v5),
        ("ungoverned_version", v6),
    }
    assert findings_of(report, f"{model_name}-shadow") == {("ungoverned_version", "1")}
    details = {(f["kind"], f["version"]): f["detail"] for f in report["findings"]}
    assert "changed model.skops" in details[("artifact_changed", v5)]
    assert "mlgov.stage is 'deploy', governance says 'develop'" in details[("tag_changed", v1)]
    assert "champion points at '1', governance says '3'" in details[("alias_changed", v3)]
    assert report["fixed"] == 0 and report["remaining"] == 8
    assert snapshot(store) == before  # without --fix, MLflow is only read

    fixed = mlgov("reconcile", "--fix", "--format", "json", user="admin")

    assert fixed.exit_code == 1, fixed.output  # deleted, ungoverned and modified remain
    fix_report = json.loads(fixed.stdout)
    repaired = {(f["kind"], f["version"]) for f in fix_report["findings"] if f["fixed"]}
    assert repaired == {("tag_changed", v1), ("tag_changed", v2), ("alias_changed", v3),
                        ("alias_changed", v2)}  # fmt: skip
    assert fix_report["remaining"] == 4
    tags, aliases = mlflow_view(store, model_name)
    expected_tags = {k: v for k, v in governed_view[0].items() if k != v4}
    assert (tags, aliases) == (expected_tags | {v6: {}}, {"champion": v3, "challenger": v2})
    events = mlgov.audit(model_name)
    by_action: dict[str, list[str]] = {}
    for e in events:
        if e["action"].startswith("reconcile."):
            by_action.setdefault(e["action"], []).append(e["payload"]["kind"])
    # The first run records its findings; the --fix run finds the same ones (recorded
    # already: not again) and records each fix.
    assert sorted(by_action["reconcile.finding"]) == sorted(
        [kind for kind, _ in findings_of(report, model_name)]
    )
    assert sorted(by_action["reconcile.fix"]) == sorted(
        ["tag_changed", "tag_changed", "alias_changed", "alias_changed"]
    )
    rest = mlgov("reconcile", "--skip-artifacts", "--format", "json", user="admin")
    assert rest.exit_code == 1
    assert findings_of(json.loads(rest.stdout), model_name) == {
        ("version_deleted", v4), ("ungoverned_version", v6),
    }  # fmt: skip
    assert mlgov("audit", "verify", user="aud").exit_code == 0


def test_reconcile_fix_restores_mlflow_and_exits_0_when_only_tags_and_aliases_drifted(
    store, empty_registry, mlgov, model_name, data, monkeypatch
):
    run_id, _ = store.toy
    v1 = register(mlgov, model_name, run_id=run_id)
    v2 = register(mlgov, model_name, run_id=run_id)
    to_train(mlgov, data, model_name, v1)
    governed_view = mlflow_view(store, model_name)
    # The move's MLflow writes happen, then the governance commit fails: the failed move
    # undoes its MLflow writes, so MLflow shows governance state again.
    mlgov.ok("models", "card", model_name, v2, "--file", str(data["card"]))
    mlgov.ok("models", "reference", model_name, v2, str(data["reference"]))
    faults.arm("before-commit")
    crashed = mlgov("promote", model_name, v2, "--to", "train")
    faults.disarm()
    assert crashed.exit_code == 1 and "injected fault" in crashed.stderr
    assert mlgov.show(model_name, v2)["stage"] == "develop"
    assert mlflow_view(store, model_name) == governed_view
    # People edit MLflow by hand: a stage and a challenger (as a move that never committed
    # would leave them), a health tag, a forged approval, a champion.
    client = store.client()
    client.set_model_version_tag(model_name, v2, "mlgov.stage", "train")
    client.set_registered_model_alias(model_name, "challenger", v2)
    client.set_model_version_tag(model_name, v1, "mlgov.health", "breach")
    client.set_model_version_tag(model_name, v2, "mlgov.approved_by", "mallory")
    client.set_registered_model_alias(model_name, "champion", v1)

    found = mlgov("reconcile", "--format", "json", user="admin")
    fixed = mlgov("reconcile", "--fix", "--format", "json", user="admin")
    clean = mlgov("reconcile", "--format", "json", user="admin")

    assert found.exit_code == 1
    assert findings_of(json.loads(found.stdout), model_name) == {
        ("tag_changed", v1), ("tag_changed", v2), ("alias_changed", v1),
    }  # fmt: skip
    details = " | ".join(f["detail"] for f in json.loads(found.stdout)["findings"])
    assert "mlgov.approved_by is set" in details and "mlgov.stage is 'train'" in details
    assert "alias challenger points at '2', governance says '1'" in details
    assert fixed.exit_code == 0, fixed.output
    assert json.loads(fixed.stdout)["remaining"] == 0
    assert clean.exit_code == 0 and json.loads(clean.stdout)["findings"] == []
    assert mlflow_view(store, model_name) == governed_view  # MLflow equals governance again
    actions = [e["action"] for e in mlgov.audit(model_name)]
    reports = [json.loads(r.stdout) for r in (found, fixed, clean)]
    # health, stage, forged approval, champion and challenger, all set by hand: each recorded
    # once, when first found (the --fix run found the same five and fixed them)
    assert actions.count("reconcile.finding") == len(reports[0]["findings"]) == 5
    assert sum(len(r["findings"]) for r in reports) == 10
    assert actions.count("reconcile.fix") == reports[1]["fixed"] == 5


# --- 3. bad input: clear message, exit code, nothing recorded anywhere ----------------------


@pytest.fixture
def unchanged(store, mlgov, snapshot) -> Iterator[Callable[[], None]]:
    """Call it after setup: asserts at teardown that neither governance nor MLflow changed."""
    taken: dict[str, Any] = {}

    def take() -> None:
        taken["governance"] = governance_dump(mlgov.home)
        taken["mlflow"] = snapshot(store)
        taken["references"] = sorted((mlgov.home / "references").rglob("*"))

    yield take
    assert taken, "the test never took its before-snapshot"
    assert governance_dump(mlgov.home) == taken["governance"]
    assert snapshot(store) == taken["mlflow"]
    assert sorted((mlgov.home / "references").rglob("*")) == taken["references"]


def _register(mlgov: Mlgov, model: str, *source: str) -> Result:
    return mlgov("register", model, *source, "--risk-tier", "medium", "--purpose", "retail PD")


def test_unknown_run_id(store, mlgov, model_name, unchanged):
    unchanged()
    unknown = uuid.uuid4().hex
    result = _register(mlgov, model_name, "--run-id", unknown)
    assert result.exit_code == 2
    assert f"run '{unknown}' does not exist at MLflow {store.uri}" in result.stderr
    assert "Traceback" not in result.output


def test_run_without_a_logged_model(store, mlgov, model_name, unchanged):
    client = store.client()
    empty = client.create_run(client.get_run(store.toy[0]).info.experiment_id).info.run_id
    client.set_terminated(empty)
    unchanged()
    result = _register(mlgov, model_name, "--run-id", empty)
    assert result.exit_code == 2
    assert f"run '{empty}' has no logged model" in result.stderr


@pytest.mark.parametrize(
    "uri", ["models:/{name}/2", "models:/{name}-missing/1", "models:/m-" + "0" * 32]
)
def test_a_models_uri_that_does_not_exist(store, mlgov, model_name, unchanged, uri):
    register(mlgov, model_name, run_id=store.toy[0])  # the model exists; version 2 does not
    unchanged()
    missing = uri.format(name=model_name)
    result = _register(mlgov, model_name, "--model-uri", missing)
    assert result.exit_code == 2
    assert f"{missing} does not exist at MLflow {store.uri}" in result.stderr


@pytest.mark.parametrize("name", ["a/b", "../x", "x" * 129])
def test_a_model_name_mlflow_would_reject(store, mlgov, unchanged, name):
    unchanged()
    result = _register(mlgov, name, "--run-id", store.toy[0])
    assert result.exit_code == 2
    assert "model name" in result.stderr


def test_a_failure_after_mlflow_created_the_version_removes_it(
    store, mlgov, model_name, unchanged, monkeypatch
):
    from mlgov.governance.service import Governance

    register(mlgov, model_name, run_id=store.toy[0])
    unchanged()

    def governance_fails(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("simulated governance database failure")

    monkeypatch.setattr(Governance, "record_registration", governance_fails)
    for name in (model_name, f"{model_name}-new"):  # a new version; a new registered model
        result = _register(mlgov, name, "--run-id", store.toy[0])
        assert result.exit_code == 1 and "simulated governance" in result.stderr


@pytest.fixture
def registered(store, mlgov, model_name) -> tuple[str, str]:
    """A governed version with its own run, so the run's record can be compared too."""
    run_id, _ = store.log_toy(dataset=False)
    return register(mlgov, model_name, run_id=run_id), run_id


@pytest.mark.parametrize(
    "name, content, match",
    [
        ("reference.json", b'{"mean radius": 1.0}', "must be CSV or Parquet"),
        ("reference.txt", b"mean radius\n1.0\n", "must be CSV or Parquet"),
        ("reference.parquet", b"mean radius\n1.0\n", "cannot be parsed as its format says"),
    ],
)
def test_a_reference_that_is_not_csv_or_parquet(
    store, mlgov, model_name, registered, unchanged, tmp_path, name, content, match
):
    version, run_id = registered
    record = run_record(store, run_id)
    unchanged()
    bad = tmp_path / name
    bad.write_bytes(content)
    result = mlgov("models", "reference", model_name, version, str(bad))
    assert result.exit_code == 2, result.output
    assert match in result.stderr
    assert run_record(store, run_id) == record


def test_a_reference_whose_columns_do_not_match_the_signature(
    store, mlgov, model_name, registered, unchanged, data, tmp_path
):
    import pandas as pd

    version, run_id = registered
    record = run_record(store, run_id)
    frame = pd.read_csv(data["reference"]).drop(columns=["mean radius", "worst area"])
    frame["customer_id"] = 987654321
    bad = tmp_path / "reference.csv"
    frame.to_csv(bad, index=False)
    unchanged()

    result = mlgov("models", "reference", model_name, version, str(bad))

    assert result.exit_code == 2, result.output
    assert "does not match the model signature" in result.stderr
    assert "missing column(s) mean radius, worst area" in result.stderr
    assert "extra column(s) customer_id" in result.stderr
    assert "987654321" not in result.output  # names columns, never values
    assert run_record(store, run_id) == record


def test_an_unreachable_tracking_server_fails_fast_naming_the_uri(
    governed_template, tmp_path, monkeypatch, model_name
):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        uri = f"http://127.0.0.1:{sock.getsockname()[1]}"
    home = tmp_path / "home"
    shutil.copytree(governed_template, home)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    for var in ("MLGOV_DB_URL", "MLGOV_POLICY"):
        monkeypatch.delenv(var, raising=False)
    mlgov = Mlgov(home)
    before = governance_dump(home)

    started = time.monotonic()
    result = _register(mlgov, model_name, "--run-id", uuid.uuid4().hex)
    elapsed = time.monotonic() - started

    assert result.exit_code == 3, result.output  # unavailable: a scheduled job may retry
    assert uri in result.stderr and "unreachable" in result.stderr
    assert elapsed < 10
    assert governance_dump(home) == before


# --- a retired artifact does not come back, a lower tier waits for sign-off (issue 16.2) --


def _mlflow_versions(store, model: str) -> list[str]:
    return sorted(v.version for v in store.client().search_model_versions(f"name = '{model}'"))


def test_a_retired_versions_run_registered_again_is_refused_unless_reinstated(
    store, mlgov, model_name
):
    run_id, _ = store.log_toy(dataset=False)
    first = register(mlgov, model_name, tier="high", run_id=run_id)
    mlgov.ok("retire", model_name, first, "--reason", "replaced", user="ro")
    before_mlflow, before_db = _mlflow_versions(store, model_name), governance_dump(mlgov.home)

    again = mlgov(
        "register", model_name, "--run-id", run_id, "--risk-tier", "low", "--purpose", "retail PD"
    )
    assert again.exit_code == 1, again.output
    assert f"this artifact is {model_name}/{first}'s, retired on" in again.stderr
    assert "--reinstate REASON" in again.stderr and "Traceback" not in again.output
    # Under another name too: the fingerprint, not the name, is what was retired.
    other = mlgov(
        "register",
        f"{model_name}-copy",
        "--run-id",
        run_id,
        "--risk-tier",
        "low",
        "--purpose",
        "retail PD",
    )
    assert other.exit_code == 1 and "retired on" in other.stderr
    lower = mlgov(
        "register",
        model_name,
        "--run-id",
        run_id,
        "--risk-tier",
        "low",
        "--purpose",
        "retail PD",
        "--reinstate",
        "regulator asked for the old model",
    )
    assert lower.exit_code == 1 and "keeps its high tier" in lower.stderr
    # Nothing was left behind at MLflow or in the governance store by the refusals.
    assert _mlflow_versions(store, model_name) == before_mlflow
    assert governance_dump(mlgov.home) == before_db

    back = mlgov.ok(
        "register",
        model_name,
        "--run-id",
        run_id,
        "--risk-tier",
        "high",
        "--purpose",
        "retail PD",
        "--reinstate",
        "regulator asked for the old model",
    )
    assert back["risk_tier"] == "high"
    event = [e for e in mlgov.audit(model_name) if e["action"] == "version.register"][-1]
    assert event["payload"]["reinstates"] == {
        "version": f"{model_name}/{first}",
        "tier": "high",
        "reason": "regulator asked for the old model",
    }
    assert mlgov("audit", "verify", user="aud").exit_code == 0


def test_a_tier_lower_than_an_earlier_versions_waits_for_a_risk_officer(
    store, mlgov, model_name, data
):
    high_run, _ = store.log_toy(dataset=False)
    register(mlgov, model_name, tier="high", run_id=high_run)
    low_run, _ = store.log_toy(dataset=False, seed=1)
    result = mlgov(
        "register",
        model_name,
        "--run-id",
        low_run,
        "--risk-tier",
        "medium",
        "--purpose",
        "retail PD",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    assert "lower than an earlier version" in result.stderr
    registered = json.loads(result.stdout)
    assert registered["tier_confirmation_required"] == "high"
    version = registered["version"]

    mlgov.ok("models", "card", model_name, version, "--file", str(data["card"]))
    mlgov.ok("models", "reference", model_name, version, str(data["reference"]))
    check = mlgov("promote", model_name, version, "--to", "train", "--check")
    assert "tier   risk tier medium is lower than an earlier version" in check.output
    refused = mlgov("promote", model_name, version, "--to", "train")
    assert refused.exit_code == 1 and "models confirm-tier" in refused.stderr

    own = mlgov("models", "confirm-tier", model_name, version, "--reason", "x", user="ds")
    assert own.exit_code == 1 and "may not approve" in own.stderr
    confirmed = mlgov.ok(
        "models",
        "confirm-tier",
        model_name,
        version,
        "--reason",
        "scorecard for a smaller segment",
        user="ro",
    )
    assert (confirmed["tier"], confirmed["earlier_tier"]) == ("medium", "high")
    twice = mlgov("models", "confirm-tier", model_name, version, "--reason", "x", user="ro")
    assert twice.exit_code == 1 and "already confirmed" in twice.stderr
    mlgov.ok("promote", model_name, version, "--to", "train")
    assert mlgov("audit", "verify", user="aud").exit_code == 0
