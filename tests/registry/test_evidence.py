"""Model card, reference dataset and reports travel with the version in MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.toy_models import breast_cancer_frames

from mlgov.governance.errors import BadInput, NotFound
from mlgov.registry.tags import MAX_TAG_VALUE

pytestmark = pytest.mark.slow


@pytest.fixture
def version(store, model_name):
    store.registry().register(model_name, run_id=store.toy[0])
    return model_name, "1"


def _read_artifact(store, uri: str) -> str:
    from mlflow.artifacts import download_artifacts

    return Path(download_artifacts(artifact_uri=uri, tracking_uri=store.uri)).read_text()


def test_log_card_writes_tags_and_a_json_artifact_with_long_fields(store, version):
    model, v = version
    registry = store.registry()
    long_text = "risk " * (MAX_TAG_VALUE // 4)
    card = {"intended_use": "retail credit scoring", "limitations": long_text}

    uri = registry.log_card(model, v, card)

    tags = store.client().get_model_version(model, v).tags
    assert tags["mlgov.card.intended_use"] == "retail credit scoring"
    assert tags["mlgov.card.limitations"].startswith(f"(longer than {MAX_TAG_VALUE} characters")
    assert uri == f"runs:/{store.toy[0]}/mlgov/{model}/v1/card/model_card.json"
    assert json.loads(_read_artifact(store, uri))["card"] == card


def test_a_new_card_replaces_fields_that_were_dropped(store, version):
    model, v = version
    registry = store.registry()
    registry.log_card(model, v, {"intended_use": "a", "owner_contact": "x@bank"})

    registry.log_card(model, v, {"intended_use": "b"})

    tags = store.client().get_model_version(model, v).tags
    card_tags = {k: val for k, val in tags.items() if k.startswith("mlgov.card.")}
    assert card_tags == {"mlgov.card.intended_use": "b"}


def test_log_card_refuses_bad_field_names(store, version, snapshot):
    model, v = version
    before = snapshot(store)
    with pytest.raises(BadInput, match="model card field"):
        store.registry().log_card(model, v, {"bad field!": "x"})
    assert snapshot(store) == before


def test_log_reference_logs_the_file_and_a_reference_dataset_input(store, version, tmp_path):
    model, v = version
    reference = tmp_path / "reference.csv"
    breast_cancer_frames()[1].to_csv(reference, index=False)

    uri = store.registry().log_reference(model, v, reference)

    assert uri == f"runs:/{store.toy[0]}/mlgov/{model}/v1/reference/reference.csv"
    assert _read_artifact(store, uri) == reference.read_text()
    inputs = store.client().get_run(store.toy[0]).inputs.dataset_inputs
    logged = {
        d.dataset.name: (d.dataset.source_type, {t.key: t.value for t in d.tags}) for d in inputs
    }
    source_type, tags = logged[f"{model}-v1-reference"]
    assert source_type == "mlgov_run_artifact"
    assert tags["mlflow.data.context"] == "reference"


def test_log_reference_refuses_missing_and_non_tabular_files(store, version, tmp_path):
    model, v = version
    registry = store.registry()
    text = tmp_path / "notes.txt"
    text.write_text("a,b\n1,2\n")
    with pytest.raises(NotFound, match="does not exist"):
        registry.log_reference(model, v, tmp_path / "absent.csv")
    with pytest.raises(BadInput, match="must be CSV or Parquet"):
        registry.log_reference(model, v, text)
    broken = tmp_path / "broken.parquet"
    broken.write_text("not parquet")
    with pytest.raises(BadInput, match="cannot be read as Parquet"):
        registry.log_reference(model, v, broken)


def test_log_artifacts_puts_reports_under_the_versions_folder(store, version, tmp_path):
    model, v = version
    html = tmp_path / "drift.html"
    html.write_text("<html>drift</html>")
    summary = tmp_path / "drift.json"
    summary.write_text('{"drift": false}')

    uris = store.registry().log_artifacts(model, v, [html, summary], "drift/2026-01-31")

    base = f"runs:/{store.toy[0]}/mlgov/{model}/v1/drift/2026-01-31"
    assert uris == [f"{base}/drift.html", f"{base}/drift.json"]
    assert _read_artifact(store, uris[0]) == "<html>drift</html>"
    with pytest.raises(BadInput, match="artifact folder"):
        store.registry().log_artifacts(model, v, [html], "../escape")
