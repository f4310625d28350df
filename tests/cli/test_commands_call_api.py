"""Every command's body parses options, calls one `mlgov.api` function and renders (issue 17).

The REST server and the console call the same functions, so a rule kept only in a CLI
command would be a rule the other surfaces skip.
"""

from __future__ import annotations

import ast
import inspect
import textwrap

import click
import pytest

from mlgov.cli.main import cli

ALLOWED_MLGOV_IMPORTS = ("mlgov.api", "mlgov.cli", "mlgov.config")
# Commands that start another surface (which itself calls mlgov.api), or keep the
# credential the CLI uses against a server: not use cases.
SURFACES = {
    "mlgov server": "mlgov.server",
    "mlgov login": "mlgov.client",
    "mlgov logout": "mlgov.client",
}


def _leaves(group: click.Group, path: str = "mlgov"):
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _leaves(command, f"{path} {name}")
        else:
            yield f"{path} {name}", command


def _api_aliases(tree: ast.AST) -> set[str]:
    """Names bound by `from mlgov.api import AREA as NAME`, or by `NAME = use_cases(AREA)`
    (mlgov.api's area, or its remote twin in mlgov.client against a server)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "mlgov.api":
            names |= {a.asname or a.name for a in node.names}
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id == "use_cases"
        ):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def _api_calls(function) -> list[str]:
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    aliases = _api_aliases(tree)
    return [
        f"{node.func.value.id}.{node.func.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in aliases
    ]


COMMANDS = [
    pytest.param(c, id=p) for p, c in _leaves(cli) if c.callback is not None and p not in SURFACES
]


@pytest.mark.parametrize("command", COMMANDS)
def test_command_calls_exactly_one_api_function(command: click.Command) -> None:
    callback = inspect.unwrap(command.callback)
    calls = _api_calls(callback)
    assert len(calls) == 1, f"{callback.__qualname__} calls {calls or 'no api function'}"


def test_commands_import_only_the_api_and_the_cli() -> None:
    modules = {inspect.getmodule(inspect.unwrap(c.callback)) for _, c in _leaves(cli)}
    offenders = []
    for module in modules:
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            offenders += [
                f"{module.__name__} imports {n}"
                for n in names
                if n.startswith("mlgov")
                and not n.startswith(ALLOWED_MLGOV_IMPORTS + tuple(SURFACES.values()))
            ]
            if isinstance(node, ast.ImportFrom) and node.module == "mlgov.cli.context":
                # gov() and actor() hand out the core itself: the way around the API.
                offenders += [
                    f"{module.__name__} imports context.{a.name}"
                    for a in node.names
                    if a.name in {"gov", "actor", "state"}
                ]
    assert offenders == []


def test_the_walk_sees_a_direct_core_call() -> None:
    """The check would catch a command that goes around the API."""

    def sneaky() -> None:
        from mlgov.api import users as api
        from mlgov.cli.context import gov

        gov().whoami("x")
        api.whoami(None, None)
        api.list_users(None, None)

    assert _api_calls(sneaky) == ["api.whoami", "api.list_users"]
