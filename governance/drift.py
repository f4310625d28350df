"""What the core knows of a drift check: its inputs (DriftSpec) and its outcome (DriftResult).

Engines (Evidently, the fast exact engine) live in mlgov.monitoring and fill these in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

ColumnKind = Literal["numerical", "categorical"]


@dataclass(frozen=True)
class ColumnDrift:
    """One column's drift test. `drifted` is the test's own verdict, never re-derived."""

    column: str
    kind: ColumnKind
    test: str  # Evidently stattest name: "ks", "chisquare", "z", "wasserstein", "jensenshannon"
    score: float
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class QualityFinding:
    """A data-quality count for one column. Counts only: never the offending values."""

    column: str
    check: Literal["missing_share", "new_categories", "out_of_range"]
    count: int
    share: float


@dataclass(frozen=True)
class DriftSpec:
    """How to run a check: dataset-level share threshold and optional per-column overrides."""

    share_threshold: float = 0.5
    column_kinds: dict[str, ColumnKind] = field(default_factory=dict)  # from the reference schema
    per_column_method: dict[str, str] = field(default_factory=dict)
    per_column_threshold: dict[str, float] = field(default_factory=dict)
    sample: int | None = None
    seed: int = 0


@dataclass(frozen=True)
class RowOverlap:
    """How much of the current data is made of the reference's own rows (never the rows)."""

    shared_share: float  # share of current rows equal to some reference row
    same_rows: bool  # the current rows are exactly the reference's rows, in any order
    # Share of reference rows equal to another reference row: about the share of rows any
    # new sample of the population shares with the reference (the gate's limit follows it).
    reference_duplicated_share: float


@dataclass(frozen=True)
class DriftResult:
    """The decision of one drift check, as stored and as printed."""

    columns: tuple[ColumnDrift, ...]
    drifted_share: float
    share_threshold: float
    drift_detected: bool  # Evidently's rule: drifted_share >= share_threshold
    reference_rows: int
    current_rows: int
    engine: str  # "evidently" or "fast"
    quality: tuple[QualityFinding, ...] = ()
    row_overlap: RowOverlap | None = None  # None: the engine did not compare rows

    @property
    def drifted_columns(self) -> tuple[str, ...]:
        return tuple(c.column for c in self.columns if c.drifted)


def disagreements(a: DriftResult, b: DriftResult, *, tolerance: float = 1e-9) -> list[str]:
    """Where two engines' results differ: decision, share, and per column the test chosen,
    the score (beyond `tolerance`), the threshold and the drifted flag."""
    found: list[str] = []
    if a.drift_detected != b.drift_detected:
        found.append(
            f"decision: {a.engine} says {a.drift_detected}, {b.engine} says {b.drift_detected}"
        )
    if abs(a.drifted_share - b.drifted_share) > tolerance:
        found.append(f"drifted share: {a.drifted_share} vs {b.drifted_share}")
    other = {c.column: c for c in b.columns}
    for col in a.columns:
        mate = other.pop(col.column, None)
        if mate is None:
            found.append(f"column {col.column}: tested by {a.engine} only")
            continue
        if col.test != mate.test:
            found.append(f"column {col.column}: test {col.test} vs {mate.test}")
        # Absolute 1e-9, or 1e-12 relative: normed Wasserstein scores grow large when the
        # reference's spread is floored, and then only relative rounding remains.
        if not math.isclose(col.score, mate.score, rel_tol=1e-12, abs_tol=tolerance):
            found.append(f"column {col.column}: score {col.score!r} vs {mate.score!r}")
        if col.threshold != mate.threshold:
            found.append(f"column {col.column}: threshold {col.threshold} vs {mate.threshold}")
        if col.drifted != mate.drifted:
            found.append(f"column {col.column}: drifted {col.drifted} vs {mate.drifted}")
    found.extend(f"column {name}: tested by {b.engine} only" for name in other)
    return found
