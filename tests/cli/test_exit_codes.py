"""Exit codes tell failures apart (issue 17, item 5): 0 done, 1 refused or problems found,
2 bad usage or input, 3 a system mlgov depends on is unavailable (a cron job retries)."""

from __future__ import annotations

import ast
import socket
from pathlib import Path

from click.testing import CliRunner

from mlgov.cli.main import cli

CLI_DIR = Path(__file__).resolve().parents[2] / "mlgov" / "cli"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_governance_database_exits_3_naming_it(tmp_path, monkeypatch):
    url = f"postgresql+psycopg://mlgov@127.0.0.1:{_closed_port()}/governance"
    monkeypatch.setenv("MLGOV_DB_URL", url)
    home = tmp_path / "home"
    home.mkdir()
    result = CliRunner().invoke(cli, ["--home", str(home), "--user", "aud", "models", "list"])
    assert result.exit_code == 3, result.output
    assert "governance database" in result.output and "127.0.0.1" in result.output
    assert "Traceback" not in result.output


def test_a_broken_chain_exits_1_without_a_second_error_line(mlgov, home):
    import sqlite3

    with sqlite3.connect(home / "governance.db") as db:
        db.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        db.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2")
    result = mlgov("audit", "verify", user="u_aud")
    assert result.exit_code == 1
    assert "BROKEN" in result.output
    assert "mlgov: error" not in result.output


def test_no_command_chooses_its_own_exit_code():
    """Only the one catch site in main.py turns errors into exit codes."""
    offenders = []
    for path in sorted(CLI_DIR.glob("*.py")):
        if path.name == "main.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("Exit", "exit"):
                offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders, f"exit codes chosen outside the catch site: {offenders}"
