"""Issues 6, 7 and 8 end to end: serving governed versions and monitoring what they serve.

One flow on the session home, in order (a failed step skips the rest):
v1 deployed and served (verified into evaluate, predictions equal MLflow's own, metadata,
prediction log) -> monitoring of what v1 served moves health ok -> warning -> breach ->
v2 deployed to the same target (the v1 server asks for a restart) and served -> the pending
review blocks re-approval and rollback to v1 until a risk officer acknowledges it -> rollback
(the v2 server asks for a restart) -> v1 served again, and v3 on a second target -> v1
retired while serving -> v3's target undeployed. Every server is a real `mlgov serve`
subprocess on a free 127.0.0.1 port, stopped at the end whatever happens.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow
ORDERED_STEPS = True

MODEL = "credit"
TARGET = "scoring"
SECOND_TARGET = "scoring-b"
KILL_SWITCH_S = 5.0


class Flow:
    """What the steps hand on to each other."""

    def __init__(self, home: Any, servers: Any) -> None:
        self.home = home
        self.servers = servers
        self.live: dict[str, Any] = {}  # role -> Served
        self.request_ids: list[str] = []
        self.third_version: str | None = None

    def stop(self, role: str) -> None:
        self.live.pop(role).stop()


@pytest.fixture(scope="module")
def flow(home, servers) -> Flow:
    return Flow(home, servers)


# --- helpers ------------------------------------------------------------------------------


def _records(frame) -> list[dict[str, float]]:
    return [{k: float(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _predict(url: str, frame) -> Any:
    import httpx

    return httpx.post(url + "/predict", json={"records": _records(frame)}, timeout=60)


def _score(url: str, frame) -> dict[str, Any]:
    response = _predict(url, frame)
    assert response.status_code == 200, response.text
    return response.json()


def _refused_within(url: str, probe, *, seconds: float = KILL_SWITCH_S) -> tuple[float, str]:
    """Time until /predict answers 503 (counted from now) and the reason it gives."""
    import httpx

    start = time.monotonic()
    while True:
        response = httpx.post(url + "/predict", json={"records": _records(probe)}, timeout=10)
        elapsed = time.monotonic() - start
        if response.status_code == 503:
            assert elapsed <= seconds, f"/predict answered 503 only after {elapsed:.1f} s"
            return elapsed, response.json()["error"]
        assert response.status_code == 200, response.text
        assert elapsed < seconds, f"/predict still answers {response.status_code} after {elapsed}"
        time.sleep(0.1)


def _ready(url: str) -> int:
    import httpx

    return httpx.get(url + "/readyz", timeout=10).status_code


def _metadata(url: str) -> dict[str, Any]:
    import httpx

    response = httpx.get(url + "/metadata", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def _mlflow_model(home, version: str, flavor: str = "pyfunc") -> Any:
    """The registered version's model as MLflow itself loads it (from its logged-model URI)."""
    import mlflow

    from mlgov.registry.mlflow_env import global_tracking_uri

    source = home.mlflow_client().get_model_version(MODEL, version).source
    with global_tracking_uri(home.tracking_uri):
        return getattr(mlflow, flavor).load_model(source)


def _assert_predictions_equal_mlflow(home, url: str, version: str, frame) -> dict[str, Any]:
    answer = _score(url, frame)
    assert (answer["model"], answer["version"]) == (MODEL, version)
    expected = _mlflow_model(home, version).predict(frame)
    assert answer["predictions"] == [int(p) for p in expected]
    proba = _mlflow_model(home, version, "sklearn").predict_proba(frame)
    served = [row[label] for row in answer["probabilities"] for label in ("0", "1")]
    assert served == pytest.approx(proba.ravel().tolist(), abs=1e-12)
    return answer


def _version(home, version: str) -> dict[str, Any]:
    return home.json("aud", "models", "show", MODEL, version)


def _mlflow_version(home, version: str, model: str = MODEL) -> Any:
    return home.mlflow_client().get_model_version(model, version)


def _shifted(home, columns: int):
    """The holdout with its first `columns` features moved by three reference std devs."""
    reference, frame = home.data["reference"], home.data["current"].copy()
    for name in list(frame.columns)[:columns]:
        frame[name] = frame[name] + 3 * reference[name].std()
    return frame


def _monitor_run(home) -> dict[str, Any]:
    result = home.json("eve", "monitor", "run", "--model", MODEL)
    assert result["failed"] == []
    checked = {c["version"]: c for c in result["checked"]}
    return checked["1"]


# --- the flow ---------------------------------------------------------------------------


