"""Prediction log, log redaction, the BentoML store adapter and the launcher's errors."""

from __future__ import annotations

import logging
import os
import socket
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest

from mlgov.deploy.bento import bento_name, build_bento, require_in_store
from mlgov.deploy.log_redaction import RedactExceptions
from mlgov.deploy.prediction_log import PredictionLogWriter, read_prediction_log
from mlgov.governance.errors import BadInput, ExternalError, NotFound


def test_prediction_log_round_trip_filters_and_permissions(tmp_path):
    folder = tmp_path / "log"
    v1 = PredictionLogWriter(folder, model="credit", version="1")
    v2 = PredictionLogWriter(folder, model="credit", version="2")
    v1.write(
        request_id="r1",
        features={"income": [1.0, 2.0], "region": ["n", "s"]},
        outputs={"_prediction": [0, 1], "_prediction_proba_1": [0.2, 0.9]},
        count=2,
    )
    middle = datetime.now(UTC)
    time.sleep(0.01)
    v2.write(request_id="r2", features={"income": [3.0]}, outputs={"_prediction": [1]}, count=1)
    v1.close()
    v2.close()

    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    for path in folder.iterdir():
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    everything = read_prediction_log(folder)
    assert list(everything.columns) == [
        "income",
        "region",
        "_model",
        "_version",
        "_request_id",
        "_time",
        "_prediction",
        "_prediction_proba_1",
    ]
    assert list(everything["_request_id"]) == ["r1", "r1", "r2"]
    assert everything["region"].tolist()[:2] == ["n", "s"]
    assert everything["region"].isna().tolist()[2]  # absent in v2's request
    assert list(read_prediction_log(folder, version="2")["income"]) == [3.0]
    assert list(read_prediction_log(folder, since=middle)["_request_id"]) == ["r2"]
    assert read_prediction_log(folder, model="other").empty
    with pytest.raises(BadInput, match="timezone"):
        read_prediction_log(folder, since=datetime.now())
    with pytest.raises(BadInput, match="does not exist"):
        read_prediction_log(tmp_path / "absent")


def test_prediction_log_skips_torn_and_unfinished_lines(tmp_path):
    writer = PredictionLogWriter(tmp_path, model="m", version="1")
    writer.write(request_id="ok", features={"a": [1]}, outputs={"_prediction": [0]}, count=1)
    writer.close()
    (log_file,) = tmp_path.glob("predictions-*.jsonl")
    with log_file.open("ab") as handle:
        handle.write(b'{"torn": \n{"time": "2026-01-01T00:00:00+00:00", "unfinished')
    assert list(read_prediction_log(tmp_path)["_request_id"]) == ["ok"]


