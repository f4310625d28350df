"""Run Evidently 0.7's DataDriftPreset the way the fast engine must match, and read its verdicts.

Imported lazily by the equivalence tests (importing Evidently takes seconds).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("ITERATIVE_DO_NOT_TRACK", "true")

from mlgov.monitoring.stattests import DISPLAY_NAMES  # noqa: E402


@dataclass(frozen=True)
class OracleColumn:
    test: str
    score: float
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class OracleResult:
    columns: dict[str, OracleColumn]
    share: float
    drift_detected: bool


def run_evidently(reference, current, column_kinds, *, drift_share=0.5, per_column_method=None,
                  per_column_threshold=None) -> OracleResult:
    """reference/current: pandas DataFrames. Runs `report.run(current, reference)`."""
    import warnings

    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=[c for c, k in column_kinds.items() if k == "numerical"],
        categorical_columns=[c for c, k in column_kinds.items() if k == "categorical"],
    )
    report = Report(
        [
            DataDriftPreset(
                columns=list(column_kinds),
                drift_share=drift_share,
                per_column_method=per_column_method or None,
                per_column_threshold=per_column_threshold or None,
            )
        ],
        include_tests=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshot = report.run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        )
    data = snapshot.dict()
    by_id = {m["id"]: m for m in data["metrics"]}
    status = {t["metric_config"]["metric_id"]: t["status"] for t in data["tests"]}
    columns: dict[str, OracleColumn] = {}
    share = None
    detected = None
    for metric_id, metric in by_id.items():
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            method = config["method"]
            columns[config["column"]] = OracleColumn(
                test=DISPLAY_NAMES.get(method, method),
                score=float(metric["value"]),
                threshold=float(config["threshold"]),
                drifted=status[metric_id] == "FAIL",
            )
        elif config["type"].endswith("DriftedColumnsCount"):
            share = float(metric["value"]["share"])
            detected = status[metric_id] == "FAIL"
    assert share is not None and detected is not None
    return OracleResult(columns=columns, share=share, drift_detected=detected)
