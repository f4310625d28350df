"""README's command list names every command and option the CLI has (issue 17, item 6)."""

from __future__ import annotations

import re
from pathlib import Path

import click

from mlgov.cli.main import cli

README = Path(__file__).resolve().parents[2] / "README.md"
COMMON = {"--format", "--help"}


def _commands(group: click.Group, path: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        if command.hidden:
            continue
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


def _command_lines() -> list[str]:
    """The block's entries; an indented line continues the entry above it."""
    text = README.read_text(encoding="utf-8")
    block = text.split("## Commands", 1)[1].split("```", 2)[1]
    entries: list[str] = []
    for line in block.splitlines():
        if line.startswith(" ") and entries:
            entries[-1] += " " + line.strip()
        elif line.strip():
            entries.append(line)
    return entries


def test_readme_lists_every_command_with_its_options():
    entries = _command_lines()
    missing = []
    for path, command in _commands(cli):
        lines = [ln for ln in entries if re.search(rf"mlgov {' '.join(path)}\b", ln)]
        if not lines:
            missing.append(" ".join(path))
            continue
        for param in command.params:
            if not isinstance(param, click.Option):
                continue
            names = [o for o in param.opts if o.startswith("--")]
            if not names or names[0] in COMMON:
                continue
            if not any(re.search(rf"{re.escape(n)}\b", ln) for n in names for ln in lines):
                missing.append(f"{' '.join(path)} {names[0]}")
    assert not missing, f"README's command list lacks: {', '.join(missing)}"
