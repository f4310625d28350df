"""Current data against the reference schema, and the reference against the model signature."""

from __future__ import annotations

import pandas as pd
import pytest

from mlgov.governance.errors import BadInput
from mlgov.monitoring.schema import (
    SchemaMismatch,
    align_frames,
    check_compatible,
    check_matches_signature,
)

REFERENCE = {
    "age": {"kind": "numerical", "dtype": "int64"},
    "income": {"kind": "numerical", "dtype": "float64"},
    "grade": {"kind": "categorical", "dtype": "object"},
}


def _current(**changes: list) -> pd.DataFrame:
    columns = {"age": [30, 40, 50], "income": [1.5, 2.5, None], "grade": ["A", "B", "A"]}
    columns.update(changes)
    return pd.DataFrame(columns)


def test_compatible_data_gives_the_feature_columns_in_reference_order() -> None:
    frame = _current()[["grade", "income", "age"]]
    assert check_compatible(REFERENCE, frame) == ["age", "income", "grade"]
    # plain {column: kind} works too (DriftSpec.column_kinds)
    kinds = {c: v["kind"] for c, v in REFERENCE.items()}
    assert check_compatible(kinds, frame) == ["age", "income", "grade"]


def test_missing_and_extra_columns_are_all_named() -> None:
    frame = _current().drop(columns=["income", "grade"]).assign(customer_id=[1, 2, 3])
    with pytest.raises(SchemaMismatch) as err:
        check_compatible(REFERENCE, frame)
    assert err.value.missing == ("income", "grade")
    assert err.value.extra == ("customer_id",)
    assert "'income'" in str(err.value) and "'customer_id'" in str(err.value)
    assert isinstance(err.value, BadInput)


def test_extra_columns_pass_when_ignored() -> None:
    frame = _current(prediction=[0, 1, 0])
    assert check_compatible(REFERENCE, frame, ignore_extra=True) == ["age", "income", "grade"]
    with pytest.raises(SchemaMismatch, match="extra column.*'prediction'"):
        check_compatible(REFERENCE, frame)


def test_numeric_column_holding_text_is_named_without_the_value(secret: str) -> None:
    frame = _current(income=[1.5, secret, 3.0])
    with pytest.raises(SchemaMismatch) as err:
        check_compatible(REFERENCE, frame, subject="cur.csv")
    message = str(err.value)
    assert message.startswith("cur.csv: ")
    assert "'income'" in message and "non-numeric" in message
    assert secret not in message
    assert err.value.mismatched == {
        "income": "is numerical in the reference but holds non-numeric values"
    }


def test_all_empty_feature_column_is_refused_but_an_ignored_extra_one_is_not() -> None:
    with pytest.raises(SchemaMismatch, match="column 'grade' is entirely empty"):
        check_compatible(REFERENCE, _current(grade=[None, None, None]))
    with pytest.raises(SchemaMismatch, match="column 'income' is entirely empty"):
        check_compatible(REFERENCE, _current(income=[None, float("inf"), None]))
    frame = _current(notes=[None, None, None])
    assert check_compatible(REFERENCE, frame, ignore_extra=True) == ["age", "income", "grade"]


def test_categorical_column_accepts_other_dtypes_and_is_compared_as_text() -> None:
    reference = pd.DataFrame({"age": [1, 2], "income": [1.0, 2.0], "grade": ["1", "B"]})
    current = _current(grade=[1, 2, 1])  # labels that all look numeric here
    kinds = {"age": "numerical", "income": "numerical", "grade": "categorical"}
    assert check_compatible(kinds, current) == ["age", "income", "grade"]
    ref, cur = align_frames(reference, current, kinds)
    assert cur["grade"].tolist() == ["1", "2", "1"]
    assert ref["grade"].tolist() == ["1", "B"]
    assert cur["age"].dtype == "int64"  # numerical columns are left alone


def test_reference_must_match_the_model_signature() -> None:
    inputs = [
        {"name": "age", "type": "long"},
        {"name": "income", "type": "double"},
        {"name": "grade", "type": "string"},
    ]
    check_matches_signature(REFERENCE, inputs)  # exact match: no error
    check_matches_signature(REFERENCE, ["age", "income", "grade"])

    with pytest.raises(SchemaMismatch) as err:
        check_matches_signature(REFERENCE, inputs[:2] + [{"name": "region", "type": "string"}])
    assert err.value.missing == ("region",) and err.value.extra == ("grade",)
    assert "'region'" in str(err.value) and "'grade'" in str(err.value)

    numeric_grade = inputs[:2] + [{"name": "grade", "type": "double"}]
    with pytest.raises(SchemaMismatch, match="'grade' is a numeric model input"):
        check_matches_signature(REFERENCE, numeric_grade)


@pytest.mark.parametrize("inputs", [None, [], [{"type": "tensor"}]])
def test_signature_without_named_inputs_is_refused(inputs: list | None) -> None:
    with pytest.raises(BadInput, match="signature"):
        check_matches_signature(REFERENCE, inputs)
