"""Typed, frozen results. `to_json()` is the one shape every surface shows for a result.

A result declares the fields a caller may rely on. `Record` and `Records` carry a core record
that is shown as is (nested sections such as a version's evidence), for results that are
not yet typed field by field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from mlgov.governance.clock import isoformat

# What a surface escapes before showing stored free text (one printed line per value).
from mlgov.governance.validate import LINE_BREAKING as LINE_BREAKING

T = TypeVar("T", bound="Result")


def plain(value: Any) -> Any:
    """JSON-ready: results, mappings, sequences, times as ISO text, paths and enums as text."""
    if isinstance(value, Result):
        return value.to_json()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return isoformat(value)  # the core's one time format: UTC, microseconds, 'Z'
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    return value


@dataclasses.dataclass(frozen=True)
class Result:
    """Base of every result: a frozen dataclass whose fields are its JSON keys."""

    def to_json(self) -> Any:
        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_mapping(cls: type[T], data: Mapping[str, Any]) -> T:
        """Build from a core record; a key the result does not declare is an error, so the
        JSON shape cannot lose a field silently."""
        names = {f.name for f in dataclasses.fields(cls)}
        extra = set(data) - names
        if extra:
            raise TypeError(f"{cls.__name__} does not declare {', '.join(sorted(extra))}")
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclasses.dataclass(frozen=True)
class Record(Result):
    """A core record shown as is."""

    data: Mapping[str, Any]

    def to_json(self) -> Any:
        return plain(self.data)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]


@dataclasses.dataclass(frozen=True)
class Records(Result):
    """A list of results (or core records), shown as a JSON list."""

    items: Sequence[Any]
    kind: ClassVar[str] = "records"

    def to_json(self) -> Any:
        return [plain(i) for i in self.items]

    def __iter__(self) -> Any:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def revive(cls: type[T], data: Any) -> T:
    """A result rebuilt from its `to_json()` (as a server answered it), nested results
    included: what a remote surface renders exactly as it renders a local result. Keys the
    result does not declare are left out (a newer server may say more)."""
    import typing

    if issubclass(cls, Record):
        return cls(data)
    fields = dataclasses.fields(cls)
    if isinstance(data, list):
        # A result shown as a list: its first field holds the items.
        data = {fields[0].name: data}
    hints = typing.get_type_hints(cls)
    of = getattr(cls, "of", None)
    if of is not None and isinstance(data, Mapping):
        # Results that rename or convert keys from the core's record take the JSON the same way.
        names = {f.name for f in fields} | {"from"}
        kept = {k: _revive_value(hints.get(k), v) for k, v in data.items() if k in names}
        return of(kept)  # type: ignore[no-any-return]
    kwargs = {f.name: _revive_value(hints[f.name], data[f.name]) for f in fields if f.name in data}
    return cls(**kwargs)


def _revive_value(hint: Any, value: Any) -> Any:
    import types
    import typing

    if hint is None or value is None:
        return value
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            if arg is not type(None):
                return _revive_value(arg, value)
        return value
    if origin is tuple and isinstance(value, list):
        args = typing.get_args(hint)
        item = args[0] if args else None
        return tuple(_revive_value(item, v) for v in value)
    if isinstance(hint, type) and issubclass(hint, Result):
        return revive(hint, value)
    return value
