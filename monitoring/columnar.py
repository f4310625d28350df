"""One column's two sides, cleaned the way Evidently cleans them and prepared once for every test.

Cleaning follows evidently/legacy/calculations/data_drift.py `get_one_column_drift`: each side
drops its own missing values (null/NaN) and +-inf before any test; a side left empty is an
error. Quality counts are taken on the way, before the +-inf are dropped (an infinite value is
present, not missing, and lies outside any reference range).

A numerical side becomes one sorted float64 array (the only full-size copy made); a categorical
side becomes counts per category. The two sides of a column can be prepared on two threads
(pyarrow reads and numpy sorts release the GIL); nothing else is held, so memory stays at the
two sides of one column.

Error messages name the column and the problem, never a value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from mlgov.governance.errors import BadInput

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

T = TypeVar("T")


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
    """A categorical column's two sides as counts over the union of their categories."""

    reference_counts: np.ndarray  # int64 per category
    current_counts: np.ndarray
    first_key: int  # index of the smallest category: the Z-test's reference category
    current_missing: int
    current_new: int  # current rows whose category the reference never holds


def both_sides(pool: Executor | None, reference: Callable[[], T], current: Callable[[], T]):
    """Run the two sides' jobs, on two threads when a pool is given; the reference side's
    error wins when both fail, so messages do not depend on timing."""
    if pool is None:
        return reference(), current()
    future = pool.submit(reference)
    try:
        cur, cur_error = current(), None
    except Exception as exc:  # re-raised below, after the reference's own error if any
        cur, cur_error = None, exc
    ref = future.result()
    if cur_error is not None:
        raise cur_error
    return ref, cur


# ------------------------------------------------------------------------------ values


def _is_arrow(values: Any) -> bool:
    """pyarrow arrays and lazily read columns (anything with `iter_chunks`) alike."""
    import pyarrow as pa

    return isinstance(values, pa.Array | pa.ChunkedArray) or hasattr(values, "iter_chunks")


def _chunks(values: Any) -> Iterator[Any]:
    import pyarrow as pa

    if hasattr(values, "iter_chunks"):
        return values.iter_chunks()
    return iter(values.chunks if isinstance(values, pa.ChunkedArray) else [values])


def _arrow_is_numeric(type_: pa.DataType) -> bool:
    import pyarrow as pa

    return (
        pa.types.is_integer(type_)
        or pa.types.is_floating(type_)
        or pa.types.is_boolean(type_)
        or pa.types.is_decimal(type_)
    )


def _numpy(array: Any) -> np.ndarray:
    """A numeric arrow array as numpy: a view of its data buffer, or, when it has nulls, a
    float64 copy with NaN in their place.

    pyarrow's own `to_numpy` (and `pa.scalar`, which `fill_null` uses) import pandas, a
    quarter of a second the engine does not need.
    """
    import numpy as np

    dtype = np.dtype(_NUMPY_TYPES[str(array.type)])
    if array.buffers()[1] is None:  # nothing but nulls
        return np.full(len(array), np.nan)
    data = np.frombuffer(
        array.buffers()[1], dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize
    )
    if not array.null_count:
        return data
    bits = np.frombuffer(array.buffers()[0], dtype=np.uint8)
    end = array.offset + len(array)
    valid = np.unpackbits(bits, count=end, bitorder="little")[array.offset :].astype(bool)
    out = data.astype(np.float64)
    out[~valid] = np.nan
    return out


_NUMPY_TYPES = {
    "int8": "int8",
    "int16": "int16",
    "int32": "int32",
    "int64": "int64",
    "uint8": "uint8",
    "uint16": "uint16",
    "uint32": "uint32",
    "uint64": "uint64",
    "halffloat": "float16",
    "float": "float32",
    "double": "float64",
}


def _arrow_mask(mask: np.ndarray) -> Any:
    """A numpy boolean mask as an arrow boolean array (bit-packed), without pyarrow's pandas
    detour."""
    import numpy as np
    import pyarrow as pa

    bits = np.packbits(mask, bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), mask.size, [None, pa.py_buffer(bits)])


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
    """Known to be all missing without reading it; otherwise an all-missing side shows up as
    an empty side once missing values are dropped."""
    import pyarrow as pa

    if hasattr(values, "iter_chunks"):
        return pa.types.is_null(values.type)
    if _is_arrow(values):
        return values.null_count == len(values)
    return False


