"""mlgov.api.monitoring.check_performance: outcomes joined to a target's prediction log.

The log is a real one (PredictionLogWriter, read by the real adapter mlgov.adapters
.PredictionOutcomes) with a probe request among the served ones; the core's fake registry
holds the version's training metrics. The served end to end case (a real BentoML server) is
in tests/integration/test_serving_flow.py.
"""

from __future__ import annotations

import pytest

from mlgov.api import Actor
from mlgov.api import monitoring as api
from mlgov.api.errors import BadInput, NotFound, PermissionDenied

ENG, AUD = Actor.asserted("eng"), Actor.asserted("aud")
ROWS = 400


@pytest.fixture
def served(operated, ops, on_service, tmp_path, fake_registry):
    """credit/1 deployed on "scoring", which served 400 records in 4 requests (and a probe);
    returns (platform, labels frame) with labels drawn so that AUC is about 0.8."""
    import numpy as np
    import pandas as pd

    from mlgov.adapters import PredictionOutcomes
    from mlgov.deploy.prediction_log import PredictionLogWriter
    from mlgov.governance import deployments

    platform = on_service(operated)
    ops.approve()
    api.check_drift(platform, ENG, "credit", "1", ops.current())
    deployments.deploy(operated, "eng", "credit", "1", target="scoring")
    deployments.record_verification(operated, "eng", "scoring", probe="ok")
    root = tmp_path / "served"
    operated.ports["outcomes"] = PredictionOutcomes(root)
    log = PredictionLogWriter(root / "scoring" / "predictions", model="credit", version="1")
    rng = np.random.default_rng(7)
    log.write(
        request_id="probe", features={"x": [0.0]}, outputs={}, count=1, probe=True
    )  # never joined, never counted
    ids, scores, keys = [], [], []
    for r in range(4):
        p = np.round(rng.uniform(0, 1, ROWS // 4), 2)  # rounded: tied scores too
        key = [f"app-{r}-{i}" for i in range(len(p))]
        log.write(
            request_id=f"req{r}",
            features={"x": p.tolist(), "application_id": key},
            outputs={
                "_prediction": (p > 0.5).astype(int).tolist(),
                "_prediction_proba_0": (1 - p).tolist(),
                "_prediction_proba_1": p.tolist(),
            },
            count=len(p),
        )
        ids += [f"req{r}:{i}" for i in range(len(p))]
        scores += p.tolist()
        keys += key
    log.close()
    labels = pd.DataFrame(
        {
            "prediction_id": ids,
            "application_id": keys,
            "label": (rng.uniform(0, 1, ROWS) < np.array(scores)).astype(int),
            "score": scores,
        }
    )
    fake_registry.metrics = {"roc_auc": 0.80, "ks": 0.45, "gini": 0.60, "accuracy": 0.7}
    return platform, labels


def _events(gov):
    from mlgov.governance.audit import event_dict, iter_events

    with gov.store.read() as s:
        return [event_dict(e) for e in iter_events(s)]


def _file(tmp_path, frame, name="labels.csv"):
    path = tmp_path / name
    frame.drop(columns=["score"]).to_csv(path, index=False)
    return path


def test_auc_ks_and_gini_equal_sklearns_on_the_joined_rows(served, tmp_path) -> None:
    from sklearn.metrics import roc_auc_score, roc_curve

    platform, labels = served
    check = api.check_performance(platform, ENG, "scoring", _file(tmp_path, labels))
    assert (check.status, check.task, check.rows, check.unmatched_labels) == (
        "checked",
        "classification",
        ROWS,
        0,
    )
    auc = roc_auc_score(labels["label"], labels["score"])
    fpr, tpr, _ = roc_curve(labels["label"], labels["score"])
    assert check.metrics["roc_auc"] == pytest.approx(auc, abs=1e-12)
    assert check.metrics["ks"] == pytest.approx(max(tpr - fpr), abs=1e-12)
    assert check.metrics["gini"] == pytest.approx(2 * auc - 1, abs=1e-12)
    assert check.training_metrics == {"roc_auc": 0.80, "ks": 0.45, "gini": 0.60}
    assert check.decay["roc_auc"] == pytest.approx(0.80 - auc)
    assert (check.health, check.actions) == ("ok", ())
    # A key column the log keeps joins the same rows, in any order of the labels file.
    by_key = api.check_performance(
        platform,
        ENG,
        "scoring",
        _file(tmp_path, labels.sample(frac=1.0, random_state=1).drop(columns="prediction_id")),
        id_column="application_id",
    )
    assert by_key.metrics == check.metrics and by_key.id_column == "application_id"


def test_a_decayed_window_breaches_and_applies_the_policy_action(
    served, operated, tmp_path
) -> None:
    platform, labels = served
    flipped = labels.copy()
    flipped.loc[: ROWS // 2, "label"] = 1 - flipped.loc[: ROWS // 2, "label"]  # half flipped
    check = api.check_performance(platform, ENG, "scoring", _file(tmp_path, flipped))
    assert check.metrics["roc_auc"] < 0.75
    assert check.levels == {"roc_auc": "breach", "ks": "breach", "gini": "breach"}
    assert (check.previous_health, check.window_health, check.health) == ("ok", "breach", "breach")
    assert set(check.actions) == {"notify", "require_review"}
    with operated.store.read() as s:
        v = operated.version(s, "credit", "1")
        assert (v.health, v.review_required) == ("breach", True)
    events = _events(operated)
    actions = ["performance.monitor", "health.change", "finding.open"]
    assert [e["action"] for e in events[-3:]] == actions
    change, finding = events[-2]["payload"], events[-1]["payload"]
    assert change["performance_result_id"] == check.result_id
    assert (change["from"], change["to"]) == ("ok", "breach")
    assert finding["severity"] == "high", finding


def test_no_verdict_on_too_few_rows_or_one_class(served, operated, tmp_path) -> None:
    from dataclasses import replace

    platform, labels = served
    first = api.check_performance(platform, ENG, "scoring", _file(tmp_path, labels.head(30)))
    assert first.status == "checked"  # the default policy asks for one row
    policy = operated.policy
    operated.policy = replace(
        policy, tiers={t: replace(tp, health_min_rows=100) for t, tp in policy.tiers.items()}
    )
    few = api.check_performance(platform, ENG, "scoring", _file(tmp_path, labels.head(30)))
    assert (few.status, few.rows, few.result_id, few.health) == (
        "insufficient data",
        30,
        None,
        first.health,  # unchanged: no verdict
    )
    one_class = labels.assign(label=1)
    same = api.check_performance(platform, ENG, "scoring", _file(tmp_path, one_class))
    assert (same.status, same.reason) == ("insufficient data", "the outcomes are all of one class")


def test_bad_input_is_one_message_and_records_nothing(served, operated, tmp_path) -> None:
    import pandas as pd

    platform, labels = served
    before = len(_events(operated))
    good = _file(tmp_path, labels)
    cases = [
        (dict(labels=tmp_path / "labels.txt"), BadInput, "CSV or Parquet"),
        (dict(labels=tmp_path / "none.csv"), BadInput, "not found"),
        (dict(labels=good, label_column="outcome"), BadInput, "no column 'outcome'"),
        (dict(labels=good, id_column="customer"), BadInput, "no column 'customer'"),
        (dict(labels=good.with_name("x.csv"), id_column="x"), BadInput, "not unique"),
        (dict(labels=good, task="ranking"), BadInput, "unknown task"),
        (dict(labels=good, target="nowhere"), NotFound, "serves no version"),
    ]
    dup = tmp_path / "dup.csv"
    pd.concat([labels, labels.head(1)]).drop(columns="score").to_csv(dup, index=False)
    labels.drop(columns="score").assign(x=1.0).to_csv(tmp_path / "x.csv", index=False)
    cases.append((dict(labels=dup), BadInput, "repeats in the labels file"))
    for kwargs, error, message in cases:
        target = kwargs.pop("target", "scoring")
        with pytest.raises(error, match=message):
            api.check_performance(platform, ENG, target, **kwargs)
    with pytest.raises(PermissionDenied):
        api.check_performance(platform, AUD, "scoring", good)
    assert len(_events(operated)) == before
