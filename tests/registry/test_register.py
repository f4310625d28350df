"""Register from a run id and from URIs, with lineage and fingerprint, on both stores."""

from __future__ import annotations

import pytest
from support.toy_models import breast_cancer_frames

from mlgov.governance.errors import BadInput, NotFound
from mlgov.registry.fingerprint import compare_fingerprints
from mlgov.registry.tags import CREATED_TAG

pytestmark = pytest.mark.slow


def test_register_from_run_id_records_lineage_and_fingerprint(store, model_name, hash_model):
    run_id, model_uri = store.toy
    registry = store.registry()

    registered = registry.register(model_name, run_id=run_id)

    client = store.client()
    run = client.get_run(run_id)
    model_id = model_uri.removeprefix("models:/")
    assert registered.model == model_name and registered.version == "1"
    assert registered.created is True
    assert registered.source_uri == model_uri
    assert registered.run_id == run_id
    assert registered.experiment_id == run.info.experiment_id
    assert registered.git_commit == "c0ffee"
    assert registered.metrics == {"roc_auc": pytest.approx(0.91), "accuracy": pytest.approx(0.88)}
    assert "sklearn" in registered.flavors and "python_function" in registered.flavors
    # Other tests may have logged reference inputs on this shared run since.
    (training,) = [d for d in registered.datasets if d["context"] == "training"]
    assert training["name"] == "breast_cancer" and training["source_type"] == "code"
    assert training["digest"] == next(
        d.dataset.digest for d in run.inputs.dataset_inputs if d.dataset.name == "breast_cancer"
    )
    x_train = breast_cancer_frames()[0]
    assert [c["name"] for c in registered.signature["inputs"]] == list(x_train.columns)
    assert {c["type"] for c in registered.signature["inputs"]} == {"double"}
    (output,) = registered.signature["outputs"]
    assert output["type"] == "tensor" and output["dtype"] == "int64"
    assert dict(registered.fingerprint) == hash_model(client, store.uri, model_id)
    assert {"MLmodel", "model.skops", "requirements.txt"} <= set(registered.fingerprint)
    # MLflow shows the version with mlgov's marker and the logged model as its source.
    mv = client.get_model_version(model_name, "1")
    assert mv.source == model_uri and mv.run_id == run_id
    assert mv.tags[CREATED_TAG] == "true"
    assert registry.fingerprint(model_name, "1") == dict(registered.fingerprint)


def test_register_from_logged_model_uri_creates_a_new_version(store, model_name):
    run_id, model_uri = store.toy
    registry = store.registry()
    first = registry.register(model_name, run_id=run_id)

    second = registry.register(model_name, model_uri=model_uri)

    assert (second.version, second.created) == ("2", True)
    assert second.run_id == run_id and second.source_uri == model_uri
    assert second.fingerprint == first.fingerprint
    assert len(store.client().search_model_versions(f"name = '{model_name}'")) == 2


def test_register_adopts_an_existing_version_without_creating_one(store, model_name, snapshot):
    run_id, _ = store.toy
    registry = store.registry()
    registry.register(model_name, run_id=run_id)
    before = snapshot(store)

    adopted = registry.register(model_name, model_uri=f"models:/{model_name}/1")

    assert (adopted.version, adopted.created) == ("1", False)
    assert adopted.run_id == run_id and adopted.metrics["roc_auc"] == pytest.approx(0.91)
    assert adopted.fingerprint and "MLmodel" in adopted.fingerprint
    assert snapshot(store) == before


def test_register_adopts_by_alias_and_copies_from_another_model(store, model_name):
    run_id, model_uri = store.toy
    registry = store.registry()
    registry.register(model_name, run_id=run_id)
    registry.register(model_name, run_id=run_id)
    store.client().set_registered_model_alias(model_name, "champion", "2")

    adopted = registry.register(model_name, model_uri=f"models:/{model_name}@champion")
    copied = registry.register(f"{model_name}-copy", model_uri=f"models:/{model_name}/2")

    assert (adopted.version, adopted.created) == ("2", False)
    assert (copied.model, copied.version, copied.created) == (f"{model_name}-copy", "1", True)
    assert copied.source_uri == model_uri and copied.fingerprint == adopted.fingerprint


def test_register_from_runs_uri_and_artifact_path_pick_the_named_model(store, model_name):
    run_id, model_uri = store.log_toy(extra_model_names=("shadow",))
    registry = store.registry()
    client = store.client()
    shadow_id = next(
        m.model_id
        for m in client.search_logged_models([client.get_run(run_id).info.experiment_id])
        if m.source_run_id == run_id and m.name == "shadow"
    )

    default = registry.register(model_name, run_id=run_id)
    named = registry.register(model_name, run_id=run_id, artifact_path="shadow")
    by_uri = registry.register(model_name, model_uri=f"runs:/{run_id}/shadow")

    assert default.source_uri == model_uri  # the one named "model" when a run has several
    assert named.source_uri == f"models:/{shadow_id}"
    assert by_uri.source_uri == f"models:/{shadow_id}"
    with pytest.raises(BadInput, match="no logged model named 'nope'.*model, shadow"):
        registry.register(model_name, run_id=run_id, artifact_path="nope")


