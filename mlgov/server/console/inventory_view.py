"""The console's inventory: the rows a person's filters keep, and the same rows as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TIERS = ("high", "medium", "low")
HEALTH = ("ok", "warning", "breach")
# Characters a spreadsheet takes as the start of a formula (CSV injection, OWASP).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_QUERY = 100


@dataclass(frozen=True)
class InventoryFilter:
    """What the inventory page was asked to keep; unknown choices mean "any"."""

    tier: str = ""
    owner: str = ""
    health: str = ""
    text: str = ""

    @classmethod
    def of(cls, tier: str, owner: str, health: str, text: str) -> InventoryFilter:
        return cls(
            tier=tier if tier in TIERS else "",
            owner=owner.strip()[:MAX_QUERY],
            health=health if health in HEALTH else "",
            text=text.strip()[:MAX_QUERY],
        )

    def keeps(self, row: Mapping[str, Any]) -> bool:
        if self.tier and row.get("risk_tier") != self.tier:
            return False
        if self.owner and str(row.get("owner") or "").casefold() != self.owner.casefold():
            return False
        if self.health and row.get("health") != self.health:
            return False
        if self.text:
            needle = self.text.casefold()
            haystack = (row.get("model"), row.get("purpose"), row.get("owner"), row.get("version"))
            return any(needle in str(v).casefold() for v in haystack if v is not None)
        return True

    def apply(self, rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        return [r for r in rows if self.keeps(r)]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        value = ";".join(str(v) for v in value)
    elif isinstance(value, dict):
        value = ";".join(f"{k}={v}" for k, v in value.items())
    text = str(value)
    # A leading quote makes a spreadsheet show the text instead of running it.
    return "'" + text if text.startswith(_FORMULA_START) else text


def as_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows as CSV, one column per field any row has (first seen first)."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue()
