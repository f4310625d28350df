"""The fast exact drift engine: Evidently 0.7.23's decisions from sorted columns, in about a second.

It chooses the same test per column, with the same thresholds and comparisons, as Evidently's
`DataDriftPreset` (see mlgov.monitoring.stattests for the rules and the Evidently files they come
from) and decides the dataset the same way: evidently/legacy/calculations/data_drift.py
`get_dataset_drift` -- share = drifted columns / columns, drift when share >= drift_share (the
preset's `DriftedColumnsCount` test `lt(drift_share)` fails exactly then).

Work is column by column: each side of a column is converted to float64 once, sorted once, and
every test and quality count reuses that; nothing loops over rows in Python. Files are read with
pyarrow: Parquet one column at a time, CSV parsed once with pandas' missing-value markers.

What it does not do (documented for the caller):
- HTML: `html_out` is accepted and nothing is written; the caller produces the human-readable
  report with Evidently on a sample.
- `DriftSpec.sample`/`seed` are ignored: the decision always uses every row.
- `json_out`, when given, receives this engine's DriftResult as JSON (not Evidently's format).

Quality findings (counts only, never values), one per column and check, reported only when the
count is above zero, shares over the current rows:
- missing_share: current rows that are null or NaN;
- new_categories (categorical): current non-missing rows whose value the reference never holds;
- out_of_range (numerical): current non-missing rows below the reference's smallest or above its
  largest finite value (so +-inf in the current data counts as out of range).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from mlgov.governance.drift import ColumnDrift, DriftResult, DriftSpec, QualityFinding
from mlgov.governance.errors import BadInput
from mlgov.monitoring.column_sources import ColumnSource, MemorySource, open_source
from mlgov.monitoring.columnar import (
    CategoricalColumn,
    NumericColumn,
    categorical_column,
    numeric_column,
)
from mlgov.monitoring.row_fingerprints import RowHasher
from mlgov.monitoring.row_fingerprints import compare as compare_rows
from mlgov.monitoring.stattests import RULES, SUPPORTED_METHODS

ENGINE_NAME = "fast"
KINDS = ("numerical", "categorical")


class FastDriftChecker:
    """DriftChecker (mlgov.governance.ports) over CSV/Parquet files, engine "fast"."""

    def check(
        self,
        reference: Path,
        current: Path,
        spec: DriftSpec,
        *,
        html_out: Path | None = None,
        json_out: Path | None = None,
    ) -> DriftResult:
        _validated_columns(spec)
        ref_source = open_source(Path(reference), "reference", spec.column_kinds)
        cur_source = open_source(Path(current), "current", spec.column_kinds)
        result = compute_from_sources(ref_source, cur_source, spec)
        if json_out is not None:
            write_json(result, Path(json_out))
        return result


def compute_drift(
    reference_columns: Mapping[str, Any],
    current_columns: Mapping[str, Any],
    spec: DriftSpec,
) -> DriftResult:
    """The drift decision on in-memory columns (numpy arrays, pandas Series, pyarrow arrays or
    lists), name -> values, for the columns named in `spec.column_kinds`."""
    _validated_columns(spec)
    return compute_from_sources(
        MemorySource(reference_columns, "reference"),
        MemorySource(current_columns, "current"),
        spec,
    )


def compute_from_sources(
    reference: ColumnSource, current: ColumnSource, spec: DriftSpec
) -> DriftResult:
    columns = _validated_columns(spec)
    for source in (reference, current):
        present = set(source.column_names())
        missing = [c for c in columns if c not in present]
        if missing:
            raise BadInput(
                f"the {source.label} data lacks the column(s) {', '.join(missing)}",
                hint="both datasets must hold every column of the schema",
            )
        if source.num_rows == 0:
            raise BadInput(f"the {source.label} data has no rows")
    drifts: list[ColumnDrift] = []
    quality: list[QualityFinding] = []
    ref_rows, cur_rows = RowHasher(reference.num_rows), RowHasher(current.num_rows)
    # One helper thread prepares the reference side while this one prepares the current side
    # of the same column: reading and sorting release the GIL, and memory stays at one column.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlgov-drift") as pool:
        for name in columns:
            kind = spec.column_kinds[name]
            prepare = numeric_column if kind == "numerical" else categorical_column
            prepared = prepare(
                name,
                partial(_hashed_take, reference, name, kind, ref_rows),
                partial(_hashed_take, current, name, kind, cur_rows),
                pool,
            )
            drifts.append(_column_drift(name, kind, prepared, spec))
            quality.extend(_quality(name, prepared, current.num_rows))
            del prepared  # the next column's arrays replace this one's
    drifted = sum(1 for d in drifts if d.drifted)
    share = drifted / len(drifts)
    return DriftResult(
        columns=tuple(drifts),
        drifted_share=share,
        share_threshold=spec.share_threshold,
        drift_detected=bool(share >= spec.share_threshold),
        reference_rows=reference.num_rows,
        current_rows=current.num_rows,
        engine=ENGINE_NAME,
        quality=tuple(quality),
        row_overlap=compare_rows(ref_rows, cur_rows),
    )


def _hashed_take(source: ColumnSource, name: str, kind: str, rows: RowHasher) -> Any:
    """The column's values, after adding them to the side's row fingerprints."""
    values = source.take(name)
    rows.add(values, kind)
    return values


def _validated_columns(spec: DriftSpec) -> list[str]:
    """The spec's columns, after refusing anything the engine cannot honour exactly."""
    if not spec.column_kinds:
        raise BadInput(
            "the drift spec names no columns", hint="give each column's kind (the schema)"
        )
    for name, kind in spec.column_kinds.items():
        if kind not in KINDS:
            raise BadInput(
                f"column '{name}' has an unsupported kind for drift",
                hint=f"use one of: {', '.join(KINDS)}",
            )
    if not _is_number(spec.share_threshold):
        raise BadInput("the drift share threshold must be a finite number")
    for name, method in spec.per_column_method.items():
        if name not in spec.column_kinds:
            raise BadInput(f"a per-column drift method names column '{name}', not in the schema")
        rule = RULES.get(method)
        if rule is None:
            raise BadInput(
                f"column '{name}' asks for an unsupported drift method",
                hint=f"the fast engine supports: {', '.join(SUPPORTED_METHODS)}",
            )
        if spec.column_kinds[name] not in rule.kinds:
            # Evidently refuses it too (StatTestInvalidFeatureTypeError).
            raise BadInput(
                f"column '{name}': drift method {method} does not apply to "
                f"{spec.column_kinds[name]} columns",
                hint=f"{method} applies to {', '.join(rule.kinds)} columns",
            )
    for name, threshold in spec.per_column_threshold.items():
        if name not in spec.column_kinds:
            raise BadInput(f"a per-column drift threshold names column '{name}', not in the schema")
        if not _is_number(threshold):
            raise BadInput(f"column '{name}': the drift threshold must be a finite number")
    return list(spec.column_kinds)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _column_drift(
    name: str, kind: str, column: NumericColumn | CategoricalColumn, spec: DriftSpec
) -> ColumnDrift:
    from mlgov.monitoring import stattests as st

    if isinstance(column, NumericColumn):
        ref, cur = column.reference, column.current
        n_ref = ref.size
        method = spec.per_column_method.get(name)
        if method is None:
            method = st.default_test("numerical", n_ref, _union_distinct_upto6(ref, cur))
    else:
        n_ref = int(column.reference_counts.sum())
        method = spec.per_column_method.get(name)
        if method is None:
            n_values = int(column.reference_counts.size)  # every key occurs on some side
            method = st.default_test("categorical", n_ref, n_values)
    rule = st.RULES[method]
    threshold = float(spec.per_column_threshold.get(name, rule.default_threshold))
    score = _score(method, column)
    return ColumnDrift(
        column=name,
        kind=kind,  # type: ignore[arg-type]
        test=method,
        score=score,
        threshold=threshold,
        drifted=rule.drifted(score, threshold),
    )


