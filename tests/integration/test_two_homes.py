"""Two governed homes in one process (the server serves several): neither's MLflow store,
settings or registrations leak into the other's."""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

from mlgov.api import Actor, Platform
from mlgov.api import models as models_api
from mlgov.api import users as users_api
from mlgov.config import TELEMETRY_OFF, load_settings

FOREIGN_ENV = ("MLGOV_HOME", "MLGOV_DB_URL", "MLFLOW_TRACKING_URI", "BENTOML_HOME", "MLGOV_USER")


def _open(home: Path) -> Platform:
    platform = Platform(load_settings(home=str(home), user="ada"))
    admin = Actor.asserted("ada")
    users_api.init(platform, admin)
    users_api.add_user(platform, admin, "dana", ["data_scientist"])
    return platform


def test_two_homes_in_one_process_keep_their_own_mlflow_stores(tmp_path):
    from mlflow import MlflowClient
    from support.toy_models import log_toy_model

    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV} | dict(TELEMETRY_OFF)
    with mock.patch.dict(os.environ, env, clear=True):
        home_a, home_b = tmp_path / "a", tmp_path / "b"
        a = _open(home_a)
        a.governance()  # opening a home must not point the process at its store
        assert "MLFLOW_TRACKING_URI" not in os.environ
        b = _open(home_b)
        assert b.settings.tracking_uri != a.settings.tracking_uri
        assert str(home_b) in b.settings.tracking_uri

        dana = Actor.asserted("dana")
        for platform, model in ((a, "alpha"), (b, "beta")):
            settings = platform.settings
            run_id, _ = log_toy_model(
                settings.tracking_uri, artifact_location=str(settings.artifact_root)
            )
            models_api.register(
                platform, dana, model, risk_tier="low", purpose="two homes", run_id=run_id
            )
        # The first home again, after the second was used: its store, not the second's.
        run_id, _ = log_toy_model(
            a.settings.tracking_uri, artifact_location=str(a.settings.artifact_root)
        )
        again = models_api.register(
            a, dana, "alpha", risk_tier="low", purpose="two homes", run_id=run_id
        )
        assert again.to_json()["version"] == "2"

        def names(platform: Platform) -> set[str]:
            uri = platform.settings.tracking_uri
            client = MlflowClient(tracking_uri=uri, registry_uri=uri)
            return {m.name for m in client.search_registered_models()}

        assert names(a) == {"alpha"} and names(b) == {"beta"}
        listed_a = {row["model"] for row in models_api.list_versions(a, dana).to_json()}
        assert listed_a == {"alpha"}