def test_redaction_filter_drops_values_from_tracebacks():
    from pydantic import BaseModel, ValidationError

    class Record(BaseModel):
        income: float

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Keep()
    handler.addFilter(RedactExceptions())
    formatter = logging.Formatter()
    logger = logging.getLogger("mlgov.test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        Record(income="ZZ-SECRET-99")
    except ValidationError:
        logger.exception("Exception on %s [%s]", "/predict", "POST")
    text = formatter.format(records[0])
    assert "ZZ-SECRET-99" not in text
    assert "input_value" not in text
    assert "ValidationError (income: float_parsing" in text
    assert "/predict" in text


def test_bento_names_are_valid_bentoml_tag_names():
    assert bento_name("Credit_Risk.v2") == "mlgov-credit_risk.v2"
    assert bento_name("x" * 128).startswith("mlgov-x") and len(bento_name("x" * 128)) <= 63
    assert bento_name("a-", prefix="svc-") == "svc-a"


def test_build_bento_refuses_unsafe_labels_before_touching_bentoml():
    with pytest.raises(BadInput, match="label"):
        build_bento(
            target="t",
            bento_model_tag="mlgov-m:abc",
            model="m",
            version="1",
            fingerprint_digest="sha256:ab\nRUN curl evil",
        )


def test_require_in_store_names_the_missing_piece(tmp_path):
    with pytest.raises(NotFound, match="model mlgov-m:abc"):
        require_in_store(bento_model_tag="mlgov-m:abc", bentoml_home=tmp_path)
    (tmp_path / "models" / "mlgov-m" / "abc").mkdir(parents=True)
    (tmp_path / "models" / "mlgov-m" / "abc" / "model.yaml").write_text("x")
    require_in_store(bento_model_tag="mlgov-m:abc", bentoml_home=tmp_path)
    with pytest.raises(NotFound, match="Bento mlgov-svc-m:zzz"):
        require_in_store(
            bento_model_tag="mlgov-m:abc", bento_tag="mlgov-svc-m:zzz", bentoml_home=tmp_path
        )


def test_import_model_pins_a_new_tag_each_time_with_governance_labels(trained, bento_tags):
    from mlgov.deploy.bento import get_model_info, import_model

    info = get_model_info(bento_tags["model"])
    assert info["labels"] == {"mlgov.model": "credit", "mlgov.version": trained.version}
    assert info["metadata"]["mlgov_fingerprint"] == "sha256:abc"
    assert not bento_tags["model"].endswith(":latest")
    again = import_model(
        trained.model_uri, model="credit", version=trained.version, fingerprint_digest="x"
    )
    assert again != bento_tags["model"]


def test_import_model_failures_are_governance_errors(trained):
    from mlgov.deploy.bento import get_model_info, import_model

    with pytest.raises(ExternalError, match="credit version 99"):
        import_model("models:/credit/99", model="credit", version="99", fingerprint_digest="x")
    with pytest.raises(NotFound):
        get_model_info("mlgov-credit:doesnotexist1")
    with pytest.raises(BadInput):
        import_model(trained.model_uri, model="../x", version="1", fingerprint_digest="x")


def test_start_server_refuses_a_port_in_use(tmp_path, make_manifest, bento_tags):
    from mlgov.deploy.manifest import write_manifest
    from mlgov.deploy.server import PortInUse, start_server

    manifest_path = write_manifest(
        tmp_path / "manifest.json", make_manifest(tmp_path, bento_model_tag=bento_tags["model"])
    )
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(PortInUse, match=f"port {port}"):
            start_server(
                manifest_path,
                port=port,
                log_file=tmp_path / "server.log",
                bentoml_home=bento_tags["home"],
            )
    assert not (tmp_path / "server.log").exists()  # refused before anything started


def test_start_server_refuses_a_missing_bento(tmp_path, make_manifest, bento_tags):
    from mlgov.deploy.manifest import write_manifest
    from mlgov.deploy.server import find_free_port, start_server

    manifest = make_manifest(
        tmp_path, bento_model_tag=bento_tags["model"], bento_tag="mlgov-svc-gone:v1"
    )
    manifest_path = write_manifest(tmp_path / "manifest.json", manifest)
    with pytest.raises(NotFound, match="Bento mlgov-svc-gone:v1"):
        start_server(
            manifest_path,
            port=find_free_port(),
            log_file=tmp_path / "server.log",
            bentoml_home=bento_tags["home"],
        )


@pytest.mark.slow
def test_model_load_failure_is_clear_and_fast_and_serve_foreground_stops_everything(
    tmp_path, trained, make_manifest
):
    """`serve_foreground` (as `mlgov serve` runs it) with 2 workers on a corrupted model copy:
    wait_ready raises ExternalError naming the model quickly; SIGTERM to the foreground
    process stops the server and every BentoML worker (they run in their own sessions)."""
    import signal

    import mlflow
    import psutil

    from mlgov.deploy.bento import get_model_info, import_model
    from mlgov.deploy.manifest import write_manifest
    from mlgov.deploy.server import find_free_port, wait_ready
    from mlgov.deploy.status import write_status

    mlflow.set_tracking_uri(trained.tracking_uri)
    local = mlflow.artifacts.download_artifacts(trained.model_uri, dst_path=str(tmp_path / "dl"))
    (saved,) = [p for p in os.listdir(local) if p.startswith("model.")]
    with open(os.path.join(local, saved), "wb") as handle:
        handle.write(b"not a model")
    tag = import_model(local, model="credit", version="7", fingerprint_digest="x")
    home = get_model_info(tag)["bentoml_home"]
    manifest = make_manifest(tmp_path, bento_model_tag=tag)
    manifest_path = write_manifest(tmp_path / "manifest.json", manifest)
    write_status(manifest.status_file, "serving", version=manifest.version)
    port = find_free_port()
    code = (
        "from mlgov.deploy.server import serve_foreground\n"
        f"raise SystemExit(serve_foreground({str(manifest_path)!r}, port={port}, workers=2, "
        f"log_file={str(tmp_path / 'server.log')!r}, bentoml_home={home!r}))\n"
    )
    foreground = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    tree: list[psutil.Process] = []
    try:
        started = time.monotonic()
        with pytest.raises(ExternalError, match=f"{tag} failed to load"):
            wait_ready(f"http://127.0.0.1:{port}", timeout=90)
        assert time.monotonic() - started < 60
        tree = psutil.Process(foreground.pid).children(recursive=True)
        assert len(tree) >= 3  # the BentoML arbiter and two workers
        foreground.send_signal(signal.SIGTERM)
        assert foreground.wait(timeout=30) is not None
        _, alive = psutil.wait_procs(tree, timeout=10)
        assert alive == []
    finally:
        for proc in [psutil.Process(foreground.pid), *tree] if foreground.poll() is None else tree:
            try:
                proc.kill()
            except psutil.Error:
                pass


def test_adapter_modules_import_no_heavy_library():
    code = (
        "import sys\n"
        "import mlgov.deploy.manifest, mlgov.deploy.status, mlgov.deploy.server\n"
        "import mlgov.deploy.bento, mlgov.deploy.prediction_log, mlgov.deploy.validation\n"
        "heavy = {'bentoml', 'mlflow', 'pandas', 'numpy', 'sklearn', 'httpx', 'pydantic'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_service_module_loads_without_a_manifest_for_bento_builds(monkeypatch):
    """`bentoml build` imports the service in the governance process, with no manifest."""
    code = (
        "import os\n"
        "os.environ.pop('MLGOV_SERVING_MANIFEST', None)\n"
        "from mlgov.deploy import service\n"
        "route = service.GovernedService.apis['predict'].route\n"
        "print(service._MANIFEST is None, route == '/predict')\n"
    )
    env = {**os.environ, "DO_NOT_TRACK": "true", "BENTOML_DO_NOT_TRACK": "true"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert out.strip().splitlines()[-1] == "True True"


def test_wait_ready_times_out_with_a_clear_message():
    from mlgov.deploy.server import find_free_port, wait_ready

    started = time.monotonic()
    with pytest.raises(ExternalError, match="not ready after 1 s"):
        wait_ready(f"http://127.0.0.1:{find_free_port()}", timeout=1)
    assert time.monotonic() - started < 5


def test_access_log_filter_keeps_known_routes_and_hides_other_paths():
    from mlgov.deploy.log_redaction import RedactAccessPaths

    record = logging.LogRecord(
        "bentoml.access",
        logging.INFO,
        __file__,
        1,
        "%s (%s) (%s) %.3fms",
        (
            "127.0.0.1:5000",
            "scheme=http,method=GET,path=/customers/4711-jane-doe",
            "status=404",
            1.0,
        ),
        None,
    )
    assert RedactAccessPaths().filter(record)
    line = record.getMessage()
    assert "jane" not in line and "path=<other>" in line and "127.0.0.1:5000" in line
    known = logging.LogRecord(
        "bentoml.access", logging.INFO, __file__, 1, "%s (%s)",
        ("127.0.0.1:1", "scheme=http,method=POST,path=/predict"), None,
    )  # fmt: skip
    RedactAccessPaths().filter(known)
    assert "path=/predict" in known.getMessage()
    socket_line = logging.LogRecord(
        "bentoml.access", logging.INFO, __file__, 1, "%s (scheme=%s,path=%s) - Client connected",
        ("127.0.0.1:1", "ws", "/ws/jane"), None,
    )  # fmt: skip
    RedactAccessPaths().filter(socket_line)
    assert "jane" not in socket_line.getMessage()
