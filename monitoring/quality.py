"""Data-quality findings of the current data against the reference: counts, never values.

Exact definitions (the fast engine implements the same; they are Evidently 0.7's
MissingValueCount, OutListValueCount and OutRangeValueCount, evidently/metrics/
column_statistics.py, fed with bounds and labels taken from the reference; a test checks the two
agree). Computed with numpy/pandas rather than as extra Evidently metrics: each is one
vectorised pass over boolean masks, and the drift report stays exactly the one that is compared
with Evidently alone (benchmarks/drift.py), with no 2-3 extra metrics and widgets per column.

For every feature column, in the reference schema's order, with `rows` = current rows and
`present` = current non-null values (NaN/None/NaT are null; +/-inf is not null):
- missing_share: count = rows - len(present); share = count / rows.
- categorical columns, new_categories: labels = the reference's distinct non-null values;
  count = values in `present` not among the labels (pandas `isin`); share = count / len(present).
- numerical columns, out_of_range: [low, high] = min and max of the reference's finite values;
  count = values in `present` outside [low, high] (bounds inclusive, so +/-inf is out of range;
  NaN is not counted); share = count / len(present).
A share whose denominator is 0 is 0.0. Only checks with count > 0 are returned: columns in
schema order, and within a column missing_share before new_categories / out_of_range.

Both frames are expected aligned (mlgov.monitoring.schema.align_frames) and compatible.
Counting runs on the full files, not on a drift sample.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from mlgov.governance.drift import ColumnKind, QualityFinding
from mlgov.monitoring.datasets import finite_view

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pandas


def reference_bounds(reference: pandas.Series) -> tuple[float, float]:
    """(min, max) of the reference's finite values: the range out_of_range compares with."""
    import numpy as np

    values = finite_view(reference)
    if values.dtype.kind in "iu":  # integers: every value is finite
        return float(values.min()), float(values.max())
    finite = np.isfinite(values)
    low = np.min(values, where=finite, initial=np.inf)
    high = np.max(values, where=finite, initial=-np.inf)
    return float(low), float(high)


def reference_labels(reference: pandas.Series) -> list:
    """The reference's distinct non-null values: the labels new_categories compares with."""
    return list(reference.dropna().unique())


def quality_findings(
    reference: pandas.DataFrame,
    current: pandas.DataFrame,
    column_kinds: Mapping[str, ColumnKind],
) -> tuple[QualityFinding, ...]:
    # Boolean masks only: no per-column copy of the data (see finite_view).
    findings: list[QualityFinding] = []
    rows = len(current)
    for name, kind in column_kinds.items():
        column = current[name]
        not_null = column.notna().to_numpy()
        present = int(not_null.sum())
        missing = rows - present
        if missing:
            findings.append(QualityFinding(name, "missing_share", missing, _share(missing, rows)))
        if kind == "categorical":
            known = column.isin(reference_labels(reference[name])).to_numpy()
            new = int((not_null & ~known).sum())
            if new:
                findings.append(QualityFinding(name, "new_categories", new, _share(new, present)))
        else:
            low, high = reference_bounds(reference[name])
            values = finite_view(column)
            # NaN compares False both ways: nulls are never out of range; +/-inf always are.
            outside = int(((values < low) | (values > high)).sum())
            if outside:
                findings.append(
                    QualityFinding(name, "out_of_range", outside, _share(outside, present))
                )
    return tuple(findings)


def _share(count: int, total: int) -> float:
    return count / total if total else 0.0
