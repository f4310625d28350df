"""Reading drift datasets (CSV or Parquet) and describing them: hash, row count, column kinds.

The kind rule, shared by every engine: a column whose dtype is numeric (and not bool) is
"numerical", everything else (text, bool, dates, mixed) is "categorical". An integer column with
few distinct values stays numerical: Evidently's own guess (integers with <= 10 values become
categorical) is never used, because engines pass an explicit DataDefinition built from the
schema recorded here.

A column is "entirely empty" when it has no non-null value; for a numerical column, when it has
no finite value (Evidently drops NaN and +/-inf before a drift test and fails on what is left).

Errors name the file and the column, never a value read from the file: the data is customers'.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgov.governance.drift import ColumnKind
from mlgov.governance.errors import BadInput, NotFound
from mlgov.governance.fingerprints import file_sha256

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy
    import pandas

SUPPORTED_SUFFIXES = (".csv", ".parquet")
_HASH_CHUNK = 1 << 20
_TEXT_PROBE = 1 << 16


@dataclass(frozen=True)
class DatasetInfo:
    """What is recorded of a dataset file: where, its bytes' SHA-256, its rows and schema."""

    path: Path
    sha256: str
    rows: int
    schema: dict[str, dict[str, str]]  # column -> {"kind": "numerical"|"categorical", "dtype": ...}

    @property
    def column_kinds(self) -> dict[str, ColumnKind]:
        return {name: spec["kind"] for name, spec in self.schema.items()}  # type: ignore[misc]


def column_kind(dtype: Any) -> ColumnKind:
    """The kind rule: numeric dtypes other than bool are numerical, the rest categorical."""
    from pandas.api import types

    if types.is_bool_dtype(dtype) or not types.is_numeric_dtype(dtype):
        return "categorical"
    return "numerical"


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise BadInput(
            f"{path}: unknown data format '{path.suffix or '(no suffix)'}'",
            hint="give a .csv or .parquet file",
        )
    return suffix


def _check_file(path: Path) -> str:
    fmt = _format_of(path)
    if not path.exists():
        raise NotFound(f"{path}: no such file")
    if not path.is_file():
        raise BadInput(f"{path}: not a regular file")
    return fmt


def _available_columns(path: Path, fmt: str) -> list[str]:
    import pandas as pd

    if fmt == ".csv":
        return [str(c) for c in pd.read_csv(path, nrows=0).columns]
    import pyarrow.parquet as pq

    return list(pq.read_schema(path).names)


def unreadable(path: Path, exc: BaseException) -> BadInput:
    """The refusal of a data file its reader cannot parse, whichever reader (pandas for
    references and the Evidently engine, pyarrow for the fast engine): the file named, and
    a CSV that is not UTF-8 text (UTF-16, binary data) said to be so."""
    if path.suffix.lower() == ".csv" and not starts_as_utf8_text(path):
        return BadInput(
            f"{path}: cannot be parsed as its format says (not UTF-8 text: UTF-16 or binary?)",
            hint="save it as a UTF-8 CSV file, or as Parquet",
        )
    return BadInput(f"{path}: {_parse_problem(exc)}")


def starts_as_utf8_text(path: Path) -> bool:
    """Whether the file's first block is UTF-8 text without NUL bytes (UTF-16 has many)."""
    import codecs

    try:
        with path.open("rb") as handle:
            head = handle.read(_TEXT_PROBE)
    except OSError:
        return True  # unreadable for another reason: the caller's own message says why
    if b"\x00" in head:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)  # a cut last char
    except UnicodeDecodeError:
        return False
    return True


def _parse_problem(exc: BaseException) -> str:
    """Where parsing failed, without the vendor's text (it may quote the data)."""
    line = re.search(r"\bline (\d+)", str(exc))
    where = f" near line {line.group(1)}" if line else ""
    return f"cannot be parsed as its format says{where} ({type(exc).__name__})"


