"""Columns for the fast drift engine: read one at a time, cleaned the way Evidently cleans them.

Sources: a Parquet file is read column by column (pyarrow), so at most one column per side is
in memory; a CSV file is parsed once (only the needed columns, pyarrow) with pandas' notion of
missing values, then handed out column by column and released. In-memory data (numpy arrays,
pandas Series, pyarrow arrays, lists) is accepted by `MemorySource`.

Cleaning follows evidently/legacy/calculations/data_drift.py `get_one_column_drift`: each side
drops its own missing values (null/NaN) and +-inf before any test; a side left empty is an
error. Quality counts are taken on the way, before the +-inf are dropped (an infinite value is
present, not missing, and lies outside any reference range).

Error messages name the column and the problem, never a value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mlgov.governance.errors import BadInput, NotFound

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

# pandas.read_csv's default missing markers (pandas/_libs/parsers.pyx STR_NA_VALUES, 2.3.3):
# a CSV must mean the same thing to the fast engine as to the Evidently engine reading it.
PANDAS_NA_VALUES: tuple[str, ...] = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)

CSV_SUFFIXES = (".csv",)
PARQUET_SUFFIXES = (".parquet", ".pq")


# ------------------------------------------------------------------------------ sources


class ColumnSource(Protocol):
    """Where one side's columns come from."""

    label: str  # "reference" or "current", for messages
    num_rows: int

    def column_names(self) -> list[str]: ...

    def take(self, name: str) -> Any:
        """The column's values; the source may release its own copy afterwards."""


class ParquetSource:
    def __init__(self, path: Path, label: str, categorical: Iterable[str] = ()) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.label = label
        try:
            self._file = pq.ParquetFile(path)
            # Text categories stay dictionary-encoded as Parquet stores them: counting works on
            # the integer codes and the strings are never materialised row by row.
            schema = self._file.schema_arrow
            text = [
                name
                for name in categorical
                if name in schema.names
                and (
                    pa.types.is_string(schema.field(name).type)
                    or pa.types.is_large_string(schema.field(name).type)
                )
            ]
            if text:
                self._file = pq.ParquetFile(path, read_dictionary=text)
        except Exception as exc:  # pyarrow raises several types for a corrupt file
            raise BadInput(
                f"{label} file {path.name} is not a readable Parquet file",
                hint="check the file was fully written",
            ) from exc
        self.num_rows = self._file.metadata.num_rows
        self._path = path

    def column_names(self) -> list[str]:
        return list(self._file.schema_arrow.names)

    def take(self, name: str) -> pa.ChunkedArray:
        try:
            return self._file.read(columns=[name], use_threads=True).column(0)
        except Exception as exc:
            raise BadInput(
                f"column '{name}' of the {self.label} file {self._path.name} cannot be read"
            ) from exc


class CsvSource:
    def __init__(self, path: Path, label: str, columns: Iterable[str]) -> None:
        import pyarrow as pa
        from pyarrow import csv

        self.label = label
        wanted = list(columns)
        try:
            header = csv.open_csv(path).schema.names
        except (pa.ArrowInvalid, OSError):
            header = None
        if header is not None:
            wanted = [c for c in wanted if c in header]
        try:
            table = csv.read_csv(
                path,
                convert_options=csv.ConvertOptions(
                    null_values=list(PANDAS_NA_VALUES),
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                    include_columns=wanted,
                    auto_dict_encode=True,  # low-cardinality text arrives as codes
                ),
            )
        except (pa.ArrowInvalid, OSError) as exc:
            # pyarrow's parse errors quote the offending row: customer data stays out of ours.
            raise BadInput(
                f"{label} file {path.name} is not a readable CSV file",
                hint="check the delimiter, header row and that every row has the same fields",
            ) from None if isinstance(exc, pa.ArrowInvalid) else exc
        self.num_rows = table.num_rows
        self._columns: dict[str, pa.ChunkedArray] = {
            name: table.column(name) for name in table.column_names
        }
        self._names = header if header is not None else list(self._columns)

    def column_names(self) -> list[str]:
        return list(self._names)

    def take(self, name: str) -> pa.ChunkedArray:
        return self._columns.pop(name)  # released once the engine is done with it