def test_deploy_v1_and_serve_it_until_verified_into_evaluate(flow: Flow) -> None:
    home = flow.home
    home.run("eve", "deploy", MODEL, "1", "--target", TARGET)
    assert _version(home, "1")["stage"] == "deploy"
    assert _mlflow_version(home, "1").aliases == ["champion"]

    flow.live["v1"] = served = flow.servers.start(TARGET)
    deployment = flow.servers.wait_verified(served)

    assert (deployment["model"], deployment["version"]) == (MODEL, "1")
    shown = _version(home, "1")
    assert shown["stage"] == "evaluate"
    assert shown["history"][-1]["reason"] == f"verified on target {TARGET}"
    assert _mlflow_version(home, "1").tags["mlgov.stage"] == "evaluate"


def test_predictions_equal_the_mlflow_models_own(flow: Flow) -> None:
    home, url = flow.home, flow.live["v1"].url
    answer = _assert_predictions_equal_mlflow(home, url, "1", home.data["current"])
    flow.request_ids.append(answer["request_id"])


def test_metadata_names_the_version_and_its_evidence(flow: Flow) -> None:
    home = flow.home
    meta = _metadata(flow.live["v1"].url)
    shown = _version(home, "1")
    assert (meta["target"], meta["model"], meta["version"]) == (TARGET, MODEL, "1")
    assert meta["serving"] is True and meta["reason"] is None
    assert meta["fingerprint_digest"] == shown["fingerprint_digest"]
    assert sorted(meta["approvals"]["approved_by"]) == ["omar", "rita"]
    assert meta["model_uri"] == shown["source_uri"]
    deadline = time.monotonic() + 5  # the server re-reads its status at most once a second
    while meta.get("stage") != "evaluate" and time.monotonic() < deadline:
        time.sleep(0.2)
        meta = _metadata(flow.live["v1"].url)
    assert meta["stage"] == shown["stage"] == "evaluate"


def test_prediction_log_holds_each_request_with_model_version_and_request_id(
    flow: Flow,
) -> None:
    from mlgov.adapters import PredictionLogSource
    from mlgov.deploy.prediction_log import read_prediction_log

    home = flow.home
    sent = home.data["current"]
    log = read_prediction_log(home.root / "targets" / TARGET / "predictions")
    mine = log[log["_request_id"] == flow.request_ids[0]].reset_index(drop=True)
    assert len(mine) == len(sent)
    assert set(mine["_model"]) == {MODEL} and set(mine["_version"]) == {"1"}
    assert mine[list(sent.columns)].values.tolist() == sent.values.tolist()
    # The probe prediction of the verification is logged too, before the request, marked
    # as a probe: monitoring leaves it out (it once tipped a small window into a warning).
    assert len(log) == len(sent)
    assert (
        len(
            read_prediction_log(home.root / "targets" / TARGET / "predictions", include_probes=True)
        )
        == len(sent) + 1
    )

    with tempfile.TemporaryDirectory() as tmp:
        batch = PredictionLogSource(home.root / "targets").export(
            MODEL, "1", since=None, out=Path(tmp) / "batch.parquet", columns=list(sent.columns)
        )
    assert batch.rows == len(sent)
    assert batch.first <= batch.last


def test_outcomes_joined_to_served_predictions_give_sklearns_auc(flow: Flow) -> None:
    import pandas as pd
    from sklearn.metrics import roc_auc_score
    from support.toy_models import breast_cancer_frames

    home = flow.home
    _, x_test, _, y_test = breast_cancer_frames(0)
    request_id = flow.request_ids[0]  # the holdout's request: its records are <id>:0, :1, ...
    labels = home.files / "outcomes.csv"
    pd.DataFrame(
        {"prediction_id": [f"{request_id}:{i}" for i in range(len(x_test))], "label": y_test}
    ).to_csv(labels, index=False)
    check = home.json("eve", "monitor", "performance", TARGET, "--labels", str(labels))
    proba = _mlflow_model(home, "1", "sklearn").predict_proba(x_test)[:, 1]
    assert check["metrics"]["roc_auc"] == pytest.approx(roc_auc_score(y_test, proba), abs=1e-12)
    # The run logged the same holdout's AUC: no decay, health stays ok.
    assert (check["status"], check["rows"], check["unmatched_labels"]) == (
        "checked",
        len(x_test),
        0,
    )
    assert check["decay"]["roc_auc"] == pytest.approx(0.0, abs=1e-12)
    assert (check["health"], check["levels"]) == ("ok", {"roc_auc": "ok"})