def test_a_modified_artifact_changes_the_fingerprint_and_is_named_by_path(
    store, model_name, model_dir
):
    run_id, model_uri = store.log_toy()
    registry = store.registry()
    registered = registry.register(model_name, run_id=run_id)
    files = model_dir(store.artifact_root, model_uri.removeprefix("models:/"))

    weights = files / "model.skops"
    weights.write_bytes(weights.read_bytes() + b"tampered")
    (files / "requirements.txt").unlink()
    (files / "backdoor.py").write_text("print('x')\n")
    now = registry.fingerprint(model_name, registered.version)

    diff = compare_fingerprints(registered.fingerprint, now)
    assert diff.changed == ("model.skops",)
    assert diff.missing == ("requirements.txt",)
    assert diff.added == ("backdoor.py",)
    assert now["MLmodel"] == registered.fingerprint["MLmodel"]
    assert "model.skops" in diff.describe()


def test_loading_a_registered_model_does_not_change_its_fingerprint(sqlite_store, model_name):
    """MLflow writes registered_model_meta into a local store when models:/NAME/V is loaded."""
    import mlflow.pyfunc

    from mlgov.registry.mlflow_env import global_tracking_uri

    run_id, _ = sqlite_store.toy
    registry = sqlite_store.registry()
    registered = registry.register(model_name, run_id=run_id)
    with global_tracking_uri(sqlite_store.uri):
        mlflow.pyfunc.load_model(f"models:/{model_name}/{registered.version}")

    assert registry.fingerprint(model_name, registered.version) == dict(registered.fingerprint)


def test_embedded_store_leaves_no_files_in_the_working_directory_nor_global_state(
    sqlite_store, model_name, tmp_path, monkeypatch
):
    import mlflow

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///elsewhere-never-created.db")
    before = mlflow.get_tracking_uri()
    run_id, _ = sqlite_store.toy

    sqlite_store.registry().register(model_name, run_id=run_id)

    assert list(tmp_path.iterdir()) == []
    assert mlflow.get_tracking_uri() == before
    import os

    assert os.environ["MLFLOW_TRACKING_URI"] == "sqlite:///elsewhere-never-created.db"


def test_run_metrics_reads_the_runs_latest_values(store):
    run_id, _ = store.toy
    assert store.registry().run_metrics(run_id) == {
        "roc_auc": pytest.approx(0.91),
        "accuracy": pytest.approx(0.88),
    }


def test_toy_gbm_without_dataset_logs_real_metrics(sqlite_store, model_name):
    run_id, _ = sqlite_store.log_toy(kind="gbm", dataset=False)

    registered = sqlite_store.registry().register(model_name, run_id=run_id)

    assert registered.datasets == ()
    assert registered.git_commit is None
    assert registered.metrics["roc_auc"] > 0.9


def test_experiments_get_artifacts_beside_the_database_by_default(tmp_path, monkeypatch):
    from mlgov.registry.mlflow_registry import MlflowRegistry

    monkeypatch.chdir(tmp_path)
    (tmp_path / "store").mkdir()
    registry = MlflowRegistry(f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")

    experiment_id = registry.ensure_experiment("credit experiments")

    assert registry.ensure_experiment("credit experiments") == experiment_id
    location = registry.client.get_experiment(experiment_id).artifact_location
    assert location == (tmp_path / "store" / "mlartifacts" / "credit_experiments").as_uri()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]  # no ./mlruns


def test_fingerprint_does_not_read_the_whole_model_per_version(
    sqlite_store, model_name, monkeypatch
):
    """Reconcile hashes every version: a read of the registered model (all its versions) per
    hash made it quadratic. Counted at MLflow's store, below every client."""
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore

    registry = sqlite_store.registry()
    run_id, _ = sqlite_store.toy
    versions = [registry.register(model_name, run_id=run_id).version for _ in range(3)]
    whole_model_reads: list[str] = []
    real = SqlAlchemyStore.get_registered_model

    def counting(self, name):
        whole_model_reads.append(name)
        return real(self, name)

    monkeypatch.setattr(SqlAlchemyStore, "get_registered_model", counting)
    prints = [registry.fingerprint(model_name, v) for v in versions]
    assert whole_model_reads == []
    assert all("MLmodel" in p for p in prints) and prints[0] == prints[1] == prints[2]
    with pytest.raises(NotFound, match="does not exist"):
        registry.fingerprint(model_name, "99")