class MemorySource:
    def __init__(self, columns: Mapping[str, Any], label: str) -> None:
        self.label = label
        self._columns = columns
        lengths = {name: _length(values) for name, values in columns.items()}
        if len(set(lengths.values())) > 1:
            raise BadInput(f"the {label} columns have different lengths")
        self.num_rows = next(iter(lengths.values()), 0)

    def column_names(self) -> list[str]:
        return list(self._columns)

    def take(self, name: str) -> Any:
        return self._columns[name]


def _length(values: Any) -> int:
    return len(values)


def open_source(path: Path, label: str, column_kinds: Mapping[str, str]) -> ColumnSource:
    """A CSV or Parquet file as a column source; the format is taken from the suffix."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"{label} file not found: {path}")
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        categorical = [name for name, kind in column_kinds.items() if kind == "categorical"]
        return ParquetSource(path, label, categorical)
    if suffix in CSV_SUFFIXES:
        return CsvSource(path, label, column_kinds)
    raise BadInput(
        f"{label} file {path.name} has an unknown format",
        hint="use a .csv or .parquet file",
    )


# ------------------------------------------------------------------------------ columns


@dataclass(frozen=True)
class NumericColumn:
    """A numerical column's two sides, cleaned and sorted, with its quality counts."""

    reference: np.ndarray  # finite values, sorted, float64
    current: np.ndarray
    integer: bool  # pandas would hold both sides as integers (no missing values)
    current_missing: int
    current_out_of_range: int  # current values < reference min or > reference max


@dataclass(frozen=True)
class CategoricalColumn:
    """A categorical column's two sides as counts over the union of categories."""

    reference_counts: np.ndarray  # int64 per category
    current_counts: np.ndarray
    first_key: int  # index of the smallest category: the Z-test's reference category
    current_missing: int
    current_new: int  # current rows whose category the reference never holds


def _is_arrow(values: Any) -> bool:
    import pyarrow as pa

    return isinstance(values, pa.Array | pa.ChunkedArray)


def _arrow_is_numeric(type_: pa.DataType) -> bool:
    import pyarrow as pa

    return (
        pa.types.is_integer(type_)
        or pa.types.is_floating(type_)
        or pa.types.is_boolean(type_)
        or pa.types.is_decimal(type_)
    )


def _normalise(values: Any, column: str) -> Any:
    """numpy arrays of numbers stay numpy; anything else (pandas, lists, objects, text) becomes
    pyarrow, whose C++ type inference replaces a Python loop over the rows."""
    import numpy as np
    import pyarrow as pa

    if _is_arrow(values):
        return values
    if isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
        return values
    try:
        if hasattr(values, "to_numpy") and hasattr(values, "dtype"):  # a pandas Series
            return pa.Array.from_pandas(values)
        return pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise BadInput(
            f"column '{column}' mixes values of different types",
            hint="give each column a single type",
        ) from exc


def _is_numeric(values: Any) -> bool:
    if _is_arrow(values):
        return _arrow_is_numeric(values.type)
    return values.dtype.kind in "biuf"


def _all_missing(values: Any) -> bool:
    if _is_arrow(values):
        return values.null_count == len(values)
    return False  # numpy: all-NaN shows up as an empty side once NaN is dropped


def _as_float(values: Any) -> tuple[np.ndarray, bool, bool]:
    """Numeric values as float64 (missing -> NaN); whether the array is ours to modify; and
    whether pandas would hold them as integers (an integer type with nothing missing).

    Copies only when the type must change: a float64 column comes back as a read-only view of
    the input, which `_split_sorted` copies exactly once.
    """
    import numpy as np
    import pyarrow as pa

    if not _is_arrow(values):
        integer = values.dtype.kind in "iu"
        if values.dtype == np.float64:
            return values, False, False
        return values.astype(np.float64), True, integer
    integer = pa.types.is_integer(values.type) and values.null_count == 0
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    if len(chunks) == 1 and values.null_count == 0:
        native = chunks[0].to_numpy(zero_copy_only=False)
        if native.dtype == np.float64:
            return native, False, integer
        return native.astype(np.float64), True, integer
    as_float = values.cast(pa.float64())
    if isinstance(as_float, pa.ChunkedArray):
        out = as_float.to_numpy()
    else:
        out = as_float.to_numpy(zero_copy_only=False)
    return out, out.flags.writeable and out.flags.owndata, integer