def test_monitor_run_moves_health_ok_warning_breach_audited_and_mirrored(flow: Flow) -> None:
    home, url = flow.home, flow.live["v1"].url
    first = _monitor_run(home)  # what v1 served so far: the holdout, not the probe record
    assert (first["health"], first["rows"]) == ("ok", len(home.data["current"]))
    assert _mlflow_version(home, "1").tags["mlgov.health"] == "ok"

    _score(url, _shifted(home, 10))  # 10 of 30 features moved: share 0.33
    second = _monitor_run(home)
    assert (second["previous_health"], second["health"]) == ("ok", "warning")
    assert second["drifted_share"] == pytest.approx(10 / 30)
    assert second["actions"] == ["notify"]
    assert _mlflow_version(home, "1").tags["mlgov.health"] == "warning"

    _score(url, _shifted(home, 20))  # 20 of 30: share 0.67
    third = _monitor_run(home)
    assert (third["previous_health"], third["health"]) == ("warning", "breach")
    assert third["drifted_share"] == pytest.approx(20 / 30)
    assert sorted(third["actions"]) == ["notify", "require_review"]
    assert _mlflow_version(home, "1").tags["mlgov.health"] == "breach"

    events = home.json("aud", "audit", "log", "--model", MODEL, "--action", "health.change")
    moves = [(e["subject"], e["payload"]["from"], e["payload"]["to"]) for e in events]
    assert moves == [
        (f"model:{MODEL}/1", "ok", "warning"),
        (f"model:{MODEL}/1", "warning", "breach"),
    ]
    assert [e["payload"]["result_id"] for e in events] == [
        second["result_id"],
        third["result_id"],
    ]
    shown = _version(home, "1")
    assert (shown["stage"], shown["health"], shown["review_required"]) == (
        "evaluate",
        "breach",
        True,
    )
    history = home.json("aud", "monitor", "history", MODEL, "1")
    assert [r["health"] for r in history if r["purpose"] == "monitor"] == [
        "ok",
        "warning",
        "breach",
    ]


def test_deploy_v2_to_the_same_target_makes_the_v1_server_ask_for_a_restart(
    flow: Flow,
) -> None:
    home = flow.home
    # v1's health breach opened a model-wide high finding: it blocks the model's next deploy
    # until a risk officer who neither owns nor registered the model closes it.
    refused = home.cli("eve", "deploy", MODEL, "2", "--target", TARGET, expect=1)
    assert "[findings]" in refused.stderr and "health breach" in refused.stderr, refused.stderr
    [finding] = home.json("omar", "findings", "list", "--open", "--model", MODEL)
    home.cli("omar", "findings", "close", str(finding["id"]), "--resolution", "v2 retrained on it")
    home.run("eve", "deploy", MODEL, "2", "--target", TARGET)
    _, reason = _refused_within(flow.live["v1"].url, home.data["current"].head(1))
    assert "restart needed" in reason and "version 2" in reason, reason
    assert _ready(flow.live["v1"].url) != 200
    flow.stop("v1")
    assert _mlflow_version(home, "2").aliases == ["champion"]
    assert _mlflow_version(home, "1").aliases == []


def test_restarted_server_serves_v2(flow: Flow) -> None:
    home = flow.home
    flow.live["v2"] = served = flow.servers.start(TARGET)
    deployment = flow.servers.wait_verified(served)
    assert (deployment["model"], deployment["version"]) == (MODEL, "2")
    _assert_predictions_equal_mlflow(home, served.url, "2", home.data["current"].head(40))
    assert _metadata(served.url)["version"] == "2"
    assert _version(home, "2")["stage"] == "evaluate"


def test_pending_review_blocks_reapproval_and_rollback_until_a_risk_officer_acks(
    flow: Flow,
) -> None:
    home = flow.home
    refused = home.cli("dana", "approvals", "request", MODEL, "1", expect=1)
    assert "monitor ack" in refused.stderr, refused.stderr
    refused = home.cli("eve", "rollback", TARGET, expect=1)
    assert "monitor ack" in refused.stderr, refused.stderr
    assert _score(flow.live["v2"].url, home.data["current"].head(1))["version"] == "2"

    home.cli("dana", "monitor", "ack", MODEL, "1", "--comment", "seen", expect=1)  # not a RO
    acked = home.json("rita", "monitor", "ack", MODEL, "1", "--comment", "shift explained")
    assert acked["review_required"] is False
    events = home.json("aud", "audit", "log", "--model", MODEL, "--action", "review.ack")
    assert [(e["actor"], e["subject"]) for e in events] == [("rita", f"model:{MODEL}/1")]
    # What still refuses a new approval of v1 is its stage, no longer the review.
    refused = home.cli("dana", "approvals", "request", MODEL, "1", expect=1)
    assert "monitor ack" not in refused.stderr and "stage evaluate" in refused.stderr


def test_retiring_the_serving_v2_without_force_suggests_rollback_first(flow: Flow) -> None:
    home = flow.home
    refused = home.cli("rita", "retire", MODEL, "2", "--reason", "superseded", expect=1)
    assert f"mlgov rollback {TARGET}" in refused.stderr and "--force" in refused.stderr
    assert _version(home, "2")["stage"] == "evaluate"
    assert _score(flow.live["v2"].url, home.data["current"].head(1))["version"] == "2"


