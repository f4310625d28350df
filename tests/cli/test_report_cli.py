"""`mlgov inventory` and `mlgov report` through the CLI: formats, --at, packs and verification."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mlgov.governance import approvals
from mlgov.governance.drift import ColumnDrift, DriftResult, DriftSpec
from mlgov.governance.drift_checks import CHECK, store_result
from mlgov.governance.inventory import FIELDS
from mlgov.governance.service import Governance
from mlgov.governance.store import Store

USERS = ("u_admin", "u_ds", "u_ro", "u_eng", "u_aud")


def _seed_evidence(home: Path) -> None:
    """credit/2 (in train): an approval by u_ro and a drift check with its report files."""
    gov = Governance(Store(f"sqlite:///{home / 'governance.db'}"), home=home)
    approvals.request_approval(gov, "owner_ds", "credit", "2")
    approvals.decide(gov, "u_ro", "credit", "2", approve=True, comment="ok <b>bold</b>")
    staging = home / "reports" / "staging"
    staging.mkdir(parents=True)
    (staging / "report.html").write_text("<html>evidently</html>")
    (staging / "report.json").write_text("{}")
    result = DriftResult(
        columns=(ColumnDrift("income", "numerical", "ks", 0.2, 0.05, False),),
        drifted_share=0.0,
        share_threshold=0.5,
        drift_detected=False,
        reference_rows=10,
        current_rows=10,
        engine="evidently",
    )
    with gov.store.transaction() as s:
        v = gov.version(s, "credit", "2", lock=True)
        store_result(
            gov, s, "u_eng", v, result, DriftSpec(), purpose=CHECK, reference_sha256="a" * 64,
            current_sha256="b" * 64, current_source="new.csv", report_dir=staging,
        )  # fmt: skip
    gov.store.engine.dispose()


def test_inventory_formats_and_stage_filter(mlgov):
    table = mlgov("inventory", user="u_aud")
    assert table.exit_code == 0, table.output
    header, *lines = table.output.splitlines()
    assert header.split()[:4] == ["MODEL", "VERSION", "STAGE", "HEALTH"] and "APPROVAL" in header
    assert len(lines) == 3
    rows = json.loads(mlgov("inventory", "--format", "json", user="u_aud").output)
    assert [(r["version"], r["stage"], r["owner"]) for r in rows] == [
        ("1", "develop", "owner_ds"),
        ("2", "train", "owner_ds"),
        ("3", "deploy", "owner_ds"),
    ]
    assert all(r["next_review_due"] and r["targets"] == [] for r in rows)
    parsed = list(csv.reader(io.StringIO(mlgov("inventory", "--format", "csv").output)))
    assert parsed[0] == list(FIELDS) and len(parsed) == 4
    deployed = json.loads(mlgov("inventory", "--stage", "deploy", "--format", "json").output)
    assert [r["version"] for r in deployed] == ["3"]


def test_inventory_at(mlgov):
    now = datetime.now(UTC).isoformat()
    live = json.loads(mlgov("inventory", "--format", "json").output)
    replayed = mlgov("inventory", "--at", now, "--format", "json")
    assert replayed.exit_code == 0 and json.loads(replayed.output) == live
    assert json.loads(mlgov("inventory", "--at", "2000-01-01", "--format", "json").output) == []
    table = mlgov("inventory", "--at", now)
    assert table.exit_code == 0 and "rebuilt from the audit trail" in table.output
    future = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    for bad, message in ((future, "in the future"), ("yesterday", "cannot read time")):
        result = mlgov("inventory", "--at", bad)
        assert result.exit_code == 2 and message in result.output
        assert "Traceback" not in result.output
    assert mlgov("inventory", "--stage", "production").exit_code == 2


def test_inventory_at_sees_the_approval_that_came_later(mlgov, home):
    before = datetime.now(UTC).isoformat()
    _seed_evidence(home)
    then = json.loads(mlgov("inventory", "--at", before, "--format", "json").output)
    now = json.loads(mlgov("inventory", "--format", "json").output)
    assert then[1]["approval_state"] is None and then[1]["last_review"] is None
    assert (now[1]["approval_state"], now[1]["approvals_count"]) == ("approved", 1)
    assert now[1]["last_review"] is not None
    assert "approved 1/1" in mlgov("inventory").output


def test_report_writes_a_pack_that_verifies(mlgov, home, tmp_path):
    _seed_evidence(home)
    out = tmp_path / "pack"
    result = mlgov("report", "credit", "2", "--out", str(out), user="u_aud")
    assert result.exit_code == 0, result.output
    assert "evidence pack of credit/2" in result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "evidence.json",
        "index.html",
        "manifest.json",
        "reports",
    ]
    evidence = json.loads((out / "evidence.json").read_text())
    assert evidence["approvals"][0]["decisions"][0]["comment"] == "ok <b>bold</b>"
    assert "ok &lt;b&gt;bold&lt;/b&gt;" in (out / "index.html").read_text()
    assert (out / evidence["drift"][0]["report_html"]).read_text() == "<html>evidently</html>"
    verified = mlgov("report", "verify", str(out), user="u_aud")
    assert verified.exit_code == 0 and "verified" in verified.output
    # The two commands count the same files (issue 17: "11 files" vs "10 files match").
    listed = len(json.loads((out / "manifest.json").read_text())["files"])
    assert f"{listed} listed in manifest.json" in result.output
    assert f"{listed} files match manifest.json" in verified.output
    assert mlgov("report", "verify", str(out), "--with-audit").exit_code == 0
    exported = json.loads(
        mlgov("audit", "log", "--action", "report.export", "--format", "json").output
    )
    assert [(e["actor"], e["payload"]["out_dir"]) for e in exported] == [("u_aud", "pack")]
    explicit = mlgov("report", "create", "credit", "2", "--out", str(tmp_path / "p2"))
    assert explicit.exit_code == 0, explicit.output


def test_verify_names_changed_missing_and_added_files(mlgov, home, tmp_path):
    _seed_evidence(home)
    out = tmp_path / "pack"
    assert mlgov("report", "credit", "2", "--out", str(out)).exit_code == 0
    html = out / "reports" / "drift-1.html"
    html.write_bytes(html.read_bytes()[:-1] + b"!")
    (out / "evidence.json").unlink()
    (out / "notes.txt").write_text("added later")
    result = mlgov("report", "verify", str(out))
    assert result.exit_code == 1
    assert "changed: reports/drift-1.html" in result.output
    assert "missing: evidence.json" in result.output
    assert "added: notes.txt" in result.output
    assert "NOT verified: 1 changed, 1 missing, 1 added" in result.output
    as_json = json.loads(mlgov("report", "verify", str(out), "--format", "json").output)
    assert (as_json["ok"], as_json["added"]) == (False, ["notes.txt"])


def test_report_refuses_a_used_directory_and_bad_names(mlgov, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x")
    for args in (
        ["report", "credit", "2", "--out", str(busy)],
        ["report", "credit", "99", "--out", str(tmp_path / "new")],
        ["report", "verify", str(tmp_path / "nowhere")],
    ):
        result = mlgov(*args)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
    exported = mlgov("audit", "log", "--action", "report.export", "--format", "json").output
    assert json.loads(exported) == [] and not (tmp_path / "new").exists()


@pytest.mark.parametrize("user", USERS)
def test_every_role_reads_the_inventory_and_exports_packs(mlgov, tmp_path, user):
    assert mlgov("inventory", user=user).exit_code == 0
    result = mlgov("report", "credit", "3", "--out", str(tmp_path / "p"), user=user)
    assert result.exit_code == 0, result.output
    assert mlgov("inventory", user="stranger").exit_code == 1


def test_commands_load_no_heavy_library(home):
    env = dict(os.environ, MLGOV_HOME=str(home), MLGOV_USER="u_aud")
    code = (
        "import sys\nfrom mlgov.cli.main import cli\n"
        "for args in (['inventory'], ['report', 'verify', sys.argv[1]]):\n"
        "    try:\n        cli.main(args, prog_name='mlgov')\n"
        "    except SystemExit:\n        pass\n"
        "print('MODULES', ' '.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(home)], capture_output=True, text=True, env=env, cwd="/"
    ).stdout
    modules = next(line for line in out.splitlines() if line.startswith("MODULES ")).split()[1:]
    heavy = ("mlflow", "bentoml", "evidently", "pandas", "sklearn", "jinja2")
    assert "mlgov.governance.inventory" in modules
    assert not [m for m in modules if m.split(".")[0] in heavy]