def _as_float(values: Any) -> tuple[np.ndarray, bool, bool]:
    """Numeric values as float64 (missing -> NaN); whether the array is ours to modify; and
    whether pandas would hold them as integers (an integer type with nothing missing).

    At most one full-size float64 array is made: a float64 input without missing values comes
    back as a read-only view (sorted into a copy later), anything else is converted chunk by
    chunk into one new array.
    """
    import numpy as np
    import pyarrow as pa

    if not _is_arrow(values):
        if values.dtype == np.float64:
            return values, False, False
        return values.astype(np.float64), True, values.dtype.kind in "iu"
    if isinstance(values, pa.ChunkedArray | pa.Array) and values.null_count == 0:
        chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
        if len(chunks) == 1 and pa.types.is_float64(values.type):
            return _numpy(chunks[0]), False, False
    out = np.empty(len(values), dtype=np.float64)
    position = 0
    nulls = 0
    for chunk in _chunks(values):
        nulls += chunk.null_count
        if not (pa.types.is_integer(chunk.type) or pa.types.is_floating(chunk.type)):
            chunk = chunk.cast(pa.float64())  # booleans, decimals, nulls
        # integers with nulls come back as float64 with NaN; without, as a view to copy from
        out[position : position + len(chunk)] = _numpy(chunk)
        position += len(chunk)
    return out, True, pa.types.is_integer(values.type) and nulls == 0


def _split_sorted(values: np.ndarray, owned: bool) -> tuple[np.ndarray, int, int, int]:
    """The values sorted (in place when they are ours, else into one copy); returns the finite
    slice and the NaN, -inf and +inf counts. numpy sorts NaN last, so no mask is needed."""
    import numpy as np

    if owned:
        values.sort()
    else:
        values = np.sort(values)
    first_nan = int(np.searchsorted(values, np.nan, side="left"))
    lo = int(np.searchsorted(values[:first_nan], -np.inf, side="right"))
    hi = int(np.searchsorted(values[:first_nan], np.inf, side="left"))
    return values[lo:hi], values.size - first_nan, lo, first_nan - hi


def _empty_side(column: str, label: str) -> BadInput:
    return BadInput(
        f"column '{column}' has no usable value in the {label} data (all missing or infinite)",
        hint="drop the column from the schema or fix the data",
    )


# ------------------------------------------------------------------------------ numerical


@dataclass(frozen=True)
class _NumericSide:
    finite: np.ndarray  # sorted
    missing: int
    neg_inf: int
    pos_inf: int
    integer: bool


def _numeric_side(column: str, label: str, take: Callable[[], Any]) -> _NumericSide:
    """Read one side, check it is numeric, sort it; the input is released on return."""
    values = _normalise(take(), column)
    if _all_missing(values):
        raise _empty_side(column, label)
    if not _is_numeric(values):
        raise BadInput(
            f"column '{column}' is numerical in the schema but holds non-numeric values "
            f"in the {label} data",
            hint="fix the data or declare the column categorical",
        )
    raw, owned, integer = _as_float(values)
    del values
    finite, missing, neg_inf, pos_inf = _split_sorted(raw, owned)
    if finite.size == 0:
        raise _empty_side(column, label)
    return _NumericSide(finite, missing, neg_inf, pos_inf, integer)


def numeric_column(
    column: str,
    reference: Callable[[], Any],
    current: Callable[[], Any],
    pool: Executor | None = None,
) -> NumericColumn:
    """Prepare a numerical column: one float64 copy per side, sorted once, reused by every test."""
    import numpy as np

    ref, cur = both_sides(
        pool,
        lambda: _numeric_side(column, "reference", reference),
        lambda: _numeric_side(column, "current", current),
    )
    low, high = ref.finite[0], ref.finite[-1]
    out_of_range = (
        cur.neg_inf
        + cur.pos_inf
        + int(np.searchsorted(cur.finite, low, side="left"))
        + int(cur.finite.size - np.searchsorted(cur.finite, high, side="right"))
    )
    return NumericColumn(
        reference=ref.finite,
        current=cur.finite,
        integer=ref.integer and cur.integer,
        current_missing=cur.missing,
        current_out_of_range=out_of_range,
    )


# ------------------------------------------------------------------------------ categorical


@dataclass(frozen=True)
class _CategorySide:
    """Numbers (sorted, with +-inf counts) or text/other values (counts per chunk dictionary)."""

    missing: int
    numbers: np.ndarray | None = None  # finite, sorted
    neg_inf: int = 0
    pos_inf: int = 0
    parts: tuple[tuple[Any, np.ndarray], ...] = ()  # (dictionary, counts) per chunk
    value_type: Any = None


def _category_side(column: str, label: str, take: Callable[[], Any]) -> _CategorySide:
    values = _decode_numeric_dictionary(_normalise(take(), column))
    if _all_missing(values):
        raise _empty_side(column, label)
    if _is_numeric(values):
        raw, owned, _ = _as_float(values)
        del values
        finite, missing, neg_inf, pos_inf = _split_sorted(raw, owned)
        if finite.size == 0:
            raise _empty_side(column, label)
        return _CategorySide(missing=missing, numbers=finite, neg_inf=neg_inf, pos_inf=pos_inf)
    parts, missing = _value_counts(values)
    if not any(int(counts.sum()) for _, counts in parts):
        raise _empty_side(column, label)
    return _CategorySide(missing=missing, parts=parts, value_type=_plain_type(values.type))


