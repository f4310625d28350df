"""The Evidently drift engine: DriftChecker over Evidently 0.7's Report and DataDriftPreset.

One check: read both files; check them against the reference schema (spec.column_kinds, else
the reference file's own columns); draw the optional reproducible sample
(mlgov.monitoring.datasets.sample_indices); run `Report([DataDriftPreset(...)],
include_tests=True)` with `report.run(current, reference)` (current first) on Datasets whose
DataDefinition comes from the schema, never from Evidently's guess; count the data-quality
findings on the full files (mlgov.monitoring.quality); read the decision back from the
snapshot's JSON, which is also what `json_out` receives.

Per column the decision is Evidently's: the test is the ValueDrift metric's config.method
(canonical stattest name, e.g. "ks"), the score its value, the threshold its config.threshold,
and `drifted` its test status (FAIL = drifted). The dataset-level share and verdict are the
DriftedColumnsCount metric's share and its test (FAIL when share >= drift_share).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgov.governance.drift import (
    ColumnDrift,
    ColumnKind,
    DriftResult,
    DriftSpec,
    QualityFinding,
)
from mlgov.governance.errors import BadInput, ExternalError
from mlgov.monitoring.datasets import (
    DatasetInfo,
    describe_frame,
    empty_columns,
    read_table,
    sample_indices,
)
from mlgov.monitoring.quality import quality_findings
from mlgov.monitoring.row_fingerprints import frame_row_overlap
from mlgov.monitoring.schema import align_frames, check_compatible, select_columns

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pandas
    from evidently import Dataset, Report

ENGINE = "evidently"
_KIND_TO_EVIDENTLY = {"numerical": "num", "categorical": "cat"}
_VALUE_DRIFT = "evidently:metric_v2:ValueDrift"
_DRIFTED_COUNT = "evidently:metric_v2:DriftedColumnsCount"


def _quiet_evidently() -> None:
    # Evidently's telemetry (UI/service side) honours DO_NOT_TRACK; a bank's network is closed.
    os.environ.setdefault("DO_NOT_TRACK", "true")


@contextmanager
def numeric_warnings_silenced() -> Iterator[None]:
    """Evidently's statistics meet NaN, +-inf and constant columns (its stattests drop them,
    or score them as drift) and numpy/pandas then print RuntimeWarnings to the user's
    terminal about values the result already accounts for. Silenced here only, for the
    duration of Evidently's computation, never process-wide."""
    import numpy as np

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


@dataclass(frozen=True)
class DriftRun:
    """A check's decision plus what the governance record needs besides it.

    `result.reference_rows/current_rows` are the rows compared (after sampling); `reference` and
    `current` describe the whole files (sha256, rows, schema). `sample` and `seed` are None when
    no sample was asked for.
    """

    result: DriftResult
    reference: DatasetInfo
    current: DatasetInfo
    sample: int | None
    seed: int | None
    report_json: str


def _registered_stattests() -> list[Any]:
    _quiet_evidently()
    from evidently.legacy.calculations import stattests
    from evidently.legacy.calculations.stattests.registry import StatTest

    return [v for v in vars(stattests).values() if isinstance(v, StatTest)]


def canonical_test_name(method: str) -> str:
    """Evidently reports an auto-chosen test by display name ("K-S p_value") and a named one
    by its registry name ("psi"); both become the registry name."""
    tests = _registered_stattests()
    if any(t.name == method for t in tests):
        return method
    for test in tests:
        if test.display_name == method:
            return test.name
    return method


def validate_spec(spec: DriftSpec, column_kinds: Mapping[str, ColumnKind]) -> None:
    """Refuse what Evidently would fail on later, naming the setting and column."""
    if not (0 < spec.share_threshold <= 1):
        raise BadInput("drift share threshold must be in (0, 1]")
    if spec.sample is not None and (isinstance(spec.sample, bool) or spec.sample < 1):
        raise BadInput("drift sample size must be a positive number of rows")
    for setting in ("per_column_method", "per_column_threshold"):
        unknown = [c for c in getattr(spec, setting) if c not in column_kinds]
        if unknown:
            names = ", ".join(f"'{c}'" for c in unknown)
            raise BadInput(f"drift policy {setting} names unknown column(s) {names}")
    for column, threshold in spec.per_column_threshold.items():
        if isinstance(threshold, bool) or not math.isfinite(float(threshold)):
            raise BadInput(f"drift threshold for column '{column}' must be a finite number")
    tests = _registered_stattests()
    for column, method in spec.per_column_method.items():
        wanted = _KIND_TO_EVIDENTLY[column_kinds[column]]
        fits = [t for t in tests if t.name == method]
        if not fits:
            known = sorted({t.name for t in tests if wanted in _type_codes(t)})
            raise BadInput(
                f"drift test '{method}' for column '{column}' is unknown",
                hint="one of: " + ", ".join(known),
            )
        if not any(wanted in _type_codes(t) for t in fits):
            raise BadInput(
                f"drift test '{method}' cannot test column '{column}' ({column_kinds[column]})"
            )


