"""Printing results as table, JSON or CSV. The only place that formats for the terminal."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import click

from mlgov.api.results import LINE_BREAKING

FORMATS = ("table", "json", "csv")


def format_option(default: str = "table") -> Any:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default=default,
        show_default=True,
        help="Output format: a table for people, JSON or CSV for scripts.",
    )


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@")


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    if char in _ESCAPES:
        return _ESCAPES[char]
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def escape_text(text: str) -> str:
    """One printed line per value: a newline, escape or bidi override in stored free text
    (multi-line card fields) must not forge a row of the table or CSV below it."""
    return LINE_BREAKING.sub(_visible, text)


def _csv_cell(value: Any) -> str:
    text = _cell(value)
    if text.startswith(_FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _cell(value: Any) -> str:
    return escape_text(_raw_cell(value))


def _raw_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ",".join(_raw_cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def emit_rows(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(list(rows), indent=2, sort_keys=True, default=str))
        return
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_cell(row.get(c)) for c in columns])
        click.echo(buf.getvalue(), nl=False)
        return
    if not rows:
        click.echo("(none)")
        return
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for r in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def emit_object(obj: Mapping[str, Any], fmt: str) -> None:
    """A single record: JSON as is; table as `key: value` lines; CSV as key,value rows."""
    if fmt == "json":
        click.echo(json.dumps(obj, indent=2, sort_keys=True, default=str))
        return
    flat = list(_flatten(obj))
    if fmt == "csv":
        emit_rows([{"key": k, "value": v} for k, v in flat], ["key", "value"], "csv")
        return
    width = max((len(k) for k, _ in flat), default=0)
    for k, v in flat:
        click.echo(f"{k.ljust(width)}  {_cell(v)}")


def _flatten(obj: Mapping[str, Any], prefix: str = "") -> Any:
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from _flatten(value, name + ".")
        elif isinstance(value, list) and value and isinstance(value[0], Mapping):
            for i, item in enumerate(value):
                yield from _flatten(item, f"{name}[{i}].")
        else:
            yield name, value
