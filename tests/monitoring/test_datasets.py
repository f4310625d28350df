"""Reading and describing dataset files; every bad input is refused without leaking a value."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from mlgov.governance.errors import BadInput, NotFound
from mlgov.monitoring.datasets import describe_dataset, read_table, sample_indices


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [31, 45, 52, 38],
            "n_children": [0, 1, 2, 1],  # an integer with few values: still numerical
            "income": [1200.5, 3400.0, None, 2100.25],
            "grade": ["A", "B", "A", "C"],
            "is_customer": [True, False, True, True],
        }
    )


def test_csv_and_parquet_read_the_same_table(tmp_path: Path) -> None:
    _frame().to_csv(tmp_path / "d.csv", index=False)
    _frame().to_parquet(tmp_path / "d.parquet", index=False)
    csv = read_table(tmp_path / "d.csv")
    parquet = read_table(tmp_path / "d.parquet")
    pd.testing.assert_frame_equal(csv, parquet)
    assert list(read_table(tmp_path / "d.csv", columns=["grade", "age"]).columns) == [
        "grade",
        "age",
    ]


def test_describe_records_hash_rows_and_kinds(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    _frame().to_csv(path, index=False)
    info = describe_dataset(path)
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info.rows == 4
    assert info.column_kinds == {
        "age": "numerical",
        "n_children": "numerical",
        "income": "numerical",
        "grade": "categorical",
        "is_customer": "categorical",
    }
    assert info.schema["n_children"]["dtype"] == "int64"
    assert info.schema["grade"]["dtype"] == "object"


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="nope.csv"):
        read_table(tmp_path / "nope.csv")


@pytest.mark.parametrize("name", ["d.xlsx", "d.json", "d"])
def test_unknown_format_is_refused(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("a,b\n1,2\n")
    with pytest.raises(BadInput, match="unknown data format"):
        read_table(tmp_path / name)


def test_empty_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "zero.csv").write_bytes(b"")
    with pytest.raises(BadInput, match=r"zero\.csv: the file is empty \(no columns\)"):
        read_table(tmp_path / "zero.csv")
    (tmp_path / "header.csv").write_text("age,grade\n")
    with pytest.raises(BadInput, match=r"header\.csv: the file is empty \(no rows\)"):
        read_table(tmp_path / "header.csv")
    pd.DataFrame({"age": pd.Series([], dtype="float64")}).to_parquet(tmp_path / "e.parquet")
    with pytest.raises(BadInput, match=r"no rows"):
        read_table(tmp_path / "e.parquet")
    pd.DataFrame(index=range(3)).to_parquet(tmp_path / "nocols.parquet")
    with pytest.raises(BadInput, match=r"no columns"):
        read_table(tmp_path / "nocols.parquet")


def test_unparseable_files_are_refused_without_their_content(tmp_path: Path, secret: str) -> None:
    ragged = tmp_path / "ragged.csv"
    ragged.write_text(f"age,grade\n1,A\n2,B,{secret},x\n")
    with pytest.raises(BadInput) as err:
        read_table(ragged)
    assert "ragged.csv" in str(err.value) and "line 3" in str(err.value)
    assert secret not in str(err.value)

    fake = tmp_path / "fake.parquet"
    fake.write_text(f"not parquet {secret}\n")
    with pytest.raises(BadInput) as err:
        read_table(fake)
    assert "fake.parquet" in str(err.value) and secret not in str(err.value)

    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"age,grade\n1,\xff\xfe\xfa\n")
    with pytest.raises(BadInput, match="binary.csv"):
        read_table(binary)


def test_requested_columns_must_exist(tmp_path: Path) -> None:
    _frame().to_parquet(tmp_path / "d.parquet", index=False)
    with pytest.raises(BadInput, match="missing column.*'salary'"):
        read_table(tmp_path / "d.parquet", columns=["age", "salary"])


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_entirely_empty_column_is_named(tmp_path: Path, suffix: str) -> None:
    frame = _frame().assign(notes=[None, None, None, None], ratio=[float("inf")] * 4)
    path = tmp_path / f"d{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    with pytest.raises(BadInput) as err:
        describe_dataset(path)
    message = str(err.value)
    assert "'notes'" in message and "'ratio'" in message and "entirely empty" in message
    assert "'age'" not in message


def test_sample_indices_are_reproducible_sorted_and_distinct_per_side() -> None:
    a = sample_indices(10_000, 500, seed=7, side=0)
    assert (a == sample_indices(10_000, 500, seed=7, side=0)).all()
    assert len(set(a.tolist())) == 500 and (a[1:] > a[:-1]).all()
    assert not (a == sample_indices(10_000, 500, seed=7, side=1)).all()
    assert not (a == sample_indices(10_000, 500, seed=8, side=0)).all()
    assert sample_indices(10, 500, seed=7, side=0).tolist() == list(range(10))


def test_nullable_integer_column_with_no_value_is_empty(tmp_path: Path) -> None:
    frame = _frame().assign(score=pd.array([None] * 4, dtype="Int64"))
    frame.to_parquet(tmp_path / "d.parquet", index=False)
    with pytest.raises(BadInput, match="'score'.* entirely empty"):
        describe_dataset(tmp_path / "d.parquet")