def _type_codes(stattest: Any) -> set[str]:
    return {getattr(t, "value", str(t)) for t in stattest.allowed_feature_types}


def build_drift_report(spec: DriftSpec, column_kinds: Mapping[str, ColumnKind]) -> Report:
    """The exact Report every Evidently run of mlgov uses (fast-engine tests reuse it)."""
    validate_spec(spec, column_kinds)
    _quiet_evidently()
    from evidently import Report
    from evidently.presets import DataDriftPreset

    preset = DataDriftPreset(
        columns=list(column_kinds),
        drift_share=spec.share_threshold,
        per_column_method=dict(spec.per_column_method) or None,
        per_column_threshold={c: float(t) for c, t in spec.per_column_threshold.items()} or None,
    )
    return Report([preset], include_tests=True)


def build_dataset(frame: pandas.DataFrame, column_kinds: Mapping[str, ColumnKind]) -> Dataset:
    """An Evidently Dataset typed by the recorded schema, never by Evidently's guess."""
    _quiet_evidently()
    from evidently import DataDefinition, Dataset

    definition = DataDefinition(
        numerical_columns=[c for c, k in column_kinds.items() if k == "numerical"],
        categorical_columns=[c for c, k in column_kinds.items() if k == "categorical"],
    )
    return Dataset.from_pandas(
        select_columns(frame, list(column_kinds)), data_definition=definition
    )


def result_from_report(
    report: Mapping[str, Any],
    column_kinds: Mapping[str, ColumnKind],
    spec: DriftSpec,
    *,
    reference_rows: int,
    current_rows: int,
    quality: tuple[QualityFinding, ...] = (),
) -> DriftResult:
    """Read the decision from a snapshot's dict()/JSON; refuse a report that contradicts itself."""
    status_by_metric: dict[str, list[str]] = {}
    for test in report.get("tests", []):
        status_by_metric.setdefault(test["metric_config"]["metric_id"], []).append(test["status"])
    drift_by_column: dict[str, Mapping[str, Any]] = {}
    share_metric: Mapping[str, Any] | None = None
    for metric in report.get("metrics", []):
        kind = metric.get("config", {}).get("type")
        if kind == _VALUE_DRIFT:
            drift_by_column[metric["config"]["column"]] = metric
        elif kind == _DRIFTED_COUNT:
            share_metric = metric
    if share_metric is None:
        raise ExternalError("Evidently's report has no drifted-columns share")

    columns = []
    for name, kind in column_kinds.items():
        metric = drift_by_column.get(name)
        if metric is None:
            raise ExternalError(f"Evidently's report has no drift test for column '{name}'")
        columns.append(
            ColumnDrift(
                column=name,
                kind=kind,
                test=canonical_test_name(metric["config"]["method"]),
                score=float(metric["value"]),
                threshold=float(metric["config"]["threshold"]),
                drifted=_verdict(status_by_metric.get(metric["id"], []), f"column '{name}'"),
            )
        )
    drifted_count = sum(c.drifted for c in columns)
    if int(share_metric["value"]["count"]) != drifted_count:
        raise ExternalError("Evidently's drifted-column count disagrees with its column tests")
    return DriftResult(
        columns=tuple(columns),
        drifted_share=float(share_metric["value"]["share"]),
        share_threshold=spec.share_threshold,
        drift_detected=_verdict(status_by_metric.get(share_metric["id"], []), "the dataset"),
        reference_rows=reference_rows,
        current_rows=current_rows,
        engine=ENGINE,
        quality=quality,
    )


def _verdict(statuses: list[str], subject: str) -> bool:
    if len(statuses) != 1 or statuses[0] not in ("FAIL", "SUCCESS"):
        raise ExternalError(f"Evidently's drift test for {subject} did not give a verdict")
    return statuses[0] == "FAIL"