def categorical_column(
    column: str,
    reference: Callable[[], Any],
    current: Callable[[], Any],
    pool: Executor | None = None,
) -> CategoricalColumn:
    """Prepare a categorical column: per-category counts on each side over their union.

    Numbers are compared as numbers (pandas: 1 == 1.0 == True), anything else by value; a
    column stored as numbers on one side and as text on the other is refused, since pandas
    would silently count "1" and 1 as two categories.
    """
    ref, cur = both_sides(
        pool,
        lambda: _category_side(column, "reference", reference),
        lambda: _category_side(column, "current", current),
    )
    if ref.numbers is not None and cur.numbers is not None:
        return _numeric_categories(ref, cur)
    if ref.numbers is not None or cur.numbers is not None or ref.value_type != cur.value_type:
        raise BadInput(
            f"column '{column}' holds different types of values in the reference and the "
            "current data",
            hint="both files must store the column with the same type",
        )
    return _merged_categories(ref, cur)


def _decode_numeric_dictionary(values: Any) -> Any:
    """A dictionary of numbers (e.g. a pandas Categorical of ints) compares as numbers."""
    import pyarrow as pa

    if isinstance(values, pa.Array | pa.ChunkedArray) and pa.types.is_dictionary(values.type):
        if _arrow_is_numeric(values.type.value_type):
            return values.cast(values.type.value_type)
    return values


def _numeric_categories(ref: _CategorySide, cur: _CategorySide) -> CategoricalColumn:
    from mlgov.monitoring.stattests import aligned_counts

    assert ref.numbers is not None and cur.numbers is not None
    _, ref_counts, cur_counts = aligned_counts(ref.numbers, cur.numbers)
    new = int(cur_counts[ref_counts == 0].sum())
    new += (cur.neg_inf if not ref.neg_inf else 0) + (cur.pos_inf if not ref.pos_inf else 0)
    return CategoricalColumn(
        reference_counts=ref_counts,
        current_counts=cur_counts,
        first_key=0,  # aligned_counts returns the keys sorted
        current_missing=cur.missing,
        current_new=new,
    )


def _value_counts(values: Any) -> tuple[tuple[tuple[Any, np.ndarray], ...], int]:
    """Per chunk: its distinct values (an arrow array) and how often each occurs; and the
    number of missing rows.

    Dictionary-encoded chunks (Parquet text read with `read_dictionary`) are counted on their
    integer indices without ever materialising the strings.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = []
    missing = 0
    for chunk in _chunks(values):
        if not pa.types.is_dictionary(chunk.type):
            chunk = chunk.dictionary_encode()
        missing += chunk.null_count
        dictionary = chunk.dictionary
        counts = np.bincount(_numpy(pc.drop_null(chunk.indices)), minlength=len(dictionary))
        if dictionary.null_count:  # a null stored inside the dictionary is missing too
            valid = _numpy(pc.is_valid(dictionary).cast(pa.int8())).astype(bool)
            missing += int(counts[~valid].sum())
            dictionary, counts = dictionary.filter(_arrow_mask(valid)), counts[valid]
        parts.append((dictionary, counts))
    return tuple(parts), missing


def _merged_categories(ref: _CategorySide, cur: _CategorySide) -> CategoricalColumn:
    """Counts per category over the union, merging the sides' (small) per-chunk dictionaries."""
    import numpy as np
    import pyarrow as pa

    parts = ref.parts + cur.parts
    union = pa.concat_arrays([d.cast(ref.value_type) for d, _ in parts]).dictionary_encode()
    codes = _numpy(union.indices)
    counts = np.concatenate([c for _, c in parts]).astype(np.float64)
    split = sum(len(d) for d, _ in ref.parts)
    n_keys = len(union.dictionary)
    # bincount's float weights are exact for counts below 2**53
    ref_counts = np.bincount(codes[:split], counts[:split], n_keys).astype(np.int64)
    cur_counts = np.bincount(codes[split:], counts[split:], n_keys).astype(np.int64)
    present = (ref_counts > 0) | (cur_counts > 0)  # a dictionary may hold unused entries
    keys = union.dictionary.filter(_arrow_mask(present))
    ref_counts, cur_counts = ref_counts[present], cur_counts[present]
    return CategoricalColumn(
        reference_counts=ref_counts,
        current_counts=cur_counts,
        first_key=_smallest_index(keys),
        current_missing=cur.missing,
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


def _smallest_index(keys: Any) -> int:
    """Index of the smallest category (Python's order: sorted(keys)[0], as the Z-test takes;
    UTF-8 byte order is code point order)."""
    import pyarrow.compute as pc

    try:
        return int(pc.index(keys, pc.min(keys)).as_py())
    except Exception:  # types arrow cannot order: fall back to Python's order
        values = keys.to_pylist()
        return min(range(len(values)), key=lambda i: values[i])
