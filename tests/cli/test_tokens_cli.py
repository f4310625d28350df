"""`mlgov tokens`: the secret is printed once and never listed; refusals keep exit codes."""

from __future__ import annotations

import json


def test_create_list_revoke(mlgov):
    created = mlgov("tokens", "create", "u_ro", "--name", "laptop", "--format", "json")
    assert created.exit_code == 0, created.output
    data = json.loads(created.stdout)
    assert data["token"].startswith("mlgov_") and data["state"] == "active"

    listed = mlgov("tokens", "list", "--format", "json")
    rows = json.loads(listed.stdout)
    assert [r["user"] for r in rows] == ["u_ro"] and "token" not in rows[0]
    assert data["token"] not in mlgov("audit", "log", "--format", "json").stdout

    table = mlgov("tokens", "create", "u_ds", user="u_ds")
    assert table.exit_code == 0 and "mlgov_" in table.stdout
    assert "shown once" in table.stderr

    revoked = mlgov("tokens", "revoke", str(data["id"]), "--format", "json")
    assert json.loads(revoked.stdout)["state"] == "revoked"


def test_refusals(mlgov):
    other = mlgov("tokens", "create", "u_ro", user="u_ds")
    assert other.exit_code == 1 and "only an admin" in other.stderr
    bad = mlgov("tokens", "create", "u_ro", "--expires", "9999")
    assert bad.exit_code == 2 and "--expires" in bad.stderr
    missing = mlgov("tokens", "revoke", "42")
    assert missing.exit_code == 2 and "no token #42" in missing.stderr
    assert json.loads(mlgov("tokens", "list", "--format", "json").stdout) == []