class EvidentlyDriftChecker:
    """DriftChecker (mlgov.governance.ports) running Evidently's DataDriftPreset.

    `ignore_extra_columns` is the policy's answer to "may the current data carry columns the
    reference lacks (ids, predictions)?"; extra columns are never tested.
    """

    engine = ENGINE

    def __init__(self, *, ignore_extra_columns: bool = False) -> None:
        self.ignore_extra_columns = ignore_extra_columns

    def check(
        self,
        reference: Path,
        current: Path,
        spec: DriftSpec,
        *,
        html_out: Path | None = None,
        json_out: Path | None = None,
    ) -> DriftResult:
        return self.run(reference, current, spec, html_out=html_out, json_out=json_out).result

    def run(
        self,
        reference: Path,
        current: Path,
        spec: DriftSpec,
        *,
        html_out: Path | None = None,
        json_out: Path | None = None,
    ) -> DriftRun:
        for out, what in ((html_out, "HTML"), (json_out, "JSON")):
            if out is not None and not Path(out).parent.is_dir():
                # refused before minutes of work, not after
                raise BadInput(f"cannot write the {what} report to {out}: no such directory")
        ref_frame = read_table(reference)
        ref_info = describe_frame(reference, ref_frame, refuse_empty_columns=False)
        # Without a recorded schema the reference file's own columns and kinds are the schema.
        kinds: dict[str, ColumnKind] = dict(spec.column_kinds) or ref_info.column_kinds
        validate_spec(spec, kinds)
        check_compatible(
            kinds, ref_frame, ignore_extra=self.ignore_extra_columns, subject=f"{reference}"
        )
        cur_frame = read_table(current)
        check_compatible(
            kinds, cur_frame, ignore_extra=self.ignore_extra_columns, subject=f"{current}"
        )
        cur_info = describe_frame(current, cur_frame, refuse_empty_columns=False)
        ref_frame, cur_frame = align_frames(ref_frame, cur_frame, kinds)
        ref_drift, cur_drift = ref_frame, cur_frame
        if spec.sample is not None:
            ref_drift = _sample(ref_frame, spec, side=0, path=reference)
            cur_drift = _sample(cur_frame, spec, side=1, path=current)

        report = build_drift_report(spec, kinds)
        try:
            with numeric_warnings_silenced():
                cur_dataset, ref_dataset = (
                    build_dataset(cur_drift, kinds),
                    build_dataset(ref_drift, kinds),
                )
                snapshot = report.run(cur_dataset, ref_dataset)
                report_json = snapshot.json()
        except Exception as exc:  # Evidently's own failures: never echo its text (may hold data)
            raise ExternalError(
                f"Evidently failed to compute the drift report ({type(exc).__name__})"
            ) from exc
        # After the report, not before: its temporaries then reuse memory Evidently freed
        # instead of raising the process's peak.
        with numeric_warnings_silenced():
            quality = quality_findings(ref_frame, cur_frame, kinds)
        result = result_from_report(
            json.loads(report_json),
            kinds,
            spec,
            reference_rows=len(ref_drift),
            current_rows=len(cur_drift),
            quality=quality,
        )
        result = replace(result, row_overlap=frame_row_overlap(ref_frame, cur_frame, kinds))
        if html_out is not None:
            with numeric_warnings_silenced():
                html = snapshot.get_html_str(as_iframe=False)
            _write_atomically(Path(html_out), html, "HTML")
        if json_out is not None:
            _write_atomically(Path(json_out), report_json, "JSON")
        sampled = spec.sample is not None
        return DriftRun(
            result=result,
            reference=ref_info,
            current=cur_info,
            sample=spec.sample if sampled else None,
            seed=spec.seed if sampled else None,
            report_json=report_json,
        )


def _sample(frame: pandas.DataFrame, spec: DriftSpec, *, side: int, path: Path) -> pandas.DataFrame:
    assert spec.sample is not None
    sampled = frame.iloc[sample_indices(len(frame), spec.sample, spec.seed, side)]
    empty = empty_columns(sampled)
    if empty:
        names = ", ".join(f"'{c}'" for c in empty)
        raise BadInput(
            f"{path}: column(s) {names} have no usable value in the sample of {spec.sample} rows",
            hint="sample more rows",
        )
    return sampled


def _write_atomically(path: Path, text: str, what: str) -> None:
    """Write the whole report or nothing: a half-written report must not look like evidence."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise BadInput(f"cannot write the {what} report to {path} ({exc.strerror})") from exc