def _split_sorted(values: np.ndarray, owned: bool) -> tuple[np.ndarray, int, int, int]:
    """The non-NaN values sorted (a single new array unless `values` is ours); returns the
    finite slice and the NaN, -inf and +inf counts."""
    import numpy as np

    nan = np.isnan(values)
    n_nan = int(np.count_nonzero(nan))
    if n_nan:
        values = values[~nan]  # a new array: sort it in place
        del nan
        values.sort()
    elif owned:
        del nan
        values.sort()
    else:
        del nan
        values = np.sort(values)
    lo = int(np.searchsorted(values, -np.inf, side="right"))
    hi = int(np.searchsorted(values, np.inf, side="left"))
    return values[lo:hi], n_nan, lo, values.size - hi


def _empty_side(column: str, label: str) -> BadInput:
    return BadInput(
        f"column '{column}' has no usable value in the {label} data (all missing or infinite)",
        hint="drop the column from the schema or fix the data",
    )


def numeric_column(column: str, reference: Any, current: Any) -> NumericColumn:
    """Prepare a numerical column: one float64 copy per side, sorted once, reused by every test."""
    import numpy as np

    sides = []
    for values, label in ((reference, "reference"), (current, "current")):
        values = _normalise(values, column)
        if _all_missing(values):
            raise _empty_side(column, label)
        if not _is_numeric(values):
            raise BadInput(
                f"column '{column}' is numerical in the schema but holds non-numeric values "
                f"in the {label} data",
                hint="fix the data or declare the column categorical",
            )
        sides.append(values)
    ref_raw, owned, ref_int = _as_float(sides[0])
    sides[0] = None  # release the input as soon as our sorted copy exists
    ref, _, _, _ = _split_sorted(ref_raw, owned)
    del ref_raw
    if ref.size == 0:
        raise _empty_side(column, "reference")
    cur_raw, owned, cur_int = _as_float(sides[1])
    sides[1] = None
    cur, cur_nan, cur_neg_inf, cur_pos_inf = _split_sorted(cur_raw, owned)
    del cur_raw
    if cur.size == 0:
        raise _empty_side(column, "current")
    out_of_range = (
        cur_neg_inf
        + cur_pos_inf
        + int(np.searchsorted(cur, ref[0], side="left"))
        + int(cur.size - np.searchsorted(cur, ref[-1], side="right"))
    )
    return NumericColumn(
        reference=ref,
        current=cur,
        integer=ref_int and cur_int,
        current_missing=cur_nan,
        current_out_of_range=out_of_range,
    )


def categorical_column(column: str, reference: Any, current: Any) -> CategoricalColumn:
    """Prepare a categorical column: per-category counts on each side over their union.

    Numbers are compared as numbers (pandas: 1 == 1.0 == True), anything else by value; a
    column stored as numbers on one side and as text on the other is refused, since pandas
    would silently count "1" and 1 as two categories.
    """
    ref = _decode_numeric_dictionary(_normalise(reference, column))
    cur = _decode_numeric_dictionary(_normalise(current, column))
    for values, label in ((ref, "reference"), (cur, "current")):
        if _all_missing(values):
            raise _empty_side(column, label)
    if _is_numeric(ref) and _is_numeric(cur):
        return _numeric_categories(column, _as_float(ref)[:2], _as_float(cur)[:2])
    if _is_numeric(ref) or _is_numeric(cur) or _plain_type(ref.type) != _plain_type(cur.type):
        raise BadInput(
            f"column '{column}' holds different types of values in the reference and the "
            "current data",
            hint="both files must store the column with the same type",
        )
    return _arrow_categories(ref, cur)


def _decode_numeric_dictionary(values: Any) -> Any:
    """A dictionary of numbers (e.g. a pandas Categorical of ints) compares as numbers."""
    import pyarrow as pa

    if _is_arrow(values) and pa.types.is_dictionary(values.type):
        if _arrow_is_numeric(values.type.value_type):
            return values.cast(values.type.value_type)
    return values


