"""The service's hot path with a fake model (no server): errors never leak values."""

from __future__ import annotations

import json
import logging

import pytest

from mlgov.deploy.manifest import ServingManifest, features_from_signature
from mlgov.deploy.prediction_log import PredictionLogWriter, read_prediction_log
from mlgov.deploy.status import StatusWatcher, write_status

SECRET = "ZZ-SECRET-CATEGORY-4242"


class FakeRunner:
    def __init__(self, error: Exception | None = None):
        self.error = error

    def predict(self, columns):
        from mlgov.deploy.model_runner import Prediction

        if self.error is not None:
            raise self.error
        n = len(next(iter(columns.values())))
        return Prediction(predictions=[1] * n, probabilities=None, outputs={"_prediction": [1] * n})


@pytest.fixture
def runtime(tmp_path):
    from mlgov.deploy.service import GovernedRuntime

    manifest = ServingManifest(
        target="t",
        model="m",
        version="1",
        bento_model_tag="mlgov-m:abc",
        model_uri="models:/m/1",
        fingerprint_digest="x",
        features=features_from_signature({"inputs": [{"name": "region", "type": "string"}]}),
        status_file=str(tmp_path / "status.json"),
        prediction_log_dir=str(tmp_path / "log"),
    )
    write_status(manifest.status_file, "serving", version="1")
    rt = GovernedRuntime.__new__(GovernedRuntime)
    rt.manifest = manifest
    rt.runner = FakeRunner()
    rt.load_error = None
    rt.status = StatusWatcher(manifest.status_file, refresh_seconds=0)
    rt.log = PredictionLogWriter(manifest.prediction_log_dir, model="m", version="1")
    return rt


def body(*regions):
    return json.dumps({"records": [{"region": r} for r in regions]}).encode()


def test_success_is_logged_and_answered(runtime):
    response = runtime.predict(body("north", "south"))
    assert response.status_code == 200
    data = json.loads(response.body)
    assert data["predictions"] == [1, 1] and data["model"] == "m"
    log = read_prediction_log(runtime.manifest.prediction_log_dir)
    assert list(log["region"]) == ["north", "south"]
    assert set(log["_request_id"]) == {data["request_id"]}


@pytest.mark.parametrize("error, status", [(ValueError, 422), (TypeError, 422), (KeyError, 500)])
def test_model_errors_never_echo_values(runtime, caplog, error, status):
    runtime.runner = FakeRunner(error(f"Found unknown categories ['{SECRET}']"))
    with caplog.at_level(logging.DEBUG):
        response = runtime.predict(body(SECRET))
    assert response.status_code == status
    assert SECRET not in response.body.decode()
    assert SECRET not in caplog.text
    assert error.__name__ in caplog.text
    assert not (runtime.log.directory.exists() and any(runtime.log.directory.iterdir()))


def test_load_error_and_status_refusals(runtime):
    write_status(runtime.manifest.status_file, "suspended", reason="monitoring breach", version="1")
    response = runtime.predict(body("north"))
    assert response.status_code == 503
    assert "suspended: monitoring breach" in json.loads(response.body)["error"]
    runtime.load_error = "BentoML model mlgov-m:abc failed to load (X)"
    assert "model failed to load" in json.loads(runtime.predict(body("n")).body)["error"]
    assert runtime.metadata()["serving"] is False


def test_server_env_trusts_no_forwarding_proxy_unless_the_operator_names_one(tmp_path):
    from mlgov.deploy.server import server_env

    manifest = tmp_path / "manifest.json"
    env = server_env(manifest, workers=1, bentoml_home=None, base={"PATH": "/bin"})
    assert env["FORWARDED_ALLOW_IPS"] == ""
    assert env["BENTOML_DO_NOT_TRACK"] == "true"
    named = server_env(
        manifest, workers=1, bentoml_home=None, base={"FORWARDED_ALLOW_IPS": "10.0.0.5"}
    )
    assert named["FORWARDED_ALLOW_IPS"] == "10.0.0.5"


@pytest.mark.parametrize("output", [float("nan"), float("inf"), "\ud800"])
def test_outputs_json_cannot_carry_get_422_and_are_not_logged(runtime, output):
    from mlgov.deploy.model_runner import Prediction

    class OddRunner:
        def predict(self, columns):
            return Prediction(predictions=[output], probabilities=None, outputs={})

    runtime.runner = OddRunner()
    response = runtime.predict(body("north"))
    assert response.status_code == 422
    assert "cannot be sent as JSON" in json.loads(response.body)["error"]
    assert not (runtime.log.directory.exists() and any(runtime.log.directory.iterdir()))


def test_a_probe_with_the_servers_token_is_logged_as_one_and_left_out_of_monitoring(runtime):
    runtime.probe_token = "s3cret"
    probe = json.dumps({"records": [{"region": "north"}], "probe": "s3cret"}).encode()
    assert runtime.predict(probe).status_code == 200
    assert runtime.predict(body("south", "east")).status_code == 200
    log_dir = runtime.manifest.prediction_log_dir
    assert read_prediction_log(log_dir)["region"].tolist() == ["south", "east"]
    everything = read_prediction_log(log_dir, include_probes=True)
    assert everything["region"].tolist() == ["north", "south", "east"]


@pytest.mark.parametrize("token", [None, "s3cret"])
@pytest.mark.parametrize("given", ["guess", 1, None, "\ud800"])
def test_no_client_can_call_itself_a_probe(runtime, token, given):
    runtime.probe_token = token
    probe = json.dumps({"records": [{"region": "north"}], "probe": given}).encode()
    response = runtime.predict(probe)
    assert response.status_code == 400
    assert json.loads(response.body) == {
        "error": "field 'probe' is reserved for mlgov's own health checks"
    }
    assert len(read_prediction_log(runtime.manifest.prediction_log_dir, include_probes=True)) == 0
