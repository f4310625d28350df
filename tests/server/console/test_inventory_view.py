"""The inventory page's filters and CSV, on their own."""

from __future__ import annotations

import csv
import io

from mlgov.server.console.inventory_view import InventoryFilter, as_csv

ROWS = [
    {"model": "credit", "version": "1", "risk_tier": "high", "owner": "dana", "health": "ok",
     "purpose": "Retail credit scoring", "targets": ["prod", "eu"]},
    {"model": "fraud", "version": "2", "risk_tier": "low", "owner": "omar", "health": None,
     "purpose": '=HYPERLINK("http://x")'},
]  # fmt: skip


def test_unknown_choices_mean_any_and_long_text_is_cut() -> None:
    keep = InventoryFilter.of("extreme", " Dana ", "sick", "x" * 500)
    assert (keep.tier, keep.owner, keep.health, len(keep.text)) == ("", "Dana", "", 100)


def test_each_filter_keeps_what_it_names() -> None:
    assert InventoryFilter.of("low", "", "", "").apply(ROWS) == [ROWS[1]]
    assert InventoryFilter.of("", "DANA", "", "").apply(ROWS) == [ROWS[0]]
    assert InventoryFilter.of("", "", "ok", "").apply(ROWS) == [ROWS[0]]
    assert InventoryFilter.of("", "", "", "retail").apply(ROWS) == [ROWS[0]]
    assert InventoryFilter.of("high", "", "", "fraud").apply(ROWS) == []


def test_csv_has_every_column_and_no_formula() -> None:
    text = as_csv(ROWS)
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert list(parsed[0]) == [
        "model", "version", "risk_tier", "owner", "health", "purpose", "targets"
    ]  # fmt: skip
    assert parsed[0]["targets"] == "prod;eu" and parsed[1]["health"] == ""
    assert parsed[1]["purpose"].startswith("'=")  # shown as text, never run by a spreadsheet
