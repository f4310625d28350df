"""Mirror governed state into MLflow tags/aliases, and read MLflow's state back for reconcile."""

from __future__ import annotations

import pytest

from mlgov.governance.errors import BadInput, NotFound
from mlgov.registry.tags import CREATED_TAG

pytestmark = pytest.mark.slow


@pytest.fixture
def two_versions(store, model_name):
    run_id, _ = store.toy
    registry = store.registry()
    registry.register(model_name, run_id=run_id)
    registry.register(model_name, run_id=run_id)
    return registry


def test_mirror_sets_tags_and_aliases_and_skips_what_is_already_set(
    store, model_name, two_versions
):
    registry = two_versions
    tags = {"mlgov.stage": "train", "mlgov.health": "ok", "mlgov.risk_tier": "high"}

    writes = registry.mirror(model_name, "1", tags=tags, set_aliases=["challenger"])
    again = registry.mirror(model_name, "1", tags=tags, set_aliases=["challenger"])

    mv = store.client().get_model_version(model_name, "1")
    assert {k: mv.tags[k] for k in tags} == tags
    assert mv.aliases == ["challenger"]
    assert (writes, again) == (4, 0)


def test_mirror_moves_an_alias_and_removes_only_aliases_pointing_at_the_version(
    store, model_name, two_versions
):
    registry = two_versions
    registry.mirror(model_name, "1", tags={}, set_aliases=["champion"])

    registry.mirror(model_name, "2", tags={"mlgov.stage": "deploy"}, set_aliases=["champion"])
    moved = registry.state(model_name).aliases
    registry.mirror(model_name, "1", tags={"mlgov.stage": "retire"}, remove_aliases=["champion"])
    kept = registry.state(model_name).aliases
    registry.mirror(model_name, "2", tags={"mlgov.stage": "retire"}, remove_aliases=["champion"])

    assert moved == {"champion": "2"}
    assert kept == {"champion": "2"}  # v1 no longer held it: not removed
    assert registry.state(model_name).aliases == {}


def test_mirror_deletes_a_tag_given_none(store, model_name, two_versions):
    registry = two_versions
    registry.mirror(model_name, "1", tags={"mlgov.approved_by": "rita"})

    registry.mirror(model_name, "1", tags={"mlgov.approved_by": None})

    assert "mlgov.approved_by" not in store.client().get_model_version(model_name, "1").tags


def test_mirror_refuses_bad_input_before_writing(store, model_name, two_versions, snapshot):
    registry = two_versions
    before = snapshot(store)
    with pytest.raises(BadInput, match="alias 'latest'"):
        registry.mirror(model_name, "1", tags={"mlgov.stage": "x"}, set_aliases=["latest"])
    with pytest.raises(BadInput, match="tag key"):
        registry.mirror(model_name, "1", tags={"bad key!": "x"})
    with pytest.raises(NotFound, match="version 9 does not exist"):
        registry.mirror(model_name, "9", tags={"mlgov.stage": "x"})
    assert snapshot(store) == before


def test_state_reflects_changes_made_by_hand_in_mlflow(store, model_name, two_versions):
    registry = two_versions
    registry.mirror(model_name, "1", tags={"mlgov.stage": "evaluate"}, set_aliases=["champion"])
    registry.mirror(model_name, "2", tags={"mlgov.stage": "train"}, set_aliases=["challenger"])
    client = store.client()

    client.set_registered_model_alias(model_name, "champion", "2")  # moved in the UI
    client.set_model_version_tag(model_name, "1", "mlgov.stage", "deploy")  # edited
    client.delete_model_version(model_name, "2")  # deleted

    state = registry.state(model_name)
    assert state.exists is True
    assert set(state.versions) == {"1"}
    assert state.versions["1"].tags["mlgov.stage"] == "deploy"
    assert state.versions["1"].tags[CREATED_TAG] == "true"
    assert state.versions["1"].source_uri == store.toy[1]
    assert state.aliases == {}  # MLflow drops aliases of a deleted version


def test_state_of_a_model_that_does_not_exist(store, model_name):
    state = store.registry().state(model_name)
    assert (state.exists, dict(state.versions), dict(state.aliases)) == (False, {}, {})


def test_list_models_includes_registered_models(store, model_name, two_versions):
    assert model_name in two_versions.list_models()


def test_discard_deletes_the_created_version_and_the_model_it_created(store, model_name):
    run_id, _ = store.toy
    registry = store.registry()
    registry.register(model_name, run_id=run_id)
    registry.register(model_name, run_id=run_id)

    registry.discard(model_name, "2")
    after_one = registry.state(model_name)
    registry.discard(model_name, "1")
    registry.discard(model_name, "1")  # already gone: nothing to do

    assert set(after_one.versions) == {"1"}
    assert model_name not in registry.list_models()


def test_discard_leaves_versions_and_models_mlgov_did_not_create(store, model_name, snapshot):
    from mlgov.governance.errors import Refused

    client = store.client()
    client.create_registered_model(model_name)
    # Embedded MLflow resolves models:/m-<id> on the global URI (its bug): give it the folder.
    source = store.toy[1]
    if store.kind == "sqlite":
        source = client.get_logged_model(source.removeprefix("models:/")).artifact_location
    model_id = store.toy[1].removeprefix("models:/")
    client.create_model_version(model_name, source, run_id=store.toy[0], model_id=model_id)
    registry = store.registry()
    registry.register(model_name, run_id=store.toy[0])  # v2, created by mlgov
    before_refusal = snapshot(store)

    with pytest.raises(Refused, match="not created by mlgov"):
        registry.discard(model_name, "1")
    assert snapshot(store) == before_refusal
    registry.discard(model_name, "2")

    assert set(registry.state(model_name).versions) == {"1"}
    assert model_name in registry.list_models()  # not created by mlgov: kept
