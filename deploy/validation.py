"""Validate a /predict request body against the manifest's features, without pydantic.

The body is parsed here from raw bytes (BentoML's pydantic path is never used for
/predict): one pass over the records builds the model's input columns and stops at the
first problem. Error messages name the record index and the field and the expected type,
never a value, so they are safe to return and to log.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mlgov.deploy.manifest import Feature

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
DOUBLE_MAX = sys.float_info.max
FLOAT32_MAX = 3.4028234663852886e38  # larger values become infinity in a float32 column


def _as_written(bound: float) -> int:
    """The bound as the OpenAPI document writes it (shortest decimal), as an exact integer.

    JSON Schema compares numbers as decimals, so an integer request value is held against
    this (1.7976931348623157e308 is a little below the true largest double), keeping the
    validator and the published schema in exact agreement."""
    return int(Decimal(repr(bound)))


DOUBLE_MAX_INT = _as_written(DOUBLE_MAX)
FLOAT32_MAX_INT = _as_written(FLOAT32_MAX)
_SHOWN_NAME_CHARS = 64


class RequestRejected(Exception):
    """A request that gets a 4xx; message names where the problem is, never a value."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class ValidRecords:
    count: int
    columns: dict[str, list[Any]]  # feature name -> one value per record, signature order


def _show(name: str) -> str:
    """A client-sent field name, shortened and made printable for an error message."""
    clean = "".join(c if c.isprintable() else "?" for c in name[:_SHOWN_NAME_CHARS])
    return clean + ("..." if len(name) > _SHOWN_NAME_CHARS else "")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


# Each checker returns None when the value is acceptable, else what was expected.
def _check_real(value: Any) -> str | None:
    kind = type(value)
    if kind is float:
        return None if math.isfinite(value) else "a finite number (NaN and infinity refused)"
    if kind is int:
        return (
            None if -DOUBLE_MAX_INT <= value <= DOUBLE_MAX_INT else "a number within double range"
        )
    return "a number"


def _check_float32(value: Any) -> str | None:
    expected = _check_real(value)
    if expected is None and abs(value) > (FLOAT32_MAX if type(value) is float else FLOAT32_MAX_INT):
        return "a number within 32-bit float range"
    return expected


def _int_checker(bounds: tuple[int, int], label: str) -> Callable[[Any], str | None]:
    low, high = bounds

    def check(value: Any) -> str | None:
        if type(value) is int:
            return None if low <= value <= high else f"an integer within {label} range"
        return "an integer"

    return check


def _check_bool(value: Any) -> str | None:
    return None if type(value) is bool else "a boolean (true or false)"


def _check_str(value: Any) -> str | None:
    return None if type(value) is str else "a string"


CHECKERS: dict[str, Callable[[Any], str | None]] = {
    "double": _check_real,
    "float": _check_float32,
    "long": _int_checker(INT64, "64-bit"),
    "integer": _int_checker(INT32, "32-bit"),
    "boolean": _check_bool,
    "string": _check_str,
}


def parse_json_body(body: bytes) -> Any:
    if not body:
        raise RequestRejected('empty body: send a JSON object {"records": [...]}')
    try:
        return json.loads(body)
    except RecursionError:
        raise RequestRejected("body JSON is nested too deeply") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise RequestRejected("body is not valid JSON") from None
    except ValueError:
        # Valid JSON, but an integer literal past Python's digit limit: no feature type
        # (at most a double, 309 digits) could accept it, so say that rather than "not JSON".
        raise RequestRejected(
            f"body has an integer literal longer than {sys.get_int_max_str_digits()} digits: "
            "no feature accepts a number that long"
        ) from None


def validate_records(
    payload: Any, features: Sequence[Feature], *, max_records: int
) -> ValidRecords:
    """Check {"records": [{feature: value}, ...]}; return the model's input columns."""
    if not isinstance(payload, dict):
        raise RequestRejected(
            f'body must be a JSON object {{"records": [...]}}, got {_kind(payload)}'
        )
    extra = [k for k in payload if k != "records"]
    if extra:
        raise RequestRejected(f"unknown top-level field '{_show(extra[0])}': send only 'records'")
    if "records" not in payload:
        raise RequestRejected("missing field 'records'")
    records = payload["records"]
    if not isinstance(records, list):
        raise RequestRejected(f"'records' must be an array of objects, got {_kind(records)}")
    if not records:
        raise RequestRejected("'records' is empty: send at least one record")
    if len(records) > max_records:
        raise RequestRejected(
            f"too many records: {len(records)} sent, at most {max_records} per request"
        )
    names = [f.name for f in features]
    known = set(names)
    checks = [(f.name, CHECKERS[f.type], f.required, f.type) for f in features]
    columns: dict[str, list[Any]] = {name: [] for name in names}
    appenders = [columns[name].append for name in names]
    for index, record in enumerate(records):
        if type(record) is not dict:
            raise RequestRejected(f"record {index}: must be an object, got {_kind(record)}")
        if len(record) != len(names) or not known.issuperset(record):
            unknown = next((k for k in record if k not in known), None)
            if unknown is not None:
                raise RequestRejected(f"record {index}: unknown field '{_show(unknown)}'")
        for (name, check, required, type_name), append in zip(checks, appenders, strict=True):
            try:
                value = record[name]
            except KeyError:
                if required:
                    raise RequestRejected(f"record {index}: missing field '{name}'") from None
                append(None)
                continue
            if value is None:
                if required:
                    raise RequestRejected(f"record {index}: field '{name}' is null")
                append(None)
                continue
            expected = check(value)
            if expected is not None:
                raise RequestRejected(
                    f"record {index}: field '{name}' ({type_name}) must be {expected}, "
                    f"got {_kind(value)}"
                )
            append(value)
    return ValidRecords(count=len(records), columns=columns)
