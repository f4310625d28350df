"""Row fingerprints: how many of the current data's rows are rows of the reference.

A file-hash comparison only catches the reference file itself: the same rows shuffled, with
the columns reordered, re-saved as Parquet or with a few rows added hash differently but are
not newer data. Each row gets a 64-bit hash of its feature values (the reference schema's
columns, taken by name, so column order and extra columns do not matter), built one column at
a time as the engines read them; the two sides are then compared as multisets.

Values are canonicalised per kind before hashing, so the same row reads the same whatever the
file format: numerical columns as float64 (1 == 1.0, -0.0 == 0.0, every null one NaN),
categorical columns as their text (nulls apart). numpy and pyarrow only, imported when used:
the fast engine's module stays light to import and a check never loads pandas. Hashes never
leave this module: only shares and a yes/no are reported, never a value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from mlgov.governance.drift import RowOverlap

# pyarrow's own to_numpy imports pandas; the engine's reader does without.
from mlgov.monitoring.columnar import _numpy as arrow_numbers

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np
    import pandas

_SLICE_ROWS = 1 << 16
_CACHED_TEXTS = 1 << 16
# Multiplier of the per-column combination (the 64-bit FNV prime), and splitmix64's
# constants for mixing a float's bits: rows differing in any one column hash differently.
_FNV_PRIME = 0x100000001B3
_SPLITMIX = (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB)
_NULL_TEXT = 0x6E756C6C  # the hash of a missing categorical value ("null")


class RowHasher:
    """One side's row hashes, accumulated column by column (in the same order on both sides).

    Columns are hashed a slice at a time, so the memory beyond the row hashes themselves stays
    at one slice whatever the file's size (the fast engine works one column at a time).
    """

    def __init__(self, rows: int) -> None:
        import numpy as np

        self.hashes = np.zeros(rows, dtype=np.uint64)

    def add(self, values: Any, kind: str) -> None:
        import numpy as np

        offset = 0
        known: dict[Any, int] = {}  # this column's text hashes: chunks repeat their categories
        for piece in _slices(values):
            column = column_hashes(piece, kind, known)
            end = offset + len(column)
            if end > len(self.hashes):
                break  # caught below: never compare misaligned rows
            rows = self.hashes[offset:end]
            np.bitwise_xor(rows, column, out=rows)
            np.multiply(rows, np.uint64(_FNV_PRIME), out=rows)  # wraps modulo 2**64, as meant
            offset = end
        if offset != len(self.hashes):
            # The engines refuse ragged data before this point.
            raise ValueError("a column's length differs from the table's row count")


def column_hashes(values: Any, kind: str, known: dict[Any, int] | None = None) -> np.ndarray:
    """One uint64 per row of a column slice (numpy array, pandas Series, pyarrow array);
    `known` caches text hashes between the slices of one column."""
    if kind == "numerical":
        numbers = _as_float64(values)
        if numbers is not None:
            return _mix(numbers)
        # Not numbers after all: the engine refuses the column; hash its text meanwhile.
    return _text_hashes(values, {} if known is None else known)


def compare(reference: RowHasher, current: RowHasher) -> RowOverlap:
    """How much of `current` is made of the reference's rows. Sorts both sides' hashes in
    place (the hashers are spent): a copy of each would double the comparison's memory."""
    import numpy as np

    ref, cur = reference.hashes, current.hashes
    ref.sort()
    cur.sort()
    if len(ref) == 0 or len(cur) == 0:
        return RowOverlap(shared_share=0.0, same_rows=False, reference_duplicated_share=0.0)
    repeated = np.zeros(len(ref), dtype=bool)
    equal_to_next = ref[1:] == ref[:-1]
    repeated[1:] |= equal_to_next
    repeated[:-1] |= equal_to_next
    at = np.searchsorted(ref, cur)
    np.minimum(at, len(ref) - 1, out=at)
    return RowOverlap(
        shared_share=float(np.count_nonzero(ref[at] == cur) / len(cur)),
        same_rows=bool(len(ref) == len(cur) and np.array_equal(ref, cur)),
        reference_duplicated_share=float(np.count_nonzero(repeated) / len(ref)),
    )


def frame_row_overlap(
    reference: pandas.DataFrame, current: pandas.DataFrame, column_kinds: Mapping[str, str]
) -> RowOverlap:
    """`compare` of two frames on the schema's columns (the Evidently engine's full data)."""
    sides = RowHasher(len(reference)), RowHasher(len(current))
    for name, kind in column_kinds.items():
        sides[0].add(reference[name], kind)
        sides[1].add(current[name], kind)
    return compare(*sides)


