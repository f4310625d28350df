"""What the core knows of a drift check: its inputs (DriftSpec) and its outcome (DriftResult).

Engines (Evidently, the fast exact engine) live in mlgov.monitoring and fill these in.
"""

from __future__ import annotations

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

    @property
    def drifted_columns(self) -> tuple[str, ...]:
        return tuple(c.column for c in self.columns if c.drifted)
