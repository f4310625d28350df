"""Is the current data comparable with the reference? Does the reference fit the model?

Compatibility rules (every engine applies them before computing anything):
- every reference column must be present in the current data;
- a current column the reference lacks is refused unless `ignore_extra` (ids, predictions...);
- a column numerical in the reference must be numerical (numeric dtype, not bool) in the
  current data: a numeric column holding text is refused;
- a feature column with no usable value in the current data is refused (see
  mlgov.monitoring.datasets for "entirely empty");
- a column categorical in the reference accepts any dtype in the current data. When the two
  sides' dtypes differ (e.g. labels that all look numeric in one file), `align_frames` compares
  both sides as text (`str(value)`, nulls kept) so equal labels match.

Messages name the columns and the problem, never a value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mlgov.governance.drift import ColumnKind
from mlgov.governance.errors import BadInput
from mlgov.monitoring.datasets import column_kind, empty_columns

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pandas

ReferenceSchema = Mapping[str, "ColumnKind | Mapping[str, str]"]

# MLflow signature types that a numerical reference column satisfies.
_NUMERIC_SIGNATURE_TYPES = {"double", "float", "long", "integer", "int", "number"}


class SchemaMismatch(BadInput):
    """The data's columns do not fit what they are compared with; every problem is listed."""

    def __init__(
        self,
        subject: str,
        *,
        missing: Sequence[str] = (),
        extra: Sequence[str] = (),
        mismatched: Mapping[str, str] | None = None,
        hint: str | None = None,
    ) -> None:
        self.missing = tuple(missing)
        self.extra = tuple(extra)
        self.mismatched = dict(mismatched or {})  # column -> problem (no values)
        problems = []
        if self.missing:
            problems.append(f"missing column(s) {_names(self.missing)}")
        if self.extra:
            problems.append(f"extra column(s) {_names(self.extra)}")
        problems += [f"column '{c}' {why}" for c, why in self.mismatched.items()]
        super().__init__(f"{subject}: " + "; ".join(problems), hint=hint)


def reference_kinds(reference_schema: ReferenceSchema) -> dict[str, ColumnKind]:
    """Column kinds from a recorded schema ({col: {"kind":..}}) or a plain {col: kind}."""
    kinds: dict[str, ColumnKind] = {}
    for name, entry in reference_schema.items():
        kind = entry if isinstance(entry, str) else entry.get("kind")
        if kind not in ("numerical", "categorical"):
            raise BadInput(f"reference schema: column '{name}' has no valid kind")
        kinds[name] = kind  # type: ignore[assignment]
    return kinds


def check_compatible(
    reference_schema: ReferenceSchema,
    current_frame: pandas.DataFrame,
    *,
    ignore_extra: bool = False,
    subject: str = "current data",
) -> list[str]:
    """The feature columns (reference order) if `current_frame` can be compared with the
    reference; otherwise SchemaMismatch naming every missing, extra and mismatched column."""
    kinds = reference_kinds(reference_schema)
    present = [str(c) for c in current_frame.columns]
    missing = [c for c in kinds if c not in set(present)]
    extra = [] if ignore_extra else [c for c in present if c not in kinds]
    features = [c for c in kinds if c in set(present)]
    mismatched: dict[str, str] = {}
    for name in empty_columns(current_frame, features):
        mismatched[name] = "is entirely empty"
    for name in features:
        if name in mismatched or kinds[name] != "numerical":
            continue
        if column_kind(current_frame[name].dtype) != "numerical":
            mismatched[name] = "is numerical in the reference but holds non-numeric values"
    if missing or extra or mismatched:
        hint = "extra columns are refused unless the policy ignores them" if extra else None
        raise SchemaMismatch(
            subject, missing=missing, extra=extra, mismatched=mismatched, hint=hint
        )
    return features


def check_matches_signature(
    schema: ReferenceSchema, signature_inputs: Sequence[Mapping[str, Any] | str] | None
) -> None:
    """A reference dataset must have exactly the model signature's input columns.

    `signature_inputs` is MLflow's `signature.inputs` as recorded ([{"name":.., "type":..}]) or
    plain names. A numeric input (double, long, ...) must be a numerical column.
    """
    if not signature_inputs:
        raise BadInput(
            "the model has no input signature to check the reference columns against",
            hint="log the model with a signature (mlflow infer_signature)",
        )
    expected: dict[str, str | None] = {}
    for item in signature_inputs:
        name = item if isinstance(item, str) else item.get("name")
        if not name:
            raise BadInput(
                "the model's input signature has unnamed inputs (tensor signature)",
                hint="log the model with a column-based signature",
            )
        expected[str(name)] = None if isinstance(item, str) else item.get("type")
    kinds = reference_kinds(schema)
    missing = [c for c in expected if c not in kinds]
    extra = [c for c in kinds if c not in expected]
    mismatched = {
        name: f"is a numeric model input ({kind_type}) but categorical in the reference"
        for name, kind_type in expected.items()
        if name in kinds
        and kinds[name] == "categorical"
        and str(kind_type).lower() in _NUMERIC_SIGNATURE_TYPES
    }
    if missing or extra or mismatched:
        raise SchemaMismatch(
            "reference data does not match the model's input signature",
            missing=missing,
            extra=extra,
            mismatched=mismatched,
            hint="record a reference with exactly the model's input columns",
        )


def align_frames(
    reference: pandas.DataFrame,
    current: pandas.DataFrame,
    column_kinds: Mapping[str, ColumnKind],
) -> tuple[pandas.DataFrame, pandas.DataFrame]:
    """Both frames restricted to the feature columns (in `column_kinds` order); a categorical
    column whose dtype differs between the sides is turned into text on both sides."""
    ref = select_columns(reference, list(column_kinds))
    cur = select_columns(current, list(column_kinds))
    changed_ref: dict[str, Any] = {}
    changed_cur: dict[str, Any] = {}
    for name, kind in column_kinds.items():
        if kind == "categorical" and ref[name].dtype != cur[name].dtype:
            changed_ref[name] = _as_text(ref[name])
            changed_cur[name] = _as_text(cur[name])
    if changed_ref:
        ref = ref.assign(**changed_ref)
        cur = cur.assign(**changed_cur)
    return ref, cur


def select_columns(frame: pandas.DataFrame, columns: list[str]) -> pandas.DataFrame:
    """`frame[columns]` without pandas' copy when the frame already is exactly that."""
    return frame if list(frame.columns) == columns else frame[columns]


def _as_text(series: pandas.Series) -> pandas.Series:
    return series.astype(object).where(series.isna(), series.astype(str))


def _names(columns: Sequence[str]) -> str:
    return ", ".join(f"'{c}'" for c in columns)
