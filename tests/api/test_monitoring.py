"""mlgov.api.monitoring: drift check, monitoring run, history and review acknowledgement,
called without the CLI.

On the core's fake drift checker, deployer and prediction log (tests/conftest.py `ops`);
the real Evidently and fast engines are run through `mlgov monitor drift` in
tests/integration/test_monitor_drift_cli.py, whose JSON is this module's `to_json()`.
"""

from __future__ import annotations

import json

import pytest

from mlgov.api import Actor
from mlgov.api import monitoring as api
from mlgov.api.errors import BadInput, NotFound, PermissionDenied, Refused

ENG, RO, AUD, DS = (Actor.asserted(n) for n in ("eng", "ro1", "aud", "ds1"))


@pytest.fixture
def deployed(operated, ops, on_service):
    from mlgov.governance import deployments

    platform = on_service(operated)
    ops.approve()
    api.check_drift(platform, ENG, "credit", "1", ops.current())
    deployments.deploy(operated, "eng", "credit", "1", target="scoring")
    deployments.record_verification(operated, "eng", "scoring", probe="ok")
    return platform


def test_check_drift_records_and_history_shows_it(operated, ops, on_service, tmp_path) -> None:
    platform = on_service(operated)
    operated.ports["drift"].drifted_share = 0.5
    told: list[str] = []
    html = tmp_path / "out.html"
    check = api.check_drift(
        platform, ENG, "credit", "1", ops.current(), html_out=html, progress=told.append
    )
    assert isinstance(check, api.DriftCheck)
    assert (check.model, check.version, check.purpose, check.by) == ("credit", "1", "check", "eng")
    assert check.drift_detected and check.drifted_columns == ("x",)
    assert [c["column"] for c in check.columns] == ["x", "y"]
    assert told and "credit/1" in told[0]

    history = api.drift_history(platform, AUD, "credit", "1")
    assert [r.result_id for r in history.results] == [check.result_id]
    # The JSON `monitor drift` and `monitor history` print: the core's record, unchanged.
    from mlgov.governance.drift_checks import history as core_history

    assert history.to_json() == core_history(operated, "aud", "credit", "1")
    assert history.to_json()[0] == check.to_json()
    json.dumps(check.to_json())


def test_check_drift_refusals(operated, ops, on_service, tmp_path) -> None:
    platform = on_service(operated)
    with pytest.raises(BadInput, match="must be CSV or Parquet"):
        api.check_drift(platform, ENG, "credit", "1", tmp_path / "data.txt")
    existing = tmp_path / "exists.html"
    existing.write_text("keep me")
    with pytest.raises(BadInput, match="already exists"):
        api.check_drift(platform, ENG, "credit", "1", ops.current(), html_out=existing)
    assert existing.read_text() == "keep me"
    with pytest.raises(PermissionDenied):
        api.check_drift(platform, AUD, "credit", "1", ops.current())
    with pytest.raises(NotFound):
        api.check_drift(platform, ENG, "credit", "9", ops.current())
    assert api.drift_history(platform, AUD, "credit", "1").results == ()  # nothing stored


def test_run_checks_serving_versions_and_sets_health(deployed, operated, clock) -> None:
    first = api.run_monitoring(deployed, ENG)
    assert first.ok and first.problems == ()
    assert [c["status"] for c in first.checked] == ["no new predictions"]

    clock.advance(hours=1)
    operated.ports["predictions"].batches.append((clock.now(), 50))
    operated.ports["drift"].drifted_share = 0.5
    run = api.run_monitoring(deployed, ENG, model="credit")
    (checked,) = run.checked
    assert (checked["status"], checked["health"], checked["previous_health"]) == (
        "checked",
        "breach",
        "ok",
    )
    assert run.to_json() == {
        "checked": [checked.data],
        "failed": [],
        "targets": [{"target": "scoring", **checked.data}],
    }
    assert run.exit_code == 1  # a breach
    # Each column's test, score and threshold: how close it came, for a reviewer.
    assert [c["column"] for c in checked["columns"]] == ["x", "y"]
    assert {"test", "score", "threshold", "drifted"} <= set(checked["columns"][0])
    with pytest.raises(NotFound):
        api.run_monitoring(deployed, ENG, model="nope")
    with pytest.raises(PermissionDenied):
        api.run_monitoring(deployed, AUD)

    # a breach requires a review a risk officer acknowledges
    with pytest.raises(PermissionDenied):
        api.acknowledge_review(deployed, DS, "credit", "1", comment="fine")
    with pytest.raises(BadInput, match="--comment"):
        api.acknowledge_review(deployed, RO, "credit", "1", comment="  ")
    ack = api.acknowledge_review(deployed, RO, "credit", "1", comment="shift expected")
    assert ack.to_json() == {
        "model": "credit",
        "version": "1",
        "health": "breach",
        "review_required": False,
    }
    with pytest.raises(Refused, match="no review pending"):
        api.acknowledge_review(deployed, RO, "credit", "1", comment="again")


