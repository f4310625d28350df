"""The CLI contract: help text everywhere, light imports, formats, clear errors for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from sqlalchemy import create_engine, text

from mlgov.cli.main import cli

HEAVY = ("mlflow", "bentoml", "evidently", "pandas", "sklearn")
BARE = ("registry", "deploy", "monitoring", "governance")


def _walk(command: click.Command, path: str = "mlgov"):
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _walk(sub, f"{path} {name}")


def test_every_command_and_option_has_help():
    missing = []
    for path, command in _walk(cli):
        if not (command.help or "").strip():
            missing.append(path)
        for param in command.params:
            if isinstance(param, click.Option) and not (param.help or "").strip():
                missing.append(f"{path} {param.opts[0]}")
    assert missing == []


def _modules_after(args: list[str], env: dict[str, str]) -> set[str]:
    code = (
        "import sys\n"
        "from mlgov.cli.main import cli\n"
        f"try:\n    cli.main({args!r}, prog_name='mlgov')\n"
        "except SystemExit:\n    pass\n"
        "print('MODULES', ' '.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd="/", check=True
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("MODULES "))
    return set(line.split()[1:])


@pytest.mark.parametrize("args", [["--help"], ["audit", "verify"], ["models", "list"]])
def test_light_commands_import_no_heavy_library_and_no_bare_package(home, args):
    env = dict(os.environ, MLGOV_HOME=str(home), MLGOV_USER="u_aud")
    modules = _modules_after(args, env)
    assert not {m for m in modules if m.split(".")[0] in HEAVY}
    assert not {m for m in modules if m.split(".")[0] in BARE}
    assert "mlgov.governance" in modules or args == ["--help"]


def _db_dump(home: Path) -> list:
    engine = create_engine(f"sqlite:///{home / 'governance.db'}")
    with engine.connect() as conn:
        query = text("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
        tables = [r[0] for r in conn.execute(query)]
        dump = [(t, conn.execute(text(f"SELECT * FROM {t} ORDER BY 1")).all()) for t in tables]
    engine.dispose()
    return dump


@pytest.mark.parametrize(
    "args",
    [
        ["promote", "credit", "1", "--to", "production"],
        ["models", "list", "--stage", "nowhere"],
        ["models", "list", "--tier", "extreme"],
        ["register", "credit", "--run-id", "r", "--risk-tier", "extreme", "--purpose", "p"],
        ["users", "add", "bad name", "--role", "auditor"],
        ["users", "add", "someone", "--role", "superuser"],
        ["audit", "log", "--since", "last tuesday"],
        ["audit", "verify", "--head", "nothex"],
        ["models", "show", "nope"],
        ["promote", "credit", "99", "--to", "train"],
        ["retire", "credit", "1", "--reason", " "],
        ["promote", "credit", "1"],
    ],
)
def test_bad_input_exit_2_one_line_nothing_written(mlgov, home, args):
    before = _db_dump(home)
    user = "u_ds" if args[0] in ("promote", "register") else "u_admin"
    result = mlgov(*args, user=user)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert _db_dump(home) == before


def test_malformed_user_exit_2(mlgov):
    result = mlgov("whoami", user="../../etc")
    assert result.exit_code == 2 and "malformed user name" in result.output


def test_broken_policy_file_exit_2(mlgov, home, tmp_path):
    bad = tmp_path / "policy.toml"
    bad.write_text("[tiers.high]\napprovals_required = -1\n")
    before = _db_dump(home)
    result = mlgov("policy", "set", str(bad), user="u_admin")
    assert result.exit_code == 2
    assert str(bad) in result.output and "tiers.high.approvals_required" in result.output
    assert _db_dump(home) == before


def test_missing_home_parent_exit_2_nothing_created(tmp_path):
    from click.testing import CliRunner

    home = tmp_path / "no" / "such" / "home"
    result = CliRunner().invoke(cli, ["--home", str(home), "--user", "a", "init"])
    assert result.exit_code == 2 and "does not exist" in result.output
    assert not (tmp_path / "no").exists()


def test_uninitialized_home_says_run_init(tmp_path):
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["--home", str(tmp_path / "h"), "--user", "a", "whoami"])
    assert result.exit_code == 2 and "mlgov init" in result.output


def test_formats(mlgov):
    rows = json.loads(mlgov("models", "list", "--format", "json").output)
    assert {(r["version"], r["stage"]) for r in rows} == {
        ("1", "develop"),
        ("2", "train"),
        ("3", "deploy"),
    }
    csv_out = mlgov("models", "list", "--format", "csv").output.splitlines()
    assert csv_out[0].startswith("model,version,stage") and len(csv_out) == 4
    shown = json.loads(mlgov("models", "show", "credit", "2", "--format", "json").output)
    assert shown["stage"] == "train" and shown["history"][-1]["to"] == "train"


def test_gate_refusal_lists_all_and_exits_1(mlgov, monkeypatch):
    from mlgov import app
    from mlgov.governance.lifecycle import Stage

    original = app.build_gates

    def gates():
        g = original()
        g.add_check(Stage.TRAIN, "card", lambda ctx: ["card incomplete: intended_use"])
        g.add_check(Stage.TRAIN, "metrics", lambda ctx: ["roc_auc not logged"])
        return g

    monkeypatch.setattr(app, "build_gates", gates)
    result = mlgov("promote", "credit", "1", "--to", "train", user="u_ds")
    assert result.exit_code == 1
    assert "card incomplete" in result.output and "roc_auc not logged" in result.output
    check = mlgov("promote", "credit", "1", "--to", "train", "--check", user="u_ds")
    assert check.exit_code == 1 and "roc_auc" in check.output


def test_audit_verify_cli_detects_tamper_and_truncation(mlgov, home, tmp_path):
    exported = json.loads(
        mlgov("audit", "export", "--out", str(tmp_path / "a.jsonl"), "--format", "json").output
    )
    head = exported["head_hash"]
    assert mlgov("audit", "verify", "--head", head).exit_code == 0
    engine = create_engine(f"sqlite:///{home / 'governance.db'}")
    with engine.begin() as conn:
        last = conn.execute(text("SELECT max(seq) FROM audit_events")).scalar()
        conn.execute(text("DELETE FROM audit_events WHERE seq = :s"), {"s": last})
        conn.execute(
            text(
                "UPDATE audit_head SET seq = :s, hash = (SELECT hash FROM audit_events"
                " WHERE seq = :s)"
            ),
            {"s": last - 1},
        )
    engine.dispose()
    plain = mlgov("audit", "verify")
    assert "audit chain OK" in plain.stdout  # the chain alone cannot see a cut tail...
    # ...but the cut event moved credit/3 to deploy: the table no longer has its support
    assert plain.exit_code == 1
    assert "credit/3: stage is 'deploy', the audit trail says 'train'" in plain.stderr
    result = mlgov("audit", "verify", "--head", head)
    assert result.exit_code == 1 and f"seq {last}" in result.output


def test_unexpected_error_is_one_line_with_debug_hint(mlgov, monkeypatch):
    from mlgov.governance import service

    def boom(self, *a, **k):
        raise ZeroDivisionError("surprise")

    monkeypatch.setattr(service.Governance, "list_versions", boom)
    result = mlgov("models", "list")
    assert result.exit_code == 1
    assert "internal error" in result.output and "--debug" in result.output
    assert "Traceback" not in result.output


def test_monitor_drift_cross_check_reaches_the_service(mlgov, monkeypatch):
    from mlgov.governance import drift_checks

    seen = {}

    def record(*args, **kwargs):
        seen.update(kwargs)
        from mlgov.governance.errors import Refused

        raise Refused("cross-check failed: stub")

    monkeypatch.setattr(drift_checks, "record_drift", record)
    result = mlgov(
        "monitor", "drift", "credit", "2", "--current", "x.csv", "--cross-check", user="u_eng"
    )
    assert result.exit_code == 1 and "cross-check failed" in result.output
    assert seen["cross_check"] is True


def test_version_comes_from_the_package_metadata():
    from importlib.metadata import version

    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"mlgov, version {version('mlgov')}"
