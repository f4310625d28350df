"""`mlgov policy set/show/history`, and no way left to bring one's own policy to a command
(issue 16, defect 1: `--policy lax.toml` let a data scientist approve a high-tier model)."""

from __future__ import annotations

import json
import sqlite3

import pytest

LAX = (
    '[tiers.high]\napprover_role = "data_scientist"\napprovals_required = 1\n'
    "predeploy_drift_required = false\n"
)
STRICT = '[tiers.low]\napprovals_required = 2\nrequired_card_fields = ["intended_use"]\n'


def _dump(home) -> list:
    with sqlite3.connect(home / "governance.db") as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return [(n, conn.execute(f"SELECT * FROM {n} ORDER BY 1").fetchall()) for n in names]


def test_a_policy_on_the_command_line_is_refused_before_anything_runs(mlgov, home, tmp_path):
    lax = tmp_path / "lax.toml"
    lax.write_text(LAX)
    before = _dump(home)
    for user, args in [
        ("u_ds", ["approvals", "request", "credit", "2"]),
        ("u_ds", ["approve", "credit", "2"]),
        ("u_eng", ["deploy", "credit", "2", "--target", "lax"]),
    ]:
        result = mlgov("--policy", str(lax), *args, user=user)
        assert result.exit_code == 2, result.output
        assert "--policy is no longer accepted" in result.output
        assert "mlgov policy set FILE" in result.output
        assert "Traceback" not in result.output
    assert _dump(home) == before


def test_mlgov_policy_in_the_environment_is_refused_not_ignored(mlgov, home, tmp_path, monkeypatch):
    lax = tmp_path / "lax.toml"
    lax.write_text(LAX)
    monkeypatch.setenv("MLGOV_POLICY", str(lax))
    before = _dump(home)
    result = mlgov("approvals", "request", "credit", "2", user="u_ds")
    assert result.exit_code == 2
    assert "MLGOV_POLICY is no longer read" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert _dump(home) == before


@pytest.mark.parametrize("user", ["u_ds", "u_ro", "u_eng", "u_aud"])
def test_only_an_admin_sets_the_policy(mlgov, home, tmp_path, user):
    strict = tmp_path / "strict.toml"
    strict.write_text(STRICT)
    before = _dump(home)
    result = mlgov("policy", "set", str(strict), user=user)
    assert result.exit_code == 1 and "may not manage policy" in result.output
    assert _dump(home) == before


def test_a_lax_approver_is_refused_naming_the_key(mlgov, home, tmp_path):
    lax = tmp_path / "lax.toml"
    lax.write_text(LAX)
    before = _dump(home)
    result = mlgov("policy", "set", str(lax))
    assert result.exit_code == 2
    assert "tiers.high.approver_role" in result.output and "risk_officer" in result.output
    assert _dump(home) == before


def test_absurd_numbers_are_refused_naming_the_key(mlgov, home, tmp_path):
    absurd = tmp_path / "absurd.toml"
    absurd.write_text("[tiers.high]\napprovals_required = 99999999999999999\n")
    result = mlgov("policy", "set", str(absurd))
    assert result.exit_code == 2
    assert "tiers.high.approvals_required" in result.output
    assert "from 1 to 20" in result.output


def test_a_missing_or_binary_file_is_a_clear_error(mlgov, tmp_path):
    result = mlgov("policy", "set", str(tmp_path / "none.toml"))
    assert result.exit_code == 2 and "not found" in result.output
    binary = tmp_path / "p.toml"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    result = mlgov("policy", "set", str(binary))
    assert result.exit_code == 2 and "not UTF-8" in result.output


def test_admin_sets_the_policy_every_later_command_enforces_it(mlgov, tmp_path):
    before = json.loads(mlgov("policy", "show", "--format", "json", user="u_aud").stdout)
    strict = tmp_path / "strict.toml"
    strict.write_text(STRICT)
    result = mlgov("policy", "set", str(strict))
    assert result.exit_code == 0, result.output
    assert "policy #1 in force" in result.output

    shown = json.loads(mlgov("policy", "show", "--format", "json", user="u_aud").stdout)
    assert shown["tiers"]["low"]["approvals_required"] == 2
    assert shown["digest"] != before["digest"]
    assert shown["source"].startswith("store #1 (strict.toml, set by u_admin)")

    history = json.loads(mlgov("policy", "history", "--format", "json", user="u_aud").stdout)
    assert [(h["id"], h["set_by"], h["in_force"]) for h in history] == [(1, "u_admin", True)]
    assert history[0]["digest"] == shown["digest"]

    events = json.loads(mlgov("audit", "log", "--format", "json", user="u_aud").stdout)
    policy_events = [e for e in events if e["action"] == "policy.set"]
    assert len(policy_events) == 1
    assert policy_events[0]["payload"]["digest"] == shown["digest"]
    assert policy_events[0]["payload"]["previous_digest"] == before["digest"]

    # The train gate of low-tier credit/1 now asks the card for intended_use only.
    result = mlgov("promote", "credit", "1", "--to", "train", "--check", user="owner_ds")
    assert "missing intended_use" in result.output and "limitations" not in result.output

    assert mlgov("audit", "verify", user="u_aud").exit_code == 0