def _slices(values: Any) -> Iterator[Any]:
    """A column in slices of at most _SLICE_ROWS rows, in row order (views, not copies)."""
    if hasattr(values, "iter_chunks"):  # a Parquet column handed out one row group at a time
        chunks: Iterable[Any] = values.iter_chunks()
    elif hasattr(values, "chunks"):  # pyarrow ChunkedArray
        chunks = values.chunks
    elif isinstance(values, list | tuple):
        chunks = [_object_array(values)]
    else:  # numpy array, pandas Series, pyarrow Array
        chunks = [values]
    for chunk in chunks:
        for start in range(0, len(chunk), _SLICE_ROWS):
            if hasattr(chunk, "iloc"):
                yield chunk.iloc[start : start + _SLICE_ROWS]
            else:
                yield chunk[start : start + _SLICE_ROWS]


def _as_float64(values: Any) -> np.ndarray | None:
    """The slice as float64 with one NaN for every null and 0.0 for -0.0; None if not numbers."""
    import numpy as np

    try:
        if hasattr(values, "iloc"):  # pandas, including nullable Int64/Float64
            numbers = values.to_numpy(dtype="float64", na_value=np.nan)
        elif hasattr(values, "type"):  # pyarrow
            import pyarrow as pa
            import pyarrow.compute as pc

            if pa.types.is_dictionary(values.type):
                values = values.dictionary_decode()
            numbers = arrow_numbers(pc.cast(values, pa.float64()))
        else:
            numbers = np.asarray(values, dtype="float64")
    except (TypeError, ValueError, ArithmeticError, NotImplementedError):
        return None
    numbers = numbers + 0.0  # a copy (never the engine's own array), and -0.0 becomes 0.0
    numbers[np.isnan(numbers)] = np.nan
    return numbers


def _mix(numbers: np.ndarray) -> np.ndarray:
    """splitmix64 of each float's bits: nearby values get unrelated hashes."""
    import numpy as np

    z = numbers.view(np.uint64) + np.uint64(_SPLITMIX[0])
    z ^= z >> np.uint64(30)
    z *= np.uint64(_SPLITMIX[1])
    z ^= z >> np.uint64(27)
    z *= np.uint64(_SPLITMIX[2])
    z ^= z >> np.uint64(31)
    return z


def _text_hashes(values: Any, known: dict[Any, int]) -> np.ndarray:
    """Each value's text hashed (blake2b, 8 bytes), once per distinct value of the slice."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    array = _as_arrow(values)
    if array.null_count == len(array):
        return np.full(len(array), _NULL_TEXT, dtype=np.uint64)
    if not pa.types.is_dictionary(array.type):
        array = pc.dictionary_encode(array)
    distinct = np.fromiter(
        (_cached_text_hash(v, known) for v in array.dictionary.to_pylist()),
        dtype=np.uint64,
        count=len(array.dictionary),
    )
    codes = arrow_numbers(array.indices)  # float64 with NaN for nulls when there are any
    if not array.null_count:
        return distinct[codes]
    nulls = np.isnan(codes)
    hashes = distinct[np.where(nulls, 0, codes).astype(np.int64)]
    hashes[nulls] = _NULL_TEXT
    return hashes


def _as_arrow(values: Any) -> Any:
    import pyarrow as pa

    if hasattr(values, "type") and hasattr(values, "is_null"):
        return values
    try:
        return pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):  # mixed types: their text, then
        missing = _missing_mask(values)
        return pa.array(
            [None if gone else str(v) for v, gone in zip(values, missing, strict=True)],
            type=pa.string(),
        )


def _missing_mask(values: Any) -> list[bool]:
    if hasattr(values, "isna"):
        return list(values.isna())
    return [v is None or (isinstance(v, float) and v != v) for v in values]


def _object_array(values: list | tuple) -> np.ndarray:
    import numpy as np

    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _cached_text_hash(value: Any, known: dict[Any, int]) -> int:
    digest = known.get(value)
    if digest is None:
        digest = _text_hash(value)
        if len(known) < _CACHED_TEXTS:  # bounded: an id-like column would hold every value
            known[value] = digest
    return digest


def _text_hash(value: Any) -> int:
    text = value if isinstance(value, str) else str(value)
    return int.from_bytes(
        hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little"
    )
