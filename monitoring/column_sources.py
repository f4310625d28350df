"""Where the fast drift engine's columns come from: CSV/Parquet files or memory, one at a time.

A Parquet file is read column by column (pyarrow, text categories kept dictionary-encoded as
stored); a CSV file is parsed once (only the needed columns) with pandas' missing-value markers,
then handed out column by column and released. In-memory data (numpy arrays, pandas Series,
pyarrow arrays, lists) goes through `MemorySource`.

Error messages name the file and column, never a value from the data.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mlgov.governance.errors import BadInput, NotFound
from mlgov.monitoring.datasets import starts_as_utf8_text, unreadable

if TYPE_CHECKING:
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
            self._file = pq.ParquetFile(path, pre_buffer=False)
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
                self._file = pq.ParquetFile(path, read_dictionary=text, pre_buffer=False)
        except Exception as exc:  # pyarrow raises several types for a corrupt file
            raise BadInput(
                f"{label} file {path.name} is not a readable Parquet file",
                hint="check the file was fully written",
            ) from exc
        self.num_rows = self._file.metadata.num_rows
        self._path = path
        self._schema = self._file.schema_arrow  # built on every access by pyarrow: keep it

    def column_names(self) -> list[str]:
        return list(self._schema.names)

    def take(self, name: str) -> RowGroupColumn:
        describe = f"column '{name}' of the {self.label} file {self._path.name}"
        return RowGroupColumn(self._file, name, self._schema.field(name).type, describe)


class RowGroupColumn:
    """One Parquet column, handed out one row group at a time.

    Reading a whole column at once costs the reader's buffers on top of the column; streaming
    row groups into the engine's own float64 array keeps arrow's share to one row group.
    """

    def __init__(self, file: Any, name: str, type_: pa.DataType, describe: str) -> None:
        self._file = file
        self._name = name
        self._describe = describe
        self.type = type_
        self._rows = file.metadata.num_rows

    def __len__(self) -> int:
        return self._rows

    def iter_chunks(self) -> Iterator[Any]:
        for group in range(self._file.num_row_groups):
            try:
                table = self._file.read_row_group(group, columns=[self._name], use_threads=False)
            except Exception as exc:  # corrupt pages, unsupported encodings
                raise BadInput(f"{self._describe} cannot be read") from exc
            yield from table.column(0).chunks


class CsvSource:
    def __init__(self, path: Path, label: str, columns: Iterable[str]) -> None:
        import pyarrow as pa
        from pyarrow import csv

        self.label = label
        wanted = list(columns)
        try:
            header = csv.open_csv(path).schema.names
        except UnicodeDecodeError as exc:  # column names that are not UTF-8 (a UTF-16 file)
            raise unreadable(path, exc) from None
        except (pa.ArrowInvalid, OSError) as exc:
            if not starts_as_utf8_text(path):
                raise unreadable(path, exc) from None
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
        except UnicodeDecodeError as exc:
            raise unreadable(path, exc) from None
        except (pa.ArrowInvalid, pa.ArrowKeyError, OSError) as exc:
            # pyarrow's parse errors quote the offending row: customer data stays out of ours.
            # (ArrowKeyError: the header could not be read, so the wanted columns are unknown.)
            raise BadInput(
                f"{label} file {path.name} is not a readable CSV file",
                hint="check the delimiter, header row and that every row has the same fields",
            ) from None if isinstance(exc, pa.ArrowException) else exc
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
