"""`mlgov users password`: an admin sets a one-time console password, printed once (or read
from stdin); it never reaches the audit log."""

from __future__ import annotations

import json

from click.testing import CliRunner

from mlgov.cli.main import cli


def test_generated_password_is_printed_once_and_not_audited(mlgov):
    shown = mlgov("users", "password", "u_ro")
    assert shown.exit_code == 0, shown.output
    password = shown.stdout.strip().splitlines()[-1]
    assert len(password) >= 12 and "shown once" in shown.stderr
    log = mlgov("audit", "log", "--format", "json").stdout
    assert password not in log and "user.password_set" in log


def test_password_from_stdin_and_refusals(mlgov, home):
    given = CliRunner().invoke(
        cli,
        ["--home", str(home), "--user", "u_admin", "users", "password", "u_ro",
         "--password-stdin", "--format", "json"],
        input="a-chosen-one-time-passphrase\n",
    )  # fmt: skip
    assert given.exit_code == 0, given.output
    data = json.loads(given.stdout)
    assert data["password"] is None and data["must_change"] is True
    assert "a-chosen-one-time-passphrase" not in given.output
    other = mlgov("users", "password", "u_ro", user="u_ds")
    assert other.exit_code == 1 and "manage users" in other.stderr
    short = CliRunner().invoke(
        cli,
        ["--home", str(home), "--user", "u_admin", "users", "password", "u_ro",
         "--password-stdin"],
        input="short\n",
    )  # fmt: skip
    assert short.exit_code == 2 and "at least 12" in short.stderr