def read_table(path: Path | str, columns: Sequence[str] | None = None) -> pandas.DataFrame:
    """Read a .csv or .parquet file into a DataFrame (only `columns`, in that order, if given).

    Raises NotFound for a missing file and BadInput for an unknown suffix, an unparseable or
    empty file (no rows or no columns) and requested columns the file lacks.
    """
    import pandas as pd

    path = Path(path)
    fmt = _check_file(path)
    try:
        if columns is not None:
            available = set(_available_columns(path, fmt))
            missing = [c for c in columns if c not in available]
            if missing:
                raise BadInput(f"{path}: missing column(s) {_names(missing)}")
        if fmt == ".csv":
            # low_memory=False: infer each column's type from the whole file, not per chunk,
            # so one column never comes back with mixed types.
            frame = pd.read_csv(path, usecols=list(columns) if columns else None, low_memory=False)
        else:
            frame = pd.read_parquet(path, columns=list(columns) if columns else None)
    except pd.errors.EmptyDataError as exc:
        raise BadInput(f"{path}: the file is empty (no columns)") from exc
    except PermissionError as exc:
        raise BadInput(f"{path}: cannot be read (permission denied)") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise unreadable(path, exc) from exc
    if columns is not None:
        frame = frame[list(columns)]
    if frame.shape[1] == 0:
        raise BadInput(f"{path}: the file is empty (no columns)")
    if frame.shape[0] == 0:
        raise BadInput(f"{path}: the file is empty (no rows)")
    return frame


def empty_columns(frame: pandas.DataFrame, columns: Sequence[str] | None = None) -> list[str]:
    """Columns with no usable value: all null, or (numerical) no finite value."""
    import numpy as np

    empty = []
    for name in frame.columns if columns is None else columns:
        series = frame[name]
        if column_kind(series.dtype) == "numerical":
            if not np.isfinite(finite_view(series)).any():
                empty.append(name)
        elif not series.notna().any():
            empty.append(name)
    return empty


def finite_view(series: pandas.Series) -> numpy.ndarray:
    """A numerical column as a numpy array, nulls as NaN, without copying plain numpy columns
    (a copy per column of a million-row file would raise the peak memory of a check)."""
    import numpy as np
    from pandas.api import types

    if isinstance(series.dtype, np.dtype) and types.is_numeric_dtype(series.dtype):
        return series.to_numpy()
    return series.to_numpy(dtype="float64", na_value=np.nan)  # nullable Int64/Float64


def schema_of(frame: pandas.DataFrame) -> dict[str, dict[str, str]]:
    return {
        str(name): {"kind": column_kind(frame[name].dtype), "dtype": str(frame[name].dtype)}
        for name in frame.columns
    }


def describe_frame(
    path: Path | str, frame: pandas.DataFrame, *, refuse_empty_columns: bool = True
) -> DatasetInfo:
    """DatasetInfo of a file already read into `frame`; refuses entirely empty columns unless
    told not to (current data with ignored extra columns is checked column by column)."""
    path = Path(path)
    empty = empty_columns(frame) if refuse_empty_columns else []
    if empty:
        raise BadInput(
            f"{path}: column(s) {_names(empty)} entirely empty",
            hint="drop the column or fill it before recording or checking this data",
        )
    return DatasetInfo(
        path=path, sha256=file_sha256(path), rows=len(frame), schema=schema_of(frame)
    )


def describe_dataset(path: Path | str) -> DatasetInfo:
    """Read a dataset file and describe it (the record of a reference dataset)."""
    return describe_frame(path, read_table(path))


def sample_indices(n_rows: int, size: int, seed: int, side: int) -> numpy.ndarray:
    """Row positions of a reproducible sample, sorted ascending (file order is kept).

    Definition shared by every engine: when size >= n_rows, every row (0..n_rows-1); otherwise
    `numpy.random.default_rng([seed, side]).choice(n_rows, size=size, replace=False)`, sorted.
    side is 0 for the reference and 1 for the current data, so the two sides draw independently.
    """
    import numpy as np

    if size >= n_rows:
        return np.arange(n_rows)
    rng = np.random.default_rng([seed, side])
    return np.sort(rng.choice(n_rows, size=size, replace=False))


def _names(columns: Sequence[str]) -> str:
    return ", ".join(f"'{c}'" for c in columns)