def test_a_failed_version_is_reported_not_raised(deployed, operated, clock) -> None:
    from mlgov.governance.errors import Unavailable

    class Broken:
        def export(self, *args, **kwargs):
            raise Unavailable("prediction log unreachable")

    operated.ports["predictions"] = Broken()
    run = api.run_monitoring(deployed, ENG)
    assert not run.ok and run.checked == ()
    assert run.problems == ("credit/1: prediction log unreachable",)
    assert run.to_json()["failed"] == [
        {
            "model": "credit",
            "version": "1",
            "error": "prediction log unreachable",
            "unavailable": True,
        }
    ]
    assert run.exit_code == 3  # a source unavailable: retry, no alarm
    (line,) = run.to_json()["targets"]
    assert (line["target"], line["status"], line["unavailable"]) == ("scoring", "failed", True)

    class Refusing:
        def export(self, *args, **kwargs):
            raise BadInput("the log lacks column x")

    operated.ports["predictions"] = Refusing()
    assert api.run_monitoring(deployed, ENG).exit_code == 1  # not retry-able: a problem


def _tiers(gov, **changes) -> None:
    from dataclasses import replace

    policy = gov.policy
    gov.policy = replace(
        policy, tiers={t: replace(tp, **changes) for t, tp in policy.tiers.items()}
    )


def test_a_window_below_the_minimum_size_gives_insufficient_data_not_a_warning(
    deployed, operated, clock
) -> None:
    _tiers(operated, health_min_rows=100)
    log, drift = operated.ports["predictions"], operated.ports["drift"]
    drift.drifted_share = 0.5  # would be a breach, were there a verdict
    clock.advance(hours=1)
    log.batches.append((clock.now(), 60))
    run = api.run_monitoring(deployed, ENG)
    (checked,) = run.checked
    assert checked.data == {
        "model": "credit",
        "version": "1",
        "status": "insufficient data",
        "rows": 60,
        "min_rows": 100,
        "health": "ok",
    }
    assert run.ok and run.exit_code == 0
    assert [r.purpose for r in api.drift_history(deployed, AUD, "credit", "1").results] == [
        "check"
    ]  # nothing recorded, the window stays open

    drift.drifted_share = 0.0
    clock.advance(hours=1)
    log.batches.append((clock.now(), 50))
    (checked,) = api.run_monitoring(deployed, ENG).checked
    assert (checked["status"], checked["rows"], checked["health"]) == ("checked", 110, "ok")


def test_two_of_the_last_three_windows_must_breach_before_health_moves(
    deployed, operated, clock
) -> None:
    _tiers(operated, health_windows_needed=2, health_windows_of=3)
    log, drift = operated.ports["predictions"], operated.ports["drift"]

    def window(share: float):
        drift.drifted_share = share
        clock.advance(hours=1)
        log.batches.append((clock.now(), 50))
        (checked,) = api.run_monitoring(deployed, ENG).checked
        return checked["window_health"], checked["health"], checked["actions"]

    assert window(0.5) == ("breach", "ok", [])  # one noisy window alone moves nothing
    assert window(0.0) == ("ok", "ok", [])
    assert window(0.5) == ("breach", "breach", ["notify", "require_review"])
    assert window(0.5) == ("breach", "breach", [])
    assert window(0.0) == ("ok", "breach", [])  # still 2 of the last 3
    assert window(0.0) == ("ok", "ok", [])