def _numeric_categories(
    column: str, reference: tuple[np.ndarray, bool], current: tuple[np.ndarray, bool]
) -> CategoricalColumn:
    from mlgov.monitoring.stattests import aligned_counts

    ref, _, ref_neg, ref_pos = _split_sorted(*reference)
    cur, cur_nan, cur_neg, cur_pos = _split_sorted(*current)
    if ref.size == 0:
        raise _empty_side(column, "reference")
    if cur.size == 0:
        raise _empty_side(column, "current")
    keys, ref_counts, cur_counts = aligned_counts(ref, cur)
    new = int(cur_counts[ref_counts == 0].sum())
    new += (cur_neg if not ref_neg else 0) + (cur_pos if not ref_pos else 0)
    return CategoricalColumn(
        reference_counts=ref_counts,
        current_counts=cur_counts,
        first_key=0,  # union1d returns the keys sorted
        current_missing=cur_nan,
        current_new=new,
    )


def _value_counts(values: Any) -> list[tuple[Any, np.ndarray]]:
    """Per chunk: its distinct values (an arrow array) and how often each occurs.

    Dictionary-encoded chunks (Parquet text read with `read_dictionary`) are counted on their
    integer indices without ever materialising the strings.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = []
    for chunk in values.chunks if isinstance(values, pa.ChunkedArray) else [values]:
        if not pa.types.is_dictionary(chunk.type):
            chunk = chunk.dictionary_encode()
        dictionary = chunk.dictionary
        indices = pc.drop_null(chunk.indices).to_numpy()
        parts.append((dictionary, np.bincount(indices, minlength=len(dictionary))))
    return parts


def _arrow_categories(reference: Any, current: Any) -> CategoricalColumn:
    """Counts per category over the union, merging the sides' (small) per-chunk dictionaries."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    ref_parts, cur_parts = _value_counts(reference), _value_counts(current)
    value_type = _plain_type(reference.type)
    dictionaries = [d.cast(value_type) for d, _ in ref_parts + cur_parts]
    union = pa.concat_arrays(dictionaries).dictionary_encode()
    keys, codes = union.dictionary, union.indices
    # A null stored inside a dictionary is a missing value too.
    null_codes = codes.is_null().to_numpy(zero_copy_only=False)
    codes = pc.fill_null(codes, 0).to_numpy()
    counts = np.concatenate([c for _, c in ref_parts + cur_parts]).astype(np.int64)
    split = sum(len(d) for d, _ in ref_parts)
    n_keys = len(keys)

    def side(part: slice) -> np.ndarray:
        keep = ~null_codes[part]
        summed = np.bincount(codes[part][keep], weights=counts[part][keep], minlength=n_keys)
        return summed.astype(np.int64)

    ref_counts, cur_counts = side(slice(0, split)), side(slice(split, None))
    present = (ref_counts > 0) | (cur_counts > 0)  # a dictionary may hold unused entries
    ref_counts, cur_counts = ref_counts[present], cur_counts[present]
    keys = keys.filter(pa.array(present))
    return CategoricalColumn(
        reference_counts=ref_counts,
        current_counts=cur_counts,
        first_key=_smallest_index(keys),
        current_missing=current.null_count + int(counts[split:][null_codes[split:]].sum()),
        current_new=int(cur_counts[ref_counts == 0].sum()),
    )


def _plain_type(type_: Any) -> Any:
    import pyarrow as pa

    if pa.types.is_dictionary(type_):
        type_ = type_.value_type
    if pa.types.is_string(type_) or pa.types.is_string_view(type_):
        return pa.large_string()
    if pa.types.is_binary(type_) or pa.types.is_binary_view(type_):
        return pa.large_binary()
    return type_


def _smallest_index(dictionary: Any) -> int:
    """Index of the smallest category (Python's order: sorted(keys)[0], as the Z-test takes)."""
    import pyarrow.compute as pc

    try:
        return int(pc.index(dictionary, pc.min(dictionary)).as_py())
    except (NotImplementedError, Exception):  # types arrow cannot order: fall back to Python
        keys = dictionary.to_pylist()
        return min(range(len(keys)), key=lambda i: keys[i])