def _union_distinct_upto6(ref: Any, cur: Any) -> int:
    """Distinct values over both sides, exact up to 6 (all the choice of test looks at)."""
    import numpy as np

    from mlgov.monitoring.stattests import more_distinct_than, sorted_value_counts

    if more_distinct_than(ref, 5) or more_distinct_than(cur, 5):
        return 6
    return int(np.union1d(sorted_value_counts(ref)[0], sorted_value_counts(cur)[0]).size)


def _score(method: str, column: NumericColumn | CategoricalColumn) -> float:
    from mlgov.monitoring import stattests as st

    if isinstance(column, NumericColumn):
        ref, cur = column.reference, column.current
        if method == "ks":
            return st.ks_pvalue(ref, cur)
        if method == "wasserstein":
            return st.wasserstein_normed(ref, cur)
        if method in ("jensenshannon", "psi"):
            ref_counts, cur_counts = st.numeric_binned_counts(ref, cur, column.integer)
            measure = st.jensenshannon_distance if method == "jensenshannon" else st.psi_value
            return measure(ref_counts, cur_counts, ref.size, cur.size)
        keys, ref_counts, cur_counts = st.aligned_counts(ref, cur)
        if method == "chisquare":
            return st.chisquare_pvalue(ref_counts, cur_counts)
        return st.z_pvalue(ref_counts, cur_counts, first_key=0)  # keys come sorted
    ref_counts, cur_counts = column.reference_counts, column.current_counts
    n_ref, n_cur = int(ref_counts.sum()), int(cur_counts.sum())
    if method == "chisquare":
        return st.chisquare_pvalue(ref_counts, cur_counts)
    if method == "z":
        return st.z_pvalue(ref_counts, cur_counts, first_key=column.first_key)
    if method == "jensenshannon":
        return st.jensenshannon_distance(ref_counts, cur_counts, n_ref, n_cur)
    if method == "psi":
        return st.psi_value(ref_counts, cur_counts, n_ref, n_cur)
    raise BadInput(f"drift method {method} does not apply to categorical columns")


def _quality(
    name: str, column: NumericColumn | CategoricalColumn, current_rows: int
) -> list[QualityFinding]:
    counts: list[tuple[str, int]] = [("missing_share", column.current_missing)]
    if isinstance(column, NumericColumn):
        counts.append(("out_of_range", column.current_out_of_range))
    else:
        counts.append(("new_categories", column.current_new))
    return [
        QualityFinding(column=name, check=check, count=count, share=count / current_rows)  # type: ignore[arg-type]
        for check, count in counts
        if count > 0
    ]


def result_to_dict(result: DriftResult) -> dict[str, Any]:
    """The result as plain JSON-ready data (NaN scores become null)."""
    import dataclasses

    data = dataclasses.asdict(result)
    for column in data["columns"]:
        if not math.isfinite(column["score"]):
            column["score"] = None
    data["drifted_columns"] = list(result.drifted_columns)
    return data


def write_json(result: DriftResult, path: Path) -> None:
    import json

    path.write_text(json.dumps(result_to_dict(result), indent=2, allow_nan=False) + "\n")
