"""Data-quality counts on a constructed frame, and agreement with Evidently's own metrics."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from mlgov.governance.drift import QualityFinding
from mlgov.monitoring.quality import quality_findings, reference_bounds, reference_labels

KINDS = {"amount": "numerical", "tenure": "numerical", "region": "categorical"}


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    reference = pd.DataFrame(
        {
            "amount": [10.0, 20.0, 30.0, 40.0, float("inf"), None],  # finite range [10, 40]
            "tenure": [1, 2, 3, 4, 5, 6],
            "region": ["north", "south", "east", "north", None, "west"],
        }
    )
    current = pd.DataFrame(
        {
            # 2 missing; out of range: 5.0, 41.0, -inf (the bounds 10 and 40 are inside)
            "amount": [5.0, 10.0, 40.0, 41.0, None, float("-inf"), None, 25.0],
            "tenure": [1, 2, 3, 4, 5, 6, 6, 1],  # clean
            # 1 missing; new categories: "mars" twice, "atlantis" once
            "region": ["north", "mars", "south", "mars", None, "atlantis", "east", "west"],
        }
    )
    return reference, current


def test_findings_are_counted_right(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, current = frames
    findings = quality_findings(reference, current, KINDS)
    assert findings == (
        QualityFinding("amount", "missing_share", 2, 2 / 8),
        QualityFinding("amount", "out_of_range", 3, 3 / 6),
        QualityFinding("region", "missing_share", 1, 1 / 8),
        QualityFinding("region", "new_categories", 3, 3 / 7),
    )
    assert quality_findings(reference, reference.iloc[:4], KINDS) == ()


def test_findings_hold_counts_never_values(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, current = frames
    text = repr(quality_findings(reference, current, KINDS))
    assert "mars" not in text and "atlantis" not in text


def test_definitions_equal_evidently_metrics(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """The pandas definitions are Evidently's MissingValueCount / OutRangeValueCount /
    OutListValueCount fed with the reference's bounds and labels."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import MissingValueCount, OutListValueCount, OutRangeValueCount

    reference, current = frames
    metrics = []
    for name, kind in KINDS.items():
        metrics.append(MissingValueCount(column=name))
        if kind == "numerical":
            low, high = reference_bounds(reference[name])
            metrics.append(OutRangeValueCount(column=name, left=low, right=high))
        else:
            metrics.append(OutListValueCount(column=name, values=reference_labels(reference[name])))
    definition = DataDefinition(
        numerical_columns=["amount", "tenure"], categorical_columns=["region"]
    )
    snapshot = Report(metrics).run(Dataset.from_pandas(current, data_definition=definition), None)
    evidently_counts = {}
    for metric, result in zip(metrics, snapshot.dict()["metrics"], strict=True):
        check = {
            "MissingValueCount": "missing_share",
            "OutRangeValueCount": "out_of_range",
            "OutListValueCount": "new_categories",
        }[type(metric).__name__]
        evidently_counts[(metric.column, check)] = (
            int(result["value"]["count"]),
            float(result["value"]["share"]),
        )
    ours = {
        (f.column, f.check): (f.count, f.share) for f in quality_findings(reference, current, KINDS)
    }
    for key, (count, share) in evidently_counts.items():
        mine = ours.get(key, (0, 0.0))  # zero counts are not findings
        assert mine[0] == count, key
        assert math.isclose(mine[1], share, abs_tol=1e-12), key
    assert set(ours) <= set(evidently_counts)


def test_nullable_integer_and_float32_columns_are_counted() -> None:
    reference = pd.DataFrame(
        {
            "n": pd.array([2, 3, None, 4], dtype="Int64"),
            "x": pd.Series([0.5, 1.5, 2.5, float("nan")], dtype="float32"),
        }
    )
    current = pd.DataFrame(
        {
            "n": pd.array([1, None, 3, 9], dtype="Int64"),
            "x": pd.Series([0.5, 3.0, float("nan"), 1.0], dtype="float32"),
        }
    )
    kinds = {"n": "numerical", "x": "numerical"}
    assert quality_findings(reference, current, kinds) == (
        QualityFinding("n", "missing_share", 1, 1 / 4),
        QualityFinding("n", "out_of_range", 2, 2 / 3),
        QualityFinding("x", "missing_share", 1, 1 / 4),
        QualityFinding("x", "out_of_range", 1, 1 / 3),
    )
