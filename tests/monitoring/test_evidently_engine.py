"""Real Evidently reports on a real dataset split (reports shared per module: each costs ~1 s)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mlgov.governance.drift import DriftSpec
from mlgov.governance.errors import BadInput
from mlgov.monitoring.datasets import describe_dataset
from mlgov.monitoring.evidently_engine import (
    DriftRun,
    EvidentlyDriftChecker,
    build_dataset,
    build_drift_report,
    canonical_test_name,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def kinds(split_files) -> dict[str, str]:
    return describe_dataset(split_files.reference).column_kinds


@pytest.fixture(scope="module")
def spec(kinds) -> DriftSpec:
    # 2 of 6 columns shifted: a share of 1/3, so the dataset threshold is set below it.
    return DriftSpec(share_threshold=0.3, column_kinds=kinds)


@pytest.fixture(scope="module")
def same_run(split_files, spec, tmp_path_factory) -> tuple[DriftRun, Path, Path]:
    out = tmp_path_factory.mktemp("reports")
    html, js = out / "same.html", out / "same.json"
    run = EvidentlyDriftChecker().run(
        split_files.reference, split_files.same, spec, html_out=html, json_out=js
    )
    return run, html, js


@pytest.fixture(scope="module")
def shifted_run(split_files, spec, tmp_path_factory) -> tuple[DriftRun, Path, Path]:
    out = tmp_path_factory.mktemp("reports")
    html, js = out / "shifted.html", out / "shifted.json"
    run = EvidentlyDriftChecker().run(
        split_files.reference, split_files.shifted, spec, html_out=html, json_out=js
    )
    return run, html, js


def test_same_distribution_does_not_drift(same_run, split_files) -> None:
    result = same_run[0].result
    assert result.drift_detected is False
    assert result.drifted_columns == ()
    assert result.drifted_share == 0.0
    assert result.engine == "evidently"
    assert [c.column for c in result.columns] == list(same_run[0].reference.schema)
    assert result.reference_rows == 285 and result.current_rows == 284


def test_two_shifted_features_drift_by_name(shifted_run, split_files) -> None:
    result = shifted_run[0].result
    assert result.drift_detected is True
    assert result.drifted_columns == split_files.shifted_columns
    assert result.drifted_share == pytest.approx(2 / 6)
    assert result.share_threshold == 0.3


def test_column_tests_follow_evidentlys_choice_and_schema_kinds(shifted_run) -> None:
    by_name = {c.column: c for c in shifted_run[0].result.columns}
    # <= 1,000 reference rows: K-S on numbers, chi-square on 3 labels (p-values, 0.05)
    assert by_name["mean texture"].kind == "numerical"
    assert (by_name["mean texture"].test, by_name["mean texture"].threshold) == ("ks", 0.05)
    assert by_name["mean texture"].score < 0.05
    assert (by_name["size_band"].kind, by_name["size_band"].test) == ("categorical", "chisquare")


def test_same_data_default_verdict_is_evidentlys(split_files, kinds) -> None:
    """With the default share threshold (0.5) two drifted columns of six are not dataset drift."""
    result = EvidentlyDriftChecker().check(
        split_files.reference, split_files.shifted, DriftSpec(column_kinds=kinds)
    )
    assert result.drifted_columns == split_files.shifted_columns
    assert result.drift_detected is False and result.share_threshold == 0.5


@pytest.mark.parametrize("run_fixture", ["same_run", "shifted_run"])
def test_html_and_json_reports_exist_and_agree(run_fixture, request) -> None:
    run, html, js = request.getfixturevalue(run_fixture)
    assert html.stat().st_size > 100_000
    page = html.read_text(encoding="utf-8").strip().lower()
    assert page.startswith("<!doctype html") and page.endswith("</html>")
    assert all(c.column in page for c in run.result.columns)
    report = json.loads(js.read_text(encoding="utf-8"))
    assert js.read_text(encoding="utf-8") == run.report_json
    drifts = {
        m["config"]["column"]: m
        for m in report["metrics"]
        if m["config"]["type"] == "evidently:metric_v2:ValueDrift"
    }
    status = {t["metric_config"]["metric_id"]: t["status"] for t in report["tests"]}
    for column in run.result.columns:
        metric = drifts[column.column]
        assert metric["value"] == column.score
        assert metric["config"]["threshold"] == column.threshold
        assert canonical_test_name(metric["config"]["method"]) == column.test
        assert (status[metric["id"]] == "FAIL") is column.drifted
    (share,) = [
        m
        for m in report["metrics"]
        if m["config"]["type"] == "evidently:metric_v2:DriftedColumnsCount"
    ]
    assert share["value"]["share"] == run.result.drifted_share
    assert share["config"]["drift_share"] == run.result.share_threshold
    assert (status[share["id"]] == "FAIL") is run.result.drift_detected


def test_records_describe_the_whole_files(same_run, split_files) -> None:
    run = same_run[0]
    assert run.reference.sha256 == describe_dataset(split_files.reference).sha256
    assert run.current.rows == 284 and run.sample is None and run.seed is None


def test_per_column_overrides_are_honoured(split_files, kinds, same_run) -> None:
    spec = DriftSpec(
        share_threshold=0.3,
        column_kinds=kinds,
        per_column_method={"size_band": "psi", "worst area": "wasserstein"},
        per_column_threshold={"mean texture": 0.999},  # a p-value below it means drift
    )
    result = EvidentlyDriftChecker().check(split_files.reference, split_files.same, spec)
    by_name = {c.column: c for c in result.columns}
    baseline = {c.column: c for c in same_run[0].result.columns}
    assert (by_name["size_band"].test, by_name["size_band"].threshold) == ("psi", 0.1)
    assert (by_name["worst area"].test, by_name["worst area"].threshold) == ("wasserstein", 0.1)
    assert (by_name["mean texture"].test, by_name["mean texture"].threshold) == ("ks", 0.999)
    assert by_name["mean texture"].score == baseline["mean texture"].score
    assert baseline["mean texture"].drifted is False and by_name["mean texture"].drifted is True
    assert result.drifted_columns == ("mean texture",)


def test_sampling_is_reproducible_and_recorded(split_files, kinds) -> None:
    checker = EvidentlyDriftChecker()
    first = checker.run(
        split_files.reference,
        split_files.shifted,
        DriftSpec(share_threshold=0.3, column_kinds=kinds, sample=150, seed=11),
    )
    again = checker.run(
        split_files.reference,
        split_files.shifted,
        DriftSpec(share_threshold=0.3, column_kinds=kinds, sample=150, seed=11),
    )
    other = checker.run(
        split_files.reference,
        split_files.shifted,
        DriftSpec(share_threshold=0.3, column_kinds=kinds, sample=150, seed=12),
    )
    assert first.result == again.result
    assert (first.sample, first.seed) == (150, 11)
    assert first.result.reference_rows == 150 and first.result.current_rows == 150
    assert first.current.rows == 284  # the file, not the sample
    assert [c.score for c in first.result.columns] != [c.score for c in other.result.columns]


def test_parquet_reference_gives_the_same_decision(split_files, spec, shifted_run) -> None:
    result = EvidentlyDriftChecker().check(split_files.reference_parquet, split_files.shifted, spec)
    assert result.columns == shifted_run[0].result.columns


def test_extra_current_columns_follow_the_policy(split_files, spec, tmp_path) -> None:
    current = pd.read_csv(split_files.same).assign(customer_id=range(284), prediction=0.5)
    path = tmp_path / "with_ids.csv"
    current.to_csv(path, index=False)
    with pytest.raises(BadInput, match="extra column.*'customer_id', 'prediction'"):
        EvidentlyDriftChecker().check(split_files.reference, path, spec)
    result = EvidentlyDriftChecker(ignore_extra_columns=True).check(
        split_files.reference, path, spec
    )
    assert [c.column for c in result.columns] == list(spec.column_kinds)


def test_bad_current_data_is_refused_before_anything_is_written(
    split_files, spec, tmp_path, secret
) -> None:
    current = pd.read_csv(split_files.same).astype({"mean smoothness": object})
    current.loc[7, "mean smoothness"] = secret
    path = tmp_path / "text_in_numbers.csv"
    current.to_csv(path, index=False)
    html, js = tmp_path / "r.html", tmp_path / "r.json"
    with pytest.raises(BadInput) as err:
        EvidentlyDriftChecker().check(split_files.reference, path, spec, html_out=html, json_out=js)
    assert "'mean smoothness'" in str(err.value) and "non-numeric" in str(err.value)
    assert secret not in str(err.value)
    assert not html.exists() and not js.exists()
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"share_threshold": 0.0}, "share threshold"),
        ({"sample": 0}, "sample size"),
        ({"per_column_method": {"income": "ks"}}, "unknown column.*'income'"),
        ({"per_column_threshold": {"income": 0.1}}, "unknown column.*'income'"),
        ({"per_column_method": {"mean radius": "no_such_test"}}, "'no_such_test'.*unknown"),
        ({"per_column_method": {"size_band": "ks"}}, "cannot test column 'size_band'"),
    ],
)
def test_bad_specs_are_refused_before_evidently_runs(kinds, change, message) -> None:
    spec = DriftSpec(column_kinds=kinds, **change)
    with pytest.raises(BadInput, match=message):
        build_drift_report(spec, kinds)


def test_report_and_dataset_builders_use_the_recorded_kinds(split_files) -> None:
    frame = pd.read_csv(split_files.reference).assign(n_products=lambda f: f.index % 3)
    kinds = {"mean radius": "numerical", "n_products": "numerical", "size_band": "categorical"}
    dataset = build_dataset(frame, kinds)
    definition = dataset.data_definition
    # Evidently alone would take a 3-valued integer column as categorical
    assert definition.numerical_columns == ["mean radius", "n_products"]
    assert definition.categorical_columns == ["size_band"]
    spec = DriftSpec(
        share_threshold=0.25, column_kinds=kinds, per_column_threshold={"n_products": 0.2}
    )
    (preset,) = build_drift_report(spec, kinds).metrics
    assert (preset.drift_share, preset.columns) == (0.25, list(kinds))
    assert preset.per_column_threshold == {"n_products": 0.2}


def test_a_report_that_contradicts_itself_is_an_external_error(shifted_run, spec) -> None:
    from mlgov.governance.errors import ExternalError
    from mlgov.monitoring.evidently_engine import result_from_report

    report = json.loads(shifted_run[0].report_json)
    rows = {"reference_rows": 1, "current_rows": 1}
    assert result_from_report(report, spec.column_kinds, spec, **rows).drifted_columns == (
        "mean texture",
        "worst area",
    )
    lost_test = {**report, "tests": [t for t in report["tests"] if "size_band" not in t["name"]]}
    with pytest.raises(ExternalError, match="column 'size_band'"):
        result_from_report(lost_test, spec.column_kinds, spec, **rows)
    for metric in report["metrics"]:
        if metric["config"]["type"] == "evidently:metric_v2:DriftedColumnsCount":
            metric["value"]["count"] = 5.0
    with pytest.raises(ExternalError, match="disagrees"):
        result_from_report(report, spec.column_kinds, spec, **rows)


def test_missing_current_file_is_not_found(split_files, spec, tmp_path) -> None:
    from mlgov.governance.errors import NotFound

    with pytest.raises(NotFound, match="absent.parquet"):
        EvidentlyDriftChecker().check(split_files.reference, tmp_path / "absent.parquet", spec)


def test_without_recorded_kinds_the_reference_is_the_schema(tmp_path, split_files) -> None:
    reference = pd.read_csv(split_files.reference).assign(notes=None)
    path = tmp_path / "ref_with_empty.csv"
    reference.to_csv(path, index=False)
    with pytest.raises(BadInput, match="column 'notes' is entirely empty"):
        EvidentlyDriftChecker().check(path, split_files.same, DriftSpec())


def test_unwritable_report_path_is_refused_up_front(split_files, spec, tmp_path) -> None:
    with pytest.raises(BadInput, match="cannot write the HTML report .*no such directory"):
        EvidentlyDriftChecker().check(
            split_files.reference, split_files.same, spec, html_out=tmp_path / "no" / "r.html"
        )
