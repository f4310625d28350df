"""Issue 16, item 5: the pre-deployment drift check must be made on data newer than the
reference, compared by content, not by file hash.

Real engines (the fast one, and Evidently) on the `operated` high-tier service: the reference's
rows shuffled (columns reordered too) or with a few new rows appended are refused at deploy;
a genuinely newer sample of the same population deploys.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlgov.governance import deployments
from mlgov.governance.drift_checks import record_drift
from mlgov.governance.errors import GateRefused
from mlgov.governance.references import record_reference

ENGINES = ["fast", "evidently"]


def population(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "income": rng.normal(50_000, 8_000, rows).round(2),
            "debt_ratio": rng.uniform(0, 1, rows).round(4),
            "age": rng.integers(21, 70, rows).astype(float),
        }
    )


FEATURES = ("income", "debt_ratio", "age")


@pytest.fixture
def fake_registry():
    """The shared fake registry, its models' signature naming this module's features."""
    from dataclasses import replace

    from mlgov.governance.testing import FakeRegistry

    class Registry(FakeRegistry):
        def register(self, model, **kwargs):
            inputs = [{"name": name, "type": "double"} for name in FEATURES]
            return replace(super().register(model, **kwargs), signature={"inputs": inputs})

    return Registry()


@pytest.fixture
def reference_frame() -> pd.DataFrame:
    return population(400, seed=1)


@pytest.fixture
def in_train(governed, high_card, reference_frame, tmp_path: Path):
    """credit/1, high tier, with complete evidence and a 400-row reference, in train."""
    from mlgov.governance import cards

    governed.register("ds1", "credit", risk_tier="high", purpose="credit scoring", run_id="r1")
    cards.set_card(governed, "ds1", "credit", "1", high_card)
    path = tmp_path / "reference-400.csv"
    reference_frame.to_csv(path, index=False)
    record_reference(governed, "ds1", "credit", "1", path)
    governed.promote("ds1", "credit", "1", "train")
    return governed


@pytest.fixture
def ready(operated, ops):
    """`in_train`, approved, with the real engines behind it."""
    from mlgov.adapters import drift_checker

    ops.approve()
    operated.ports["drift"] = drift_checker
    return operated


def deploy_refusal(gov) -> str | None:
    try:
        deployments.deploy(gov, "eng", "credit", "1", target="scoring")
    except GateRefused as refused:
        return str(refused)
    return None


@pytest.mark.parametrize("engine", ENGINES)
def test_reference_rows_shuffled_are_refused_as_newer_data(
    ready, reference_frame, tmp_path, engine
):
    shuffled = reference_frame.sample(frac=1.0, random_state=7)[["age", "income", "debt_ratio"]]
    current = tmp_path / "newer.csv"
    shuffled.to_csv(current, index=False)
    view = record_drift(ready, "eng", "credit", "1", current, engine=engine)
    assert view["drift_detected"] is False  # the distribution test alone cannot see it
    refusal = deploy_refusal(ready)
    assert refusal is not None and "own rows in another order: use newer data" in refusal
    assert ready.show("aud", "credit", "1")["stage"] == "train"
    assert view["rows_shared_with_reference"]["same_rows"] is True


@pytest.mark.parametrize("engine", ENGINES)
def test_reference_rows_with_a_few_new_rows_are_refused_as_newer_data(
    ready, reference_frame, tmp_path, engine
):
    padded = pd.concat([reference_frame, population(20, seed=99)]).sample(frac=1.0, random_state=3)
    current = tmp_path / "newer.parquet"
    padded.to_parquet(current, index=False)
    record_drift(ready, "eng", "credit", "1", current, engine=engine)
    refusal = deploy_refusal(ready)
    assert refusal is not None and "rows are 95% the reference's own" in refusal
    assert ready.show("aud", "credit", "1")["stage"] == "train"


@pytest.mark.parametrize("engine", ENGINES)
def test_genuinely_newer_data_passes_the_drift_gate(ready, tmp_path, engine):
    current = tmp_path / "newer.csv"
    population(400, seed=2).to_csv(current, index=False)
    view = record_drift(ready, "eng", "credit", "1", current, engine=engine)
    assert view["rows_shared_with_reference"]["shared_share"] == 0.0
    assert deploy_refusal(ready) is None
    assert ready.show("aud", "credit", "1")["stage"] == "deploy"


def test_data_with_few_distinct_rows_may_share_them_with_the_reference():
    """A fresh sample of low-cardinality data repeats reference rows: the limit follows the
    reference's own share of repeated rows, and only the same multiset is called a copy."""
    from mlgov.monitoring.row_fingerprints import frame_row_overlap

    kinds = {"grade": "categorical", "term": "numerical"}
    rng = np.random.default_rng(5)

    def sample(rows: int) -> pd.DataFrame:
        return pd.DataFrame(
            {"grade": rng.choice(list("ABC"), rows), "term": rng.choice([36, 60], rows)}
        )

    reference, newer = sample(300), sample(300)
    overlap = frame_row_overlap(reference, newer, kinds)
    assert overlap.shared_share == 1.0 and overlap.reference_duplicated_share == 1.0
    assert overlap.same_rows is False
    as_text = reference.assign(term=reference["term"].astype(float))  # 36 and 36.0: one value
    assert frame_row_overlap(reference, as_text.iloc[::-1], kinds).same_rows is True


def test_shared_row_limit_follows_the_references_own_repetition():
    from mlgov.governance.drift_checks import shared_row_limit

    assert shared_row_limit(0.0) == pytest.approx(0.2)  # continuous data: 20% at most
    assert shared_row_limit(0.5) == pytest.approx(0.6)  # few categories: what chance gives
    assert shared_row_limit(0.95) == 1.0  # only the same rows, reordered, are refused


def test_newer_data_padded_with_a_third_of_reference_rows_is_refused(
    ready, reference_frame, tmp_path
):
    mixed = pd.concat([reference_frame.head(150), population(300, seed=4)])
    current = tmp_path / "newer.csv"
    mixed.sample(frac=1.0, random_state=5).to_csv(current, index=False)
    record_drift(ready, "eng", "credit", "1", current)
    refusal = deploy_refusal(ready)
    assert refusal is not None and "rows are 33% the reference's own" in refusal
    assert "(at most 20% allowed)" in refusal