def test_rollback_makes_the_v2_server_ask_for_a_restart(flow: Flow) -> None:
    home = flow.home
    rolled = home.json("eve", "rollback", TARGET)
    assert (rolled["model"], rolled["version"]) == (MODEL, "1")
    _, reason = _refused_within(flow.live["v2"].url, home.data["current"].head(1))
    assert "restart needed" in reason and "version 1" in reason, reason
    flow.stop("v2")
    assert _mlflow_version(home, "1").aliases == ["champion"]


def test_v1_served_again_and_v3_served_on_a_second_target(flow: Flow) -> None:
    home = flow.home
    flow.third_version = version = home.new_version(MODEL)
    home.approve_for_deploy(MODEL, version)
    home.run("eve", "deploy", MODEL, version, "--target", SECOND_TARGET)

    # Both servers start together: their start-up overlaps on the two cores.
    flow.live["v1-again"] = again = flow.servers.start(TARGET)
    flow.live["v3"] = third = flow.servers.start(SECOND_TARGET)
    assert flow.servers.wait_verified(again)["version"] == "1"
    assert flow.servers.wait_verified(third)["version"] == version
    _assert_predictions_equal_mlflow(home, again.url, "1", home.data["current"].head(40))
    assert _metadata(again.url)["version"] == "1"
    assert _score(third.url, home.data["current"].head(3))["version"] == version


def test_retire_while_serving_stops_the_server_and_keeps_the_evidence(flow: Flow) -> None:
    home, url = flow.home, flow.live["v1-again"].url
    home.cli("rita", "retire", MODEL, "1", "--reason", "population shift; retrained model due")
    _, reason = _refused_within(url, home.data["current"].head(1))
    assert reason.startswith("target is retired"), reason
    assert _ready(url) != 200

    mv = _mlflow_version(home, "1")
    assert mv.aliases == []
    assert mv.tags["mlgov.stage"] == "retire"
    shown = _version(home, "1")
    assert shown["stage"] == "retire"
    assert shown["card"] == {"revision": 1, "complete": True, "missing_required": []}
    assert home.json("aud", "models", "card", MODEL, "1", "--show")["fields"] == home.card
    # Retiring voids the approval (it can never be used again); its decisions stay on record.
    assert (shown["approval"]["state"], shown["approval"]["approvals_count"]) == ("void", 2)
    approval = home.json("aud", "approvals", "show", MODEL, "1")
    assert sorted((d["approver"], d["decision"]) for d in approval["decisions"]) == [
        ("omar", "approve"),
        ("rita", "approve"),
    ]
    assert shown["drift_check"]["drift_detected"] is False
    assert shown["health"] == "breach"
    assert [d["state"] for d in shown["deployments"]][-1] == "retired"
    _assert_artifacts_downloadable(home, "1", shown["artifact_files"])

    home.cli("dana", "promote", MODEL, "1", "--to", "evaluate", expect=1)
    home.cli("omar", "approve", MODEL, "1", expect=1)
    home.cli("eve", "deploy", MODEL, "1", "--target", TARGET, expect=1)


def _assert_artifacts_downloadable(home, version: str, expected_files: int) -> None:
    from mlflow.artifacts import download_artifacts

    from mlgov.registry.mlflow_env import global_tracking_uri

    source = _mlflow_version(home, version).source
    # models:/m-<id> resolves through the process-wide tracking URI, whatever is passed.
    with tempfile.TemporaryDirectory() as tmp, global_tracking_uri(home.tracking_uri):
        local = Path(download_artifacts(artifact_uri=source, dst_path=tmp))
        files = [p for p in local.rglob("*") if p.is_file() and p.name != "registered_model_meta"]
        assert (local / "MLmodel").is_file()
        assert len(files) == expected_files


def test_undeploy_stops_the_server_of_the_second_target(flow: Flow) -> None:
    home, url = flow.home, flow.live["v3"].url
    home.cli("eve", "undeploy", SECOND_TARGET, "--reason", "pilot over")
    _, reason = _refused_within(url, home.data["current"].head(1))
    assert reason == "target is undeployed: pilot over", reason
    assert _ready(url) != 200
    active = [d["target"] for d in home.json("aud", "deployments", "list")]
    assert SECOND_TARGET not in active and TARGET not in active
    ended = home.json("aud", "deployments", "list", "--all")
    assert {(d["target"], d["version"], d["state"]) for d in ended} >= {
        (SECOND_TARGET, flow.third_version, "undeployed"),
        (TARGET, "1", "retired"),
    }
    for role in list(flow.live):
        flow.stop(role)
